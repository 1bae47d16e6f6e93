"""Field validators shared by schemas: text people type, codes programs use."""
from __future__ import annotations

import unicodedata
from datetime import datetime, timezone

from marshmallow import ValidationError, fields, validate

from .config import LANGUAGES

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}\Z"  # \Z: "$" would let a final newline in
code_validator = validate.Regexp(CODE_PATTERN, error="Use 1-32 letters, digits, '.', '_' or '-', "
                                                     "starting with a letter or digit.")


def plain_text(value: str) -> None:
    """Refuse control characters (NUL breaks PostgreSQL text; others hide in logs and pages)
    and lone surrogates (not encodable as UTF-8)."""
    for ch in value:
        category = unicodedata.category(ch)
        if category == "Cc" and ch not in "\t\n\r":
            raise ValidationError(f"Control character U+{ord(ch):04X} is not allowed.")
        if category == "Cs":
            raise ValidationError(f"Lone surrogate U+{ord(ch):04X} is not valid text.")


def not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


def Text(max_length: int, *, required: bool = False, blank: bool = False, **kw) -> fields.String:
    """A string field for text people type: length-limited, no control characters."""
    checks = [validate.Length(max=max_length), plain_text]
    if not blank:
        checks.append(not_blank)
    return fields.String(required=required, validate=checks, **kw)


class LocalizedName(fields.Field):
    """A name in every interface language: {"kk", "ru", "en", "uz"}, none blank, 300 at most.

    Errors are keyed by language ({"name": {"uz": [...]}}), like a nested schema's.
    """

    def _deserialize(self, value, attr, data, **kwargs) -> dict:
        if not isinstance(value, dict):
            raise ValidationError("Give the name as an object with kk, ru, en and uz.")
        errors = {}
        for lang in LANGUAGES:
            text = value.get(lang)
            if not isinstance(text, str):
                errors[lang] = ["Missing data for required field."]
                continue
            try:
                not_blank(text)
                plain_text(text)
                if len(text) > 300:
                    raise ValidationError("Longer than maximum length 300.")
            except ValidationError as exc:
                errors[lang] = exc.messages
        for extra in sorted(set(value) - set(LANGUAGES)):
            errors[str(extra)[:20]] = [f"Unknown language; use {', '.join(LANGUAGES)}."]
        if errors:
            raise ValidationError(errors)
        return {lang: value[lang] for lang in LANGUAGES}


def localized_name(*, required: bool = True) -> LocalizedName:
    """A LocalizedName field, documented in the OpenAPI spec as an object of four strings."""
    return LocalizedName(required=required, metadata={
        "description": "The name in kk, ru, en and uz.", "type": "object",
        "properties": {lang: {"type": "string", "maxLength": 300} for lang in LANGUAGES}})


EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)


class BoundedAwareDateTime(fields.AwareDateTime):
    """A date-time with an offset, from 2000-01-01 (inclusive) to 2100-01-01 (exclusive) UTC.

    Anything outside is no clock skew but garbage, and 9999-12-31T23:00-05:00 or
    0001-01-01T00:00+05:00 cannot even be converted to UTC for storing (an OverflowError, a 500).
    """

    default_error_messages = {
        "out_of_range": "Must be from 2000-01-01T00:00:00Z up to (not including) "
                        "2100-01-01T00:00:00Z.",
    }

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            in_utc = moment.astimezone(timezone.utc)
        except OverflowError:
            raise self.make_error("out_of_range") from None
        if not EARLIEST <= in_utc < LATEST:
            raise self.make_error("out_of_range")
        return moment
