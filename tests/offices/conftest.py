"""Fixtures of the office tests: committed regions and offices, stored rows, audit events."""
from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from server.audit.models import AuditEvent
from server.extensions import db
from server.offices.models import Office, Region
from tests import factories


@pytest.fixture
def region(commit) -> str:
    """Region AST committed; its code."""
    commit(lambda: factories.region(code="AST", name=factories.names("Astana")))
    return "AST"


@pytest.fixture
def make_office(commit, region) -> Callable[..., str]:
    """Commit an office (in region AST unless told otherwise); its code."""
    def make(**kw) -> str:
        def build():
            reg = kw.pop("region", "AST")
            reg_obj = db.session.scalar(sa.select(Region).where(Region.code == reg))
            if reg_obj is None:
                reg_obj = factories.region(code=reg)
            return factories.office(region=reg_obj, **kw).code
        return commit(build)
    return make


@pytest.fixture
def events(app) -> Callable[[str], list[dict]]:
    """Payloads of the stored audit events with `action`, oldest first."""
    def read(action: str) -> list[dict]:
        with app.app_context():
            rows = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)
                                      .order_by(AuditEvent.seq)).all()
            return [{"object_id": e.object_id, "actor_login": e.actor_login,
                     "payload": e.payload} for e in rows]
    return read


@pytest.fixture
def stored_office(app) -> Callable[[str], dict | None]:
    """An office as stored, read in a context of its own; None when there is none."""
    def read(code: str) -> dict | None:
        with app.app_context():
            office = db.session.scalar(sa.select(Office).where(Office.code == code))
            if office is None:
                return None
            return {"code": office.code, "name": office.name, "region": office.region.code,
                    "kind": office.kind, "address": office.address, "lat": office.lat,
                    "lon": office.lon, "active": office.active}
    return read
