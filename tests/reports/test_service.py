"""Office scores and rankings from approved visits, checked against hand-computed values."""
from __future__ import annotations

import math

import pytest

from server.periods import parse_period
from server.reports import service
from server.reports.office import office_report
from server.reports.ranking import ranking
from tests.reports.builders import MID_H1, local

T_975_DF2 = 4.302653


def test_hand_computed_ranking_of_three_offices(commit, rw, items_by_code):
    def build():
        rw.visits(rw.office("A"), [80, 90, 100])
        rw.visits(rw.office("B"), [70, 70, 70])
        rw.visits(rw.office("C"), [95, 99])
    commit(build)
    items = items_by_code()
    half = T_975_DF2 * 10 / math.sqrt(3)  # sd of 80, 90, 100 is 10
    a, b, c = items["A"], items["B"], items["C"]
    assert (a["rank"], a["visits"], a["score"]) == (1, 3, 90.0)
    assert a["ci_low"] == pytest.approx(90 - half, abs=0.005)
    assert a["ci_high"] == 100.0  # 90 + 24.84 clipped to the top of the scale
    assert a["band"] == "green"
    assert (b["rank"], b["score"], b["ci_low"], b["ci_high"], b["band"]) == (2, 70, 70, 70,
                                                                            "yellow")
    assert (c["rank"], c["status"], c["visits"], c["score"]) == (None, "not_enough_visits", 2,
                                                                 97.0)


def test_ranked_offices_come_first_in_rank_order(commit, rw, rank):
    def build():
        rw.visits(rw.office("A"), [80, 90, 100])
        rw.visits(rw.office("B"), [70, 70, 70])
        rw.visits(rw.office("C"), [95, 99])
    commit(build)
    assert [i["office"]["code"] for i in rank()["items"]] == ["A", "B", "C"]


def test_ties_share_a_rank_and_more_visits_list_first(commit, rw, rank):
    def build():
        rw.visits(rw.office("A"), [80, 80, 80])
        rw.visits(rw.office("B"), [80, 80, 80, 80])
        rw.visits(rw.office("C"), [90, 90, 90])
        rw.visits(rw.office("D"), [70, 70, 70])
    commit(build)
    items = rank()["items"]
    assert [(i["office"]["code"], i["rank"]) for i in items] == [("C", 1), ("B", 2), ("A", 2),
                                                                  ("D", 4)]


def test_each_kind_is_ranked_on_its_own(commit, rw, rank):
    def build():
        rw.visits(rw.office("SC1"), [80] * 3)
        rw.visits(rw.office("SC2"), [70] * 3)
        rw.visits(rw.office("RG1", kind="registry"), [90] * 3)
        rw.visits(rw.office("RG2", kind="registry"), [60] * 3)
    commit(build)
    items = rank()["items"]
    assert [(i["kind"], i["office"]["code"], i["rank"]) for i in items] == [
        ("service_centre", "SC1", 1), ("service_centre", "SC2", 2),
        ("registry", "RG1", 1), ("registry", "RG2", 2)]


def test_a_kind_filter_keeps_only_that_kind(commit, rw, rank):
    def build():
        rw.visits(rw.office("SC1"), [80] * 3)
        rw.visits(rw.office("RG1", kind="registry"), [90] * 3)
    commit(build)
    report = rank(kind="registry")
    assert report["kind"] == "registry"
    assert [i["office"]["code"] for i in report["items"]] == ["RG1"]


@pytest.mark.parametrize("status", ["submitted", "in_review", "returned", "rejected"])
def test_only_approved_visits_count(commit, rw, items_by_code, status):
    def build():
        office = rw.office("A")
        rw.visits(office, [80, 80, 80])
        rw.visits(office, [10, 10], status=status, findings=["D01"], sections={"queue": 0})
    commit(build)
    item = items_by_code()["A"]
    assert (item["visits"], item["score"]) == (3, 80.0)
    assert [(c["question"], c["visits_with"]) for c in item["critical"]] == [("D01", 0),
                                                                           ("D03", 0)]
    assert item["section_scores"] == {}


def test_period_boundaries_are_midnights_in_almaty(commit, rw, items_by_code):
    def build():
        office = rw.office("A")
        rw.visit(office, 10, when=local(2026, 6, 30, 23, 50))   # 2026H1
        rw.visit(office, 20, when=local(2026, 7, 1, 0, 10))     # 2026H2, still 30 June in UTC
        rw.visit(office, 30, when=local(2026, 12, 31, 23, 50))  # 2026H2
        rw.visit(office, 40, when=local(2027, 1, 1, 0, 10))     # 2027H1, 31 Dec in UTC
    commit(build)
    assert local(2026, 7, 1, 0, 10).date().isoformat() == "2026-06-30"
    assert items_by_code("2026H2")["A"]["visits"] == 2
    assert items_by_code("2026H2")["A"]["score"] == 25.0
    assert items_by_code("2026H1")["A"]["score"] == 10.0
    assert items_by_code("2027H1")["A"]["score"] == 40.0


