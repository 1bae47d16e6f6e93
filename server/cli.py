"""`flask --app wsgi adal ...`: the administration commands. Each calls services, commits once."""
from __future__ import annotations

import click
import marshmallow as ma
import sqlalchemy as sa
from flask.cli import with_appcontext
from flask_migrate import upgrade

from .audit.cli import audit
from .auth import service as auth_service
from .auth.cli import token, user
from .auth.models import Role, User
from .auth.schemas import UserIn
from .db import unit_of_work
from .demo import load_demo
from .extensions import db
from .config import PROJECT_ROOT
from .errors import AppError
from .forms.cli import forms
from .forms.definition import FormInvalid
from .forms.service import publish_directory
from .jobs.cli import jobs, worker
from .media.cli import media
from .offices.cli import offices
from .receipts.cli import receipts_cli
from .reports.cli import reports as reports_cli


@click.group()
@with_appcontext  # for every subcommand too, however it is invoked (the test runner calls app.cli)
def adal() -> None:
    """Adal administration."""


adal.add_command(audit)
adal.add_command(user)
adal.add_command(token)
adal.add_command(offices)
adal.add_command(forms)
adal.add_command(media)
adal.add_command(receipts_cli)
adal.add_command(worker)
adal.add_command(jobs)
adal.add_command(reports_cli)


def _publish_forms() -> None:
    """Publish every form file in survey_forms/ that is not published yet (all or none)."""
    try:
        with unit_of_work():
            results = publish_directory(directory=PROJECT_ROOT / "survey_forms")
    except FormInvalid as exc:
        click.echo(f"Forms not published: {len(exc.problems)} problem(s):", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        raise SystemExit(1) from exc
    except AppError as exc:
        raise click.ClickException(exc.detail) from exc
    for version, created in results:
        state = "published" if created else "already published"
        click.echo(f"Form {version.form.key} v{version.version}: {state}.")


def _has_admin() -> bool:
    return db.session.scalar(sa.select(sa.func.count(User.id))
                             .where(User.role == Role.ADMIN, User.active.is_(True))) > 0


def _first_admin(login: str, password: str) -> dict:
    """The first admin's login and password, checked by the rules of `adal user create` and
    POST /api/v1/users (UserIn); a usage error naming the field otherwise."""
    try:
        return UserIn().load({"login": login, "role": Role.ADMIN.value, "password": password})
    except ma.ValidationError as exc:
        raise click.UsageError("; ".join(f"{field}: {' '.join(map(str, msgs))}" for field, msgs
                                         in exc.normalized_messages().items())) from exc


@adal.command("init")
@click.option("--admin-login", help="Login of the first admin (asked for when missing).")
@click.option("--admin-password", help="Password of the first admin (asked for when missing).")
def init(admin_login: str | None, admin_password: str | None) -> None:
    """Create or upgrade the database, publish the forms, make the first admin if there is none."""
    upgrade()
    click.echo("Database schema is up to date.")
    _publish_forms()
    if _has_admin():
        click.echo("An admin exists; none created.")
        return
    admin_login = admin_login or click.prompt("Login of the first admin", default="admin")
    admin_password = admin_password or click.prompt(
        "Password of the first admin (10+ characters)", hide_input=True,
        confirmation_prompt=True)
    if len(admin_password) < 10:
        raise click.UsageError("The password must have at least 10 characters.")
    data = _first_admin(admin_login, admin_password)
    try:
        with unit_of_work():
            auth_service.create_user(login=data["login"], role=Role.ADMIN,
                                     password=data["password"], display_name="Administrator")
    except AppError as exc:  # e.g. the login belongs to an existing non-admin account
        raise click.ClickException(exc.detail) from exc
    click.echo(f"Admin {admin_login!r} created.")


@adal.command("demo")
def demo() -> None:
    """Fill a demo: two regions, a dozen offices, an admin, a supervisor and three inspectors."""
    upgrade()
    _publish_forms()
    with unit_of_work():
        summary = load_demo()
    click.echo(summary)
