"""Users, passwords and tokens: the rules. Functions flush; the caller commits."""
from __future__ import annotations

import hashlib
import secrets
import unicodedata
from datetime import timedelta
from functools import lru_cache

import argon2
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from ..audit.service import append_event
from ..db import utcnow
from ..errors import Conflict, Unauthorized, ValidationFailed
from ..extensions import db
from ..offices.models import Office, Region
from .models import ApiToken, Role, User, WebSession

TOKEN_PREFIX = "adal_"
# How stale last_used_at may get before a request writes it again (saves a write per request).
LAST_USED_RESOLUTION = timedelta(minutes=5)


@lru_cache(maxsize=4)
def _hasher(profile: str) -> argon2.PasswordHasher:
    return argon2.PasswordHasher.from_parameters(getattr(argon2.profiles, profile))


def password_hasher() -> argon2.PasswordHasher:
    """Argon2id with the configured cost profile."""
    return _hasher(current_app.config["PASSWORD_HASH_PROFILE"])


def normalise_login(login: str) -> str:
    """Logins compare case-insensitively; they are stored lower-case."""
    return login.strip().lower()


def hash_token(secret: str) -> str:
    """Tokens are long random strings, so a plain SHA-256 is enough to store them safely."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _impossible_login(login: str) -> bool:
    """No login has control characters or lone surrogates (PostgreSQL refuses NUL outright)."""
    return any(unicodedata.category(ch) in ("Cc", "Cs") for ch in login)


def get_user(login: str) -> User | None:
    """The user with this login, active or not."""
    if _impossible_login(login):
        return None
    return db.session.scalar(sa.select(User).where(User.login == normalise_login(login)))


def _regions(codes: list[str]) -> list[Region]:
    found = db.session.scalars(sa.select(Region).where(Region.code.in_(codes))).all()
    missing = sorted(set(codes) - {r.code for r in found})
    if missing:
        raise ValidationFailed(errors={"regions": [f"Unknown region {c!r}." for c in missing]})
    return list(found)


def _offices(codes: list[str]) -> list[Office]:
    found = db.session.scalars(sa.select(Office).where(Office.code.in_(codes))).all()
    missing = sorted(set(codes) - {o.code for o in found})
    if missing:
        raise ValidationFailed(
            errors={"conflict_offices": [f"Unknown office {c!r}." for c in missing]})
    return list(found)


def create_user(*, login: str, role: Role, password: str | None, display_name: str | None = None,
                languages: list[str] | None = None, regions: list[str] | None = None,
                conflict_offices: list[str] | None = None, actor: User | None = None) -> User:
    """Add a user; a login already taken is a conflict."""
    login = normalise_login(login)
    if get_user(login) is not None:
        raise Conflict(f"The login {login!r} is taken.", code="login_taken")
    user = User(login=login, role=Role(role), display_name=display_name or login,
                languages=list(languages or []),
                password_hash=password_hasher().hash(password) if password else None)
    user.regions = _regions(regions or [])
    user.conflict_offices = _offices(conflict_offices or [])
    db.session.add(user)
    db.session.flush()
    append_event("user_created", actor=actor, object_type="user", object_id=user.login,
                 payload={"role": user.role.value, "regions": regions or [],
                          "conflict_offices": conflict_offices or []})
    return user


def _is_last_admin(user: User) -> bool:
    others = db.session.scalar(sa.select(sa.func.count(User.id)).where(
        User.role == Role.ADMIN, User.active.is_(True), User.id != user.id))
    return user.role == Role.ADMIN and user.active and others == 0


def update_user(*, user: User, changes: dict, actor: User | None) -> User:
    """Change a user's name, role, languages, scope, conflicts, password or active flag."""
    demoted = "role" in changes and Role(changes["role"]) != Role.ADMIN
    if (demoted or changes.get("active") is False) and _is_last_admin(user):
        raise Conflict("This is the last active admin; make another admin first.",
                       code="last_admin")
    logged: dict = {}
    for key in ("display_name", "languages"):
        if key in changes and changes[key] != getattr(user, key):
            logged[key] = {"old": getattr(user, key), "new": changes[key]}
            setattr(user, key, changes[key])
    if "role" in changes and Role(changes["role"]) != user.role:
        logged["role"] = {"old": user.role.value, "new": Role(changes["role"]).value}
        user.role = Role(changes["role"])
    if "regions" in changes:
        old = [r.code for r in user.regions]
        user.regions = _regions(changes["regions"])
        logged["regions"] = {"old": old, "new": [r.code for r in user.regions]}
    if "conflict_offices" in changes:
        old = [o.code for o in user.conflict_offices]
        user.conflict_offices = _offices(changes["conflict_offices"])
        logged["conflict_offices"] = {"old": old, "new": [o.code for o in user.conflict_offices]}
    if changes.get("password"):
        user.password_hash = password_hasher().hash(changes["password"])
        logged["password"] = "changed"
        _revoke_all(user)  # a new password shuts out whoever held the old one
    if "active" in changes and changes["active"] != user.active:
        logged["active"] = {"old": user.active, "new": changes["active"]}
        user.active = changes["active"]
        if not user.active:
            _revoke_all(user)
    db.session.flush()
    if logged:
        append_event("user_updated", actor=actor, object_type="user", object_id=user.login,
                     payload=logged)
    return user


def deactivate_user(*, user: User, actor: User | None) -> User:
    """Shut a user out: no login, every token revoked. The row stays for the record."""
    return update_user(user=user, changes={"active": False}, actor=actor)


