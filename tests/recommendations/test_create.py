"""Creating recommendations: by hand, from a visit's finding, refusals, idempotency, audit."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from server.idempotency import IdempotencyRecord
from server.recommendations.models import Recommendation, RecommendationEvent
from tests import factories
from tests.recommendations.conftest import URL, assert_problem



def test_a_recommendation_by_hand_starts_open_with_one_history_entry(client, world, count):
    body = {"office": world["office"], "text": "Put up the price list at the entrance.",
            "due_date": (date.today() + timedelta(days=30)).isoformat()}
    resp = client.post(URL, json=body, headers=world["supervisor"])
    assert resp.status_code == 201, resp.json
    got = resp.json
    assert set(got) == {"id", "office", "visit", "question", "text", "due_date", "status",
                        "overdue", "created_at", "created_by", "history"}
    assert (got["office"], got["text"], got["due_date"]) == (world["office"], body["text"],
                                                             body["due_date"])
    assert (got["visit"], got["question"], got["status"]) == (None, None, "open")
    assert got["overdue"] is False and got["created_by"] == "sup"
    assert [(h["status"], h["actor"], h["comment"], h["verifying_visit"])
            for h in got["history"]] == [("open", "sup", "", None)]
    assert count(Recommendation) == 1 and count(RecommendationEvent) == 1


def test_a_recommendation_from_a_critical_finding_points_at_the_visit_and_question(
        client, world, visit_of, make):
    visit = visit_of()  # D02 = yes: informal payment asked for
    finding = client.get(f"/api/v1/visits/{visit}", headers=world["supervisor"]).json
    assert "D02" in finding["critical"]
    got = make(visit=visit, question="D02", text="Stop informal payments; brief the staff.")
    assert (got["visit"], got["question"], got["office"]) == (visit, "D02", world["office"])


def test_an_admin_may_create_too(world, make):
    assert make(headers=world["admin"])["created_by"] == "adm"


def test_the_due_date_may_be_left_out(make):
    assert make()["due_date"] is None


def test_creation_is_on_the_audit_log(world, make, audit_events, visit_of):
    visit = visit_of()
    got = make(visit=visit, question="D02", due_date="2099-01-31")
    (event,) = audit_events("recommendation_created")
    assert (event.actor_login, event.object_type, event.object_id) == ("sup", "recommendation",
                                                                       str(got["id"]))
    assert event.payload == {"office": world["office"], "visit": visit, "question": "D02",
                             "text": "Put up the price list.", "due_date": "2099-01-31"}


@pytest.mark.parametrize("body, field", [
    ({"office": "NOPE-9"}, "office"),
    ({"text": ""}, "text"),
    ({"text": "   \n "}, "text"),
    ({"text": "x" * 2001}, "text"),
    ({"text": "bad\x00byte"}, "text"),
    ({"text": "bell\x07"}, "text"),
    ({"due_date": "2020-01-01"}, "due_date"),
    ({"due_date": "31.01.2099"}, "due_date"),
    ({"question": "D02"}, "question"),          # a question needs the visit it comes from
    ({"visit": "not-a-uuid"}, "visit"),
    ({"visit": "7b1d0e6c-4e39-4a57-8a0e-3f0a3e2b6c11"}, "visit"),  # no such visit
    ({"colour": "red"}, "colour"),
])
def test_bad_input_is_422_naming_the_field_and_nothing_is_stored(client, world, count, body,
                                                                field):
    full = {"office": world["office"], "text": "Put up the price list.", **body}
    problem = assert_problem(client.post(URL, json=full, headers=world["supervisor"]), 422,
                             "validation_failed")
    assert set(problem["errors"]) == {field}
    assert count(Recommendation) == 0 and count(RecommendationEvent) == 0


def test_text_of_exactly_2000_characters_is_accepted(make):
    assert len(make(text="é" * 2000)["text"]) == 2000


def test_a_due_date_of_today_is_accepted(app, make):
    with app.app_context():
        from server.recommendations.service import local_today
        today = local_today()
    assert make(due_date=today.isoformat())["due_date"] == today.isoformat()


def test_a_visit_of_another_office_is_refused(client, world, visit_of, count):
    visit = visit_of(world["other_office"])
    body = {"office": world["office"], "text": "Fix the ramp.", "visit": visit}
    problem = assert_problem(client.post(URL, json=body, headers=world["supervisor"]), 422,
                             "validation_failed")
    assert "AST-2" in problem["errors"]["visit"][0]
    assert count(Recommendation) == 0


def test_a_question_not_in_the_visits_form_version_is_refused(client, world, visit_of):
    body = {"office": world["office"], "text": "Fix the ramp.", "visit": visit_of(),
            "question": "ramp_present"}
    problem = assert_problem(client.post(URL, json=body, headers=world["supervisor"]), 422,
                             "validation_failed")
    assert "service-centre-visit" in problem["errors"]["question"][0]


def test_an_inactive_office_is_refused(client, world, commit):
    from server.offices.service import get_office
    commit(lambda: setattr(get_office(world["office"]), "active", False))
    body = {"office": world["office"], "text": "Fix the ramp."}
    problem = assert_problem(client.post(URL, json=body, headers=world["supervisor"]), 422,
                             "validation_failed")
    assert problem["errors"]["office"] == ["Office 'AST-1' is inactive."]


def test_an_inspector_may_not_create(client, world, count):
    body = {"office": world["office"], "text": "Fix the ramp."}
    assert_problem(client.post(URL, json=body, headers=world["inspector"]), 403, "forbidden")
    assert count(Recommendation) == 0


def test_without_credentials_it_is_401(client, world):
    assert_problem(client.post(URL, json={"office": world["office"], "text": "x"}), 401,
                   "unauthorized")


# --- scope -----------------------------------------------------------------------------------

@pytest.fixture
def far_supervisor(commit, headers_for) -> dict:
    """A supervisor whose only region is not the world's."""
    commit(lambda: factories.region(code="FAR"))
    return headers_for("supervisor", regions=["FAR"])


