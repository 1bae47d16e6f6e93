"""Shapes of review decisions, corrections and the queue."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from ..rest import PageArgs
from ..validators import Text, code_validator
from .models import Decision

DECISIONS = [Decision.APPROVE.value, Decision.REJECT.value, Decision.RETURN.value]


class ReviewIn(ma.Schema):
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    comment = Text(4000, load_default="", blank=True)
    # Optional: the Contract of a decision is {"decision", "comment"}, and outside tools send
    # just that. Clients that show the visit first (the console does) send what they showed.
    revision = fields.Integer(strict=True, validate=validate.Range(1, 10_000),
                              metadata={"description": "The revision you reviewed; a newer one "
                                                       "makes this 409 stale_revision. Optional, "
                                                       "but every client that shows the visit "
                                                       "before deciding should send it."})
    corrections = fields.Integer(strict=True, validate=validate.Range(0, 100_000), metadata={
        "description": "How many corrections the revision had when you reviewed it (the "
                       "`answer_corrected` entries of that revision in the visit's history); "
                       "another number makes this 409 stale_corrections. Optional."})

    @validates_schema
    def comment_needed(self, data, **kw):
        if data.get("decision") in ("reject", "return") and not data.get("comment", "").strip():
            raise ma.ValidationError("Say why: the inspector and the record need a reason.",
                                     "comment")


class CorrectionIn(ma.Schema):
    question = fields.String(required=True, validate=validate.Length(min=1, max=64))
    value = fields.Raw(load_default=None, allow_none=True)
    not_applicable = fields.Boolean(load_default=False)
    reason = Text(2000, required=True)
    revision = fields.Integer(strict=True, validate=validate.Range(1, 10_000), metadata={
        "description": "The revision you are correcting; a newer one makes this 409 "
                       "stale_revision. Optional."})


class ReopenIn(ma.Schema):
    reason = Text(2000, required=True)


class ReviewOut(ma.Schema):
    uuid = fields.UUID()
    status = fields.String()
    revision = fields.Integer()
    decision = fields.String()
    score = fields.Float(allow_none=True)


class QueueQuery(PageArgs):
    region = fields.String(validate=code_validator)
    office = fields.String(validate=code_validator)
    inspector = fields.String(validate=validate.Length(min=1, max=64))
    flag = fields.String(validate=validate.Length(max=32))
    older_than_days = fields.Integer(validate=validate.Range(0, 3650))
