"""The public keys receipts were ever signed with: old ones stay so old receipts verify."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import UTCDateTime, utcnow
from ..extensions import db


class ReceiptKey(db.Model):
    """An Ed25519 public key with its id; `retired_at` once another key took over signing."""

    __tablename__ = "receipt_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(sa.String(16), unique=True)
    public_key: Mapped[str] = mapped_column(sa.String(64))  # base64 of the raw 32 bytes
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
