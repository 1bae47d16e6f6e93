"""Shapes of visits on the wire. Answers are checked against the form version by the service."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from ..rest import PageArgs
from ..validators import BoundedAwareDateTime, Text, code_validator, plain_text
from .models import VisitStatus

SHA256 = validate.Regexp(r"^[0-9a-f]{64}\Z", error="Not a SHA-256 (64 lower-case hex digits).")
MAX_ANSWERS = 500
SHAPE_ERRORS = "_shape_errors"  # VisitIn.load's key for what did not load


class PositionIn(ma.Schema):
    lat = fields.Float(required=True, validate=validate.Range(-90, 90))
    lon = fields.Float(required=True, validate=validate.Range(-180, 180))
    accuracy = fields.Float(load_default=None, allow_none=True,
                            validate=validate.Range(0, 100_000),
                            metadata={"description": "Metres, as the phone reports it."})
    at = fields.AwareDateTime(load_default=None, allow_none=True)


class AnswerIn(ma.Schema):
    question = fields.String(required=True, validate=[validate.Length(min=1, max=64), plain_text])
    value = fields.Raw(load_default=None, allow_none=True,
                       metadata={"description": "Typed by the question: 'yes'/'no', a choice id, "
                                                "a list of choice ids, a number, 'HH:MM', text, "
                                                "{lat, lon, accuracy}; null for media questions."})
    not_applicable = fields.Boolean(load_default=False)
    note = Text(2000, load_default="", blank=True)
    evidence = fields.List(fields.String(validate=SHA256), load_default=list,
                           validate=validate.Length(max=20))


class AnswerField(fields.Nested):
    """An answer, documented as AnswerIn but passed on as sent: the service loads each one
    (validation.load_answers) so its shape errors go under its question id, with the rest."""

    def __init__(self, **kwargs):
        super().__init__(AnswerIn, **kwargs)

    def _deserialize(self, value, attr, data, partial=None, **kwargs):
        return value


class DeviceIn(ma.Schema):
    app_version = Text(64, blank=True)
    platform = Text(64, blank=True)
    user_agent = Text(300, blank=True)
    clock_offset_ms = fields.Integer(validate=validate.Range(-10**10, 10**10))


class VisitIn(ma.Schema):
    uuid = fields.UUID(required=True)
    assignment = fields.Integer(load_default=None, allow_none=True, strict=True,
                                validate=validate.Range(1, 2_147_483_647))
    office = fields.String(validate=code_validator,
                           metadata={"description": "Unplanned visits only."})
    form_key = fields.String(validate=validate.Length(max=64),
                             metadata={"description": "Unplanned visits only."})
    form_version = fields.Integer(strict=True, validate=validate.Range(1, 2_147_483_647),
                                  metadata={"description": "Unplanned visits only."})
    started_at = BoundedAwareDateTime(required=True)
    ended_at = BoundedAwareDateTime(required=True)
    position_start = fields.Nested(PositionIn, load_default=None, allow_none=True)
    position_end = fields.Nested(PositionIn, load_default=None, allow_none=True)
    answers = fields.List(AnswerField(), required=True,
                          validate=validate.Length(max=MAX_ANSWERS))
    device = fields.Nested(DeviceIn, load_default=dict)

    def load(self, data, *, many=None, partial=None, unknown=None):
        """The fields that loaded, with every field's problem under SHAPE_ERRORS instead of a
        ValidationError: the service adds the answers' problems and refuses them all at once
        (a bad `device` must not hide a bad answer)."""
        try:
            return super().load(data, many=many, partial=partial, unknown=unknown)
        except ma.ValidationError as exc:
            if many or not isinstance(data, dict) or not isinstance(exc.valid_data, dict):
                raise
            return {**exc.valid_data, SHAPE_ERRORS: exc.messages}

    @validates_schema
    def target(self, data, **kw):
        if data.get("assignment") is None and not {"office", "form_key", "form_version"} <= set(data):
            raise ma.ValidationError("Give the assignment, or office, form_key and form_version "
                                     "for an unplanned visit.", "assignment")


_PLANNED_FIELDS = frozenset({"uuid", "assignment", "started_at", "ended_at", "position_start",
                             "position_end", "answers", "device"})
_PLANNED_REQUIRED = frozenset({"uuid", "assignment", "started_at", "ended_at", "answers"})
_QUICK: VisitIn | None = None


def quick_load(body) -> dict | None:
    """What VisitIn().load(body) gives for a planned visit that is plainly valid as sent (the
    intake fast path), without the schema's machinery over the answers list; None for anything
    else, which then goes through VisitIn so its messages stay marshmallow's. The scalar fields
    go through the very field objects VisitIn uses; tests/visits/test_quick_load.py checks the
    result equals VisitIn's for random bodies and that None never hides an accepted one."""
    global _QUICK
    if type(body) is not dict or not body.keys() <= _PLANNED_FIELDS \
            or not _PLANNED_REQUIRED <= body.keys():
        return None
    assignment, answers = body["assignment"], body["answers"]
    if not (type(assignment) is int and 1 <= assignment <= 2_147_483_647
            and type(answers) is list and len(answers) <= MAX_ANSWERS
            and all(item is not None for item in answers)):
        return None
    schema = _QUICK = _QUICK or VisitIn()
    out = {"assignment": assignment, "answers": list(answers), "position_start": None,
           "position_end": None, "device": {}}
    try:
        for name in ("uuid", "started_at", "ended_at", "position_start", "position_end",
                     "device"):
            if name in body:
                position = _plain_position(body[name]) if name.startswith("position") \
                    else None
                out[name] = position if position is not None \
                    else schema.fields[name].deserialize(body[name])
    except ma.ValidationError:
        return None
    return out


