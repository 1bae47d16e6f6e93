"""Shapes of recommendations on the wire; scope, transitions and visits are the service's."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from ..rest import PageArgs
from ..validators import BoundedAwareDateTime, Text, code_validator, plain_text
from .models import RecommendationStatus

STATUSES = [s.value for s in RecommendationStatus]
TEXT_MAX = 2000
QUESTION_ID = [validate.Length(min=1, max=64), plain_text]


class RecommendationIn(ma.Schema):
    office = fields.String(required=True, validate=code_validator,
                           metadata={"description": "Office code."})
    text = Text(TEXT_MAX, required=True,
                metadata={"description": "What the office should do; written for the office "
                                         "(inspectors of later visits read it too)."})
    due_date = fields.Date(load_default=None, allow_none=True,
                           metadata={"description": "Today or later (ADAL_TIMEZONE)."})
    visit = fields.UUID(load_default=None, allow_none=True,
                        metadata={"description": "The visit the finding comes from."})
    question = fields.String(load_default=None, allow_none=True, validate=QUESTION_ID,
                             metadata={"description": "A question id of that visit's form "
                                                      "version; needs `visit`."})


class StatusIn(ma.Schema):
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    comment = Text(TEXT_MAX, load_default="", blank=True,
                   metadata={"description": "Required for verified and not_done."})
    verifying_visit = fields.UUID(load_default=None, allow_none=True, metadata={
        "description": "For verified and not_done: a visit of the same office submitted after "
                       "the recommendation was made."})


class RecommendationEventOut(ma.Schema):
    status = fields.String()
    comment = fields.String()
    actor = fields.String(metadata={"description": "Login of who made the change."})
    at = fields.AwareDateTime()
    verifying_visit = fields.UUID(allow_none=True)


class RecommendationOut(ma.Schema):
    id = fields.Integer()
    office = fields.String()
    visit = fields.UUID(allow_none=True)
    question = fields.String(allow_none=True)
    text = fields.String()
    due_date = fields.Date(allow_none=True)
    status = fields.String()
    overdue = fields.Boolean(metadata={"description": "Open or in progress past its due date."})
    created_at = fields.AwareDateTime()
    created_by = fields.String(metadata={"description": "Login of the author."})
    history = fields.List(fields.Nested(RecommendationEventOut),
                          metadata={"description": "Oldest first; the first entry is `open`."})


class RecommendationBriefOut(ma.Schema):
    """What inspectors see on a later visit: no author, no source visit, no history."""

    id = fields.Integer()
    office = fields.String()
    question = fields.String(allow_none=True)
    text = fields.String()
    due_date = fields.Date(allow_none=True)
    status = fields.String()
    overdue = fields.Boolean()


class RecommendationQuery(PageArgs):
    office = fields.String(validate=code_validator)
    status = fields.String(validate=validate.OneOf(STATUSES))
    overdue = fields.Boolean(metadata={"description": "true: only overdue ones; false: none."})


class OfficeRecommendationQuery(PageArgs):
    status = fields.String(validate=validate.OneOf(STATUSES), metadata={
        "description": "Without it: every recommendation not yet verified or not_done."})


class RecommendationFollowUpQuery(ma.Schema):
    region = fields.String(validate=code_validator)
    until = BoundedAwareDateTime(metadata={
        "description": "Figures as they stood just before this moment; default now."})


class RecommendationFiguresOut(ma.Schema):
    total = fields.Integer()
    verified = fields.Integer()
    not_done = fields.Integer()
    open = fields.Integer(metadata={"description": "open, in_progress and reported_done."})
    overdue = fields.Integer(metadata={"description": "open or in_progress past the due date."})
    share_done = fields.Float(allow_none=True, metadata={
        "description": "verified / (verified + not_done + overdue); null when that is 0/0."})


class OfficeRecommendationFiguresOut(RecommendationFiguresOut):
    office = fields.String()


class RecommendationFollowUpOut(ma.Schema):
    overall = fields.Nested(RecommendationFiguresOut)
    offices = fields.List(fields.Nested(OfficeRecommendationFiguresOut))
