"""Signing in through the page and making visits through the API, for the console tests."""
from __future__ import annotations

import re

from tests import factories
from tests.visits.builders import visit_payload


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, login: str = "sup") -> None:
    """Sign in through POST /login with the token the login page handed out."""
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"csrf_token": token, "login": login,
                                       "password": factories.PASSWORD})
    assert resp.status_code == 302, resp.get_data(as_text=True)


def new_assignment(app, world, office: str | None = None) -> int:
    """An open assignment for the world's inspector (one visit each), committed."""
    from datetime import timedelta

    import sqlalchemy as sa

    from server.assignments.models import Assignment
    from server.auth.models import User
    from server.db import utcnow
    from server.extensions import db
    from server.offices.models import Office

    with app.app_context():
        now = utcnow()
        row = Assignment(
            office=db.session.scalar(sa.select(Office).where(
                Office.code == (office or world["office"]))),
            inspector=db.session.scalar(sa.select(User).where(User.login == "insp")),
            form_version_id=world["version_id"],
            window_start=now - timedelta(days=3), window_end=now + timedelta(days=3))
        db.session.add(row)
        db.session.commit()
        return row.id


def submit(client, world, form, *, office: str | None = None, **kw) -> dict:
    """A visit by the world's inspector on a new assignment, through the API; the API's answer."""
    assignment = new_assignment(client.application, world, office)
    payload = visit_payload(form, assignment=assignment, **kw)
    resp = client.post("/api/v1/visits", json=payload, headers=world["inspector"])
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.json


def far_away(**kw) -> dict:
    """Positions 10 km from the office: the visit gets a far_from_office flag."""
    return {"position_start": {"lat": 51.2183, "lon": 71.4304, "accuracy": 15},
            "position_end": {"lat": 51.2184, "lon": 71.4305, "accuracy": 15}, **kw}


def page_token(client, path: str) -> str:
    return csrf_of(client.get(path).get_data(as_text=True))
