"""Report summaries stay equal to a recomputation from the visits, whatever review does.

Random sequences of submit, approve, return, amend, reject, reopen and correct through the API
(fixed seeds; on SQLite and, with ADAL_TEST_DATABASE_URL, PostgreSQL); concurrent approvals of
one office's visits (threads, PostgreSQL); a failure in the middle of an approval; and
`adal reports rebuild --check` after a summary row was edited by hand.
"""
from __future__ import annotations

import copy
import random
import threading
import uuid as uuid_module
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.reports import summaries
from server.reports.models import ReportSection, ReportTotal
from server.visits.models import Visit
from tests.conftest import PG_URL
from tests.visits.builders import visit_payload

pytestmark = pytest.mark.usefixtures("world")
VALID = {"submitted": ("approve", "return", "reject", "correct", "approve"),
         "returned": ("amend",), "approved": ("reopen",), "rejected": ("reopen",)}


def _check(app) -> None:
    """Summaries == recomputation, compared within float tolerance (summaries.differences)."""
    with app.app_context():
        assert summaries.differences() == []
        db.session.rollback()


def _submit(client, world, default_form, app, rng, office="AST-1", started=None) -> str:
    app.config["ALLOW_UNPLANNED_VISITS"] = True
    if started is None:  # this half-year or the one before (the previous one's trend)
        started = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(
            hours=rng.choice((2, 30, 24 * 200)))
    body = visit_payload(default_form, assignment=None, office=office,
                         form_key="service-centre-visit", form_version=1,
                         best=rng.random() < 0.6, started=started)
    resp = client.post("/api/v1/visits", json=body, headers=world["inspector"])
    assert resp.status_code == 201, resp.json
    return body


def _status(app, uuid: str) -> tuple[str, int]:
    with app.app_context():
        visit = db.session.scalar(sa.select(Visit).where(Visit.uuid == uuid_module.UUID(uuid)))
        return visit.status, visit.revision


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_review_sequences_keep_the_summaries_exact(client, world, default_form, app,
                                                          seed):
    rng = random.Random(seed)
    bodies: dict[str, dict] = {}
    refused = []
    steps = {"approve": 0, "return": 0, "reject": 0, "reopen": 0, "amend": 0, "correct": 0}
    for _ in range(22):
        if not bodies or rng.random() < 0.25:
            body = _submit(client, world, default_form, app, rng,
                           office=rng.choice(("AST-1", "AST-2")))
            bodies[body["uuid"]] = body
            _check(app)
            continue
        uuid = rng.choice(sorted(bodies))
        status, revision = _status(app, uuid)
        action = rng.choice(VALID.get(status, ()) if rng.random() < 0.8 else sorted(steps))
        url = f"/api/v1/visits/{uuid}"
        if action in ("approve", "return", "reject"):
            resp = client.post(f"{url}/review", headers=world["supervisor"],
                               json={"decision": action, "revision": revision,
                                     "comment": "" if action == "approve" else "see notes"})
        elif action == "reopen":
            resp = client.post(f"{url}/reopen", json={"reason": "second look"},
                               headers=world["admin"])
        elif action == "correct":
            resp = client.post(f"{url}/corrections", headers=world["supervisor"],
                               json={"question": "D02", "value": rng.choice(("yes", "no")),
                                     "reason": "audio evidence"})
        else:  # the inspector amends a returned visit: another answer, a new revision
            amended = copy.deepcopy(bodies[uuid])
            answer = next(a for a in amended["answers"] if a["question"] == "C02")
            answer["value"] = rng.choice(("yes", "no"))
            resp = client.put(url, json=amended, headers=world["inspector"])
        # Refused steps (409/422: not reviewable, not returned...) must change nothing either.
        assert resp.status_code < 500, resp.json
        if resp.status_code < 300:
            steps[action] += 1
        else:
            refused.append((action, status, resp.json.get("code")))
        _check(app)
    assert sum(steps.values()) > 8, (steps, refused)  # the sequence did something


def test_the_ranking_reads_the_summaries(client, world, default_form, app, commit):
    rng = random.Random(7)
    body = _submit(client, world, default_form, app, rng)
    client.post(f"/api/v1/visits/{body['uuid']}/review", headers=world["supervisor"],
                json={"decision": "approve", "revision": 1})
    with app.app_context():
        from server.periods import half_year_of
        from server.reports.ranking import ranking
        visit = db.session.scalar(sa.select(Visit))
        period = half_year_of(visit.started_at, app.config["TIMEZONE"])
        before = ranking(period=period, lang="en")
        db.session.execute(sa.update(ReportTotal).values(score_sum=ReportTotal.score_sum - 10))
        after = ranking(period=period, lang="en")
        db.session.rollback()
    item = next(i for i in before["items"] if i["office"]["code"] == "AST-1")
    moved = next(i for i in after["items"] if i["office"]["code"] == "AST-1")
    assert moved["score"] == pytest.approx(item["score"] - 10)  # from the summary, not visits


def test_a_failure_mid_approval_changes_neither_status_nor_summaries(
        client, world, default_form, app, monkeypatch):
    body = _submit(client, world, default_form, app, random.Random(3))
    from server.review import service

    def failing(*args, **kwargs):
        raise RuntimeError("failpoint: audit log unavailable")
    monkeypatch.setattr(service, "append_event", failing)  # after the summaries were added
    resp = client.post(f"/api/v1/visits/{body['uuid']}/review", headers=world["supervisor"],
                       json={"decision": "approve", "revision": 1})
    assert resp.status_code == 500
    assert _status(app, body["uuid"])[0] == "submitted"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReportTotal)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReportSection)) == 0
    monkeypatch.undo()
    assert client.post(f"/api/v1/visits/{body['uuid']}/review", headers=world["supervisor"],
                       json={"decision": "approve", "revision": 1}).status_code == 201
    _check(app)


