"""/api/v1/auth (tokens) and /api/v1/users (admins manage accounts)."""
from __future__ import annotations

from flask import current_app, request
from flask.views import MethodView

from ..db import paginate, unit_of_work
from ..errors import NotFound, Unauthorized
from ..extensions import limiter
from ..rest import Blueprint, escape_hostile, page_args, page_of
from . import service
from .access import ANY_ROLE, current_token, require_role, require_user
from .models import Role, User
from .schemas import TokenOut, TokenRequest, UserIn, UserOut, UserPatch, UserQuery

blp = Blueprint("auth", __name__, url_prefix="/api/v1",
                description="Tokens for the apps and scripts; user accounts.")


def _login_rate() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _attempted_login() -> str:
    if request.is_json:
        body = request.get_json(silent=True)
    elif request.blueprint == "web":
        body = request.form
    else:
        # The API takes JSON only; reading a form here would consume the body before the
        # parser can answer 415 to it.
        body = None
    login = body.get("login") if hasattr(body, "get") else None
    if not isinstance(login, str):
        return "login:"
    # A limit store such as Redis encodes its keys as UTF-8: no lone surrogate may reach it.
    return "login:" + escape_hostile(service.normalise_login(login)[:64])


def _attempted_login_from_here() -> str:
    return f"{_attempted_login()}|{request.remote_addr}"


def _failed(response) -> bool:
    return response.status_code == 401


def _throttled(limit) -> None:
    """A sign-in refused by a limit goes on the audit log (who was tried, from where)."""
    from ..audit.service import append_event
    from ..db import unit_of_work

    try:
        with unit_of_work():
            append_event("login_throttled", object_type="user",
                         object_id=_attempted_login().removeprefix("login:") or None,
                         payload={"address": request.remote_addr, "limit": str(limit.limit)})
    except Exception:  # noqa: BLE001 - the 429 must go out even if the log cannot be written
        current_app.logger.exception("could not record a throttled sign-in")


# Failed attempts count per client address, and per (login, client address): one client trying
# many logins, or one login many times, is slowed down with growing waits (minute, hour, day
# windows of ADAL_LOGIN_RATE_LIMIT). Nobody can lock another person out: failures from other
# addresses never count against a client that has not failed itself, and successful sign-ins
# never count. The limits are shared, so the API and the sign-in page draw on the same
# counters. Only attempts (POST) are checked: the sign-in page itself carries no login.
login_limits = [
    limiter.shared_limit(_login_rate, scope="login-address", deduct_when=_failed,
                         methods=["POST"], on_breach=_throttled),
    limiter.shared_limit(_login_rate, scope="login-account-address",
                         key_func=_attempted_login_from_here, deduct_when=_failed,
                         methods=["POST"], on_breach=_throttled),
]


def rate_limited(view):
    for limit in login_limits:
        view = limit(view)
    return view


@blp.route("/auth/token", methods=["POST"])
@rate_limited
@blp.arguments(TokenRequest)
@blp.response(201, TokenOut)
@blp.doc(security=[], responses={"401": "UNAUTHORIZED", "429": "TOO_MANY_REQUESTS"})
def create_token(data):
    """Exchange login and password for a bearer token (shown once; store it safely)."""
    with unit_of_work():
        user = service.check_credentials(login=data["login"], password=data["password"],
                                         source="api", address=request.remote_addr)
        if user is not None:
            secret, token = service.issue_token(user=user, label=data["label"])
    if user is None:  # the failed attempt is on the audit log, committed above
        raise Unauthorized("Wrong login or password, or the account is disabled.",
                           code="invalid_credentials")
    return {"token": secret, "expires_at": token.expires_at, "role": user.role.value}


@blp.route("/auth/token", methods=["DELETE"])
@require_role(*ANY_ROLE)
@blp.response(204)
def revoke_token():
    """Revoke the bearer token this request was made with (sign out a device)."""
    token = current_token()
    if token is None:
        raise Unauthorized("Send the token to revoke as 'Authorization: Bearer <token>'.",
                           code="token_required")
    with unit_of_work():
        service.revoke_token(token=token, actor=require_user())


@blp.route("/auth/me")
@require_role(*ANY_ROLE)
@blp.response(200, UserOut)
def me():
    """The signed-in user."""
    return require_user()


def _user_or_404(login: str) -> User:
    user = service.get_user(login)
    if user is None:
        raise NotFound(f"No user with login {login!r}.")
    return user


@blp.route("/users")
class Users(MethodView):
    @require_role(Role.ADMIN)
    @blp.arguments(UserQuery, location="query")
    @blp.response(200, page_of(UserOut))
    def get(self, args):
        """List users."""
        paging = page_args(args)
        return paginate(service.list_users_query(**args), **paging)

    @require_role(Role.ADMIN)
    @blp.arguments(UserIn)
    @blp.response(201, UserOut)
    def post(self, data):
        """Create a user."""
        with unit_of_work():
            return service.create_user(**data, actor=require_user())


@blp.route("/users/<login>")
class UserItem(MethodView):
    @require_role(Role.ADMIN)
    @blp.response(200, UserOut)
    def get(self, login):
        """One user."""
        return _user_or_404(login)

    @require_role(Role.ADMIN)
    @blp.arguments(UserPatch)
    @blp.response(200, UserOut)
    def patch(self, data, login):
        """Change a user; a new password or deactivation revokes their tokens."""
        with unit_of_work():
            return service.update_user(user=_user_or_404(login), changes=data,
                                       actor=require_user())
