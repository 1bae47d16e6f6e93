"""Per-question answer charts on the office and region report pages: what is counted (approved
visits of the period, corrected answers), the chart geometry, and the pages in each language."""
from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import timedelta

import pytest

from server.extensions import db
from server.forms.models import FormVersion, SurveyForm
from server.periods import parse_period
from server.reports import answers, charts
from server.review.models import AnswerCorrection
from server.visits.models import Answer, Visit
from tests import factories
from tests.reports.builders import MID_H1, MID_H2

FORM = {"key": "chart-form", "version": 1, "languages": ["kk", "ru", "en", "uz"],
        "title": factories.names("Chart form"),
        "sections": [{"id": "s", "title": factories.names("Section"), "weight": 1, "questions": [
            {"id": "ramp", "type": "yes_no", "label": factories.names("Ramp?"),
             "not_applicable": "allowed", "score": {"yes": 1, "no": 0}},
            {"id": "staff", "type": "single_choice", "label": factories.names("Staff"),
             "choices": [{"id": "polite", "label": factories.names("Polite")},
                         {"id": "rude", "label": factories.names("Rude")}],
             "score": {"polite": 1, "rude": 0}},
            {"id": "seen", "type": "multi_choice", "label": factories.names("Seen"),
             "choices": [{"id": "fees", "label": factories.names("Fees")},
                         {"id": "hours", "label": factories.names("Hours")}]},
            {"id": "wait", "type": "integer", "label": factories.names("Wait"), "unit": "min",
             "score": {"bands": [{"max": 15, "score": 1}, {"max": 30, "score": 0.5},
                                 {"score": 0}]}},
            {"id": "note", "type": "text", "label": factories.names("Note")}]}]}


@pytest.fixture
def charted(commit):
    """Region R1 with offices A and B, region R2 with office C; visits with answers."""
    def build():
        form = SurveyForm(key=FORM["key"])
        version = FormVersion(form=form, version=1, definition=FORM, source="tests",
                              sha256=hashlib.sha256(json.dumps(FORM).encode()).hexdigest())
        db.session.add_all([form, version])
        inspector = factories.user(role="inspector")
        r1, r2 = factories.region(code="R1"), factories.region(code="R2")
        offices = {code: factories.office(code=code, region=region, name=factories.names(
            f"Office {code}")) for code, region in (("A", r1), ("B", r1), ("C", r2))}
        db.session.flush()

        def visit(code, answers_, *, status="approved", when=MID_H2, revision=1):
            v = Visit(uuid=uuid.uuid4(), office_id=offices[code].id, form_version_id=version.id,
                      inspector_id=inspector.id, started_at=when, revision=revision,
                      ended_at=when + timedelta(minutes=30), status=status, score=50.0,
                      score_uncapped=50.0, section_scores={}, critical=[], device={})
            db.session.add(v)
            db.session.flush()
            for qid, value in answers_.items():
                na = value == "N/A"
                db.session.add(Answer(visit_id=v.id, question_id=qid, value=None if na else value,
                                      not_applicable=na, note=""))
            db.session.flush()
            return v

        visit("A", {"ramp": "yes", "staff": "polite", "seen": ["fees", "hours"], "wait": 10,
                    "note": "fine"})
        visit("A", {"ramp": "no", "staff": "rude", "seen": ["fees"], "wait": 40})
        visit("A", {"ramp": "N/A", "wait": 12})
        corrected = visit("A", {"ramp": "no", "staff": "polite", "wait": 20}, revision=2)
        for revision, value in ((1, "no"), (2, "yes")):  # only the current revision's counts
            db.session.add(AnswerCorrection(
                visit_id=corrected.id, revision=revision, question_id="ramp", old_value="no",
                old_not_applicable=False, new_value=value, new_not_applicable=False,
                reason="photo shows a ramp", score_before=50.0, score_after=60.0,
                corrected_by_id=inspector.id))
        visit("A", {"ramp": "no"}, status="submitted")          # not approved: not counted
        visit("A", {"ramp": "no"}, when=MID_H1)                 # another period
        visit("B", {"ramp": "yes", "wait": 5})
        visit("C", {"ramp": "no", "wait": 50})
        return {code: o.id for code, o in offices.items()}
    return commit(build)


def _tally(app, groups):
    with app.app_context():
        return answers.tally(period=parse_period("2026H2", "Asia/Almaty"), groups=groups)


