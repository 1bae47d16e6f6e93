"""`adal reports rebuild [--check]`: recompute the report summaries from the visits."""
from __future__ import annotations

import click

from ..db import unit_of_work
from ..extensions import db
from . import summaries


@click.group()
def reports() -> None:
    """Reports."""


@reports.command("rebuild")
@click.option("--check", is_flag=True,
              help="Compare with a recomputation without writing; exit 1 on any difference.")
def rebuild(check: bool) -> None:
    """Recompute the report summaries from the approved visits (docs/reports.md)."""
    if check:
        problems = summaries.differences(limit=0)
        db.session.rollback()
        for line in problems[:50]:
            click.echo(line, err=True)
        if problems:
            more = " (first 50 shown)" if len(problems) > 50 else ""
            click.echo(f"{len(problems)} summary row(s) differ from the visits{more}; run "
                       "`flask --app wsgi adal reports rebuild` to recompute them.", err=True)
            raise SystemExit(1)
        click.echo("Summaries match the visits.")
        return
    with unit_of_work():
        counts = summaries.rebuild()
    click.echo("Rebuilt: " + ", ".join(f"{n} {name}" for name, n in counts.items()) + ".")
