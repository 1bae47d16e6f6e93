"""Builders for test data: add and flush, never commit; the test decides."""
from __future__ import annotations

import itertools

from server.auth import service as auth_service
from server.auth.models import Role, User
from server.extensions import db
from server.offices.models import Office, Region

_seq = itertools.count(1)
PASSWORD = "correct horse battery"


def names(base: str) -> dict:
    return {"kk": f"{base} (kk)", "ru": f"{base} (ru)", "en": base, "uz": f"{base} (uz)"}


def region(**kw) -> Region:
    n = next(_seq)
    obj = Region(code=kw.pop("code", f"R{n}"), name=kw.pop("name", names(f"Region {n}")), **kw)
    db.session.add(obj)
    db.session.flush()
    return obj


def office(**kw) -> Office:
    n = next(_seq)
    reg = kw.pop("region", None) or region()
    obj = Office(code=kw.pop("code", f"OFF-{n}"), name=kw.pop("name", names(f"Office {n}")),
                 region=reg, kind=kw.pop("kind", "service_centre"),
                 address=kw.pop("address", f"Street {n}"), lat=kw.pop("lat", 51.1),
                 lon=kw.pop("lon", 71.4), **kw)
    db.session.add(obj)
    db.session.flush()
    return obj


def user(*, role: str | Role = Role.INSPECTOR, login: str | None = None,
         password: str = PASSWORD, **kw) -> User:
    role = Role(role)
    login = login or f"{role.value}{next(_seq)}"
    return auth_service.create_user(login=login, role=role, password=password, **kw)


def token_for(user: User, **kw) -> str:
    secret, _ = auth_service.issue_token(user=user, **kw)
    return secret


def browser_session(user) -> dict:
    """The session-cookie values of `user` signed in to the pages (a server-side session row is
    added and flushed); write them with client.session_transaction()."""
    from server.auth.access import (SESSION_PASSWORD_KEY, SESSION_SECRET_KEY, SESSION_USER_KEY,
                                    password_fingerprint)
    from server.auth.service import open_web_session
    return {SESSION_USER_KEY: user.id, SESSION_PASSWORD_KEY: password_fingerprint(user),
            SESSION_SECRET_KEY: open_web_session(user=user, hours=1)}
