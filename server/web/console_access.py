"""Who may use the console: signed-in supervisors and admins."""
from __future__ import annotations

from ..auth.access import current_user
from ..auth.models import Role, User
from ..errors import Forbidden
from .i18n import page_language, translate

STAFF = (Role.SUPERVISOR, Role.ADMIN)


class SignIn(Exception):
    """Nobody is signed in: the console's error handler sends the browser to sign in."""


def staff() -> User:
    """The signed-in supervisor or admin; inspectors get a 403 page."""
    user = current_user()
    if user is None:
        raise SignIn()
    if user.role not in STAFF:
        raise Forbidden(t("c_err_staff_only"))
    return user


def t(key: str, **values) -> str:
    """A console string in the page's language, with {placeholders} filled."""
    text = translate(key, page_language())
    return text.format(**values) if values else text
