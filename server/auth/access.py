"""Who is asking: bearer tokens for apps and scripts, the session cookie for pages.

`require_role` is the one way to guard an endpoint. A request authenticated by the session cookie
must carry a CSRF token on every unsafe method; a bearer token is not sent by browsers on their own,
so it needs none.
"""
from __future__ import annotations

import hashlib
from functools import wraps

from flask import current_app, g, request, session
from ..errors import Forbidden, Unauthorized
from ..extensions import csrf, db
from . import service
from .models import ApiToken, Role, User

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_USER_KEY = "uid"
SESSION_PASSWORD_KEY = "pwd"
SESSION_SECRET_KEY = "sid"  # the server-side session's secret (auth.models.WebSession)


def password_fingerprint(user: User) -> str:
    """A short digest of the password hash: a new password ends the sessions signed in with
    the old one, as it revokes the tokens."""
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def start_session(user: User) -> None:
    """Sign `user` in to the pages: a fresh session (no fixation) bound to their password and to
    a server-side session row, so that signing out ends every copy of the cookie. The caller
    commits."""
    session.clear()
    session[SESSION_USER_KEY] = user.id
    session[SESSION_PASSWORD_KEY] = password_fingerprint(user)
    session[SESSION_SECRET_KEY] = service.open_web_session(
        user=user, hours=current_app.config["SESSION_LIFETIME_HOURS"])
    session.permanent = True


def end_session() -> None:
    """Sign out of the pages: the server forgets the session, the browser its cookie. The caller
    commits."""
    secret = session.get(SESSION_SECRET_KEY)
    if isinstance(secret, str):
        service.end_web_session(secret)
    session.clear()


def _bearer() -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("Use 'Authorization: Bearer <token>'.", code="token_invalid")
    return value.strip()


def _authenticate() -> tuple[User | None, ApiToken | None]:
    secret = _bearer()
    if secret is not None:
        user, token = service.user_for_token(secret)
        if db.session.is_modified(token):
            db.session.commit()  # last_used_at bookkeeping, before the view's own transaction
        return user, token
    uid = session.get(SESSION_USER_KEY)
    if uid is None:
        return None, None
    secret = session.get(SESSION_SECRET_KEY)
    user = service.web_session_user(secret) if isinstance(secret, str) else None
    if (user is None or user.id != uid or not user.active
            or session.get(SESSION_PASSWORD_KEY) != password_fingerprint(user)):
        session.clear()
        return None, None
    if request.method not in SAFE_METHODS:
        csrf.protect()  # CSRFError becomes a 400 csrf_failed problem (errors.py)
    return user, None


def current_user() -> User | None:
    """The signed-in user of this request, or None; resolved once per request."""
    if "adal_user" not in g:
        g.adal_user, g.adal_token = _authenticate()
    return g.adal_user


def current_token() -> ApiToken | None:
    """The bearer token of this request, if it came with one."""
    current_user()
    return g.adal_token


def require_user() -> User:
    """The signed-in user, or a 401 problem."""
    user = current_user()
    if user is None:
        raise Unauthorized("Sign in, or send 'Authorization: Bearer <token>'.")
    return user


def require_role(*roles: Role):
    """Guard a view: 401 without a valid identity, 403 when the role is not among `roles`."""
    allowed = frozenset(roles)

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = require_user()
            if allowed and user.role not in allowed:
                raise Forbidden(
                    f"This needs the role {' or '.join(sorted(r.value for r in allowed))}.")
            return view(*args, **kwargs)
        return wrapped
    return decorator


ANY_ROLE = ()
