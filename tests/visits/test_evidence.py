"""Evidence on visits through the API: only your own completed uploads, checked and flagged."""
from __future__ import annotations

import math
import uuid
from datetime import timedelta

import pytest

from server.assignments.models import Assignment
from server.auth.service import get_user
from server.db import utcnow
from server.extensions import db
from server.media.models import MediaObject, Upload, UploadState
from server.offices.service import get_office
from server.visits.checks import EARTH_RADIUS_M
from server.visits.models import Visit, VisitEvidence
from tests.visits.builders import visit_payload
from tests.problems import assert_problem  # noqa: F401

OFFICE = (51.1283, 71.4304)  # AST-1 in the world fixture


def north_of_office(metres: float) -> tuple[float, float]:
    return OFFICE[0] + math.degrees(metres / EARTH_RADIUS_M), OFFICE[1]


@pytest.fixture
def uploaded(commit):
    """Record a completed upload of `owner` (a login) as the media service leaves it: the
    MediaObject and the Upload pointing at it. Returns the SHA-256."""
    def make(owner: str, *, gps: tuple[float, float] | None = None, kind: str = "photo",
             state: str = UploadState.COMPLETED) -> str:
        sha = uuid.uuid4().hex * 2

        def build():
            user = get_user(owner)
            media = MediaObject(sha256=sha, size=2048, content_type="image/jpeg", kind=kind,
                                storage_backend="local",
                                storage_key=f"originals/{sha[:2]}/{sha[2:4]}/{sha}",
                                gps_status="valid" if gps else "absent",
                                gps_lat=gps[0] if gps else None, gps_lon=gps[1] if gps else None,
                                info={}, first_uploaded_by_id=user.id)
            db.session.add(media)
            db.session.flush()
            done = state == UploadState.COMPLETED
            db.session.add(Upload(id=uuid.uuid4().hex, owner_id=user.id, length=2048,
                                  offset=2048 if done else 1024, state=state,
                                  expires_at=utcnow() + timedelta(days=1),
                                  completed_at=utcnow() if done else None,
                                  media_id=media.id if done else None))
        commit(build)
        return sha
    return make


def with_evidence(body: dict, question: str, *shas: str) -> dict:
    for answer in body["answers"]:
        if answer["question"] == question:
            answer["evidence"] = list(shas)
            return body
    raise AssertionError(f"{question} is not answered in the payload")


def post(client, body, headers):
    return client.post("/api/v1/visits", json=body, headers=headers)


def flags(resp, kind: str) -> list[dict]:
    return [f for f in resp.json["flags"] if f["kind"] == kind]


def test_a_visit_with_its_inspectors_photo_is_accepted_and_shows_it(client, world, default_form,
                                                                    uploaded, count):
    sha = uploaded("insp")
    body = with_evidence(visit_payload(default_form, assignment=world["assignment"]), "A01", sha)
    resp = post(client, body, world["inspector"])
    assert resp.status_code == 201, resp.json
    assert count(VisitEvidence) == 1
    got = client.get(f"/api/v1/visits/{body['uuid']}", headers=world["inspector"]).json
    by_question = {a["question"]: a["evidence"] for a in got["answers"]}
    assert by_question["A01"] == [sha]
    assert [q for q, shas in by_question.items() if shas] == ["A01"]
    assert flags(resp, "photo_far_from_office") == flags(resp, "media_reused") == []


def test_the_same_photo_twice_on_one_answer_is_stored_once(client, world, default_form,
                                                           uploaded, count):
    sha = uploaded("insp")
    body = with_evidence(visit_payload(default_form, assignment=world["assignment"]), "A01",
                         sha, sha)
    assert post(client, body, world["inspector"]).status_code == 201
    assert count(VisitEvidence) == 1


