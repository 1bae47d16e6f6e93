"""Visit intake through the API: exactly once, validated against the pinned version, scored."""
from __future__ import annotations

import copy
import json
import uuid

import pytest
import sqlalchemy as sa

from server.assignments.models import Assignment
from server.audit.models import AuditEvent
from server.extensions import db
from server.visits.models import Answer, Visit
from tests.visits.builders import visit_payload
from tests.problems import assert_problem  # noqa: F401


def post(client, body, headers):
    return client.post("/api/v1/visits", json=body, headers=headers)


def test_a_visit_with_the_default_checklist_is_stored_and_scored(client, world, default_form,
                                                                  count):
    body = visit_payload(default_form, assignment=world["assignment"])
    resp = post(client, body, world["inspector"])
    assert resp.status_code == 201, resp.json
    got = resp.json
    assert got["uuid"] == body["uuid"]
    assert got["status"] == "submitted"
    assert (got["office"], got["form_key"], got["form_version"]) == ("AST-1", "service-centre-visit", 1)
    assert got["score"] == pytest.approx(100)
    assert got["critical"] == []
    assert set(got["section_scores"]) == {"accessibility", "queue", "service", "integrity",
                                          "information", "comfort"}
    assert len(got["answers"]) == len(body["answers"])
    assert [h["action"] for h in got["history"]] == ["visit_submitted"]
    assert count(Visit) == 1
    assert count(Answer) == len(body["answers"])


def test_the_assignment_is_done_after_its_visit(client, world, default_form, app):
    post(client, visit_payload(default_form, assignment=world["assignment"]), world["inspector"])
    with app.app_context():
        assert db.session.get(Assignment, world["assignment"]).status == "done"


def test_a_replay_returns_the_stored_visit_and_changes_nothing(client, world, default_form, count):
    body = visit_payload(default_form, assignment=world["assignment"])
    first = post(client, body, world["inspector"])
    again = post(client, body, world["inspector"])
    assert again.status_code == 200
    assert again.json == first.json
    assert count(Visit) == 1
    with client.application.app_context():  # and no second audit event
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "visit_submitted")) == 1


def test_a_replay_with_keys_in_another_order_is_still_a_replay(client, world, default_form):
    body = visit_payload(default_form, assignment=world["assignment"])
    post(client, body, world["inspector"])
    reordered = dict(reversed(list(body.items())))
    resp = client.post("/api/v1/visits", data=json.dumps(reordered),
                       content_type="application/json", headers=world["inspector"])
    assert resp.status_code == 200


def test_the_same_uuid_with_another_body_is_409(client, world, default_form, count):
    body = visit_payload(default_form, assignment=world["assignment"])
    post(client, body, world["inspector"])
    changed = copy.deepcopy(body)
    changed["answers"][0]["value"] = "no"
    assert_problem(post(client, changed, world["inspector"]), 409, "idempotency_conflict")
    assert count(Visit) == 1


def test_another_inspector_replaying_a_uuid_gets_409_not_the_visit(client, world, default_form):
    body = visit_payload(default_form, assignment=world["assignment"])
    post(client, body, world["inspector"])
    problem = assert_problem(post(client, body, world["other_inspector"]), 409,
                             "idempotency_conflict")
    assert "answers" not in problem


def test_a_replay_after_the_assignment_was_cancelled_still_returns_the_visit(
        client, world, default_form, app):
    body = visit_payload(default_form, assignment=world["assignment"])
    post(client, body, world["inspector"])
    with app.app_context():
        db.session.get(Assignment, world["assignment"]).status = "cancelled"
        db.session.commit()
    assert post(client, body, world["inspector"]).status_code == 200


def test_a_new_visit_on_a_cancelled_assignment_is_409(client, world, default_form, count):
    cancel = client.post(f"/api/v1/assignments/{world['assignment']}/cancel",
                         json={"reason": "office closed"}, headers=world["supervisor"])
    assert cancel.status_code == 200, cancel.json
    resp = post(client, visit_payload(default_form, assignment=world["assignment"]),
                world["inspector"])
    assert_problem(resp, 409, "assignment_cancelled")
    assert count(Visit) == 0


def test_a_second_visit_on_a_done_assignment_is_409(client, world, default_form, count):
    post(client, visit_payload(default_form, assignment=world["assignment"]), world["inspector"])
    resp = post(client, visit_payload(default_form, assignment=world["assignment"]),
                world["inspector"])
    assert_problem(resp, 409, "assignment_done")
    assert count(Visit) == 1


def test_another_inspectors_assignment_is_refused_as_unknown(client, world, default_form, count):
    resp = post(client, visit_payload(default_form, assignment=world["assignment"]),
                world["other_inspector"])
    problem = assert_problem(resp, 422, "unknown_assignment")
    assert problem["errors"] == {"assignment": ["No such assignment."]}
    assert count(Visit) == 0


