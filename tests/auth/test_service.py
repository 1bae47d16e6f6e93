"""The rules of server.auth.service: passwords, tokens, deactivation, the last admin."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import argon2
import pytest
import sqlalchemy as sa

from server.auth import service
from server.auth.models import ApiToken, Role, User
from server.errors import Conflict, Unauthorized, ValidationFailed
from server.extensions import db
from tests import factories
from tests.auth import audit_events

SECRET_PASSWORD = "s3cret-Passw0rd-xyz"


def _check(login: str, password: str) -> User | None:
    return service.check_credentials(login=login, password=password, source="test",
                                     address="192.0.2.1")


def _token_error(secret: str) -> str:
    with pytest.raises(Unauthorized) as caught:
        service.user_for_token(secret)
    return caught.value.code


# Passwords

def test_password_is_stored_as_argon2id_never_in_clear(commit):
    def run():
        user = factories.user(password=SECRET_PASSWORD)
        row = db.session.execute(sa.select(User.__table__).where(User.id == user.id)).one()
        return row._asdict()
    row = commit(run)
    assert row["password_hash"].startswith("$argon2id$")
    assert all(SECRET_PASSWORD not in str(value) for value in row.values())


def test_two_users_with_one_password_get_different_hashes(commit):
    hashes = commit(lambda: {factories.user(password=SECRET_PASSWORD).password_hash
                             for _ in range(2)})
    assert len(hashes) == 2


def test_right_password_signs_in_and_records_the_time(commit):
    def run():
        user = factories.user(login="alice", password=SECRET_PASSWORD)
        assert user.last_login_at is None
        return _check("alice", SECRET_PASSWORD) is user and user.last_login_at is not None
    assert commit(run)


def test_login_matches_whatever_the_case_and_surrounding_spaces(commit):
    def run():
        user = factories.user(login="Alice", password=SECRET_PASSWORD)
        return user.login, _check("  ALICE ", SECRET_PASSWORD) is user
    assert commit(run) == ("alice", True)


def test_wrong_password_gives_none_and_a_login_failed_event(app, commit):
    def run():
        factories.user(login="alice", password=SECRET_PASSWORD)
        return _check("alice", "wrong password!")
    assert commit(run) is None
    [event] = audit_events(app, "login_failed")
    assert event.object_id == "alice"
    assert event.payload == {"source": "test", "address": "192.0.2.1",
                             "reason": "bad_credentials"}


def test_unknown_login_gives_none_and_a_login_failed_event(app, commit):
    assert commit(_check, "nobody", SECRET_PASSWORD) is None
    [event] = audit_events(app, "login_failed")
    assert event.object_id == "nobody"


def test_deactivated_user_cannot_sign_in_with_the_right_password(app, commit):
    def run():
        factories.user(role="admin")  # so the user below is not the last admin
        user = factories.user(login="alice", password=SECRET_PASSWORD)
        service.deactivate_user(user=user, actor=None)
        return _check("alice", SECRET_PASSWORD)
    assert commit(run) is None
    [event] = audit_events(app, "login_failed")
    assert event.payload["reason"] == "inactive"


def test_user_without_password_cannot_sign_in(commit):
    def run():
        factories.user(login="alice", password=None)
        return _check("alice", "")
    assert commit(run) is None


@pytest.mark.parametrize("login", ["ali\x00ce", "alice\x1b", "\x7falice", "ali\ud800ce"])
def test_login_with_control_characters_or_surrogates_is_refused_and_logged(app, commit, login):
    def run():
        factories.user(login="alice", password=SECRET_PASSWORD)
        return _check(login, SECRET_PASSWORD)
    assert commit(run) is None
    [event] = audit_events(app, "login_failed")
    assert event.object_id == "alice"  # the characters stripped, so the log stays readable


def test_password_with_a_lone_surrogate_is_wrong_not_a_crash(commit):
    def run():
        factories.user(login="alice", password=SECRET_PASSWORD)
        return _check("alice", SECRET_PASSWORD + "\ud800")
    assert commit(run) is None


def test_hash_from_an_older_cost_profile_is_upgraded_on_sign_in(commit):
    old = argon2.PasswordHasher(time_cost=2, memory_cost=8, parallelism=1, hash_len=16,
                                salt_len=8)

    def run():
        user = factories.user(login="alice", password=None)
        user.password_hash = old.hash(SECRET_PASSWORD)
        assert _check("alice", SECRET_PASSWORD) is user
        return user.password_hash
    new_hash = commit(run)
    assert new_hash.startswith("$argon2id$")
    assert argon2.PasswordHasher().verify(new_hash, SECRET_PASSWORD)
    assert not argon2.PasswordHasher.from_parameters(argon2.profiles.CHEAPEST) \
        .check_needs_rehash(new_hash)


# Tokens

def test_token_is_stored_only_as_its_sha256(commit):
    def run():
        user = factories.user()
        secret, token = service.issue_token(user=user, label="phone")
        row = db.session.execute(sa.select(ApiToken.__table__)
                                 .where(ApiToken.id == token.id)).one()
        return secret, row._asdict()
    secret, row = commit(run)
    assert secret.startswith(service.TOKEN_PREFIX)
    assert len(secret) >= 40
    assert row["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert all(secret not in str(value) for value in row.values())
    assert row["prefix"] == secret[:12]


def test_token_lasts_the_configured_number_of_days(app, commit):
    app.config["TOKEN_TTL_DAYS"] = 7

    def run():
        _, token = service.issue_token(user=factories.user())
        return token.expires_at - token.created_at
    lifetime = commit(run)
    assert timedelta(days=7) - timedelta(seconds=5) < lifetime <= timedelta(days=7)


def test_token_resolves_to_its_user_and_records_its_use(commit):
    def run():
        user = factories.user()
        secret, token = service.issue_token(user=user)
        found, found_token = service.user_for_token(secret)
        return found is user and found_token is token and token.last_used_at is not None
    assert commit(run)


def test_token_issue_is_on_the_audit_log_without_the_secret(app, commit):
    secret = commit(lambda: service.issue_token(user=factories.user(login="alice"))[0])
    [event] = audit_events(app, "token_issued")
    assert event.object_id == "alice"
    assert secret not in str(event.payload) and secret[:12] not in str(event.payload)


def test_expired_token_is_refused_as_expired(commit):
    def run():
        secret, _ = service.issue_token(user=factories.user(), ttl=timedelta(seconds=-1))
        return _token_error(secret)
    assert commit(run) == "token_expired"


def test_revoked_token_is_refused(commit):
    def run():
        user = factories.user()
        secret, token = service.issue_token(user=user)
        service.revoke_token(token=token, actor=user)
        return _token_error(secret)
    assert commit(run) == "token_invalid"


def test_revoking_one_token_keeps_the_others(commit):
    def run():
        user = factories.user()
        _, first = service.issue_token(user=user)
        second_secret, _ = service.issue_token(user=user)
        service.revoke_token(token=first, actor=user)
        return service.user_for_token(second_secret)[0] is user
    assert commit(run)


@pytest.mark.parametrize("secret", [
    "adal_" + "A" * 43,                      # the right shape, never issued
    "no-prefix-at-all",
    "adal_" + "x" * 200,                     # longer than any token
    "",
])
def test_unknown_token_is_refused_as_invalid(commit, secret):
    def run():
        factories.token_for(factories.user())  # a real token exists; a different one is asked
        return _token_error(secret)
    assert commit(run) == "token_invalid"


def test_token_of_a_deactivated_user_is_refused_as_account_disabled(commit):
    def run():
        factories.user(role="admin")
        user = factories.user()
        secret = factories.token_for(user)
        service.deactivate_user(user=user, actor=None)
        return _token_error(secret)
    assert commit(run) == "account_disabled"


# Deactivation and password changes

def test_deactivation_revokes_every_token(commit):
    def run():
        user = factories.user()
        for _ in range(3):
            factories.token_for(user)
        service.deactivate_user(user=user, actor=None)
        return [t.revoked_at for t in db.session.scalars(
            sa.select(ApiToken).where(ApiToken.user_id == user.id)
            .execution_options(populate_existing=True))]
    revoked = commit(run)
    assert len(revoked) == 3 and all(at is not None for at in revoked)


def test_deactivation_leaves_other_users_tokens_alone(commit):
    def run():
        other = factories.user()
        secret = factories.token_for(other)
        service.deactivate_user(user=factories.user(), actor=None)
        return service.user_for_token(secret)[0] is other
    assert commit(run)


def test_password_change_revokes_the_users_tokens(commit):
    def run():
        user = factories.user()
        secret = factories.token_for(user)
        service.update_user(user=user, changes={"password": "a brand new password"}, actor=None)
        return _token_error(secret)
    assert commit(run) == "token_invalid"


def test_password_change_replaces_the_old_password(commit):
    def run():
        user = factories.user(login="alice", password=SECRET_PASSWORD)
        service.update_user(user=user, changes={"password": "a brand new password"}, actor=None)
        return _check("alice", SECRET_PASSWORD), _check("alice", "a brand new password") is user
    assert commit(run) == (None, True)


def test_password_change_is_logged_without_the_password(app, commit):
    def run():
        user = factories.user()
        service.update_user(user=user, changes={"password": "a brand new password"}, actor=None)
    commit(run)
    [event] = audit_events(app, "user_updated")
    assert event.payload == {"password": "changed"}


def test_other_changes_keep_the_tokens(commit):
    def run():
        user = factories.user()
        secret = factories.token_for(user)
        service.update_user(user=user, changes={"display_name": "New name", "role": "supervisor",
                                                "languages": ["kk"]}, actor=None)
        return service.user_for_token(secret)[0].role
    assert commit(run) == Role.SUPERVISOR


# Accounts

def test_login_taken_whatever_the_case_is_a_conflict(commit):
    def run():
        factories.user(login="alice")
        with pytest.raises(Conflict) as caught:
            factories.user(login="ALICE")
        return caught.value.code
    assert commit(run) == "login_taken"


def test_unknown_region_is_refused(commit):
    def run():
        factories.region(code="AST")
        with pytest.raises(ValidationFailed) as caught:
            factories.user(role="supervisor", regions=["AST", "NOPE"])
        return caught.value.errors
    assert commit(run) == {"regions": ["Unknown region 'NOPE'."]}


def test_get_user_with_an_impossible_login_finds_nobody(commit):
    def run():
        factories.user(login="alice")
        return [service.get_user(login) for login in ("ali\x00ce", "alice\ud800", "x" * 300)]
    assert commit(run) == [None, None, None]


# The last admin

def test_last_admin_cannot_be_demoted(commit):
    def run():
        admin = factories.user(role="admin")
        with pytest.raises(Conflict) as caught:
            service.update_user(user=admin, changes={"role": "supervisor"}, actor=admin)
        return caught.value.code, admin.role
    assert commit(run) == ("last_admin", Role.ADMIN)


def test_last_admin_cannot_be_deactivated(commit):
    def run():
        admin = factories.user(role="admin")
        with pytest.raises(Conflict) as caught:
            service.deactivate_user(user=admin, actor=admin)
        return caught.value.code, admin.active
    assert commit(run) == ("last_admin", True)


def test_an_admin_can_be_demoted_when_another_is_active(commit):
    def run():
        factories.user(role="admin")
        admin = factories.user(role="admin")
        service.update_user(user=admin, changes={"role": "inspector"}, actor=None)
        return admin.role
    assert commit(run) == Role.INSPECTOR


def test_a_deactivated_admin_does_not_count_as_another_admin(commit):
    def run():
        first = factories.user(role="admin")
        second = factories.user(role="admin")
        service.deactivate_user(user=first, actor=None)
        with pytest.raises(Conflict) as caught:
            service.update_user(user=second, changes={"role": "supervisor"}, actor=None)
        return caught.value.code
    assert commit(run) == "last_admin"


def test_last_admin_may_keep_the_admin_role_in_a_patch(commit):
    def run():
        admin = factories.user(role="admin")
        service.update_user(user=admin, changes={"role": "admin", "display_name": "Boss"},
                            actor=admin)
        return admin.display_name
    assert commit(run) == "Boss"
