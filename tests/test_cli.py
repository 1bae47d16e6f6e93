"""`adal init` and `adal demo` on an empty database: they migrate, then add what is missing."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask.cli import FlaskGroup

from server.audit.models import AuditEvent
from server.audit.service import verify_chain
from server.auth.models import Role, User
from server.demo import DEMO_PASSWORD
from server.extensions import db
from server.offices.models import Office, Region
from tests.test_migrations import app_on, empty_database, scratch_postgres

pg_scratch = scratch_postgres("cli")

ROOT_PASSWORD = "root-password-123"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_app(request, tmp_path, pg_scratch):
    """An app on a database with no tables at all: `init` and `demo` run the migrations."""
    with empty_database(request.param, tmp_path, pg_scratch) as url:
        app = app_on(url, tmp_path)
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _invoke(app, *args, **kwargs):
    return app.test_cli_runner().invoke(args=["adal", *args], **kwargs)


def _count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def _can_sign_in(app, login: str, password: str) -> bool:
    resp = app.test_client().post("/api/v1/auth/token",
                                  json={"login": login, "password": password})
    return resp.status_code == 201


def test_init_migrates_and_creates_the_first_admin(empty_app):
    result = _invoke(empty_app, "init", "--admin-login", "root",
                     "--admin-password", ROOT_PASSWORD)
    assert result.exit_code == 0, result.output
    assert "Admin 'root' created." in result.stdout
    with empty_app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.login == "root"))
        assert admin.role == Role.ADMIN and admin.active
    assert _can_sign_in(empty_app, "root", ROOT_PASSWORD)


def test_init_records_the_new_admin_on_the_audit_log(empty_app):
    _invoke(empty_app, "init", "--admin-login", "root", "--admin-password", ROOT_PASSWORD)
    with empty_app.app_context():
        (event,) = db.session.scalars(sa.select(AuditEvent)
                                      .where(AuditEvent.action == "user_created")).all()
        assert (event.object_type, event.object_id) == ("user", "root")
        assert event.payload["role"] == "admin"
        assert verify_chain().ok


def test_init_run_again_creates_no_second_admin(empty_app):
    _invoke(empty_app, "init", "--admin-login", "root", "--admin-password", ROOT_PASSWORD)
    events = _count(empty_app, AuditEvent)
    result = _invoke(empty_app, "init", "--admin-login", "other",
                     "--admin-password", ROOT_PASSWORD)
    assert result.exit_code == 0, result.output
    assert "An admin exists; none created." in result.stdout
    assert _count(empty_app, User) == 1
    assert _count(empty_app, AuditEvent) == events  # a second run records nothing new


def test_init_asks_for_login_and_password_when_not_given(empty_app):
    answers = f"boss\n{ROOT_PASSWORD}\n{ROOT_PASSWORD}\n"
    result = _invoke(empty_app, "init", input=answers)
    assert result.exit_code == 0, result.output
    assert _can_sign_in(empty_app, "boss", ROOT_PASSWORD)


def test_init_refuses_a_short_password_and_creates_no_admin(empty_app):
    result = _invoke(empty_app, "init", "--admin-login", "root", "--admin-password", "short")
    assert result.exit_code == 2
    assert "10 characters" in result.stderr
    assert _count(empty_app, User) == 0
    assert _count(empty_app, AuditEvent, AuditEvent.action == "user_created") == 0


@pytest.mark.parametrize("login", ["bad login!<script>", "bob\n", "-dash", "a", "x" * 65])
def test_init_refuses_a_login_user_create_would_refuse(empty_app, login):
    result = _invoke(empty_app, "init", "--admin-login", login, "--admin-password", ROOT_PASSWORD)
    assert result.exit_code == 2
    assert "login:" in result.stderr
    assert _count(empty_app, User) == 0
    assert _count(empty_app, AuditEvent, AuditEvent.action == "user_created") == 0


def test_init_refuses_an_asked_for_login_that_is_not_valid(empty_app):
    answers = f"bad login!\n{ROOT_PASSWORD}\n{ROOT_PASSWORD}\n"
    result = _invoke(empty_app, "init", input=answers)
    assert result.exit_code == 2
    assert _count(empty_app, User) == 0


def test_demo_creates_regions_offices_and_users_who_can_sign_in(empty_app):
    result = _invoke(empty_app, "demo")
    assert result.exit_code == 0, result.output
    assert _count(empty_app, Region) == 2
    assert _count(empty_app, Office) == 12
    with empty_app.app_context():
        users = {u.login: u.role for u in db.session.scalars(sa.select(User))}
    assert users == {"admin": Role.ADMIN, "supervisor": Role.SUPERVISOR,
                     "inspector1": Role.INSPECTOR, "inspector2": Role.INSPECTOR,
                     "inspector3": Role.INSPECTOR}
    assert all(_can_sign_in(empty_app, login, DEMO_PASSWORD) for login in users)


def test_demo_run_twice_adds_nothing_the_second_time(empty_app):
    _invoke(empty_app, "demo")
    before = [_count(empty_app, m) for m in (Region, Office, User, AuditEvent)]
    result = _invoke(empty_app, "demo")
    assert result.exit_code == 0, result.output
    assert "(0 records added)" in result.stdout
    assert [_count(empty_app, m) for m in (Region, Office, User, AuditEvent)] == before


def test_demo_leaves_an_intact_audit_chain(empty_app):
    _invoke(empty_app, "demo")
    with empty_app.app_context():
        assert verify_chain().ok
    created = {action: _count(empty_app, AuditEvent, AuditEvent.action == action)
               for action in ("region_created", "office_created", "user_created")}
    assert created == {"region_created": 2, "office_created": 12, "user_created": 5}


def test_adal_commands_run_under_the_flask_command_too(empty_app):
    """`flask --app wsgi adal ...` goes through FlaskGroup, not app.cli as the test runner does."""
    flask = FlaskGroup(create_app=lambda: empty_app)
    result = CliRunner().invoke(flask, ["adal", "init", "--admin-login", "root",
                                        "--admin-password", ROOT_PASSWORD])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(flask, ["adal", "audit", "verify"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK: ")
    assert _can_sign_in(empty_app, "root", ROOT_PASSWORD)


def test_init_with_the_login_of_a_non_admin_says_so_without_a_traceback(empty_app):
    _invoke(empty_app, "init", "--admin-login", "root", "--admin-password", ROOT_PASSWORD)
    _invoke(empty_app, "user", "create", "--login", "clerk", "--role", "inspector",
            "--password", ROOT_PASSWORD)
    with empty_app.app_context():  # no active admin left, as after a botched manual fix
        db.session.execute(sa.update(User).where(User.login == "root").values(active=False))
        db.session.commit()
    result = _invoke(empty_app, "init", "--admin-login", "clerk",
                     "--admin-password", ROOT_PASSWORD)
    assert result.exit_code == 1
    assert "taken" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert _count(empty_app, User, User.role == Role.ADMIN, User.active.is_(True)) == 0
