"""Migration 5b1e7c2a9f40: corrections made before answer_corrections.revision existed get the
revision that was current when they were made (the newest submission received by then)."""
from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa

from server.assignments.models import Assignment
from server.config import PROJECT_ROOT
from server.db import utcnow
from server.extensions import db
from server.forms.service import publish_file
from server.review.models import AnswerCorrection
from tests import factories
from tests.conftest import DEFAULT_FORM
from tests.test_migrations import app_on, empty_database, scratch_postgres
from tests.visits.builders import visit_payload

pg_scratch = scratch_postgres("corr")


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_app(request, tmp_path, pg_scratch):
    with empty_database(request.param, tmp_path, pg_scratch) as url:
        app = app_on(url, tmp_path)
        with app.app_context():
            flask_migrate.upgrade()
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_corrections_made_before_the_column_get_the_revision_of_their_time(migrated_app,
                                                                          default_form):
    app, client = migrated_app, migrated_app.test_client()
    with app.app_context():
        version, _ = publish_file(path=Path(PROJECT_ROOT) / DEFAULT_FORM)
        office = factories.office(code="AST-1", lat=51.1283, lon=71.4304)
        inspector = factories.user(role="inspector", login="insp")
        supervisor = factories.user(role="supervisor", login="sup")
        now = utcnow()
        assignment = Assignment(office=office, inspector=inspector, form_version=version,
                                window_start=now - timedelta(days=3),
                                window_end=now + timedelta(days=3))
        db.session.add(assignment)
        db.session.flush()
        insp = {"Authorization": f"Bearer {factories.token_for(inspector)}"}
        sup = {"Authorization": f"Bearer {factories.token_for(supervisor)}"}
        assignment_id = assignment.id
        db.session.commit()

    body = visit_payload(default_form, assignment=assignment_id)
    url = f"/api/v1/visits/{body['uuid']}"
    assert client.post("/api/v1/visits", json=body, headers=insp).status_code == 201
    assert client.post(f"{url}/corrections", headers=sup, json={
        "question": "D02", "value": "yes", "reason": "The audio shows a fee."}).status_code == 201
    assert client.post(f"{url}/review", headers=sup, json={
        "decision": "return", "comment": "Check C02.", "revision": 1}).status_code == 201
    amended = copy.deepcopy(body)
    next(a for a in amended["answers"] if a["question"] == "C02")["value"] = "no"
    assert client.put(url, json=amended, headers=insp).status_code == 200
    assert client.post(f"{url}/corrections", headers=sup, json={
        "question": "C02", "value": "yes", "reason": "The photo shows it."}).status_code == 201

    with app.app_context():
        flask_migrate.downgrade(revision="d070a2e68305")  # as the rows were before the column
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("answer_corrections")}
        assert "revision" not in columns
        db.engine.dispose()
        flask_migrate.upgrade()
        got = [(c.question_id, c.revision) for c in db.session.scalars(
            sa.select(AnswerCorrection).order_by(AnswerCorrection.id))]
    assert got == [("D02", 1), ("C02", 2)]
    shown = client.get(url, headers=sup).json
    assert [a["question"] for a in shown["answers"] if a["corrected"]] == ["C02"]