def test_critical_incidence_with_a_wilson_interval(commit, rw, items_by_code):
    def build():
        office = rw.office("A")
        rw.visit(office, 40, findings=["D01"])
        rw.visits(office, [90, 90, 90])
    commit(build)
    finding, unseen = items_by_code()["A"]["critical"]
    z = 1.959964
    p, n = 0.25, 4
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert (finding["question"], finding["visits_with"], finding["rate"]) == ("D01", 1, 0.25)
    assert finding["ci_low"] == pytest.approx(centre - half, abs=1e-4)
    assert finding["ci_high"] == pytest.approx(centre + half, abs=1e-4)
    assert (finding["ci_low"], finding["ci_high"]) == pytest.approx((0.0456, 0.6994), abs=1e-4)
    # D03 never seen is still listed: 0 of 4, with the Wilson interval [0, z²/(n+z²)].
    assert (unseen["question"], unseen["visits_with"], unseen["rate"]) == ("D03", 0, 0.0)
    assert (unseen["ci_low"], unseen["ci_high"]) == pytest.approx((0.0, 0.4899), abs=1e-4)


def test_a_critical_finding_seen_zero_times_shows_0_with_its_interval(commit, rw, rank):
    commit(lambda: rw.visits(rw.office("A"), [90] * 10))
    report = rank(lang="en")
    item = report["items"][0]
    assert item["critical"] == [
        {"question": "D01", "label": "Bribe asked", "visits_with": 0, "rate": 0.0,
         "ci_low": 0.0, "ci_high": 0.2775},
        {"question": "D03", "label": "Fixer approached", "visits_with": 0, "rate": 0.0,
         "ci_low": 0.0, "ci_high": 0.2775}]


def test_an_office_without_visits_lists_no_critical_findings(commit, rw, items_by_code):
    commit(lambda: rw.office("EMPTY"))
    assert items_by_code()["EMPTY"]["critical"] == []


def test_critical_labels_come_from_the_form_in_the_language_asked(commit, rw, items_by_code):
    def build():
        rw.visit(rw.office("A"), 40, findings=["D03"])
    commit(build)
    found = {c["question"]: c for c in items_by_code(lang="ru")["A"]["critical"]}
    assert found["D03"]["label"] == "Fixer approached (ru)"
    assert found["D01"]["label"] == "Bribe asked (ru)"
    assert items_by_code()["A"]["critical"][1]["label"]["kk"] == "Fixer approached (kk)"


def test_section_scores_are_averaged_over_the_visits_that_have_them(commit, rw, rank):
    def build():
        office = rw.office("A")
        rw.visit(office, 90, sections={"queue": 80, "integrity": 100})
        rw.visit(office, 60, sections={"queue": 60})
    commit(build)
    report = rank(lang="en")
    assert report["items"][0]["section_scores"] == {"queue": 70.0, "integrity": 100.0}
    assert report["sections"] == [{"id": "queue", "title": "Queue"},
                                  {"id": "integrity", "title": "Integrity"}]


def test_change_is_the_difference_with_the_previous_period(commit, rw, items_by_code):
    def build():
        rw.visits(rw.office("A"), [60, 60, 60], when=MID_H1)
        rw.visits("A", [80, 80, 80])
        rw.visits(rw.office("B"), [75, 75, 75])
    commit(build)
    items = items_by_code()
    assert (items["A"]["change"], items["A"]["previous_score"]) == (20.0, 60.0)
    assert items["B"]["change"] is None


def test_the_minimum_of_visits_can_be_lowered_per_request(commit, rw, items_by_code):
    def build():
        rw.visits(rw.office("A"), [95, 99])
    commit(build)
    assert items_by_code()["A"]["rank"] is None
    assert items_by_code(min_visits=2)["A"]["rank"] == 1


def test_every_active_office_appears_even_without_visits(commit, rw, items_by_code):
    def build():
        rw.office("EMPTY")
        rw.office("CLOSED", active=False)
        rw.visits(rw.office("GONE", active=False), [50, 50, 50])
    commit(build)
    items = items_by_code()
    assert set(items) == {"EMPTY", "GONE"}
    assert items["EMPTY"] | {"office": None} == items["EMPTY"] | {
        "office": None, "rank": None, "status": "not_enough_visits", "visits": 0,
        "score": None, "ci_low": None, "ci_high": None, "band": None, "change": None,
        "critical": [], "section_scores": {}}
    assert items["GONE"]["rank"] == 1


def test_names_are_localised_or_given_in_every_language(commit, rw, items_by_code):
    commit(lambda: rw.office("A"))
    assert items_by_code(lang="kk")["A"]["office"]["name"] == "Office A (kk)"
    assert items_by_code()["A"]["office"]["name"] == {"kk": "Office A (kk)", "ru": "Office A (ru)",
                                                      "en": "Office A", "uz": "Office A (uz)"}