def test_unplanned_visits_need_the_setting(client, world, default_form, count):
    body = visit_payload(default_form, assignment=None, office="AST-1",
                         form_key="service-centre-visit", form_version=1)
    assert_problem(post(client, body, world["inspector"]), 422, "assignment_required")
    assert count(Visit) == 0


def test_unplanned_visit_for_a_form_version_that_does_not_exist(client, world, default_form, app):
    app.config["ALLOW_UNPLANNED_VISITS"] = True
    body = visit_payload(default_form, assignment=None, office="AST-1",
                         form_key="service-centre-visit", form_version=7)
    assert_problem(post(client, body, world["inspector"]), 422, "unknown_form_version")


def test_unplanned_visit_on_a_retired_version_is_409(client, world, default_form, app, count):
    from server.db import utcnow
    from server.forms.models import FormVersion
    app.config["ALLOW_UNPLANNED_VISITS"] = True
    with app.app_context():
        db.session.get(FormVersion, world["version_id"]).retired_at = utcnow()
        db.session.commit()
    body = visit_payload(default_form, assignment=None, office="AST-1",
                         form_key="service-centre-visit", form_version=1)
    assert_problem(post(client, body, world["inspector"]), 409, "form_version_retired")
    assert count(Visit) == 0


def test_unplanned_visit_is_accepted_when_allowed(client, world, default_form, app):
    app.config["ALLOW_UNPLANNED_VISITS"] = True
    body = visit_payload(default_form, assignment=None, office="AST-1",
                         form_key="service-centre-visit", form_version=1)
    assert post(client, body, world["inspector"]).status_code == 201


@pytest.mark.parametrize("headers", ["supervisor", "admin"])
def test_only_inspectors_submit(client, world, default_form, headers, count):
    resp = post(client, visit_payload(default_form, assignment=world["assignment"]),
                world[headers])
    assert_problem(resp, 403, "forbidden")
    assert count(Visit) == 0


def test_no_token_is_401(client, world, default_form):
    resp = post(client, visit_payload(default_form, assignment=world["assignment"]), {})
    assert_problem(resp, 401, "unauthorized")


# --- validation: every problem at once, keyed by question ---------------------------------

def test_every_bad_answer_is_listed_and_nothing_is_stored(client, world, default_form, count):
    body = visit_payload(default_form, assignment=world["assignment"])
    answers = {a["question"]: a for a in body["answers"]}
    answers["A01"]["value"] = "maybe"                     # not yes/no
    answers["A04"]["value"] = 1000                        # breaks the constraint 30..300
    answers["B03"]["value"] = "fifteen"                   # not a number
    del answers["C03"]                                    # required
    body["answers"] = list(answers.values()) + [{"question": "Z99", "value": 1}]
    problem = assert_problem(post(client, body, world["inspector"]), 422, "validation_failed")
    errors = problem["errors"]["answers"]
    assert set(errors) == {"A01", "A04", "B03", "C03", "Z99"}
    assert errors["Z99"] == ["Unknown question."]
    assert errors["C03"] == ["Required."]
    assert count(Visit) == 0
    assert count(Answer) == 0


def test_the_constraint_message_comes_in_the_asked_language(client, world, default_form):
    body = visit_payload(default_form, assignment=world["assignment"], overrides={"A04": 1000})
    resp = client.post("/api/v1/visits", json=body,
                       headers={**world["inspector"], "Accept-Language": "ru"})
    message = resp.json["errors"]["answers"]["A04"][0]
    assert any("а" <= ch <= "я" for ch in message.lower())


def test_an_answer_to_a_question_that_is_not_asked_is_refused(client, world, default_form):
    body = visit_payload(default_form, assignment=world["assignment"], overrides={"A01": "no"})
    body["answers"].append({"question": "A02", "value": 4})  # only asked when A01 is yes
    problem = assert_problem(post(client, body, world["inspector"]), 422, "validation_failed")
    assert "A02" in problem["errors"]["answers"]


def test_a_question_answered_twice_is_refused(client, world, default_form):
    body = visit_payload(default_form, assignment=world["assignment"])
    body["answers"].append(dict(body["answers"][0]))
    problem = assert_problem(post(client, body, world["inspector"]), 422, "validation_failed")
    assert problem["errors"]["answers"][body["answers"][0]["question"]] == ["Answered twice."]


def test_not_applicable_only_where_the_form_allows_it(client, world, default_form):
    body = visit_payload(default_form, assignment=world["assignment"])
    for a in body["answers"]:
        if a["question"] == "A01":
            a.update(value=None, not_applicable=True)
    problem = assert_problem(post(client, body, world["inspector"]), 422, "validation_failed")
    assert "A01" in problem["errors"]["answers"]


def test_an_end_before_the_start_is_refused(client, world, default_form, count):
    from datetime import datetime, timedelta, timezone
    body = visit_payload(default_form, assignment=world["assignment"])
    body["ended_at"] = (datetime.fromisoformat(body["started_at"]) - timedelta(minutes=1)).isoformat()
    problem = assert_problem(post(client, body, world["inspector"]), 422, "validation_failed")
    assert set(problem["errors"]) == {"ended_at"}
    assert count(Visit) == 0


