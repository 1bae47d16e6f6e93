"""`adal user ...` and `adal token ...`."""
from __future__ import annotations

import pytest

from server.auth import service
from server.auth.models import ApiToken, User
from server.extensions import db
from tests import factories

PASSWORD = "a long cli password"


def _adal(runner, *args: str):
    return runner.invoke(args=["adal", *args])


def _create(runner, login="xy", role="inspector", *extra: str):
    return _adal(runner, "user", "create", "--login", login, "--role", role,
                 "--password", PASSWORD, *extra)


def _signs_in(app, login: str, password: str) -> bool:
    with app.app_context():
        user = service.check_credentials(login=login, password=password, source="test",
                                         address=None)
        db.session.rollback()
        return user is not None


def test_user_create_makes_a_user_who_can_sign_in(app, runner):
    result = _create(runner, "xy", "inspector")
    assert result.exit_code == 0, result.output
    assert "'xy' (inspector) created" in result.output
    assert _signs_in(app, "xy", PASSWORD)


def test_user_create_takes_a_name_and_regions(app, runner, commit):
    commit(lambda: factories.region(code="AST"))
    result = _create(runner, "Sue", "supervisor", "--name", "Sue S.", "--region", "AST")
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = service.get_user("sue")
        assert (user.display_name, [r.code for r in user.regions]) == ("Sue S.", ["AST"])


def test_user_create_asks_for_a_missing_password(app, runner):
    result = runner.invoke(args=["adal", "user", "create", "--login", "xy", "--role", "admin"],
                           input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert _signs_in(app, "xy", PASSWORD)


def test_user_create_with_a_taken_login_fails(runner, count):
    _create(runner, "xy")
    result = _create(runner, "XY")
    assert result.exit_code == 1
    assert "taken" in result.output
    assert count(User) == 1


@pytest.mark.parametrize("args", [
    ["--login", "xy", "--role", "inspector", "--password", "short"],
    ["--login", "xy", "--role", "king", "--password", PASSWORD],
    ["--login", "", "--role", "inspector", "--password", PASSWORD],
    ["--login", "x", "--role", "inspector", "--password", PASSWORD],
    ["--login", "bad login", "--role", "inspector", "--password", PASSWORD],
    ["--login", "bob\n", "--role", "inspector", "--password", PASSWORD],
    ["--login", "x" * 100, "--role", "inspector", "--password", PASSWORD],
    ["--login", "xy", "--role", "inspector", "--password", PASSWORD, "--name", "a\x00b"],
    ["--login", "xy", "--role", "inspector", "--password", PASSWORD, "--region", "bad code!"],
])
def test_user_create_refuses_bad_input_and_stores_nothing(runner, count, args):
    result = _adal(runner, "user", "create", *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert count(User) == 0


def test_user_create_with_an_unknown_region_fails(runner, count):
    result = _create(runner, "xy", "supervisor", "--region", "NOPE")
    assert result.exit_code == 1
    assert "NOPE" in result.output
    assert count(User) == 0


def test_user_list_shows_login_role_state_and_name(runner, commit):
    commit(lambda: (factories.user(role="admin", login="root", display_name="Root"),
                    factories.user(role="inspector", login="ann", display_name="Ann A.")))
    _adal(runner, "user", "deactivate", "ann")
    result = _adal(runner, "user", "list")
    assert result.exit_code == 0
    assert result.output.splitlines() == ["ann\tinspector\tinactive\tAnn A.",
                                          "root\tadmin\tactive\tRoot"]


def test_user_deactivate_shuts_the_user_out(app, runner, client, commit):
    secret = commit(lambda: factories.token_for(factories.user(login="ann")))
    result = _adal(runner, "user", "deactivate", "ANN")
    assert result.exit_code == 0, result.output
    assert not _signs_in(app, "ann", factories.PASSWORD)
    resp = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert resp.status_code == 401
    with app.app_context():
        assert db.session.scalar(db.select(ApiToken.revoked_at)) is not None


def test_user_deactivate_unknown_login_fails(runner):
    result = _adal(runner, "user", "deactivate", "nobody")
    assert result.exit_code == 1
    assert "nobody" in result.output


def test_user_deactivate_refuses_the_last_admin(app, runner, commit):
    commit(lambda: factories.user(role="admin", login="root"))
    result = _adal(runner, "user", "deactivate", "root")
    assert result.exit_code == 1
    assert "last active admin" in result.output
    assert _signs_in(app, "root", factories.PASSWORD)


def test_token_create_prints_a_usable_token(runner, client, commit):
    commit(lambda: factories.user(role="supervisor", login="sue"))
    result = _adal(runner, "token", "create", "sue", "--label", "script", "--days", "2")
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert "\n" not in secret  # only the token on stdout, so scripts can capture it
    resp = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert resp.status_code == 200
    assert resp.json["login"] == "sue"


def test_token_create_uses_label_and_lifetime(app, runner, commit):
    commit(lambda: factories.user(login="sue"))
    _adal(runner, "token", "create", "sue", "--label", "script", "--days", "2")
    with app.app_context():
        token = db.session.scalar(db.select(ApiToken))
        assert token.label == "script"
        assert 47 * 3600 < (token.expires_at - token.created_at).total_seconds() <= 48 * 3600


@pytest.mark.parametrize("login", ["nobody", "ann"])
def test_token_create_refuses_unknown_or_inactive_users(runner, commit, count, login):
    def make():
        factories.user(role="admin")
        ann = factories.user(login="ann")
        service.deactivate_user(user=ann, actor=None)
    commit(make)
    result = _adal(runner, "token", "create", login)
    assert result.exit_code == 1
    assert count(ApiToken) == 0
