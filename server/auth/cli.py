"""`adal user ...` and `adal token ...`."""
from __future__ import annotations

from datetime import timedelta

import click
import marshmallow as ma

from ..db import unit_of_work
from ..errors import AppError
from ..extensions import db
from . import service
from .models import Role
from .schemas import UserIn


def _fail(exc: AppError) -> None:
    raise click.ClickException(f"{exc.detail} {exc.errors or ''}".strip())


@click.group()
def user() -> None:
    """User accounts."""


@user.command("create")
@click.option("--login", required=True)
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--password", help="Asked for when missing.")
@click.option("--name", "display_name", help="Display name; the login when missing.")
@click.option("--region", "regions", multiple=True, help="Region in a supervisor's scope.")
def create_user(login, role, password, display_name, regions) -> None:
    """Create a user."""
    password = password or click.prompt("Password (10+ characters)", hide_input=True,
                                        confirmation_prompt=True)
    given = {"login": login, "role": role, "password": password, "regions": list(regions)}
    if display_name is not None:
        given["display_name"] = display_name
    try:
        data = UserIn().load(given)  # the same rules as POST /api/v1/users
    except ma.ValidationError as exc:
        raise click.UsageError("; ".join(f"{field}: {' '.join(map(str, msgs))}"
                                         for field, msgs in exc.normalized_messages().items()))
    try:
        with unit_of_work():
            created = service.create_user(**data)
    except AppError as exc:
        _fail(exc)
    click.echo(f"User {created.login!r} ({created.role.value}) created.")


@user.command("list")
def list_users() -> None:
    """List users: login, role, active, name."""
    for u in db.session.scalars(service.list_users_query()):
        click.echo(f"{u.login}\t{u.role.value}\t{'active' if u.active else 'inactive'}\t"
                   f"{u.display_name}")


@user.command("deactivate")
@click.argument("login")
def deactivate(login: str) -> None:
    """Deactivate a user and revoke their tokens."""
    found = service.get_user(login)
    if found is None:
        raise click.ClickException(f"No user {login!r}.")
    try:
        with unit_of_work():
            service.deactivate_user(user=found, actor=None)
    except AppError as exc:
        _fail(exc)
    click.echo(f"User {found.login!r} deactivated; their tokens are revoked.")


@click.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.argument("login")
@click.option("--label", default="cli", help="Which device or script holds the token.")
@click.option("--days", type=click.IntRange(1, 3650), help="Lifetime; ADAL_TOKEN_TTL_DAYS when missing.")
def create_token(login: str, label: str, days: int | None) -> None:
    """Issue a bearer token for a user and print it (it is shown only once)."""
    found = service.get_user(login)
    if found is None or not found.active:
        raise click.ClickException(f"No active user {login!r}.")
    with unit_of_work():
        secret, row = service.issue_token(user=found, label=label,
                                          ttl=timedelta(days=days) if days else None)
    click.echo(secret)
    click.echo(f"expires {row.expires_at.isoformat()}", err=True)
