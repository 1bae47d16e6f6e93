"""Shapes of assignments on the wire."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from ..db import utcnow
from ..rest import PageArgs
from ..validators import BoundedAwareDateTime, Text, code_validator, plain_text
from .models import AssignmentStatus

FORM_KEY = validate.Regexp(r"^[a-z0-9][a-z0-9-]{0,63}\Z", error="Not a form key.")


class AssignmentIn(ma.Schema):
    office = fields.String(required=True, validate=code_validator,
                           metadata={"description": "Office code."})
    inspector = fields.String(required=True, validate=validate.Length(min=1, max=64),
                              metadata={"description": "Inspector login."})
    form_key = fields.String(required=True, validate=FORM_KEY)
    form_version = fields.Integer(required=True, strict=True,
                                  validate=validate.Range(min=1, max=2_147_483_647))
    window_start = BoundedAwareDateTime(required=True)
    window_end = BoundedAwareDateTime(required=True)

    @validates_schema
    def window(self, data, **kw):
        if "window_start" in data and "window_end" in data \
                and data["window_end"] <= data["window_start"]:
            raise ma.ValidationError("Must be after window_start.", "window_end")


class AssignmentOut(ma.Schema):
    id = fields.Integer()
    office = fields.Function(lambda a: a.office.code)
    inspector = fields.Function(lambda a: a.inspector.login)
    form_key = fields.Function(lambda a: a.form_version.form.key)
    form_version = fields.Function(lambda a: a.form_version.version)
    window_start = fields.AwareDateTime()
    window_end = fields.AwareDateTime()
    status = fields.Method("get_status")
    warnings = fields.List(fields.String())
    created_at = fields.AwareDateTime()
    cancel_reason = fields.String(allow_none=True)

    def get_status(self, assignment) -> str:
        return assignment.effective_status(utcnow())


class AssignmentQuery(PageArgs):
    status = fields.String(validate=validate.OneOf([s.value for s in AssignmentStatus]))
    office = fields.String(validate=code_validator)
    # plain_text: a NUL would reach PostgreSQL, which refuses it in a query (a 500).
    inspector = fields.String(validate=[validate.Length(min=1, max=64), plain_text])
    window_from = BoundedAwareDateTime(metadata={"description": "Windows ending after this."})
    window_to = BoundedAwareDateTime(metadata={"description": "Windows starting before this."})


class CancelIn(ma.Schema):
    reason = Text(500, required=True)


class BulkResult(ma.Schema):
    created = fields.Integer()
    items = fields.List(fields.Nested(AssignmentOut))
