"""`adal receipts verify FILE.json`: check a receipt against this server's public keys."""
from __future__ import annotations

import json
import sys

import click

from . import service


@click.group("receipts")
def receipts_cli():
    """Signed receipts of visits and evidence."""


@receipts_cli.command("verify")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True))
def verify_command(path):
    """Verify a receipt (JSON; '-' reads standard input). Exit 0 when it verifies, 1 with the
    reason when it does not."""
    try:
        with click.open_file(path, encoding="utf-8") as fh:
            receipt = json.load(fh)
    except (OSError, ValueError) as exc:
        click.echo(f"not verified: cannot read {path}: {exc}", err=True)
        sys.exit(1)
    keys = {k["key_id"]: k["public_key"] for k in service.public_keys()}
    try:
        fields = service.verify(receipt, keys)
    except service.ReceiptInvalid as exc:
        click.echo(f"not verified: {exc}", err=True)
        sys.exit(1)
    click.echo(f"verified: {fields['kind']} {fields['subject']} sha256 {fields['sha256']} "
               f"received {fields['received_at']} (audit event {fields['audit_event']}, key "
               f"{fields['key_id']})")
