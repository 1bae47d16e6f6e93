"""`adal offices import FILE.csv`."""
from __future__ import annotations

from pathlib import Path

import click

from ..db import unit_of_work
from ..errors import AppError
from . import service


@click.group()
def offices() -> None:
    """Offices."""


@offices.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_offices(path: Path) -> None:
    """Create the offices in a CSV file: all rows or none (see docs/offices.md for columns)."""
    try:
        with unit_of_work():
            created = service.import_offices(raw=path.read_bytes(), actor=None, source=path.name)
    except AppError as exc:
        click.echo(f"Nothing imported. {exc.detail}", err=True)
        for where, problems in (exc.errors or {}).items():
            click.echo(f"  {where}: {'; '.join(map(str, problems))}", err=True)
        raise SystemExit(1) from exc
    click.echo(f"Imported {len(created)} offices.")
