"""Shapes of an export request. No database, no permissions."""
from __future__ import annotations

from marshmallow import fields, validate

from ..config import LANGUAGES
from ..visits.filters import VisitFilterArgs

FORMATS = ("csv", "xlsx", "json")
SHAPES = ("wide", "long")


class ExportArgs(VisitFilterArgs):
    """The visit filters and sort of the visits table, and what file to make of them."""

    format = fields.String(load_default="csv", validate=validate.OneOf(FORMATS), metadata={
        "description": "csv (UTF-8 with BOM), xlsx (a sheet per form version when wide) or "
                       "json (an array of objects)."})
    shape = fields.String(load_default="wide", validate=validate.OneOf(SHAPES), metadata={
        "description": "wide: one row per visit, five columns per question; long: one row "
                       "per answer."})
    lang = fields.String(validate=validate.OneOf(LANGUAGES), metadata={
        "description": "Language of names, choice labels and yes/no; without it, the "
                       "browser's language. Column headers are ids, never translated."})
