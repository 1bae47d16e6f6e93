"""Shapes of report requests and answers on the wire. No database, no permissions."""
from __future__ import annotations

import marshmallow as ma
from flask import current_app
from marshmallow import fields, validate

from ..config import LANGUAGES
from ..offices.models import OFFICE_KINDS
from ..periods import Period, parse_period
from ..rest import PageArgs
from ..validators import code_validator

FORMATS = ("json", "csv", "xlsx")


class PeriodField(fields.String):
    """A period label (2026H2, 2026Q3, 2026-07, 2026), loaded as a Period in ADAL_TIMEZONE."""

    def _deserialize(self, value, attr, data, **kwargs) -> Period:
        label = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parse_period(label[:16], current_app.config["TIMEZONE"])
        except ValueError as exc:
            raise ma.ValidationError(str(exc)) from exc


def _period(**kw) -> PeriodField:
    return PeriodField(metadata={"description": "Half-year 2026H2 (default kind of period), "
                                                "quarter 2026Q3, month 2026-07 or year 2026.",
                                 "example": "2026H2"}, **kw)


def _min_visits() -> fields.Integer:
    return fields.Integer(validate=validate.Range(min=1, max=10_000), metadata={
        "description": "Approved visits an office needs to be ranked (ADAL_RANKING_MIN_VISITS)."})


class RankingQuery(ma.Schema):
    period = _period(required=True)
    kind = fields.String(validate=validate.OneOf(OFFICE_KINDS),
                         metadata={"description": "Without it, each kind is ranked on its own."})
    region = fields.String(validate=code_validator, metadata={"description": "Region code."})
    lang = fields.String(validate=validate.OneOf(LANGUAGES), metadata={
        "description": "Names and labels in this language; without it, {lang: text}."})
    format = fields.String(load_default="json", validate=validate.OneOf(FORMATS))
    min_visits = _min_visits()


class OfficeReportQuery(ma.Schema):
    period = _period(required=True)
    lang = fields.String(validate=validate.OneOf(LANGUAGES))


class PublishIn(ma.Schema):
    period = _period(required=True)
    kind = fields.String(validate=validate.OneOf(OFFICE_KINDS))
    region = fields.String(validate=code_validator)
    min_visits = _min_visits()


class OpenDataQuery(ma.Schema):
    period = _period(required=True)


class OfficeRef(ma.Schema):
    code = fields.String()
    name = fields.Raw(metadata={"description": "Text in the asked language, or {lang: text}."})
    active = fields.Boolean()


class CriticalOut(ma.Schema):
    question = fields.String()
    label = fields.Raw()
    visits_with = fields.Integer()
    rate = fields.Float()
    ci_low = fields.Float()
    ci_high = fields.Float()


class FollowUpOut(ma.Schema):
    created = fields.Integer()
    verified = fields.Integer()
    share = fields.Float(allow_none=True)


class SectionOut(ma.Schema):
    id = fields.String()
    title = fields.Raw()


class BandsOut(ma.Schema):
    green_min = fields.Float()
    yellow_min = fields.Float()


class _Figures(ma.Schema):
    region = fields.String()
    kind = fields.String()
    visits = fields.Integer()
    score = fields.Float(allow_none=True)
    ci_low = fields.Float(allow_none=True)
    ci_high = fields.Float(allow_none=True)
    band = fields.String(allow_none=True)
    section_scores = fields.Dict(keys=fields.String(), values=fields.Float())
    critical = fields.List(fields.Nested(CriticalOut))
    change = fields.Float(allow_none=True)
    previous_score = fields.Float(allow_none=True)
    recommendations = fields.Nested(FollowUpOut)


class RankingItemOut(_Figures):
    office = fields.Nested(OfficeRef)
    rank = fields.Integer(allow_none=True)
    status = fields.String(metadata={"description": "ranked or not_enough_visits"})


class RankingOut(ma.Schema):
    period = fields.String()
    from_ = fields.String(attribute="from", data_key="from")
    to = fields.String()
    kind = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    min_visits = fields.Integer()
    bands = fields.Nested(BandsOut)
    sections = fields.List(fields.Nested(SectionOut))
    items = fields.List(fields.Nested(RankingItemOut))
    recommendations = fields.Nested(FollowUpOut)


class TrendOut(ma.Schema):
    period = fields.String()
    visits = fields.Integer()
    score = fields.Float(allow_none=True)
    ci_low = fields.Float(allow_none=True)
    ci_high = fields.Float(allow_none=True)
    band = fields.String(allow_none=True)


class OfficeReportOut(_Figures):
    office = fields.Nested(OfficeRef)
    period = fields.String()
    from_ = fields.String(attribute="from", data_key="from")
    to = fields.String()
    bands = fields.Nested(BandsOut)
    sections = fields.List(fields.Nested(SectionOut))
    trend = fields.List(fields.Nested(TrendOut))


class PublishedOut(ma.Schema):
    slug = fields.String()
    period = fields.String()
    kind = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    sha256 = fields.String()
    published_at = fields.AwareDateTime()
    url = fields.String(metadata={"description": "The public address of the frozen data."})
    page = fields.String(metadata={"description": "The public page showing it."})


class PublishedQuery(PageArgs):
    period = fields.String(validate=validate.Length(max=16))
