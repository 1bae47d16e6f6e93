"""The one call intake makes: a visit with critical findings gets an alert job (after commit)."""
from __future__ import annotations


def visit_received(visit) -> None:
    """Enqueue "alerts.raise" for a new visit with critical findings; nothing otherwise."""
    if visit.critical:
        from ..jobs.queue import enqueue
        enqueue("alerts.raise", visit_id=visit.id)