def test_only_approved_visits_of_the_period_count_with_their_corrections(app, charted):
    definition, tallies = _tally(app, {charted["A"]: "A"})
    assert definition["key"] == "chart-form"
    ramp = tallies[("A", "ramp")]
    # yes (1st) + corrected no->yes on revision 2 (4th); no (2nd); N/A (3rd)
    assert (ramp.visits, ramp.not_applicable, dict(ramp.choices)) == (4, 1, {"yes": 2, "no": 1})
    assert dict(tallies[("A", "seen")].choices) == {"fees": 2, "hours": 1}
    assert sorted(tallies[("A", "wait")].numbers) == [10, 12, 20, 40]
    assert ("A", "note") not in tallies  # text is not charted


def test_offices_grouped_into_their_region(app, charted):
    _, tallies = _tally(app, {charted["A"]: "R1", charted["B"]: "R1"})
    assert dict(tallies[("R1", "ramp")].choices) == {"yes": 3, "no": 1}


def test_stacked_bars_split_the_full_width_and_colour_by_score(app, charted):
    definition, tallies = _tally(app, {charted["A"]: "A"})
    with app.test_request_context("/?lang=en"):
        question = next(q for q in answers.questions(definition, "en") if q["id"] == "ramp")
    chart = charts.stacked_bars(question, [("Office A", tallies[("A", "ramp")])], {"na": "N/A"})
    segments = chart["bars"][0]["segments"]
    assert [(s["colour"], s["count"]) for s in segments] == [("green", 2), ("red", 1), ("na", 1)]
    assert sum(s["width"] for s in segments) == pytest.approx(charts.WIDTH, abs=0.2)
    assert chart["table"]["rows"] == [("Office A", 4, [2, 1, 1])]


def test_a_histogram_marks_the_score_bands():
    question = {"type": "integer", "score": FORM["sections"][0]["questions"][3]["score"]}
    tally = answers.Tally(visits=5, numbers=[10, 12, 20, 40, 40])
    chart = charts.histogram(question, tally, str)
    assert [(c["label"], c["count"], c["colour"]) for c in chart["columns"]] == [
        ("10", 1, "green"), ("12", 1, "green"), ("20", 1, "yellow"), ("40", 2, "red")]


def test_many_distinct_values_are_binned():
    tally = answers.Tally(visits=50, numbers=list(range(50)))
    chart = charts.histogram({"type": "integer", "score": None}, tally, str)
    assert len(chart["columns"]) == charts.MAX_BINS
    assert sum(c["count"] for c in chart["columns"]) == 50


@pytest.mark.parametrize("lang, na, heading", [
    ("en", "Not applicable", "How each question was answered"),
    ("ru", "Неприменимо", "Как ответили на каждый вопрос"),
    ("kk", "Қолданылмайды", "Әр сұраққа қалай жауап берілді"),
    ("uz", "Taalluqli emas", "Har bir savolga qanday javob berildi")])
def test_the_office_page_draws_accessible_charts_in_its_language(client, sign_in, charted,
                                                                 lang, na, heading):
    sign_in("admin")
    html = client.get(f"/reports/offices/A?period=2026H2&lang={lang}").get_data(as_text=True)
    assert heading in html
    figure = html[html.index('id="chart-ramp"'):]
    figure = figure[:figure.index("</figure>")]
    assert 'role="img"' in figure and "<title" in figure and "<desc" in figure
    assert na in figure and "<table>" in figure
    # the office's bar and its region's bar (A and B together), numbers in the table
    assert re.search(r"<td>A</td><td class=\"num\">4</td>", figure)
    assert re.search(r"<td>R1</td><td class=\"num\">5</td>", figure)
    assert 'id="chart-note"' not in html and 'id="chart-wait"' in html


def test_the_region_page_has_a_bar_per_office(client, sign_in, charted):
    sign_in("supervisor", regions=["R1"])
    resp = client.get("/reports/regions/R1?period=2026H2&lang=en")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    figure = html[html.index('id="chart-ramp"'):]
    figure = figure[:figure.index("</figure>")]
    assert "A Office A" in figure and "B Office B" in figure and "Office C" not in figure


def test_the_region_page_keeps_its_scope(client, sign_in, charted):
    sign_in("supervisor", regions=["R1"])
    assert client.get("/reports/regions/R2?period=2026H2").status_code == 403
    assert client.get("/reports/regions/NOPE?period=2026H2").status_code == 404
    assert client.get("/reports/regions/R1?period=2026H9").status_code == 422


def test_inspectors_and_strangers_do_not_see_region_pages(client, sign_in, charted):
    resp = client.get("/reports/regions/R1")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    sign_in("inspector")
    assert client.get("/reports/regions/R1").status_code == 403


def test_a_period_without_approved_visits_says_so(client, sign_in, charted):
    sign_in("admin")
    html = client.get("/reports/regions/R2?period=2025H1&lang=en").get_data(as_text=True)
    assert "No approved visit answered these questions in this period." in html