_NUMBER = (int, float)  # exact types: a bool is no number to PositionIn's Float fields


def _plain_position(value) -> dict | None:
    """PositionIn's load of a phone's usual position, {lat, lon, accuracy} with numbers in
    range, without the nested schema; None for anything else (None included), which the
    field itself then loads or refuses."""
    if type(value) is not dict or not value.keys() <= {"lat", "lon", "accuracy"}:
        return None
    lat, lon, accuracy = value.get("lat"), value.get("lon"), value.get("accuracy")
    if type(lat) not in _NUMBER or type(lon) not in _NUMBER or not -90 <= lat <= 90 \
            or not -180 <= lon <= 180:
        return None
    if accuracy is not None and (type(accuracy) not in _NUMBER
                                 or not 0 <= accuracy <= 100_000):
        return None
    return {"lat": float(lat), "lon": float(lon),
            "accuracy": None if accuracy is None else float(accuracy), "at": None}


class VisitAmendIn(VisitIn):
    """An amendment of a returned visit: the same shape; uuid must match the URL."""


class AnswerOut(ma.Schema):
    question = fields.String(attribute="question_id")
    value = fields.Raw()
    not_applicable = fields.Boolean()
    note = fields.String()
    evidence = fields.List(fields.String())
    corrected = fields.Dict(allow_none=True, metadata={
        "description": "The newest supervisor correction (value, reason, by, at), or null; "
                       "`value` above stays the inspector's."})


class FlagOut(ma.Schema):
    kind = fields.String()
    severity = fields.String()
    detail = fields.Dict()


class HistoryOut(ma.Schema):
    at = fields.AwareDateTime()
    action = fields.String()
    actor = fields.String(allow_none=True)
    revision = fields.Integer(allow_none=True)
    detail = fields.Dict()


class RevisionOut(ma.Schema):
    revision = fields.Integer()
    received_at = fields.AwareDateTime()
    score = fields.Float(allow_none=True, metadata={"description": "As scored at intake."})
    answers = fields.List(fields.Nested(AnswerOut), metadata={
        "description": "The answers as sent in this revision, with the corrections made on it."})


class ReceiptOut(ma.Schema):
    """A signed receipt (docs/receipts.md); every value exactly as signed."""
    kind = fields.String()
    subject = fields.String()
    sha256 = fields.String()
    size = fields.Integer()
    received_at = fields.String(metadata={"description": "ISO 8601 UTC, as signed"})
    audit_event = fields.Integer(allow_none=True)
    key_id = fields.String()
    signature = fields.String(metadata={
        "description": "base64 Ed25519 signature over the canonical JSON of the other fields"})


class VisitOut(ma.Schema):
    uuid = fields.UUID()
    status = fields.String()
    assignment = fields.Integer(allow_none=True)
    office = fields.String()
    inspector = fields.String()
    form_key = fields.String()
    form_version = fields.Integer()
    started_at = fields.AwareDateTime()
    ended_at = fields.AwareDateTime()
    position_start = fields.Dict(allow_none=True)
    position_end = fields.Dict(allow_none=True)
    score = fields.Float(allow_none=True)
    score_uncapped = fields.Float(allow_none=True)
    section_scores = fields.Dict()
    critical = fields.List(fields.String())
    flags = fields.List(fields.Nested(FlagOut))
    answers = fields.List(fields.Nested(AnswerOut))
    lost_points = fields.List(fields.Dict())
    revision = fields.Integer()
    submitted_at = fields.AwareDateTime()
    history = fields.List(fields.Nested(HistoryOut))
    revisions = fields.List(fields.Nested(RevisionOut), metadata={
        "description": "Every revision received, oldest first; the last is the current one."})
    receipt = fields.Nested(ReceiptOut, metadata={
        "description": "In the answer to POST /visits (201 and a replay's 200): what the server "
                       "received and when, signed."})


class VisitSummaryOut(ma.Schema):
    uuid = fields.UUID()
    status = fields.String()
    assignment = fields.Integer(attribute="assignment_id", allow_none=True)
    revision = fields.Integer()
    office = fields.Function(lambda v: v.office.code)
    inspector = fields.Function(lambda v: v.inspector.login)
    form_key = fields.Function(lambda v: v.form_version.form.key)
    form_version = fields.Function(lambda v: v.form_version.version)
    started_at = fields.AwareDateTime()
    score = fields.Float(allow_none=True)
    critical = fields.List(fields.String())
    flags = fields.Function(lambda v: sorted({f.kind for f in v.flags}))
    submitted_at = fields.AwareDateTime()


class VisitQuery(PageArgs):
    office = fields.String(validate=code_validator)
    inspector = fields.String(validate=[validate.Length(min=1, max=64), plain_text])
    status = fields.String(validate=validate.OneOf([s.value for s in VisitStatus]))
    period = fields.String(validate=[validate.Length(max=16), plain_text],
                           metadata={"description": "2026H2, 2026Q3, 2026-07 or 2026."})
    flag = fields.String(validate=[validate.Length(max=32), plain_text])
