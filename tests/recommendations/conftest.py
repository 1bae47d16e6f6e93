"""Helpers for the recommendation tests: a submitted visit with a finding, a recommendation made
through the API, and direct changes to the clock-dependent columns (due dates, event times)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from server.assignments.models import Assignment
from server.audit.models import AuditEvent
from server.auth.service import get_user
from server.db import utcnow
from server.extensions import db
from server.offices.service import get_office
from server.recommendations.models import Recommendation
from tests.visits.builders import visit_payload
from tests.problems import assert_problem  # noqa: F401

URL = "/api/v1/recommendations"


@pytest.fixture
def plan(world, commit) -> Callable[..., int]:
    """Plan another visit of the world's inspector (or `inspector`) to `office`; its id."""
    def make(office: str | None = None, *, inspector: str = "insp", days: int = 3,
             status: str = "open") -> int:
        def build() -> int:
            now = utcnow()
            first = db.session.get(Assignment, world["assignment"])
            extra = Assignment(office=get_office(office or world["office"]),
                               inspector=get_user(inspector), form_version=first.form_version,
                               window_start=now - timedelta(days=3),
                               window_end=now + timedelta(days=days), status=status)
            db.session.add(extra)
            db.session.flush()
            return extra.id
        return commit(build)
    return make


@pytest.fixture
def visit_of(client, world, default_form, plan) -> Callable[..., str]:
    """Submit a visit through the API (D02 = yes: a critical finding by default) and return its
    UUID. The first call to the world's office uses the world's assignment; later calls plan a
    new one."""
    used = []

    def submit(office: str | None = None, *, overrides: dict | None = None) -> str:
        office = office or world["office"]
        if office == world["office"] and world["assignment"] not in used:
            assignment_id = world["assignment"]
        else:
            assignment_id = plan(office)
        used.append(assignment_id)
        body = visit_payload(default_form, assignment=assignment_id,
                             overrides={"D02": "yes"} if overrides is None else overrides)
        resp = client.post("/api/v1/visits", json=body, headers=world["inspector"])
        assert resp.status_code == 201, resp.json
        return body["uuid"]
    return submit


@pytest.fixture
def make(client, world) -> Callable[..., dict]:
    """Create a recommendation through the API (as the world's supervisor) and return it."""
    def create(headers: dict | None = None, **body) -> dict:
        body = {"office": world["office"], "text": "Put up the price list.", **body}
        resp = client.post(URL, json=body, headers=headers or world["supervisor"])
        assert resp.status_code == 201, resp.get_data(as_text=True)
        return resp.json
    return create


@pytest.fixture
def move(client, world) -> Callable[..., object]:
    """POST a status change; returns the response."""
    def post(rec_id: int, status: str, comment: str = "", headers: dict | None = None, **extra):
        return client.post(f"{URL}/{rec_id}/status",
                           json={"status": status, "comment": comment, **extra},
                           headers=headers or world["supervisor"])
    return post


@pytest.fixture
def set_due(commit) -> Callable[[int, date | None], None]:
    """Give a recommendation another due date (creation refuses one in the past)."""
    def change(rec_id: int, due: date | None) -> None:
        commit(lambda: db.session.execute(sa.update(Recommendation).where(
            Recommendation.id == rec_id).values(due_date=due)))
    return change


@pytest.fixture
def audit_events(app) -> Callable[[str], list[AuditEvent]]:
    def find(action: str) -> list[AuditEvent]:
        with app.app_context():
            found = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)
                                       .order_by(AuditEvent.seq)).all()
            db.session.expunge_all()
            return found
    return find