def test_a_region_scope_keeps_its_offices_only(app, commit, rw, rank):
    def build():
        rw.visits(rw.office("HOME"), [80] * 3)
        rw.visits(rw.office("AWAY", region="FAR"), [90] * 3)
    commit(build)
    with app.app_context():
        from server.offices.models import Region
        from server.extensions import db
        far = db.session.query(Region).filter_by(code="FAR").one()
        scope = service.Scope(far, frozenset({far.id}))
        report = ranking(period=parse_period("2026H2", "Asia/Almaty"), scope=scope)
    assert [(i["office"]["code"], i["rank"]) for i in report["items"]] == [("AWAY", 1)]
    assert report["region"] == "FAR"


def test_band_thresholds_come_from_the_settings(app, commit, rw, items_by_code):
    commit(lambda: rw.visits(rw.office("A"), [65] * 3))
    app.config.update(BAND_GREEN_MIN=60, BAND_YELLOW_MIN=40)
    assert items_by_code()["A"]["band"] == "green"


def test_a_custom_date_range_compares_with_the_same_length_before(app, commit, rw):
    from server.periods import Period

    def build():
        rw.visits(rw.office("A"), [50] * 3, when=local(2026, 9, 1, 12))
        rw.visits("A", [70] * 3, when=local(2026, 9, 11, 12))
    commit(build)
    span = Period("10 days", local(2026, 9, 11), local(2026, 9, 21))
    with app.app_context():
        item = ranking(period=span)["items"][0]
    assert (item["score"], item["change"]) == (70.0, 20.0)


def _recommendation(office_id: int, author_id: int, history: list, due=None) -> None:
    """A recommendation with its status history [(status, local moment), ...], oldest first."""
    from server.extensions import db
    from server.recommendations.models import Recommendation, RecommendationEvent

    rec = Recommendation(office_id=office_id, text="Fix it", status=history[-1][0],
                         due_date=due, created_by_id=author_id, created_at=history[0][1])
    db.session.add(rec)
    db.session.flush()
    for status, at in history:
        db.session.add(RecommendationEvent(recommendation_id=rec.id, status=status,
                                           actor_id=author_id, at=at))


def test_recommendations_share_is_the_follow_up_share_at_the_period_end(
        app, client, admin_headers, commit, rw, items_by_code):
    from datetime import date

    def build():
        office = rw.office("A").id
        author = rw.inspector_id
        # verified before the end of 2026H1: counts for the office
        _recommendation(office, author, [("open", local(2026, 2, 1)),
                                         ("reported_done", local(2026, 3, 1)),
                                         ("verified", local(2026, 5, 1))])
        # open and past its due date at the end of H1 (judged not_done only later): against
        _recommendation(office, author, [("open", local(2026, 2, 2)),
                                         ("not_done", local(2026, 8, 1))], due=date(2026, 4, 1))
        # reported done at the end of H1, verified in H2: not judged yet at the end of H1
        _recommendation(office, author, [("open", local(2026, 2, 3)),
                                         ("reported_done", local(2026, 6, 1)),
                                         ("verified", local(2026, 7, 15))])
        # open, due after the end of H1: not judged yet
        _recommendation(office, author, [("open", local(2026, 3, 3))], due=date(2026, 9, 1))
        # made in H2: not in H1's figures
        _recommendation(office, author, [("open", local(2026, 7, 3)),
                                         ("reported_done", local(2026, 7, 4)),
                                         ("verified", local(2026, 7, 5))])
    commit(build)
    item = items_by_code("2026H1")["A"]
    assert item["recommendations"] == {"created": 4, "verified": 1, "not_done": 0,
                                       "overdue": 1, "open": 3, "share": 0.5}
    resp = client.get("/api/v1/recommendations/follow-up?until=2026-07-01T00:00:00%2B05:00",
                      headers=admin_headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    (office,) = resp.get_json()["offices"]
    assert item["recommendations"]["share"] == round(office["share_done"], 4)
    # 2026H2 (as it stands now, or at its end once over): all five, the fourth overdue
    assert items_by_code("2026H2")["A"]["recommendations"] == {
        "created": 5, "verified": 3, "not_done": 1, "overdue": 1, "open": 1, "share": 0.6}


def test_office_report_has_a_trend_over_four_periods(app, commit, rw):
    from server.extensions import db
    from server.offices.models import Office

    def build():
        office = rw.office("A")
        rw.visits(office, [50, 60, 70], when=local(2025, 9, 1))   # 2025H2
        rw.visits(office, [80, 80, 80], when=MID_H1)               # 2026H1
        rw.visits(office, [90, 90, 90], sections={"queue": 90})   # 2026H2
    commit(build)
    with app.app_context():
        office = db.session.query(Office).filter_by(code="A").one()
        report = office_report(office=office, period=parse_period("2026H2", "Asia/Almaty"),
                               lang="en")
    assert [(t["period"], t["visits"], t["score"]) for t in report["trend"]] == [
        ("2025H1", 0, None), ("2025H2", 3, 60.0), ("2026H1", 3, 80.0), ("2026H2", 3, 90.0)]
    assert (report["score"], report["change"], report["section_scores"]) == (90.0, 10.0,
                                                                             {"queue": 90.0})
    assert "rank" not in report
