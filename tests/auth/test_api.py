"""/api/v1/auth (tokens) and /api/v1/users over HTTP: statuses, problem codes, nothing stored."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from server.auth import service
from server.auth.models import ApiToken, User
from server.extensions import db
from tests import factories
from tests.auth import PROBLEM_KEYS, assert_problem, audit_events

TOKEN = "/api/v1/auth/token"
ME = "/api/v1/auth/me"
USERS = "/api/v1/users"


def _bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def alice(commit) -> str:
    """An active inspector 'alice' with the factories' password."""
    commit(lambda: factories.user(role="inspector", login="alice", display_name="Alice Doe"))
    return "alice"


@pytest.fixture
def alice_token(commit, alice) -> str:
    return commit(lambda: factories.token_for(service.get_user(alice)))


def _user(app, login: str) -> User:
    with app.app_context():
        user = service.get_user(login)
        db.session.expunge_all()
        return user


def _new_user(**kw) -> dict:
    return {"login": "bob", "role": "inspector", "password": "long enough password", **kw}


# Issuing tokens

def test_login_and_password_give_a_token(client, alice):
    resp = client.post(TOKEN, json={"login": alice, "password": factories.PASSWORD})
    assert resp.status_code == 201, resp.json
    assert set(resp.json) == {"token", "expires_at", "role"}
    assert resp.json["role"] == "inspector"
    assert datetime.fromisoformat(resp.json["expires_at"]).utcoffset() == timedelta(0)


def test_issued_token_opens_the_api(client, alice):
    secret = client.post(TOKEN, json={"login": alice, "password": factories.PASSWORD}).json["token"]
    resp = client.get(ME, headers=_bearer(secret))
    assert resp.status_code == 200
    assert resp.json["login"] == "alice"


def test_token_label_is_stored(app, client, alice):
    client.post(TOKEN, json={"login": alice, "password": factories.PASSWORD, "label": "phone"})
    with app.app_context():
        assert db.session.scalar(sa.select(ApiToken.label)) == "phone"


def test_login_is_case_insensitive(client, alice):
    resp = client.post(TOKEN, json={"login": "ALICE", "password": factories.PASSWORD})
    assert resp.status_code == 201


def test_wrong_password_is_401_with_an_audit_event_and_no_token(app, client, count, alice):
    resp = client.post(TOKEN, json={"login": alice, "password": "not the password"})
    assert_problem(resp, 401, "invalid_credentials")
    assert count(ApiToken) == 0
    [event] = audit_events(app, "login_failed")
    assert event.object_id == "alice"
    assert event.payload == {"source": "api", "address": "127.0.0.1",
                             "reason": "bad_credentials"}


def test_unknown_login_is_401_like_a_wrong_password(app, client, count, alice):
    wrong = client.post(TOKEN, json={"login": alice, "password": "not the password"})
    unknown = client.post(TOKEN, json={"login": "nobody", "password": "not the password"})
    body = assert_problem(unknown, 401, "invalid_credentials")
    assert body == wrong.json  # nothing tells which logins exist
    assert count(ApiToken) == 0
    assert [e.object_id for e in audit_events(app, "login_failed")] == ["alice", "nobody"]


def test_deactivated_user_cannot_get_a_token(client, count, alice, admin_headers):
    client.patch(f"{USERS}/alice", json={"active": False}, headers=admin_headers)
    resp = client.post(TOKEN, json={"login": alice, "password": factories.PASSWORD})
    assert_problem(resp, 401, "invalid_credentials")
    assert count(ApiToken) == 1  # the admin's own


@pytest.mark.parametrize("body", [
    {"login": "alice"},
    {"password": "x"},
    {"login": "", "password": "x"},
    {"login": "alice", "password": factories.PASSWORD, "remember": True},
    {"login": 5, "password": "x"},
])
def test_bad_token_request_is_422_and_issues_nothing(client, count, alice, body):
    assert_problem(client.post(TOKEN, json=body), 422, "validation_failed")
    assert count(ApiToken) == 0


def test_token_request_as_a_form_is_415(client, alice):
    resp = client.post(TOKEN, data={"login": alice, "password": factories.PASSWORD})
    assert_problem(resp, 415, "unsupported_media_type")