def test_rebuild_check_names_a_hand_edited_row_and_rebuild_repairs_it(
        client, world, default_form, app, runner):
    body = _submit(client, world, default_form, app, random.Random(4))
    client.post(f"/api/v1/visits/{body['uuid']}/review", headers=world["supervisor"],
                json={"decision": "approve", "revision": 1})
    assert runner.invoke(args=["adal", "reports", "rebuild", "--check"]).exit_code == 0
    with app.app_context():
        row = db.session.scalars(sa.select(ReportSection).order_by(
            ReportSection.section_id)).first()
        section, period = row.section_id, row.period
        row.score_sum += 0.5
        db.session.commit()
    result = runner.invoke(args=["adal", "reports", "rebuild", "--check"])
    assert result.exit_code == 1
    assert (f"report_sections: office AST-1 period {period} form version "
            f"{world['version_id']} section {section}") in result.output
    assert "1 summary row(s) differ" in result.output
    with app.app_context():  # --check wrote nothing
        assert summaries.differences() != []
        db.session.rollback()
    result = runner.invoke(args=["adal", "reports", "rebuild"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["adal", "reports", "rebuild", "--check"]).exit_code == 0


def test_rebuild_check_names_a_missing_and_an_extra_row(client, world, default_form, app,
                                                         runner):
    body = _submit(client, world, default_form, app, random.Random(5))
    client.post(f"/api/v1/visits/{body['uuid']}/review", headers=world["supervisor"],
                json={"decision": "approve", "revision": 1})
    with app.app_context():
        total = db.session.scalars(sa.select(ReportTotal)).one()
        db.session.add(ReportTotal(office_id=total.office_id, period="2019H1",
                                   form_version_id=total.form_version_id, visits=1, scored=1,
                                   score_sum=50.0, score_squares=2500.0, findings=0))
        db.session.execute(sa.delete(ReportSection).where(ReportSection.section_id == "C"))
        db.session.commit()
    result = runner.invoke(args=["adal", "reports", "rebuild", "--check"])
    assert result.exit_code == 1
    assert "report_totals: office AST-1 period 2019H1" in result.output
    assert "expected missing; stored visits=1" in result.output


@pytest.mark.skipif(not PG_URL, reason="row locks and concurrent upserts: PostgreSQL only")
def test_concurrent_approvals_and_reopenings_of_one_office_keep_exact_sums(
        client, world, default_form, app):
    rng = random.Random(9)
    uuids = [_submit(client, world, default_form, app, rng)["uuid"] for _ in range(8)]
    # Two approved first, so that reopenings race the approvals on the same summary rows.
    for uuid in uuids[:2]:
        client.post(f"/api/v1/visits/{uuid}/review", headers=world["supervisor"],
                    json={"decision": "approve", "revision": 1})
    barrier = threading.Barrier(len(uuids))
    results = []

    def act(uuid, reopen):
        barrier.wait(timeout=10)
        with app.test_client() as own:
            if reopen:
                resp = own.post(f"/api/v1/visits/{uuid}/reopen", json={"reason": "again"},
                                headers=world["admin"])
            else:
                resp = own.post(f"/api/v1/visits/{uuid}/review", headers=world["supervisor"],
                                json={"decision": "approve", "revision": 1})
            results.append(resp.status_code)
    threads = [threading.Thread(target=act, args=(u, i < 2)) for i, u in enumerate(uuids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == [201] * 6 + [200] * 2 or all(r < 500 for r in results), results
    _check(app)
    with app.app_context():
        approved = db.session.scalar(sa.select(sa.func.count()).select_from(Visit).where(
            Visit.status == "approved"))
        assert db.session.scalar(sa.select(sa.func.sum(ReportTotal.visits))) == approved == 6


def test_the_ranking_json_is_sent_as_the_schema_would_dump_it(commit, rw, rank, client, world):
    """GET /reports/ranking skips RankingOut.dump for speed: the service's dict must be
    exactly its dump (every state: ranked, too few visits, no score, findings, change)."""
    from server.reports.schemas import RankingOut
    from tests.reports.builders import MID_H2

    def build():
        rw.visits(rw.office("RK-1"), [80.0, 70.0, 90.0], findings=("D01",),
                  sections={"access": 75.0, "integrity": 50.0})
        rw.visits(rw.office("RK-2", kind="school"), [60.0, None])
        rw.visits("RK-1", [55.0, 65.0], when=MID_H2.replace(month=3))
        rw.office("RK-3")
    commit(build)
    for lang in ("en", None):
        report = rank(lang=lang, min_visits=3)
        assert RankingOut().dump(report) == report
    resp = client.get("/api/v1/reports/ranking?period=2026H2&lang=en",
                      headers=world["supervisor"])
    assert resp.status_code == 200
    assert resp.json == RankingOut().dump(rank(lang="en"))


def test_an_office_on_two_form_versions_in_one_half_year(commit, rw, items_by_code):
    """Summary rows per form version are summed per office and section before dividing."""
    from tests.reports.builders import World

    def build():
        other = World()
        rw.office("TV-1")
        rw.visits("TV-1", [80.0, 60.0], sections={"access": 80.0, "integrity": 40.0},
                  findings=("D01",))
        other.visits("TV-1", [70.0], sections={"access": 50.0}, findings=("D01",))
    commit(build)
    item = items_by_code()["TV-1"]
    assert item["visits"] == 3 and item["score"] == 70.0
    assert item["section_scores"] == {"access": 70.0, "integrity": 40.0}
    assert next(c for c in item["critical"] if c["question"] == "D01")["visits_with"] == 3