def test_a_phone_clock_running_ahead_is_flagged_not_refused(client, world, default_form):
    """A refused visit is a lost visit: the times are facts the inspector cannot correct."""
    from datetime import datetime, timedelta, timezone
    body = visit_payload(default_form, assignment=world["assignment"],
                         started=datetime.now(timezone.utc).replace(microsecond=0)
                         + timedelta(days=730))
    resp = post(client, body, world["inspector"])
    assert resp.status_code == 201, resp.json
    flag = next(f for f in resp.json["flags"] if f["kind"] == "clock_ahead")
    assert flag["detail"]["ahead_minutes"] > 730 * 24 * 60 - 10


def test_evidence_that_was_never_uploaded_is_refused(client, world, default_form, count):
    body = visit_payload(default_form, assignment=world["assignment"])
    body["answers"][0]["evidence"] = ["a" * 64]
    problem = assert_problem(post(client, body, world["inspector"]), 422, "validation_failed")
    assert "Unknown evidence" in problem["errors"]["answers"][body["answers"][0]["question"]][0]
    assert count(Visit) == 0


@pytest.mark.parametrize("field,value", [
    ("uuid", "not-a-uuid"), ("uuid", 12), ("started_at", "yesterday"),
    ("started_at", "2026-11-01T10:00:00"),  # no offset
    ("answers", "nope"), ("assignment", "1"), ("assignment", True), ("device", []),
    ("position_start", {"lat": 91, "lon": 0}), ("surprise", 1),
])
def test_malformed_fields_are_422(client, world, default_form, field, value, count):
    body = visit_payload(default_form, assignment=world["assignment"])
    body[field] = value
    problem = assert_problem(post(client, body, world["inspector"]), 422, "validation_failed")
    assert field in problem["errors"]
    assert count(Visit) == 0


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(client, world, default_form, literal, count):
    body = visit_payload(default_form, assignment=world["assignment"])
    text = json.dumps(body).replace('"lat": 51.1283', f'"lat": {literal}', 1)
    assert literal in text
    resp = client.post("/api/v1/visits", data=text, content_type="application/json",
                       headers=world["inspector"])
    problem = assert_problem(resp, 422, "validation_failed")
    assert problem["errors"] == {"position_start": {"lat": [
        "Special numeric values (nan or infinity) are not permitted."]}}
    assert count(Visit) == 0


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_an_answer_are_refused(client, world, default_form, literal, count):
    body = visit_payload(default_form, assignment=world["assignment"], overrides={"B03": 12345})
    text = json.dumps(body).replace('"value": 12345', f'"value": {literal}', 1)
    assert literal in text
    resp = client.post("/api/v1/visits", data=text, content_type="application/json",
                       headers=world["inspector"])
    problem = assert_problem(resp, 422, "validation_failed")
    assert problem["errors"] == {"answers": {"B03": ["Give minutes, a number ≥ 0."]}}
    assert count(Visit) == 0


def test_ten_thousand_answers_are_refused(client, world, count):
    body = {"uuid": str(uuid.uuid4()), "assignment": world["assignment"],
            "started_at": "2026-11-01T10:00:00+05:00", "ended_at": "2026-11-01T10:30:00+05:00",
            "answers": [{"question": f"Q{i}", "value": "yes"} for i in range(10_000)]}
    problem = assert_problem(post(client, body, world["inspector"]), 422, "validation_failed")
    assert "answers" in problem["errors"]
    assert count(Visit) == 0


def test_a_five_megabyte_answer_array_is_refused_cleanly(client, world, count):
    body = {"uuid": str(uuid.uuid4()), "assignment": world["assignment"],
            "started_at": "2026-11-01T10:00:00+05:00", "ended_at": "2026-11-01T10:30:00+05:00",
            "answers": [{"question": "A01", "value": "x" * 10_000, "note": "n"}] * 500}
    assert 5_000_000 < len(json.dumps(body)) < client.application.config["MAX_CONTENT_LENGTH"]
    problem = assert_problem(post(client, body, world["inspector"]), 422, "validation_failed")
    assert problem["errors"]["answers"]["A01"] == ["Answer 'yes' or 'no'."] + \
        ["Answered twice."] * 499
    assert count(Visit) == 0


