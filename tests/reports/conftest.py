"""Report fixtures: a World to add offices and visits to, and the ranking as the service gives it."""
from __future__ import annotations

import pytest

from server.periods import parse_period
from server.reports.ranking import ranking
from tests.reports.builders import World


@pytest.fixture
def rw(commit) -> World:
    """A committed World: form version, inspector, home region."""
    return commit(World)


@pytest.fixture
def rank(app):
    """The ranking of a period from the service, in a context of its own."""
    def run(period: str = "2026H2", **kw) -> dict:
        with app.app_context():
            return ranking(period=parse_period(period, "Asia/Almaty"), **kw)
    return run


@pytest.fixture
def items_by_code(rank):
    """{office code: item} of a ranking."""
    def run(period: str = "2026H2", **kw) -> dict:
        return {item["office"]["code"]: item for item in rank(period, **kw)["items"]}
    return run
