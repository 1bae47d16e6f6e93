"""Shapes of report requests and answers on the wire. No database, no permissions."""
from __future__ import annotations

import marshmallow as ma
from flask import current_app
from marshmallow import fields, post_load, validate, validates_schema

from ..config import LANGUAGES
from ..offices.models import OFFICE_KINDS
from ..periods import LABEL_MAX, Period, RangeError, date_range, parse_period, period_from_range
from ..rest import PageArgs
from ..validators import code_validator

FORMATS = ("json", "csv", "xlsx")


class PeriodField(fields.String):
    """A period label (2026H2, 2026Q3, 2026-07, 2026, 2026-07-01..2026-09-15), loaded as a
    Period in ADAL_TIMEZONE."""

    def _deserialize(self, value, attr, data, **kwargs) -> Period:
        label = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parse_period(label[:LABEL_MAX + 10], current_app.config["TIMEZONE"])
        except ValueError as exc:
            raise ma.ValidationError(str(exc)) from exc


def _period(**kw) -> PeriodField:
    return PeriodField(metadata={"description": "Half-year 2026H2 (default kind of period), "
                                                "quarter 2026Q3, month 2026-07, year 2026, or "
                                                "a date range 2026-07-01..2026-09-15 (both days "
                                                "included). Or give `from` and `to` instead.",
                                 "example": "2026H2"}, **kw)


class PeriodArgs(ma.Schema):
    """`period`, or `from` and `to`: local dates (ADAL_TIMEZONE), both days included. Loaded
    as one `period` (a Period); exactly one of the two ways must be given."""

    period = _period()
    from_ = fields.Date(data_key="from", metadata={
        "description": "First day of a date range (local time), included; needs `to`.",
        "example": "2026-07-01"})
    to = fields.Date(metadata={
        "description": "Last day of a date range (local time), included; needs `from`. "
                       "At most 3660 days after `from`, years 2000-2999.",
        "example": "2026-09-15"})

    @validates_schema
    def one_period(self, data, **kw):
        given = [name for name, key in (("from", "from_"), ("to", "to")) if key in data]
        if "period" in data and given:
            raise ma.ValidationError("Give either period or from and to, not both.", "period")
        if not given:
            if "period" not in data:
                raise ma.ValidationError("Give a period (e.g. 2026H2) or from and to.",
                                         "period")
            return
        for name in ("from", "to"):
            if name not in given:
                raise ma.ValidationError(f"Give {name!r} too: a date range needs from and to.",
                                         name)
        try:
            date_range(data["from_"], data["to"], current_app.config["TIMEZONE"])
        except RangeError as exc:
            raise ma.ValidationError(str(exc), exc.field) from exc

    @post_load
    def as_period(self, data, **kw):
        return period_from_range(data, current_app.config["TIMEZONE"])


def _min_visits() -> fields.Integer:
    return fields.Integer(validate=validate.Range(min=1, max=10_000), metadata={
        "description": "Approved visits an office needs to be ranked (ADAL_RANKING_MIN_VISITS)."})


class RankingQuery(PeriodArgs):
    kind = fields.String(validate=validate.OneOf(OFFICE_KINDS),
                         metadata={"description": "Without it, each kind is ranked on its own."})
    region = fields.String(validate=code_validator, metadata={"description": "Region code."})
    lang = fields.String(validate=validate.OneOf(LANGUAGES), metadata={
        "description": "Names and labels in this language; without it, {lang: text}."})
    format = fields.String(load_default="json", validate=validate.OneOf(FORMATS))
    min_visits = _min_visits()


class OfficeReportQuery(PeriodArgs):
    lang = fields.String(validate=validate.OneOf(LANGUAGES))


class PublishIn(PeriodArgs):
    kind = fields.String(validate=validate.OneOf(OFFICE_KINDS))
    region = fields.String(validate=code_validator)
    min_visits = _min_visits()


class OpenDataQuery(PeriodArgs):
    pass


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
    created = fields.Integer(metadata={"description": "Recommendations made by the period's end."})
    verified = fields.Integer()
    not_done = fields.Integer()
    overdue = fields.Integer(metadata={"description": "Open or in progress past the due date."})
    open = fields.Integer(metadata={"description": "open, in_progress and reported_done."})
    share = fields.Float(allow_none=True, metadata={
        "description": "verified / (verified + not_done + overdue) at the period's end, as "
                       "GET /recommendations/follow-up; null when that is 0 / 0."})


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
    period = fields.String(validate=validate.Length(max=LABEL_MAX))
