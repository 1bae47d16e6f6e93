"""`adal audit verify`: recompute the chain and name the first broken link."""
from __future__ import annotations

import re
import sys

import click

from ..db import utcnow
from .service import anchor_mismatch, verify_chain

_ANCHOR = re.compile(r"^(\d+):([0-9a-fA-F]{64})$")


def _anchor(ctx, param, values: tuple[str, ...]) -> list[tuple[int, str]]:
    anchors = []
    for value in values:
        match = _ANCHOR.match(value.strip())
        if not match:
            raise click.BadParameter(f"{value!r} is not SEQ:HASH (a number, a colon, 64 hex "
                                     "digits), as printed by an earlier verify")
        anchors.append((int(match[1]), match[2].lower()))
    return anchors


@click.group()
def audit() -> None:
    """The audit log."""


@audit.command("verify")
@click.option("--anchor", "anchors", multiple=True, callback=_anchor, metavar="SEQ:HASH",
              help="A head printed by an earlier run and kept outside the database; the event "
                   "must still have that hash. May be repeated.")
def verify(anchors: list[tuple[int, str]]) -> None:
    """Recompute every hash; exit 1 and name the first broken event if the chain is broken."""
    report = verify_chain()
    if not report.ok:
        click.echo(f"BROKEN at event {report.broken_seq}: {report.reason}. "
                   f"{report.events} events before it verify.", err=True)
        sys.exit(1)
    for seq, digest in anchors:
        reason = anchor_mismatch(seq=seq, hash=digest)
        if reason:
            click.echo(f"ANCHOR MISMATCH at event {seq}: {reason}.", err=True)
            sys.exit(1)
    click.echo(f"OK: {report.events} events, chain head {report.head_seq}:{report.head_hash}")
    if report.unsealed:
        age = (utcnow() - report.oldest_unsealed_at).total_seconds()
        click.echo(f"Not sealed yet: {report.unsealed} events, the oldest {age:.0f} s old "
                   "(their digests match; `adal audit seal` chains them).")
    if anchors:
        click.echo(f"Anchors match: {', '.join(str(seq) for seq, _ in anchors)}.")
    click.echo("Keep the head somewhere else too (pass it later as --anchor): it proves that no "
               "event up to it was removed or rewritten after this moment.")


@audit.command("seal")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 100000),
              help="Events chained per transaction.")
def seal_command(batch: int) -> None:
    """Chain every committed event not sealed yet (safe next to running servers and sealers)."""
    from flask import current_app

    from .seal import seal

    sealed = seal(current_app.extensions["sqlalchemy"].engine, batch=batch)
    click.echo(f"Sealed {sealed} events.")