@pytest.mark.parametrize("login", ["alice\x1b[31m", "\x7f\x08", "alice\r\nX-Injected: 1"])
def test_login_with_control_characters_is_401_not_500(app, client, count, alice, login):
    resp = client.post(TOKEN, data=json.dumps({"login": login, "password": factories.PASSWORD}),
                       content_type="application/json")
    assert_problem(resp, 401, "invalid_credentials")
    assert count(ApiToken) == 0
    assert len(audit_events(app, "login_failed")) == 1


@pytest.mark.parametrize("login", ["alice\x00", "\x00", "ali\x00ce", "alice\ud800"])
def test_login_with_nul_or_a_lone_surrogate_is_422_not_500(app, client, count, alice, login):
    """Refused at the edge like any field holding such text (docs/errors.md, "Hostile text")."""
    resp = client.post(TOKEN, data=json.dumps({"login": login, "password": factories.PASSWORD}),
                       content_type="application/json")
    assert list(assert_problem(resp, 422, "validation_failed")["errors"]) == ["login"]
    assert count(ApiToken) == 0


def test_password_with_a_paired_surrogate_escape_is_just_wrong(client, alice):
    """\\ud800\\udfff is one character (U+103FF), not hostile text."""
    resp = client.post(TOKEN, data=json.dumps({"login": alice, "password": "\ud800\udfff"}),
                       content_type="application/json")
    assert_problem(resp, 401, "invalid_credentials")


@pytest.mark.parametrize("password", ["\x00", factories.PASSWORD + "\x00", "x\udfff"])
def test_password_with_nul_or_a_lone_surrogate_is_422_not_500(client, alice, count, password):
    resp = client.post(TOKEN, data=json.dumps({"login": alice, "password": password}),
                       content_type="application/json")
    assert list(assert_problem(resp, 422, "validation_failed")["errors"]) == ["password"]
    assert count(ApiToken) == 0


# Rate limits

def _fail_login(client, login="alice", address="127.0.0.1"):
    return client.post(TOKEN, json={"login": login, "password": "not the password"},
                       environ_base={"REMOTE_ADDR": address})


def test_eleventh_failed_login_in_a_row_is_429_with_retry_after(app, client, alice):
    for _ in range(10):
        assert _fail_login(client).status_code == 401
    resp = _fail_login(client)
    assert_problem(resp, 429, "rate_limited")
    assert int(resp.headers["Retry-After"]) > 0
    assert len(audit_events(app, "login_failed")) == 10


def test_right_password_after_the_limit_is_still_429(client, count, alice):
    for _ in range(10):
        _fail_login(client)
    resp = client.post(TOKEN, json={"login": alice, "password": factories.PASSWORD})
    assert_problem(resp, 429, "rate_limited")
    assert count(ApiToken) == 0


def test_nobody_can_lock_another_client_out_of_a_login(client, alice, count):
    """Issue 12 (7): failures from many addresses do not block a client that has not failed."""
    for n in range(30):
        _fail_login(client, address=f"192.0.2.{n + 1}")
    resp = client.post(TOKEN, json={"login": alice, "password": factories.PASSWORD},
                       environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert resp.status_code == 201
    assert count(ApiToken) == 1


def test_failures_of_one_login_from_one_address_are_throttled_and_logged(app, client, alice):
    for _ in range(10):
        assert _fail_login(client).status_code == 401
    assert_problem(_fail_login(client), 429, "rate_limited")
    throttled = audit_events(app, "login_throttled")
    assert throttled and throttled[-1].object_id == "alice"
    assert throttled[-1].payload["address"] == "127.0.0.1"


def test_the_waits_grow_with_the_windows(app, client, alice, monkeypatch):
    """Past the minute's budget the hour's holds: a client that keeps failing waits longer."""
    import time

    app.config["LOGIN_RATE_LIMIT"] = "2 per minute; 3 per hour"
    _fail_login(client)
    _fail_login(client)
    first = _fail_login(client)
    assert_problem(first, 429, "rate_limited")
    assert int(first.headers["Retry-After"]) <= 61
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 61)  # the minute has passed
    assert _fail_login(client).status_code == 401          # the third failure of the hour
    second = _fail_login(client)
    assert_problem(second, 429, "rate_limited")
    assert int(second.headers["Retry-After"]) > 600        # now the hour's window holds


