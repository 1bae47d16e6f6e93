"""Tests of sign-in, tokens, roles and user accounts; helpers the web tests share."""
from __future__ import annotations

import sqlalchemy as sa

from server.audit.models import AuditEvent
from server.extensions import db
from tests.problems import assert_problem  # noqa: F401

from tests.problems import PROBLEM_KEYS  # noqa: F401


def audit_events(app, action: str) -> list[AuditEvent]:
    """The audit events with `action`, oldest first, read in a context of their own."""
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)
                                    .order_by(AuditEvent.seq)).all()
        db.session.expunge_all()
        return events