def test_a_supervisor_cannot_create_for_an_office_outside_their_regions(client, world,
                                                                       far_supervisor, count):
    body = {"office": world["office"], "text": "Fix the ramp."}
    problem = assert_problem(client.post(URL, json=body, headers=far_supervisor), 422,
                             "validation_failed")
    assert problem["errors"]["office"] == ["Office 'AST-1' is outside your regions."]
    assert count(Recommendation) == 0


def test_a_supervisor_of_another_region_gets_404_for_a_recommendation(client, make,
                                                                      far_supervisor):
    rec = make()
    assert_problem(client.get(f"{URL}/{rec['id']}", headers=far_supervisor), 404, "not_found")
    resp = client.post(f"{URL}/{rec['id']}/status", json={"status": "in_progress"},
                       headers=far_supervisor)
    assert_problem(resp, 404, "not_found")
    assert client.get(URL, headers=far_supervisor).json["total"] == 0


def test_a_supervisor_of_the_region_sees_it(client, world, make, commit, headers_for):
    from server.offices.service import get_office
    region = commit(lambda: get_office(world["office"]).region.code)
    rec = make()
    headers = headers_for("supervisor", regions=[region])
    assert client.get(f"{URL}/{rec['id']}", headers=headers).status_code == 200


# --- idempotency -----------------------------------------------------------------------------

def test_a_replay_with_the_same_key_returns_the_first_answer(client, world, count):
    headers = {**world["supervisor"], "Idempotency-Key": "rec-1"}
    body = {"office": world["office"], "text": "Fix the ramp."}
    first = client.post(URL, json=body, headers=headers)
    again = client.post(URL, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json == first.json
    assert count(Recommendation) == 1 and count(IdempotencyRecord) == 1


def test_the_same_key_with_another_body_is_409(client, world, count):
    headers = {**world["supervisor"], "Idempotency-Key": "rec-1"}
    client.post(URL, json={"office": world["office"], "text": "Fix the ramp."}, headers=headers)
    resp = client.post(URL, json={"office": world["office"], "text": "Fix the door."},
                       headers=headers)
    assert_problem(resp, 409, "idempotency_conflict")
    assert count(Recommendation) == 1