def _revoke_all(user: User) -> None:
    db.session.execute(sa.update(ApiToken)
                       .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                       .values(revoked_at=utcnow()))
    end_web_sessions(user=user, why="revoked")


# --- browser sessions (server/auth/access.py puts the secret in the signed cookie) ------------

def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def open_web_session(*, user: User, hours: int) -> str:
    """A new browser session for `user`; returns the secret for the cookie. Flushes only."""
    secret = secrets.token_urlsafe(32)
    db.session.add(WebSession(user_id=user.id, secret_hash=_secret_hash(secret),
                              expires_at=utcnow() + timedelta(hours=hours)))
    db.session.flush()
    return secret


def web_session_user(secret: str) -> User | None:
    """The user of a live browser session, or None if it ended, expired or never existed."""
    row = db.session.scalar(sa.select(WebSession).where(
        WebSession.secret_hash == _secret_hash(secret[:256])))
    if row is None or row.ended_at is not None or row.expires_at <= utcnow():
        return None
    return db.session.get(User, row.user_id)


def end_web_session(secret: str) -> None:
    """Sign one session out: its cookie, and every copy of it, stops working. Flushes only."""
    db.session.execute(sa.update(WebSession)
                       .where(WebSession.secret_hash == _secret_hash(secret[:256]),
                              WebSession.ended_at.is_(None))
                       .values(ended_at=utcnow(), ended_why="signed_out"))


def end_web_sessions(*, user: User, why: str) -> None:
    """End every browser session of `user` (deactivation, a new password). Flushes only."""
    db.session.execute(sa.update(WebSession)
                       .where(WebSession.user_id == user.id, WebSession.ended_at.is_(None))
                       .values(ended_at=utcnow(), ended_why=why))


def check_credentials(*, login: str, password: str, source: str, address: str | None) -> User | None:
    """The user if login and password match an active account; else None and an audit event."""
    user = get_user(login)  # None for logins with control characters or lone surrogates
    # Bytes, so a password with a lone surrogate is simply wrong instead of a crash.
    given = password.encode("utf-8", "surrogatepass")
    hasher = password_hasher()
    ok = False
    if user is not None and user.password_hash:
        try:
            ok = hasher.verify(user.password_hash, given)
        except (argon2.exceptions.VerifyMismatchError, argon2.exceptions.InvalidHashError):
            ok = False
    else:
        # Spend the same time as a real check, so timing does not tell which logins exist.
        try:
            hasher.verify(_dummy_hash(current_app.config["PASSWORD_HASH_PROFILE"]), given)
        except argon2.exceptions.VerifyMismatchError:
            pass
    if not ok or not user.active:
        shown = "".join(ch for ch in login if unicodedata.category(ch) not in ("Cc", "Cs"))
        append_event("login_failed", object_type="user", object_id=normalise_login(shown)[:64],
                     payload={"source": source, "address": address,
                              "reason": "inactive" if ok else "bad_credentials"})
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    user.last_login_at = utcnow()
    db.session.flush()
    return user


@lru_cache(maxsize=4)
def _dummy_hash(profile: str) -> str:
    return _hasher(profile).hash(secrets.token_urlsafe(16))


def issue_token(*, user: User, label: str = "", ttl: timedelta | None = None,
                actor: User | None = None) -> tuple[str, ApiToken]:
    """A new bearer token for `user`; returns the secret (shown once) and the stored row."""
    if ttl is None:
        ttl = timedelta(days=current_app.config["TOKEN_TTL_DAYS"])
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, token_hash=hash_token(secret), prefix=secret[:12], label=label,
                     expires_at=utcnow() + ttl)
    db.session.add(token)
    db.session.flush()
    append_event("token_issued", actor=actor or user, object_type="user", object_id=user.login,
                 payload={"token_id": token.id, "label": label,
                          "expires_at": token.expires_at.isoformat()})
    return secret, token


def user_for_token(secret: str) -> tuple[User, ApiToken]:
    """The active user behind a bearer token; 401 for unknown, revoked or expired tokens."""
    token = None
    if secret.startswith(TOKEN_PREFIX) and len(secret) <= 128:
        # The user in the same query (every request needs both): one round trip, not two.
        token = db.session.scalar(sa.select(ApiToken).options(joinedload(ApiToken.user))
                                  .where(ApiToken.token_hash == hash_token(secret)))
    if token is None:
        raise Unauthorized("The token is not valid. Sign in again.", code="token_invalid")
    # Before the revocation check: deactivating revokes every token, and the holder should
    # learn why the token stopped working.
    if not token.user.active:
        raise Unauthorized("This account is disabled.", code="account_disabled")
    if token.revoked_at is not None:
        raise Unauthorized("The token is not valid. Sign in again.", code="token_invalid")
    now = utcnow()
    if token.expires_at <= now:
        raise Unauthorized("The token has expired. Sign in again.", code="token_expired")
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        token.last_used_at = now
    return token.user, token


def revoke_token(*, token: ApiToken, actor: User) -> None:
    """End a token now; later requests with it get 401."""
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.flush()
        append_event("token_revoked", actor=actor, object_type="user",
                     object_id=token.user.login, payload={"token_id": token.id})


def list_users_query(*, role: str | None = None, active: bool | None = None) -> sa.Select:
    """Users matching the filters, by login."""
    query = sa.select(User).order_by(User.login)
    if role is not None:
        query = query.where(User.role == Role(role))
    if active is not None:
        query = query.where(User.active.is_(active))
    return query