def test_a_body_over_the_request_limit_is_413(client, world, count):
    limit = client.application.config["MAX_CONTENT_LENGTH"]
    body = {"uuid": str(uuid.uuid4()), "assignment": world["assignment"],
            "started_at": "2026-11-01T10:00:00+05:00", "ended_at": "2026-11-01T10:30:00+05:00",
            "answers": [{"question": "A01", "value": "x" * (limit // 400), "note": "n"}] * 500}
    assert len(json.dumps(body)) > limit
    assert_problem(post(client, body, world["inspector"]), 413, "payload_too_large")
    assert count(Visit) == 0


def test_deeply_nested_json_is_400(client, world, count):
    text = '{"uuid": ' + "[" * 100_000 + "]" * 100_000 + "}"
    resp = client.post("/api/v1/visits", data=text, content_type="application/json",
                       headers=world["inspector"])
    assert_problem(resp, 400, "malformed_json")
    assert count(Visit) == 0


# --- flags: never a refusal --------------------------------------------------------------

def _flags(resp) -> dict:
    return {f["kind"]: f for f in resp.json["flags"]}


def test_a_position_far_from_the_office_is_flagged_not_refused(client, world, default_form):
    body = visit_payload(default_form, assignment=world["assignment"])
    body["position_start"] = {"lat": 51.20, "lon": 71.43, "accuracy": 10}  # ~8 km north
    resp = post(client, body, world["inspector"])
    assert resp.status_code == 201
    flag = _flags(resp)["far_from_office"]
    assert flag["detail"]["position"] == "start"
    assert flag["detail"]["distance_m"] > 7000


def test_a_visit_shorter_than_the_form_minimum_is_flagged(client, world, default_form):
    resp = post(client, visit_payload(default_form, assignment=world["assignment"], minutes=3),
                world["inspector"])
    assert resp.status_code == 201
    assert _flags(resp)["too_short"]["detail"]["minimum"] == 10


def test_a_critical_finding_caps_the_score_and_is_flagged(client, world, default_form):
    body = visit_payload(default_form, assignment=world["assignment"], overrides={"D02": "yes"})
    resp = post(client, body, world["inspector"])
    assert resp.status_code == 201
    assert "D02" in resp.json["critical"]
    assert resp.json["score"] <= 40
    assert "critical_finding" in _flags(resp)


def test_required_evidence_missing_is_a_flag(client, world, default_form):
    questions = [qid for qid, q in default_form.questions.items()
                 if any(rule == "required" or rule == "required_when:no"
                        for rule in (q.get("evidence") or {}).values())]
    if not questions:
        pytest.skip("the default form requires no evidence")
    qid = questions[0]
    rule = next(iter(default_form.questions[qid]["evidence"].values()))
    overrides = {qid: "no"} if rule == "required_when:no" else {}
    resp = post(client, visit_payload(default_form, assignment=world["assignment"],
                                      overrides=overrides), world["inspector"])
    assert resp.status_code == 201, resp.json
    kinds = [f for f in resp.json["flags"] if f["kind"] == "evidence_missing"]
    assert any(f["detail"]["question"] == qid for f in kinds)


# --- reading -----------------------------------------------------------------------------

def test_an_inspector_reads_their_visit_and_not_anothers(client, world, default_form):
    body = visit_payload(default_form, assignment=world["assignment"])
    post(client, body, world["inspector"])
    assert client.get(f"/api/v1/visits/{body['uuid']}", headers=world["inspector"]).status_code == 200
    assert_problem(client.get(f"/api/v1/visits/{body['uuid']}", headers=world["other_inspector"]),
                   404, "not_found")
    assert client.get(f"/api/v1/visits/{body['uuid']}", headers=world["supervisor"]).status_code == 200


def test_a_uuid_that_is_not_a_uuid_is_404(client, world):
    assert_problem(client.get("/api/v1/visits/nope", headers=world["supervisor"]), 404, "not_found")


def test_lists_are_scoped_and_filtered(client, world, default_form):
    post(client, visit_payload(default_form, assignment=world["assignment"], minutes=3),
         world["inspector"])
    mine = client.get("/api/v1/visits", headers=world["inspector"]).json
    theirs = client.get("/api/v1/visits", headers=world["other_inspector"]).json
    assert (mine["total"], theirs["total"]) == (1, 0)
    assert set(mine) == {"items", "total", "page", "per_page"}
    flagged = client.get("/api/v1/visits?flag=too_short", headers=world["supervisor"]).json
    assert flagged["total"] == 1
    assert client.get("/api/v1/visits?flag=far_from_office",
                      headers=world["supervisor"]).json["total"] == 0
    assert client.get("/api/v1/visits?status=approved", headers=world["supervisor"]).json["total"] == 0


def test_a_bad_period_filter_is_422(client, world):
    resp = client.get("/api/v1/visits?period=last-week", headers=world["supervisor"])
    assert_problem(resp, 422, "validation_failed")


# --- amendment of a returned visit -------------------------------------------------------

def _return(app, visit_uuid):
    with app.app_context():
        visit = db.session.scalar(sa.select(Visit).where(Visit.uuid == uuid.UUID(visit_uuid)))
        visit.status = "returned"
        db.session.commit()


def test_a_returned_visit_is_amended_and_the_previous_revision_kept(client, world, default_form,
                                                                   app):
    body = visit_payload(default_form, assignment=world["assignment"])
    post(client, body, world["inspector"])
    _return(app, body["uuid"])
    amended = copy.deepcopy(body)
    next(a for a in amended["answers"] if a["question"] == "C02")["value"] = "no"
    resp = client.put(f"/api/v1/visits/{body['uuid']}", json=amended, headers=world["inspector"])
    assert resp.status_code == 200, resp.json
    assert resp.json["revision"] == 2
    assert resp.json["status"] == "submitted"
    assert resp.json["score"] < 100
    assert [h["action"] for h in resp.json["history"]] == ["visit_submitted", "visit_amended"]
    with app.app_context():
        visit = db.session.scalar(sa.select(Visit).where(Visit.uuid == uuid.UUID(body["uuid"])))
        assert [s.revision for s in visit.submissions] == [1, 2]
        assert visit.submissions[0].body == body


def test_a_visit_that_was_not_returned_cannot_be_amended(client, world, default_form):
    body = visit_payload(default_form, assignment=world["assignment"])
    post(client, body, world["inspector"])
    changed = copy.deepcopy(body)
    changed["answers"][0]["value"] = "no"
    resp = client.put(f"/api/v1/visits/{body['uuid']}", json=changed, headers=world["inspector"])
    assert_problem(resp, 409, "visit_not_returned")


def test_another_inspector_cannot_amend(client, world, default_form, app):
    body = visit_payload(default_form, assignment=world["assignment"])
    post(client, body, world["inspector"])
    _return(app, body["uuid"])
    resp = client.put(f"/api/v1/visits/{body['uuid']}", json=body, headers=world["other_inspector"])
    assert_problem(resp, 404, "not_found")


# --- lone surrogates: valid JSON, invalid text --------------------------------------------

def _first_of_type(form, body, qtype):
    given = {a["question"]: a for a in body["answers"]}
    return next(given[qid] for qid, q in form.questions.items()
                if q["type"] == qtype and qid in given)


@pytest.mark.parametrize("where", ["yes_no", "text", "multi_choice", "question"])
def test_a_lone_surrogate_in_an_answer_is_422_not_500(client, world, default_form, where, count):
    body = visit_payload(default_form, assignment=world["assignment"])
    if where == "question":
        body["answers"].append({"question": "\ud800", "value": 1})
    else:
        answer = _first_of_type(default_form, body, where)
        answer["value"] = ["\ud800"] if where == "multi_choice" else "\ud800"
    resp = client.post("/api/v1/visits", data=json.dumps(body),  # ensure_ascii: "\ud800" escaped
                       content_type="application/json", headers=world["inspector"])
    problem = assert_problem(resp, 422, "validation_failed")
    assert "answers" in problem["errors"]
    assert count(Visit) == 0
    assert count(Answer) == 0


def test_a_lone_surrogate_in_an_amendment_is_422_not_500(client, world, default_form, app):
    body = visit_payload(default_form, assignment=world["assignment"])
    post(client, body, world["inspector"])
    _return(app, body["uuid"])
    amended = copy.deepcopy(body)
    next(a for a in amended["answers"] if a["question"] == "A01")["value"] = "\ud800"
    resp = client.put(f"/api/v1/visits/{body['uuid']}", data=json.dumps(amended),
                      content_type="application/json", headers=world["inspector"])
    assert_problem(resp, 422, "validation_failed")
    with app.app_context():
        visit = db.session.scalar(sa.select(Visit).where(Visit.uuid == uuid.UUID(body["uuid"])))
        assert (visit.revision, visit.status) == (1, "returned")


def test_the_service_refuses_a_lone_surrogate_that_got_past_the_json_edge(app, world,
                                                                         default_form):
    """Defence in depth: the parser refuses lone surrogates first; should a body reach the
    service with one all the same, hashing it must not crash and validation must refuse it."""
    from server.auth.models import User
    from server.errors import ValidationFailed
    from server.visits import service
    from server.visits.schemas import VisitIn
    body = json.loads(json.dumps(visit_payload(default_form, assignment=world["assignment"])))
    next(a for a in body["answers"] if a["question"] == "A01")["value"] = "\ud800"
    with app.test_request_context():
        inspector = db.session.scalar(sa.select(User).where(User.login == "insp"))
        with pytest.raises(ValidationFailed) as caught:
            service.submit_visit(inspector=inspector, data=VisitIn().load(body), body=body,
                                 lang="en")
        assert caught.value.errors == {"answers": {"A01": ["Answer 'yes' or 'no'."]}}
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit)) == 0


def test_body_hashes_of_valid_text_are_plain_utf8():
    """surrogatepass changes nothing for valid text: hashes stored before stay replayable."""
    import hashlib

    from server.visits.service import body_sha256
    body = {"b": "Всё спокойно", "a": [1, 2.5, None, True]}
    canonical = '{"a":[1,2.5,null,true],"b":"Всё спокойно"}'
    assert body_sha256(body) == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert body_sha256({"x": "\ud800"}) != body_sha256({"x": "\ud801"})


# --- times: aware, and within 2000..2100 -------------------------------------------------

OUT_OF_RANGE = "Must be from 2000-01-01T00:00:00Z up to (not including) 2100-01-01T00:00:00Z."


@pytest.mark.parametrize("field", ["started_at", "ended_at"])
@pytest.mark.parametrize("value", ["9999-12-31T23:00-05:00", "0001-01-01T00:00+05:00",
                                   "1999-12-31T23:59:59Z", "2100-01-01T05:00:00+05:00"])
def test_times_outside_2000_to_2100_are_422_not_500(client, world, default_form, field, value,
                                                    count):
    body = visit_payload(default_form, assignment=world["assignment"])
    body[field] = value
    problem = assert_problem(post(client, body, world["inspector"]), 422, "validation_failed")
    assert problem["errors"][field] == [OUT_OF_RANGE]
    assert count(Visit) == 0


def test_an_amendment_with_an_extreme_time_is_422_and_changes_nothing(client, world,
                                                                      default_form, app):
    body = visit_payload(default_form, assignment=world["assignment"])
    post(client, body, world["inspector"])
    _return(app, body["uuid"])
    amended = {**body, "ended_at": "9999-12-31T23:00-05:00"}
    resp = client.put(f"/api/v1/visits/{body['uuid']}", json=amended, headers=world["inspector"])
    assert assert_problem(resp, 422, "validation_failed")["errors"]["ended_at"] == [OUT_OF_RANGE]
    with app.app_context():
        visit = db.session.scalar(sa.select(Visit).where(Visit.uuid == uuid.UUID(body["uuid"])))
        assert (visit.revision, visit.status) == (1, "returned")


def test_the_first_moment_of_2000_is_accepted(client, world, default_form):
    body = visit_payload(default_form, assignment=world["assignment"])
    body["started_at"] = "2000-01-01T05:00:00+05:00"  # 2000-01-01T00:00:00Z
    resp = post(client, body, world["inspector"])
    assert resp.status_code == 201, resp.json
    from datetime import datetime, timezone
    assert datetime.fromisoformat(resp.json["started_at"]) == datetime(2000, 1, 1,
                                                                       tzinfo=timezone.utc)
    assert "outside_window" in {f["kind"] for f in resp.json["flags"]}


# --- corrections belong to the revision they were made on --------------------------------

def test_a_correction_does_not_survive_an_amendment(client, world, default_form, app):
    body = visit_payload(default_form, assignment=world["assignment"])
    post(client, body, world["inspector"])
    url = f"/api/v1/visits/{body['uuid']}"
    corrected = client.post(f"{url}/corrections", headers=world["supervisor"], json={
        "question": "D02", "value": "yes", "reason": "The audio shows a payment was asked."})
    assert corrected.status_code == 201, corrected.json
    assert "D02" in corrected.json["critical"]
    returned = client.post(f"{url}/review", headers=world["supervisor"],
                           json={"decision": "return", "comment": "Check C02 again.",
                                 "revision": 1})
    assert returned.status_code == 201, returned.json
    amended = copy.deepcopy(body)
    next(a for a in amended["answers"] if a["question"] == "C02")["value"] = "no"
    put = client.put(url, json=amended, headers=world["inspector"])
    assert put.status_code == 200, put.json

    got = client.get(url, headers=world["supervisor"]).json
    d02 = next(a for a in got["answers"] if a["question"] == "D02")
    assert (d02["value"], d02["corrected"]) == ("no", None)
    assert all(a["corrected"] is None for a in got["answers"])
    assert "D02" not in {lost["question"] for lost in got["lost_points"]}
    assert {lost["question"] for lost in got["lost_points"]} == {"C02"}
    assert got["critical"] == [] and 40 < got["score"] < 100
    assert got["score"] == put.json["score"]
    with app.app_context():  # the stored score is the one shown
        visit = db.session.scalar(sa.select(Visit).where(Visit.uuid == uuid.UUID(body["uuid"])))
        assert visit.score == got["score"] and visit.revision == 2

    # A correction of the new revision starts from the inspector's new answer.
    again = client.post(f"{url}/corrections", headers=world["supervisor"], json={
        "question": "C02", "value": "yes", "reason": "The photo shows it."})
    assert again.status_code == 201, again.json
    assert again.json["score"] == pytest.approx(100)
    c02 = next(a for a in again.json["answers"] if a["question"] == "C02")
    assert c02["corrected"]["value"] == "yes" and c02["corrected"]["score_before"] == got["score"]
    with app.app_context():
        from server.review.models import AnswerCorrection
        assert [(c.question_id, c.revision, c.old_value) for c in db.session.scalars(
            sa.select(AnswerCorrection).order_by(AnswerCorrection.id))] == [
            ("D02", 1, "no"), ("C02", 2, "no")]


# --- every problem at once, under the question id ----------------------------------------

def test_a_malformed_answer_does_not_hide_the_others(client, world, default_form, count):
    body = visit_payload(default_form, assignment=world["assignment"])
    answers = {a["question"]: a for a in body["answers"]}
    answers["B03"]["evidence"] = ["not-a-sha"]
    answers["C02"]["colour"] = "red"
    answers["A01"]["value"] = "maybe"
    body["answers"].append({"value": "yes"})  # no question id: reported under its index
    problem = assert_problem(post(client, body, world["inspector"]), 422, "validation_failed")
    assert problem["errors"] == {"answers": {
        "A01": ["Answer 'yes' or 'no'."],
        "B03": ["evidence.0: Not a SHA-256 (64 lower-case hex digits)."],
        "C02": ["colour: Unknown field."],
        str(len(body["answers"]) - 1): ["question: Missing data for required field."]}}
    assert count(Visit) == 0


@pytest.mark.parametrize("field,value", [("device", []), ("started_at", "yesterday"),
                                         ("surprise", 1), ("position_end", {"lat": 91, "lon": 0})])
def test_a_bad_field_does_not_hide_a_bad_answer(client, world, default_form, field, value,
                                                count):
    body = visit_payload(default_form, assignment=world["assignment"], overrides={"A01": "maybe"})
    body[field] = value
    problem = assert_problem(post(client, body, world["inspector"]), 422, "validation_failed")
    assert set(problem["errors"]) == {field, "answers"}
    assert problem["errors"]["answers"] == {"A01": ["Answer 'yes' or 'no'."]}
    assert count(Visit) == 0


def test_a_bad_field_of_an_amendment_does_not_hide_a_bad_answer(client, world, default_form,
                                                                app):
    body = visit_payload(default_form, assignment=world["assignment"])
    post(client, body, world["inspector"])
    _return(app, body["uuid"])
    amended = copy.deepcopy(body)
    amended["device"] = "phone"
    next(a for a in amended["answers"] if a["question"] == "A01")["value"] = "maybe"
    resp = client.put(f"/api/v1/visits/{body['uuid']}", json=amended, headers=world["inspector"])
    problem = assert_problem(resp, 422, "validation_failed")
    assert problem["errors"]["answers"] == {"A01": ["Answer 'yes' or 'no'."]}
    assert set(problem["errors"]) == {"device", "answers"}
    with app.app_context():
        visit = db.session.scalar(sa.select(Visit).where(Visit.uuid == uuid.UUID(body["uuid"])))
        assert (visit.revision, visit.status) == (1, "returned")


def test_a_bad_field_with_an_unknown_assignment_lists_what_can_be_judged(client, world,
                                                                         default_form, count):
    body = visit_payload(default_form, assignment=999, overrides={"A01": "maybe"})
    body["device"] = []
    problem = assert_problem(post(client, body, world["inspector"]), 422, "validation_failed")
    assert set(problem["errors"]) == {"device"}  # no form to judge the answers by
    assert count(Visit) == 0


# --- earlier revisions stay readable -----------------------------------------------------

def test_every_revision_is_readable_with_its_own_answers_and_corrections(client, world,
                                                                         default_form, app):
    body = visit_payload(default_form, assignment=world["assignment"])
    first = post(client, body, world["inspector"]).json
    assert [(r["revision"], r["score"]) for r in first["revisions"]] == [(1, first["score"])]
    url = f"/api/v1/visits/{body['uuid']}"
    assert client.post(f"{url}/corrections", headers=world["supervisor"], json={
        "question": "D02", "value": "yes", "reason": "The audio shows a fee was asked."}).status_code == 201
    assert client.post(f"{url}/review", headers=world["supervisor"], json={
        "decision": "return", "comment": "Check C02 again.", "revision": 1}).status_code == 201
    amended = copy.deepcopy(body)
    next(a for a in amended["answers"] if a["question"] == "C02")["value"] = "no"
    assert client.put(url, json=amended, headers=world["inspector"]).status_code == 200

    for who in ("supervisor", "admin", "inspector"):
        got = client.get(url, headers=world[who]).json
        one, two = got["revisions"]
        assert (one["revision"], two["revision"]) == (1, 2)
        assert one["score"] == pytest.approx(100) and two["score"] == got["score"] < 100
        by_q1 = {a["question"]: a for a in one["answers"]}
        by_q2 = {a["question"]: a for a in two["answers"]}
        assert (by_q1["C02"]["value"], by_q2["C02"]["value"]) == ("yes", "no")
        assert by_q1["D02"]["corrected"]["value"] == "yes"  # made on revision 1
        assert by_q2["D02"]["corrected"] is None
        assert len(one["answers"]) == len(body["answers"])
        assert one["received_at"] < two["received_at"]
        assert client.get(f"{url}/revisions/1", headers=world[who]).json == one
        assert client.get(f"{url}/revisions/2", headers=world[who]).json == two


@pytest.mark.parametrize("revision", ["0", "2", "99999999999999999999"])
def test_a_revision_that_does_not_exist_is_404(client, world, default_form, revision):
    body = visit_payload(default_form, assignment=world["assignment"])
    post(client, body, world["inspector"])
    assert_problem(client.get(f"/api/v1/visits/{body['uuid']}/revisions/{revision}",
                              headers=world["supervisor"]), 404, "not_found")


def test_another_inspector_cannot_read_a_revision(client, world, default_form):
    body = visit_payload(default_form, assignment=world["assignment"])
    post(client, body, world["inspector"])
    assert_problem(client.get(f"/api/v1/visits/{body['uuid']}/revisions/1",
                              headers=world["other_inspector"]), 404, "not_found")


# --- list filters, positively -------------------------------------------------------------

def _uuids(client, headers, query: str) -> set[str]:
    resp = client.get(f"/api/v1/visits?{query}", headers=headers)
    assert resp.status_code == 200, resp.json
    return {item["uuid"] for item in resp.json["items"]}


@pytest.fixture
def two_visits(client, world, default_form):
    """insp's visit at AST-1 (far from the office) and insp2's at AST-2; their uuids."""
    from datetime import timedelta

    from server.db import utcnow
    now = utcnow().replace(microsecond=0)
    planned = client.post("/api/v1/assignments", headers=world["supervisor"], json={
        "office": "AST-2", "inspector": "insp2", "form_key": "service-centre-visit",
        "form_version": 1, "window_start": (now - timedelta(days=1)).isoformat(),
        "window_end": (now + timedelta(days=1)).isoformat()})
    assert planned.status_code == 201, planned.json
    first = visit_payload(default_form, assignment=world["assignment"])
    first["position_start"] = {"lat": 51.20, "lon": 71.43, "accuracy": 10}  # ~8 km away
    second = visit_payload(default_form, assignment=planned.json["id"])
    second["position_start"] = second["position_end"] = {"lat": 51.18, "lon": 71.41}
    assert post(client, first, world["inspector"]).status_code == 201
    assert post(client, second, world["other_inspector"]).status_code == 201
    return first["uuid"], second["uuid"]


def test_the_list_filters_by_office(client, world, two_visits):
    mine, theirs = two_visits
    assert _uuids(client, world["supervisor"], "office=AST-1") == {mine}
    assert _uuids(client, world["supervisor"], "office=AST-2") == {theirs}


def test_the_list_filters_by_inspector(client, world, two_visits):
    mine, theirs = two_visits
    assert _uuids(client, world["supervisor"], "inspector=insp") == {mine}
    assert _uuids(client, world["supervisor"], "inspector=insp2") == {theirs}
    assert _uuids(client, world["admin"], "inspector=insp2&office=AST-1") == set()


def test_the_list_filters_by_period(client, world, two_visits, app):
    from datetime import datetime

    from server.periods import half_year_of
    started = client.get(f"/api/v1/visits/{two_visits[0]}", headers=world["supervisor"]).json
    current = half_year_of(datetime.fromisoformat(started["started_at"]), app.config["TIMEZONE"])
    earlier = current.previous(app.config["TIMEZONE"])
    assert _uuids(client, world["supervisor"], f"period={current.label}") == set(two_visits)
    assert _uuids(client, world["supervisor"], f"period={earlier.label}") == set()


def test_the_list_filters_by_flag(client, world, two_visits):
    mine, theirs = two_visits
    assert _uuids(client, world["supervisor"], "flag=far_from_office") == {mine}
    assert _uuids(client, world["supervisor"], "flag=too_short") == set()


# --- one transaction ---------------------------------------------------------------------

def test_a_failure_at_the_last_step_of_intake_leaves_nothing(client, world, default_form, app,
                                                             count, monkeypatch):
    """The audit event is written last; if it fails, the visit, its answers and the
    assignment's "done" roll back with it."""
    from server.visits import service

    def failing(*args, **kwargs):
        raise RuntimeError("failpoint: audit log unavailable")
    monkeypatch.setattr(service, "append_event", failing)
    body = visit_payload(default_form, assignment=world["assignment"])
    assert_problem(post(client, body, world["inspector"]), 500, "internal_error")
    assert (count(Visit), count(Answer)) == (0, 0)
    from server.visits.models import Flag, VisitSubmission
    assert (count(Flag), count(VisitSubmission)) == (0, 0)
    with app.app_context():
        assert db.session.get(Assignment, world["assignment"]).status == "open"
    monkeypatch.undo()  # and the same body then goes through, once
    assert post(client, body, world["inspector"]).status_code == 201
    assert count(Visit) == 1


def test_a_malformed_body_under_a_stored_uuid_is_422_not_a_conflict(client, world, default_form,
                                                                    count):
    body = visit_payload(default_form, assignment=world["assignment"])
    post(client, body, world["inspector"])
    malformed = {**body, "device": []}
    problem = assert_problem(post(client, malformed, world["inspector"]), 422,
                             "validation_failed")
    assert set(problem["errors"]) == {"device"}
    assert post(client, body, world["inspector"]).status_code == 200  # the replay still works
    assert count(Visit) == 1
