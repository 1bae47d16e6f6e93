"""Helpers for the audit tests: raw SQL as a bribed admin would run it, and a quick chain."""
from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from server.audit.service import append_event
from server.db import unit_of_work
from server.extensions import db


@pytest.fixture
def raw_sql(app) -> Callable[[str], None]:
    """Run one SQL statement straight on the database and commit: no service, no ORM."""
    def run(sql: str) -> None:
        with app.app_context():
            db.session.execute(sa.text(sql))
            db.session.commit()
    return run


@pytest.fixture
def chain(app) -> Callable[[int], None]:
    """Commit `n` events, one transaction each, as n requests would."""
    def make(n: int) -> None:
        with app.app_context():
            for i in range(1, n + 1):
                with unit_of_work():
                    append_event("office_updated", object_type="office", object_id=f"OFF-{i}",
                                 payload={"n": i, "address": {"old": "A", "new": "B"}})
    return make
