"""`adal media sweep`: housekeeping of uploads and a report of unreferenced objects."""
from __future__ import annotations

import fcntl
import os

import click

from ..db import unit_of_work
from . import service
from .leftovers import remove as remove_leftovers
from .leftovers import stale_temporaries


@click.group()
def media() -> None:
    """Evidence media and uploads."""


def _remove_if_idle(path) -> int:
    """Remove a spool file unless a request is writing to it; the bytes freed."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return 0
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # in use right now; the next sweep takes it
        size = os.fstat(fd).st_size
        path.unlink(missing_ok=True)
        return size
    finally:
        os.close(fd)


@media.command("sweep")
def sweep() -> None:
    """Expire stale unfinished uploads and remove their partial data; report stored objects
    that no row points to (reported only: originals are never deleted by a command)."""
    with unit_of_work():
        expired = service.expire_uploads()
    with unit_of_work():
        stray = service.stray_spool_files()
    freed = sum(_remove_if_idle(path) for path in stray)
    click.echo(f"Expired {len(expired)} unfinished upload(s); removed {len(stray)} spool "
               f"file(s), {freed} bytes.")
    leftovers = stale_temporaries()
    click.echo(f"Removed {len(leftovers)} temporary file(s) of killed processes, "
               f"{remove_leftovers(leftovers)} bytes.")
    with unit_of_work():
        orphans = service.orphan_objects()
    if not orphans:
        click.echo("Every stored object has a row.")
        return
    click.echo(f"{len(orphans)} stored object(s) have no row (left in place; look into them):")
    for backend, key in orphans:
        click.echo(f"  {backend}:{key}")