def test_limit_counts_failures_per_address_across_logins(client, alice):
    for n in range(10):
        _fail_login(client, login=f"guess{n}")
    assert_problem(_fail_login(client, login="someone-else"), 429, "rate_limited")


def test_limited_login_does_not_lock_out_other_logins_from_other_addresses(client, commit, alice):
    commit(lambda: factories.user(login="carol"))
    for _ in range(10):
        _fail_login(client)
    resp = client.post(TOKEN, json={"login": "carol", "password": factories.PASSWORD},
                       environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert resp.status_code == 201


def test_successful_logins_are_not_counted(client, alice):
    for _ in range(12):
        resp = client.post(TOKEN, json={"login": alice, "password": factories.PASSWORD})
        assert resp.status_code == 201


def test_rate_limit_follows_the_setting(app, client, alice):
    app.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    _fail_login(client)
    _fail_login(client)
    assert_problem(_fail_login(client), 429, "rate_limited")


# Presenting tokens

def test_no_credentials_is_401_unauthorized(client):
    resp = client.get(ME)
    assert_problem(resp, 401, "unauthorized")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_basic_authentication_is_401(client, alice):
    resp = client.get(ME, headers={"Authorization": "Basic YWxpY2U6Y29ycmVjdCBob3JzZQ=="})
    assert_problem(resp, 401, "token_invalid")


def _assert_no_leak(resp, *secrets: str) -> None:
    body = resp.get_json()
    assert set(body) == PROBLEM_KEYS
    text = resp.get_data(as_text=True).lower()
    for secret in ("alice", "alice doe", "inspector", *secrets):
        assert secret.lower() not in text


@pytest.mark.parametrize("header", [
    "Bearer adal_" + "A" * 43,                                   # well-formed, never issued
    "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSIsInJvbGUiOiJhZG1pbiJ9.",  # JWT alg:none
    "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl",  # JWT, forged signature
    "Bearer " + "x" * 10_000,
    "Bearer \xff\xfe\x01",
    "Bearer",
    "Bearer    ",
    "Token adal_whatever",
])
def test_forged_or_garbage_token_is_401_token_invalid(client, alice_token, header):
    resp = client.get(ME, headers={"Authorization": header})
    assert_problem(resp, 401, "token_invalid")
    _assert_no_leak(resp)


def test_token_with_one_character_changed_is_401(client, alice_token):
    forged = alice_token[:-1] + ("A" if alice_token[-1] != "A" else "B")
    resp = client.get(ME, headers=_bearer(forged))
    assert_problem(resp, 401, "token_invalid")
    _assert_no_leak(resp, alice_token[:12])


def test_expired_token_is_401_token_expired(client, commit, alice):
    secret = commit(lambda: service.issue_token(user=service.get_user(alice),
                                                ttl=timedelta(seconds=-1))[0])
    resp = client.get(ME, headers=_bearer(secret))
    assert_problem(resp, 401, "token_expired")
    _assert_no_leak(resp, secret[:12])


def test_revoked_token_is_401_token_invalid(client, alice_token):
    assert client.delete(TOKEN, headers=_bearer(alice_token)).status_code == 204
    resp = client.get(ME, headers=_bearer(alice_token))
    assert_problem(resp, 401, "token_invalid")
    _assert_no_leak(resp, alice_token[:12])


def test_deactivated_users_token_is_401_account_disabled(client, alice_token, admin_headers):
    resp = client.patch(f"{USERS}/alice", json={"active": False}, headers=admin_headers)
    assert resp.status_code == 200
    resp = client.get(ME, headers=_bearer(alice_token))
    assert_problem(resp, 401, "account_disabled")
    _assert_no_leak(resp, alice_token[:12])


def test_token_errors_are_problem_json_on_every_endpoint(client, alice_token):
    resp = client.get(USERS, headers=_bearer("adal_not-a-token"))
    assert_problem(resp, 401, "token_invalid")


# Signing out and who am I

def test_revoke_ends_only_the_token_used(client, commit, alice, alice_token):
    other = commit(lambda: factories.token_for(service.get_user(alice)))
    resp = client.delete(TOKEN, headers=_bearer(alice_token))
    assert resp.status_code == 204
    assert client.get(ME, headers=_bearer(other)).status_code == 200


def test_revoke_is_on_the_audit_log(app, client, alice_token):
    client.delete(TOKEN, headers=_bearer(alice_token))
    [event] = audit_events(app, "token_revoked")
    assert event.actor_login == "alice"


def test_revoke_without_a_token_is_401(client):
    assert_problem(client.delete(TOKEN), 401, "unauthorized")


def test_me_shows_the_user_without_secrets(client, alice_token):
    resp = client.get(ME, headers=_bearer(alice_token))
    assert resp.status_code == 200
    assert resp.json["login"] == "alice"
    assert resp.json["display_name"] == "Alice Doe"
    assert resp.json["role"] == "inspector"
    assert resp.json["active"] is True
    assert not {"password", "password_hash", "id", "tokens"} & set(resp.json)


@pytest.mark.parametrize("role", ["admin", "supervisor", "inspector"])
def test_every_role_may_read_me(client, headers_for, role):
    resp = client.get(ME, headers=headers_for(role))
    assert resp.status_code == 200
    assert resp.json["role"] == role


# Users: roles

@pytest.mark.parametrize("role", ["supervisor", "inspector"])
@pytest.mark.parametrize("method, path", [("GET", USERS), ("POST", USERS),
                                          ("GET", f"{USERS}/alice"),
                                          ("PATCH", f"{USERS}/alice")])
def test_users_api_is_403_for_other_roles(client, headers_for, count, alice, role, method,
                                          path):
    body = _new_user() if method == "POST" else {"display_name": "X"}
    resp = client.open(path, method=method, headers=headers_for(role),
                       json=body if method != "GET" else None)
    assert_problem(resp, 403, "forbidden")
    assert count(User) == 2


def test_inspector_cannot_promote_themselves(app, client, alice_token):
    resp = client.patch(f"{USERS}/alice", json={"role": "admin"}, headers=_bearer(alice_token))
    assert_problem(resp, 403, "forbidden")
    assert _user(app, "alice").role.value == "inspector"


def test_users_api_is_401_without_credentials(client, count):
    assert_problem(client.post(USERS, json=_new_user()), 401, "unauthorized")
    assert count(User) == 0


# Users: list and read

def test_admin_lists_users_in_the_list_envelope(client, admin_headers, alice):
    resp = client.get(USERS, headers=admin_headers)
    assert resp.status_code == 200
    assert set(resp.json) == {"items", "total", "page", "per_page"}
    assert resp.json["total"] == 2
    assert resp.json["page"] == 1
    assert "alice" in [u["login"] for u in resp.json["items"]]
    assert all("password_hash" not in u for u in resp.json["items"])


def test_user_list_pages(client, commit, admin_headers):
    commit(lambda: [factories.user() for _ in range(4)])
    resp = client.get(f"{USERS}?per_page=2&page=3", headers=admin_headers)
    assert (resp.json["total"], resp.json["page"], resp.json["per_page"]) == (5, 3, 2)
    assert len(resp.json["items"]) == 1


def test_user_list_filters_by_role_and_active(client, commit, admin_headers, alice):
    commit(lambda: factories.user(role="supervisor", login="sue"))
    client.patch(f"{USERS}/alice", json={"active": False}, headers=admin_headers)
    inspectors = client.get(f"{USERS}?role=inspector", headers=admin_headers).json["items"]
    active = client.get(f"{USERS}?active=true", headers=admin_headers).json["items"]
    assert [u["login"] for u in inspectors] == ["alice"]
    assert "alice" not in [u["login"] for u in active] and "sue" in [u["login"] for u in active]


@pytest.mark.parametrize("query", ["role=king", "colour=red", "per_page=0", "page=x",
                                   "per_page=100000"])
def test_bad_user_list_query_is_422(client, admin_headers, query):
    assert_problem(client.get(f"{USERS}?{query}", headers=admin_headers), 422,
                   "validation_failed")


def test_admin_reads_one_user_by_login_in_any_case(client, admin_headers, alice):
    resp = client.get(f"{USERS}/ALICE", headers=admin_headers)
    assert resp.status_code == 200
    assert resp.json["login"] == "alice"


@pytest.mark.parametrize("login", ["nobody", "ali%00ce", "%ED%A0%80", "x" * 300])
def test_unknown_user_is_404(client, admin_headers, login):
    assert_problem(client.get(f"{USERS}/{login}", headers=admin_headers), 404, "not_found")


# Users: create

def test_admin_creates_a_user(app, client, admin_headers, count):
    resp = client.post(USERS, json=_new_user(login="Bob", display_name="Bob B.",
                                             languages=["kk", "ru"]), headers=admin_headers)
    assert resp.status_code == 201, resp.json
    assert resp.json["login"] == "bob"
    assert resp.json["display_name"] == "Bob B."
    assert resp.json["languages"] == ["kk", "ru"]
    assert "password" not in resp.json
    assert count(User) == 2
    [event] = [e for e in audit_events(app, "user_created") if e.object_id == "bob"]
    assert event.actor_login.startswith("admin")
    assert "long enough password" not in json.dumps(event.payload)


def test_created_user_can_sign_in(client, admin_headers):
    client.post(USERS, json=_new_user(), headers=admin_headers)
    resp = client.post(TOKEN, json={"login": "bob", "password": "long enough password"})
    assert resp.status_code == 201


def test_supervisor_is_created_with_regions(client, commit, admin_headers):
    commit(lambda: (factories.region(code="AST"), factories.region(code="ALA")))
    resp = client.post(USERS, json=_new_user(role="supervisor", regions=["AST", "ALA"]),
                       headers=admin_headers)
    assert resp.status_code == 201
    assert resp.json["regions"] == ["ALA", "AST"]


@pytest.mark.parametrize("body, field", [
    (_new_user(is_admin=True), "is_admin"),
    (_new_user(password_hash="$argon2id$..."), "password_hash"),
    (_new_user(active=False), "active"),
    (_new_user(password="short"), "password"),
    (_new_user(password="x" * 257), "password"),
    (_new_user(password="\ud800" * 12), "password"),
    (_new_user(role="root"), "role"),
    (_new_user(role=None), "role"),
    ({"role": "inspector", "password": "long enough password"}, "login"),
    (_new_user(login="bad login!"), "login"),
    (_new_user(login="a"), "login"),
    (_new_user(login="a" * 65), "login"),
    (_new_user(login="-dash"), "login"),
    (_new_user(display_name="   "), "display_name"),
    (_new_user(display_name="a\x00b"), "display_name"),
    (_new_user(languages=["fr"]), "languages"),
    (_new_user(languages=["kk", "kk"]), "languages"),
    (_new_user(languages=["kk", "ru", "kk"]), "languages"),
    (_new_user(login="bob\n"), "login"),
    (_new_user(login="bob\r\n"), "login"),
    (_new_user(regions="AST"), "regions"),
])
def test_bad_new_user_is_422_and_stores_nothing(client, admin_headers, count, body, field):
    resp = client.post(USERS, data=json.dumps(body), content_type="application/json",
                       headers=admin_headers)
    problem = assert_problem(resp, 422, "validation_failed")
    assert field in problem["errors"]
    assert "x" * 257 not in resp.get_data(as_text=True)
    assert count(User) == 1


def test_unknown_region_is_422_and_stores_nothing(client, commit, admin_headers, count):
    commit(lambda: factories.region(code="AST"))
    resp = client.post(USERS, json=_new_user(role="supervisor", regions=["AST", "NOPE"]),
                       headers=admin_headers)
    problem = assert_problem(resp, 422, "validation_failed")
    assert "regions" in problem["errors"]
    assert count(User) == 1


def test_duplicate_login_is_409_whatever_the_case(client, admin_headers, count, alice):
    resp = client.post(USERS, json=_new_user(login="Alice"), headers=admin_headers)
    assert_problem(resp, 409, "login_taken")
    assert count(User) == 2


def test_new_user_as_a_form_is_415(client, admin_headers, count):
    resp = client.post(USERS, data=_new_user(), headers=admin_headers)
    assert_problem(resp, 415, "unsupported_media_type")
    assert count(User) == 1


def test_malformed_json_is_400(client, admin_headers, count):
    resp = client.post(USERS, data='{"login": ', content_type="application/json",
                       headers=admin_headers)
    assert_problem(resp, 400, "malformed_json")
    assert count(User) == 1


# Users: change

@pytest.mark.parametrize("value", ["yes", "false", 1, 0, None])
def test_active_must_be_a_json_boolean(client, admin_headers, alice, value):
    resp = client.patch(f"{USERS}/alice", json={"active": value}, headers=admin_headers)
    assert "active" in assert_problem(resp, 422, "validation_failed")["errors"]
    assert client.get(f"{USERS}/alice", headers=admin_headers).json["active"] is True


def test_repeated_languages_in_a_change_are_422(client, admin_headers, alice):
    resp = client.patch(f"{USERS}/alice", json={"languages": ["ru", "ru"]}, headers=admin_headers)
    assert "languages" in assert_problem(resp, 422, "validation_failed")["errors"]
    assert client.get(f"{USERS}/alice", headers=admin_headers).json["languages"] == []


def test_admin_renames_a_user(client, admin_headers, alice):
    resp = client.patch(f"{USERS}/alice", json={"display_name": "Alice D."},
                        headers=admin_headers)
    assert resp.status_code == 200
    assert resp.json["display_name"] == "Alice D."


def test_new_password_revokes_the_users_tokens(client, admin_headers, alice_token):
    resp = client.patch(f"{USERS}/alice", json={"password": "another long password"},
                        headers=admin_headers)
    assert resp.status_code == 200
    assert_problem(client.get(ME, headers=_bearer(alice_token)), 401, "token_invalid")
    signed_in = client.post(TOKEN, json={"login": "alice", "password": "another long password"})
    assert signed_in.status_code == 201


def test_reactivated_user_signs_in_again_but_old_tokens_stay_dead(client, admin_headers,
                                                                  alice_token):
    client.patch(f"{USERS}/alice", json={"active": False}, headers=admin_headers)
    client.patch(f"{USERS}/alice", json={"active": True}, headers=admin_headers)
    assert_problem(client.get(ME, headers=_bearer(alice_token)), 401, "token_invalid")
    resp = client.post(TOKEN, json={"login": "alice", "password": factories.PASSWORD})
    assert resp.status_code == 201


def test_last_admin_cannot_demote_themselves(app, client, admin_headers):
    me = client.get(ME, headers=admin_headers).json["login"]
    resp = client.patch(f"{USERS}/{me}", json={"role": "supervisor"}, headers=admin_headers)
    assert_problem(resp, 409, "last_admin")
    assert _user(app, me).role.value == "admin"


def test_last_admin_cannot_deactivate_themselves(app, client, admin_headers):
    me = client.get(ME, headers=admin_headers).json["login"]
    resp = client.patch(f"{USERS}/{me}", json={"active": False}, headers=admin_headers)
    assert_problem(resp, 409, "last_admin")
    assert _user(app, me).active is True
    assert client.get(ME, headers=admin_headers).status_code == 200


def test_admin_may_demote_another_admin(client, commit, admin_headers):
    commit(lambda: factories.user(role="admin", login="second"))
    resp = client.patch(f"{USERS}/second", json={"role": "supervisor"}, headers=admin_headers)
    assert resp.status_code == 200
    assert resp.json["role"] == "supervisor"


@pytest.mark.parametrize("body, field", [
    ({"login": "renamed"}, "login"),
    ({"password": "short"}, "password"),
    ({"role": "root"}, "role"),
    ({"active": "maybe"}, "active"),
    ({"regions": ["NOPE"]}, "regions"),
    ({"conflict_offices": ["NOPE"]}, "conflict_offices"),
])
def test_bad_change_is_422_and_changes_nothing(app, client, admin_headers, alice_token, body,
                                               field):
    resp = client.patch(f"{USERS}/alice", json=body, headers=admin_headers)
    assert field in assert_problem(resp, 422, "validation_failed")["errors"]
    user = _user(app, "alice")
    assert (user.login, user.role.value, user.active) == ("alice", "inspector", True)
    assert client.get(ME, headers=_bearer(alice_token)).status_code == 200


def test_change_to_unknown_user_is_404(client, admin_headers):
    resp = client.patch(f"{USERS}/nobody", json={"display_name": "X"}, headers=admin_headers)
    assert_problem(resp, 404, "not_found")


def test_change_is_on_the_audit_log_with_the_actor(app, client, admin_headers, alice):
    client.patch(f"{USERS}/alice", json={"role": "supervisor"}, headers=admin_headers)
    [event] = audit_events(app, "user_updated")
    assert event.object_id == "alice"
    assert event.payload == {"role": {"old": "inspector", "new": "supervisor"}}
    assert event.actor_login.startswith("admin")
