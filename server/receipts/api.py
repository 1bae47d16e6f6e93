"""GET /api/v1/receipts/keys: the public keys that verify receipts (no sign-in needed)."""
from __future__ import annotations

from marshmallow import Schema, fields

from ..rest import Blueprint
from . import service

blp = Blueprint("receipts", __name__, url_prefix="/api/v1",
                description="Signed receipts: the public keys that verify them.")


class ReceiptKeyOut(Schema):
    key_id = fields.String()
    public_key = fields.String(metadata={"description": "base64 of the raw 32-byte Ed25519 key"})
    created_at = fields.DateTime()
    retired_at = fields.DateTime(allow_none=True)


class ReceiptKeysOut(Schema):
    keys = fields.List(fields.Nested(ReceiptKeyOut))


@blp.route("/receipts/keys")
@blp.response(200, ReceiptKeysOut)
def receipt_keys():
    """Every key receipts were ever signed with, the current one last (retired_at null)."""
    return {"keys": service.public_keys()}