def test_another_inspectors_media_is_refused(client, world, default_form, uploaded, count):
    sha = uploaded("insp2")
    body = with_evidence(visit_payload(default_form, assignment=world["assignment"]), "A01", sha)
    problem = assert_problem(post(client, body, world["inspector"]), 422, "validation_failed")
    assert list(problem["errors"]["answers"]) == ["A01"]
    assert problem["errors"]["answers"]["A01"][0].startswith(f"Unknown evidence {sha[:12]}")
    assert count(Visit) == 0
    assert count(VisitEvidence) == 0


def test_an_upload_that_has_not_completed_is_refused(client, world, default_form, uploaded,
                                                     count):
    sha = uploaded("insp", state=UploadState.RECEIVING)
    body = with_evidence(visit_payload(default_form, assignment=world["assignment"]), "A04", sha)
    problem = assert_problem(post(client, body, world["inspector"]), 422, "validation_failed")
    assert "A04" in problem["errors"]["answers"]
    assert count(Visit) == 0


def test_every_bad_reference_is_listed_with_its_question(client, world, default_form, uploaded):
    mine, theirs = uploaded("insp"), uploaded("insp2")
    body = visit_payload(default_form, assignment=world["assignment"])
    with_evidence(body, "A01", mine, "f" * 64)
    with_evidence(body, "A04", theirs)
    problem = assert_problem(post(client, body, world["inspector"]), 422, "validation_failed")
    errors = problem["errors"]["answers"]
    assert set(errors) == {"A01", "A04"}
    assert len(errors["A01"]) == 1 and "ffffffffffff" in errors["A01"][0]


def test_a_photo_taken_10_km_away_is_flagged(client, world, default_form, uploaded):
    sha = uploaded("insp", gps=north_of_office(10_000))
    body = with_evidence(visit_payload(default_form, assignment=world["assignment"]), "A01", sha)
    resp = post(client, body, world["inspector"])
    assert resp.status_code == 201, resp.json
    (flag,) = flags(resp, "photo_far_from_office")
    assert flag["detail"]["question"] == "A01"
    assert flag["detail"]["media"] == sha[:12]
    assert flag["detail"]["distance_m"] == pytest.approx(10_000, abs=2)
    assert flags(resp, "far_from_office") == []  # the inspector's own positions were fine
    listed = client.get("/api/v1/visits?flag=photo_far_from_office",
                        headers=world["supervisor"]).json
    assert [v["uuid"] for v in listed["items"]] == [body["uuid"]]


def test_media_reused_in_a_second_visit_is_flagged_with_the_first(client, app, commit, world,
                                                                  default_form, uploaded):
    sha = uploaded("insp")

    def second_assignment():
        assignment = Assignment(office=get_office("AST-1"), inspector=get_user("insp"),
                                form_version=db.session.get(Assignment, world["assignment"])
                                .form_version,
                                window_start=utcnow() - timedelta(days=1),
                                window_end=utcnow() + timedelta(days=1))
        db.session.add(assignment)
        db.session.flush()
        return assignment.id
    other = commit(second_assignment)

    first = with_evidence(visit_payload(default_form, assignment=world["assignment"]), "A01", sha)
    first_resp = post(client, first, world["inspector"])
    assert first_resp.status_code == 201, first_resp.json
    assert flags(first_resp, "media_reused") == []

    second = with_evidence(visit_payload(default_form, assignment=other), "A04", sha)
    resp = post(client, second, world["inspector"])
    assert resp.status_code == 201, resp.json  # a flag, never a refusal
    (flag,) = flags(resp, "media_reused")
    assert flag["severity"] == "high"
    assert flag["detail"]["question"] == "A04"
    assert flag["detail"]["other_visits"] == [first["uuid"]]
    # and the stored visit says the same
    stored = client.get(f"/api/v1/visits/{second['uuid']}", headers=world["supervisor"]).json
    assert [f["detail"]["other_visits"] for f in stored["flags"]
            if f["kind"] == "media_reused"] == [[first["uuid"]]]
