"""Issue 12 (1): browser sessions are revocable on the server. A copy of the session cookie taken
before sign-out, deactivation or a password change stops working at once."""
from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from server.auth import service
from server.auth.models import User, WebSession
from server.db import utcnow
from server.extensions import db
from tests import factories

ME = "/api/v1/auth/me"


def _sign_in(client, login: str):
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    resp = client.post("/login", data={"csrf_token": token, "login": login,
                                       "password": factories.PASSWORD})
    assert resp.status_code == 302
    return token


def _copy(app, client):
    """A second browser holding a copy of the first one's session cookie."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def _signed_in(commit, client, login="sup"):
    commit(lambda: factories.user(role="supervisor", login=login))
    return _sign_in(client, login)


def test_a_copied_cookie_stops_working_after_sign_out(app, client, commit):
    _signed_in(commit, client)
    stolen = _copy(app, client)
    assert stolen.get(ME).status_code == 200
    html = client.get("/console/queue").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert stolen.get(ME).status_code == 401
    assert client.get(ME).status_code == 401
    with app.app_context():
        row = db.session.scalar(sa.select(WebSession))
        assert row.ended_at is not None and row.ended_why == "signed_out"


def test_deactivation_ends_every_session_of_the_user(app, client, commit):
    _signed_in(commit, client)
    second = app.test_client()
    _sign_in(second, "sup")  # another browser, another session

    def deactivate():
        service.deactivate_user(user=service.get_user("sup"), actor=None)
    commit(deactivate)
    assert client.get(ME).status_code == 401 and second.get(ME).status_code == 401
    with app.app_context():
        assert {r.ended_why for r in db.session.scalars(sa.select(WebSession))} == {"revoked"}


def test_a_new_password_ends_the_sessions_signed_in_with_the_old_one(app, client, commit):
    _signed_in(commit, client)
    stolen = _copy(app, client)
    commit(lambda: service.update_user(user=service.get_user("sup"),
                                       changes={"password": "another-long-password"}, actor=None))
    assert stolen.get(ME).status_code == 401


def test_an_expired_session_is_signed_out(app, client, commit):
    _signed_in(commit, client)

    def expire():
        db.session.execute(sa.update(WebSession).values(expires_at=utcnow() - timedelta(1)))
    commit(expire)
    assert client.get(ME).status_code == 401


def test_a_cookie_naming_no_session_is_anonymous(app, client, commit):
    uid = commit(lambda: factories.user(role="admin", login="root").id)
    with app.app_context():
        user = db.session.get(User, uid)
        values = factories.browser_session(user)
    values["sid"] = "forged-" + values["sid"]  # signed by the app's key, but no such session
    with client.session_transaction() as session:
        session.update(values)
    assert client.get(ME).status_code == 401


def test_a_session_of_another_user_cannot_be_borrowed(app, client, commit):
    """An inspector's live session secret under an admin's id and password fingerprint: the
    session row's user must be the cookie's user."""
    def make():
        admin = factories.user(role="admin", login="a1")
        inspector = factories.user(role="inspector", login="b1")
        own, borrowed = factories.browser_session(admin), factories.browser_session(inspector)
        return {**own, "sid": borrowed["sid"]}
    values = commit(make)
    with client.session_transaction() as session:
        session.update(values)
    assert client.get(ME).status_code == 401
