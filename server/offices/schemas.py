"""Shapes of regions and offices on the wire. No database, no permissions."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from ..rest import JSONBoolean, JSONNumber, PageArgs
from ..validators import Text, code_validator, localized_name, plain_text
from .models import OFFICE_KINDS


class RegionIn(ma.Schema):
    code = fields.String(required=True, validate=code_validator)
    name = localized_name()


class RegionPatch(ma.Schema):
    name = localized_name()


class RegionOut(ma.Schema):
    code = fields.String()
    name = fields.Dict()


def _check_position(data: dict, **_) -> None:
    if ("lat" in data) != ("lon" in data) or (data.get("lat") is None) != (data.get("lon") is None):
        raise ma.ValidationError("Give lat and lon together, or neither.", "lat")


class OfficeIn(ma.Schema):
    code = fields.String(required=True, validate=code_validator)
    name = localized_name()
    region = fields.String(required=True, validate=code_validator,
                           metadata={"description": "Region code."})
    kind = fields.String(required=True, validate=validate.OneOf(OFFICE_KINDS))
    address = Text(500, load_default="", blank=True)
    lat = JSONNumber(load_default=None, allow_none=True, validate=validate.Range(-90, 90))
    lon = JSONNumber(load_default=None, allow_none=True, validate=validate.Range(-180, 180))
    active = JSONBoolean(load_default=True)

    @validates_schema
    def position(self, data, **kw):
        _check_position(data)


class OfficePatch(ma.Schema):
    """Every field but the code may change; the code is the office's stable identity."""

    name = localized_name(required=False)
    region = fields.String(validate=code_validator)
    kind = fields.String(validate=validate.OneOf(OFFICE_KINDS))
    address = Text(500, blank=True)
    lat = JSONNumber(allow_none=True, validate=validate.Range(-90, 90))
    lon = JSONNumber(allow_none=True, validate=validate.Range(-180, 180))
    active = JSONBoolean()

    @validates_schema
    def position(self, data, **kw):
        _check_position(data)


class OfficeOut(ma.Schema):
    code = fields.String()
    name = fields.Dict()
    region = fields.Function(lambda office: office.region.code)
    kind = fields.String()
    address = fields.String()
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    active = fields.Boolean()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class OfficeQuery(PageArgs):
    region = fields.String(validate=code_validator)
    kind = fields.String(validate=validate.OneOf(OFFICE_KINDS))
    active = fields.Boolean()
    q = fields.String(validate=[validate.Length(min=1, max=100), plain_text],
                      metadata={"description": "Part of the code or of a name in any language."})


class ImportResult(ma.Schema):
    created = fields.Integer()
    codes = fields.List(fields.String())
