"""Shapes of forms and versions on the wire."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from ..config import LANGUAGES
from ..rest import PageArgs


class FormSummary(ma.Schema):
    key = fields.String()
    title = fields.Method("get_title")
    versions = fields.Method("get_versions")

    def get_title(self, form) -> dict | None:
        return form.versions[-1].definition["title"] if form.versions else None

    def get_versions(self, form) -> list[int]:
        return [v.version for v in form.versions]


class VersionQuery(ma.Schema):
    lang = fields.String(validate=validate.OneOf(LANGUAGES),
                         metadata={"description": "Give every label in this language only."})


class FormQuery(PageArgs):
    pass


class VersionOut(ma.Schema):
    """The whole definition, as published, with its identity."""

    key = fields.String()
    version = fields.Integer()
    sha256 = fields.String()
    languages = fields.List(fields.String())
    title = fields.Raw(metadata={"description": "{lang: text}, or text with ?lang="})
    description = fields.Raw(allow_none=True)
    notes = fields.String()  # part of the hashed definition: served so sha256 can be checked
    scoring = fields.Dict()
    min_duration_min = fields.Raw(allow_none=True)  # as written: 10 stays 10, not 10.0
    sections = fields.List(fields.Dict())
    published_at = fields.AwareDateTime()
    retired = fields.Boolean()
