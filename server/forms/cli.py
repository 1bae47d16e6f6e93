"""`adal forms publish|check|list|import-xlsform`."""
from __future__ import annotations

from pathlib import Path

import click

from ..db import unit_of_work
from ..errors import AppError
from ..extensions import db
from . import service
from .definition import FormInvalid
from .loader import load_form_file, to_yaml


def _report(exc: FormInvalid) -> None:
    click.echo(f"{exc.source}: {len(exc.problems)} problem(s):", err=True)
    for problem in exc.problems:
        click.echo(f"  {problem}", err=True)


@click.group()
def forms() -> None:
    """Survey forms."""


@forms.command("check")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
def check(paths: tuple[Path, ...]) -> None:
    """Check form files without publishing; lists every problem."""
    failed = False
    for path in paths:
        try:
            definition = load_form_file(path)
        except FormInvalid as exc:
            _report(exc)
            failed = True
            continue
        count = sum(len(s["questions"]) for s in definition["sections"])
        click.echo(f"{path.name}: OK ({definition['key']} v{definition['version']}, "
                   f"{len(definition['sections'])} sections, {count} questions)")
    if failed:
        raise SystemExit(1)


@forms.command("publish")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
def publish(paths: tuple[Path, ...]) -> None:
    """Publish form files as immutable versions (all or none)."""
    checked, failed = [], False
    for path in paths:  # check every file first, so every problem of every file is listed
        try:
            checked.append((path, load_form_file(path)))
        except FormInvalid as exc:
            _report(exc)
            failed = True
    if failed:
        raise SystemExit(1)
    try:
        with unit_of_work():
            results = [service.publish_form(definition=definition, source=path.name)
                       for path, definition in checked]
    except AppError as exc:
        raise click.ClickException(exc.detail) from exc
    for version, created in results:
        state = "published" if created else "already published, unchanged"
        click.echo(f"{version.form.key} v{version.version}: {state} (sha256 {version.sha256})")


@forms.command("list")
def list_forms() -> None:
    """List published forms and versions."""
    forms_ = db.session.scalars(service.list_forms_query()).unique().all()
    if not forms_:
        click.echo("No forms are published.")
    for form in forms_:
        for v in form.versions:
            retired = " retired" if v.retired_at else ""
            click.echo(f"{form.key}\tv{v.version}\t{v.sha256[:12]}\t{v.source}{retired}")


@forms.command("import-xlsform")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the form YAML; <key>.v<version>.yaml in the current "
                   "directory by default (never survey_forms/, whose files `adal init` "
                   "publishes: review the file, then move it there or publish it).")
def import_xlsform(path: Path, output: Path | None) -> None:
    """Convert an XLSForm workbook to a form YAML file, to review and then publish.

    The file is written to the current directory unless -o says otherwise: an import lands in
    survey_forms/, where `adal init` publishes every form file, only when someone puts it there.
    """
    from .xlsform import import_xlsform as convert  # openpyxl only when needed

    try:
        result = convert(path)
    except FormInvalid as exc:
        _report(exc)
        raise SystemExit(1) from exc
    definition = result.definition
    if output is None:
        output = Path.cwd() / f"{definition['key'].replace('-', '_')}.v{definition['version']}.yaml"
    if output.exists():
        raise click.ClickException(f"{output} exists; choose another --output.")
    output.write_text(to_yaml(definition), encoding="utf-8")
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    count = sum(len(s["questions"]) for s in definition["sections"])
    click.echo(f"Wrote {output} ({len(definition['sections'])} sections, {count} questions). "
               f"Review it, then: flask --app wsgi adal forms publish {output}")
