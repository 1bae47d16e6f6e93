"""`adal init` publishes the default checklist (and every other form file in survey_forms/)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.config import PROJECT_ROOT
from server.extensions import db
from server.forms.loader import definition_sha256, load_form_file
from server.forms.models import FormVersion, SurveyForm
from server.forms.service import form_files
from tests.test_migrations import app_on, empty_database, scratch_postgres

pg_scratch = scratch_postgres("forms_init")

PASSWORD = "root-password-123"
DEFAULT_FORM = PROJECT_ROOT / "survey_forms" / "service_centre_visit.v1.yaml"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_app(request, tmp_path, pg_scratch):
    """An app on a database with no tables at all: `init` runs the migrations."""
    with empty_database(request.param, tmp_path, pg_scratch) as url:
        app = app_on(url, tmp_path)
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _init(app):
    return app.test_cli_runner().invoke(args=["adal", "init", "--admin-login", "root",
                                              "--admin-password", PASSWORD])


def _published(app) -> list[tuple[str, int, str, dict]]:
    with app.app_context():
        return [(v.form.key, v.version, v.sha256, v.definition) for v in db.session.scalars(
            sa.select(FormVersion).join(FormVersion.form)
            .order_by(SurveyForm.key, FormVersion.version))]


def test_init_publishes_the_default_checklist(empty_app):
    result = _init(empty_app)
    assert result.exit_code == 0, result.output
    assert "Form service-centre-visit v1: published." in result.stdout
    expected = load_form_file(DEFAULT_FORM)
    published = {(key, version): (sha, definition)
                 for key, version, sha, definition in _published(empty_app)}
    assert published[("service-centre-visit", 1)] == (definition_sha256(expected), expected)
    # every form file of survey_forms/, and nothing else
    assert len(published) == len(form_files(DEFAULT_FORM.parent))


def test_init_run_again_publishes_nothing_new(empty_app):
    _init(empty_app)
    before = _published(empty_app)
    result = _init(empty_app)
    assert result.exit_code == 0, result.output
    assert "Form service-centre-visit v1: already published." in result.stdout
    assert _published(empty_app) == before
