"""The office page of a half-year is read from the summaries in one round trip; it says exactly
what the same page computed from the visits says."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.offices.models import Office
from server.periods import parse_period
from server.reports import summaries
from server.reports.office import office_report
from tests.reports.builders import MID_H1, World, local
from tests.reports.test_service import _recommendation


def _world(rw: World) -> None:
    a = rw.office("A")
    rw.visits(a, [50, 60, 70], when=local(2025, 9, 1), sections={"queue": 40})     # 2025H2
    rw.visits(a, [80, 82, 85], when=MID_H1, sections={"queue": 70, "integrity": 90},
              findings=("D01",))                                                   # 2026H1
    rw.visits(a, [90, 91, 97], sections={"queue": 91.234, "integrity": 88.5})       # 2026H2
    rw.visits(a, [40], findings=("D03", "D01"))
    other = World()  # a second form version for the same office and half-year
    other.visit("A", 75, sections={"queue": 60}, findings=("D01",))
    rw.visits(rw.office("B", active=False), [70, 72], when=MID_H1)  # closed, visits in H1 only
    rw.office("C")  # never visited
    author = rw.inspector_id
    for code in ("A", "B", "C"):
        office = db.session.query(Office).filter_by(code=code).one().id
        _recommendation(office, author, [("open", local(2026, 2, 1)),
                                         ("verified", local(2026, 5, 1))])
        _recommendation(office, author, [("open", local(2026, 2, 2))], due=date(2026, 4, 1))
        _recommendation(office, author, [("open", local(2026, 7, 2)),
                                         ("not_done", local(2026, 8, 2))])


@pytest.mark.parametrize("label", ["2026H2", "2026H1", "2025H2"])  # now; ended: history
@pytest.mark.parametrize("code", ["A", "B", "C"])
@pytest.mark.parametrize("lang", ["en", None])
def test_the_office_page_from_the_summaries_is_the_page_from_the_visits(
        app, commit, rw, monkeypatch, label, code, lang):
    commit(lambda: _world(rw))
    with app.app_context():
        office = db.session.query(Office).filter_by(code=code).one()
        period = parse_period(label, "Asia/Almaty")
        from_summaries = office_report(office=office, period=period, lang=lang)
        monkeypatch.setattr(summaries, "covers", lambda period: False)
        from_visits = office_report(office=office, period=period, lang=lang)
    assert from_summaries == from_visits


def test_the_office_page_of_a_half_year_is_one_read(app, commit, rw):
    commit(lambda: _world(rw))
    statements = []
    with app.app_context():
        office = db.session.query(Office).filter_by(code="A").one()
        period = parse_period("2026H2", "Asia/Almaty")
        office_report(office=office, period=period, lang="en")  # the form's labels, read once

        def count(conn, cursor, statement, *args):
            statements.append(statement)
        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            report = office_report(office=office, period=period, lang="en")
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 1, statements
    assert report["visits"] == 5 and [t["visits"] for t in report["trend"]] == [0, 3, 3, 5]
