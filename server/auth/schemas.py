"""Shapes of logins, tokens and users on the wire."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from ..config import LANGUAGES
from ..rest import JSONBoolean, PageArgs, unique_items
from ..validators import Text, code_validator
from .models import Role

# \Z, not $: Regexp uses re.match, and "$" also matches before a final newline ("bob\n").
LOGIN = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{1,63}\Z",
                        error="Use 2-64 letters, digits, '.', '_', '@' or '-'.")


def _unicode_text(value: str) -> None:
    """JSON can carry lone surrogates ("\\ud800"); no hash or database can take them."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ma.ValidationError("Use valid Unicode text (no lone surrogates).") from None


PASSWORD = [validate.Length(min=10, max=256, error="Use 10 to 256 characters."), _unicode_text]


class TokenRequest(ma.Schema):
    login = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256),
                             load_only=True)
    label = Text(100, load_default="", blank=True,
                 metadata={"description": "Which device or script holds the token."})


class TokenOut(ma.Schema):
    token = fields.String()
    expires_at = fields.AwareDateTime()
    role = fields.String()


class UserOut(ma.Schema):
    login = fields.String()
    display_name = fields.String()
    role = fields.Function(lambda u: u.role.value)
    active = fields.Boolean()
    languages = fields.List(fields.String())
    regions = fields.Function(lambda u: [r.code for r in u.regions])
    conflict_offices = fields.Function(lambda u: [o.code for o in u.conflict_offices])
    created_at = fields.AwareDateTime()
    last_login_at = fields.AwareDateTime(allow_none=True)


class _UserFields(ma.Schema):
    display_name = Text(200)
    role = fields.String(validate=validate.OneOf([r.value for r in Role]))
    languages = fields.List(fields.String(validate=validate.OneOf(LANGUAGES)),
                            validate=[validate.Length(max=len(LANGUAGES)), unique_items])
    regions = fields.List(fields.String(validate=code_validator), validate=validate.Length(max=500))
    conflict_offices = fields.List(fields.String(validate=code_validator),
                                   validate=validate.Length(max=5000))
    password = fields.String(validate=PASSWORD, load_only=True)


class UserIn(_UserFields):
    login = fields.String(required=True, validate=LOGIN)
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    password = fields.String(required=True, validate=PASSWORD, load_only=True)


class UserPatch(_UserFields):
    active = JSONBoolean()


class UserQuery(PageArgs):
    role = fields.String(validate=validate.OneOf([r.value for r in Role]))
    active = fields.Boolean()
