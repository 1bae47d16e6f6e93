"""`adal demo` leaves what a demo needs, and the issue's "Done when" holds on it: a demo inspector
signs in, takes an open assignment, submits the default checklist, gets a score; a replay of the
same body changes nothing."""
from __future__ import annotations

import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from PIL import Image

from server.assignments.models import Assignment
from server.audit.models import AuditEvent
from server import demo
from server.db import utcnow
from server.demo import DEMO_PASSWORD, INSPECTORS
from server.extensions import db
from server.scoring.rules import CompiledForm
from server.visits.checks import distance_m
from server.visits.models import Answer, Flag, Visit, VisitEvidence, VisitSubmission
from tests.test_migrations import app_on
from tests.visits.builders import visit_payload


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    """One app on SQLite with `adal demo` run once (it takes a while): the tests only add."""
    tmp_path = tmp_path_factory.mktemp("demo")
    app = app_on(f"sqlite:///{tmp_path / 'demo.sqlite3'}", tmp_path)
    result = app.test_cli_runner().invoke(args=["adal", "demo"])
    assert result.exit_code == 0, result.output
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _sign_in(client, login: str) -> dict:
    resp = client.post("/api/v1/auth/token", json={"login": login, "password": DEMO_PASSWORD})
    assert resp.status_code == 201, resp.json
    return {"Authorization": f"Bearer {resp.json['token']}"}


def _rows(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_every_demo_inspector_has_open_assignments(demo_app):
    client = demo_app.test_client()
    for login in INSPECTORS:
        resp = client.get("/api/v1/assignments?status=open", headers=_sign_in(client, login))
        assert resp.status_code == 200, resp.json
        items = resp.json["items"]
        assert items, f"{login} has no open assignment"
        assert {a["inspector"] for a in items} == {login}
        assert all(a["status"] == "open" for a in items)


def test_the_demo_has_visits_submitted_flagged_returned_and_approved(demo_app):
    client = demo_app.test_client()
    sup = _sign_in(client, "supervisor")

    def total(query: str) -> int:
        resp = client.get(f"/api/v1/visits?{query}", headers=sup)
        assert resp.status_code == 200, resp.json
        return resp.json["total"]

    for status in ("submitted", "returned", "approved"):
        assert total(f"status={status}") >= 1, status
    assert total("status=returned") == _rows(demo_app, Visit, Visit.status == "returned")
    for flag in ("far_from_office", "too_short"):
        assert total(f"flag={flag}&status=submitted") >= 1, flag
    assert _rows(demo_app, Flag) >= 2


def test_done_when_a_demo_inspector_submits_gets_a_score_and_a_replay_changes_nothing(demo_app):
    client = demo_app.test_client()
    insp = _sign_in(client, "inspector2")
    open_ones = client.get("/api/v1/assignments?status=open", headers=insp).json["items"]
    taken = open_ones[0]
    with demo_app.app_context():
        assignment = db.session.get(Assignment, taken["id"])
        form = CompiledForm(assignment.form_version.definition)
        office = assignment.office
        where = {"lat": office.lat, "lon": office.lon, "accuracy": 12}
    started = utcnow().replace(microsecond=0) - timedelta(minutes=50)
    body = visit_payload(form, assignment=taken["id"], started=started, position_start=where,
                         position_end=where)
    visits_before = _rows(demo_app, Visit)

    first = client.post("/api/v1/visits", json=body, headers=insp)
    assert first.status_code == 201, first.json
    got = first.json
    assert (got["status"], got["inspector"], got["assignment"]) == ("submitted", "inspector2",
                                                                    taken["id"])
    assert got["score"] == pytest.approx(100)  # the best answers, by the form's own scores
    assert got["flags"] == []                  # at the office, in the window, long enough
    assert client.get(f"/api/v1/assignments/{taken['id']}", headers=insp).json["status"] == "done"

    counts = (_rows(demo_app, Visit), _rows(demo_app, Answer), _rows(demo_app, VisitSubmission),
              _rows(demo_app, AuditEvent))
    assert counts[0] == visits_before + 1
    again = client.post("/api/v1/visits", json=body, headers=insp)
    assert again.status_code == 200
    assert again.json == got
    assert (_rows(demo_app, Visit), _rows(demo_app, Answer), _rows(demo_app, VisitSubmission),
            _rows(demo_app, AuditEvent)) == counts


def test_demo_photos_carry_exif_near_the_office_inside_the_visit_but_the_odd_ones(demo_app):
    """What the media service read from the drawn photos: the camera "Adal demo", a capture time
    with its offset inside the visit and a position a few tens of metres from the office, except
    the one taken 4 km away and the one taken three days early, which are flagged."""
    odd = {(code, question): oddity for code, _, _, photos in demo.PHOTO_VISITS
           for question, _, _, oddity in photos}
    with demo_app.app_context():
        rows = db.session.execute(sa.select(Visit, VisitEvidence).join(VisitEvidence)).all()
        assert len(rows) == len(odd)
        for visit, evidence in rows:
            media, office = evidence.media, visit.office
            oddity = odd[(office.code, evidence.question_id)]
            assert media.info["captured_at_source"] == "DateTimeOriginal"
            assert media.info["captured_at_offset_known"] is True
            assert media.gps_status == "valid" and 4 <= media.info["gps_accuracy_m"] <= 15
            distance = distance_m(media.gps_lat, media.gps_lon, office.lat, office.lon)
            inside = visit.started_at <= media.captured_at <= visit.ended_at
            flags = {(f.kind, f.detail["media"]) for f in visit.flags
                     if f.kind.startswith("photo_")}
            mine = {kind for kind, short in flags if media.sha256.startswith(short)}
            if oddity == "far":
                assert 4000 < distance < 4400 and inside
                assert mine == {"photo_far_from_office"}
            elif oddity == "early":
                assert distance < 65 and not inside
                assert mine == {"photo_outside_window"}
            else:
                assert 5 < distance < 65 and inside and not mine
            raw = storage_bytes(media)
            exif = Image.open(io.BytesIO(raw)).getexif()
            assert (exif[0x010F], exif[0x0110]) == ("Adal demo", "Adal demo")
            local = media.captured_at.astimezone(ZoneInfo(demo_app.config["TIMEZONE"]))
            offset = local.strftime("%z")
            assert exif.get_ifd(0x8769)[0x9011] == f"{offset[:3]}:{offset[3:]}"
            assert exif.get_ifd(0x8769)[0x9003] == local.strftime("%Y:%m:%d %H:%M:%S")


def storage_bytes(media) -> bytes:
    """The stored original, byte for byte."""
    from server.media.service import storage_named
    with storage_named(media.storage_backend).open(media.storage_key) as f:
        return f.read()
