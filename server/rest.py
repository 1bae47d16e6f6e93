"""What every API blueprint shares: the strict argument parser, list arguments, list envelopes."""
from __future__ import annotations

import json
import re
from functools import lru_cache

import flask
import flask_smorest
import marshmallow as ma
from flask import current_app
from marshmallow import fields, validate
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import RequestEntityTooLarge

from .errors import AppError, MalformedJSON, NotFound, ValidationFailed

# Text no column may hold: PostgreSQL refuses NUL in text, and a lone surrogate (a UTF-16 half,
# which JSON's \uD800 escapes can produce) cannot be encoded as UTF-8 by anything downstream.
# A paired escape (\ud83d\ude42) decodes to one character outside this range.
HOSTILE = re.compile("[\x00\ud800-\udfff]")
HOSTILE_MESSAGE = "Text must not contain NUL (U+0000) or unpaired surrogates (U+D800-U+DFFF)."
HOSTILE_NAME_MESSAGE = ("Field names must not contain NUL (U+0000) or unpaired surrogates "
                        "(U+D800-U+DFFF).")
MAX_HOSTILE_ERRORS = 50  # a body full of NULs gets a short answer, not a copy of itself


def escape_hostile(text: str) -> str:
    """`text` with NUL and lone surrogates written as \\u escapes: safe to store, log or send."""
    return HOSTILE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def hostile_text_errors(data) -> dict:
    """Field messages for every string (value or key) in parsed JSON that holds hostile text,
    nested like marshmallow's (list items under their index); {} when there is none."""
    if isinstance(data, str):
        return {"_schema": [HOSTILE_MESSAGE]} if HOSTILE.search(data) else {}
    root: dict = {}
    found = 0
    stack = [(data, root)] if isinstance(data, (dict, list)) else []
    while stack:  # a loop, not recursion: the parser allows nesting deeper than we may recurse
        node, errors = stack.pop()
        for key, child in (node.items() if isinstance(node, dict) else enumerate(node)):
            if isinstance(key, str) and HOSTILE.search(key):
                errors[escape_hostile(key)] = [HOSTILE_NAME_MESSAGE]
                found += 1
            elif isinstance(child, str):
                if HOSTILE.search(child):
                    errors[key] = [HOSTILE_MESSAGE]
                    found += 1
            elif isinstance(child, (dict, list)):
                errors[key] = {}
                stack.append((child, errors[key]))
            if found >= MAX_HOSTILE_ERRORS:
                return _prune(root)
    return _prune(root) if found else {}


def _prune(errors: dict) -> dict:
    """Drop the empty dicts the walk leaves for containers without findings."""
    pruned = {}
    for key, value in errors.items():
        if isinstance(value, dict):
            value = _prune(value)
            if not value:
                continue
        pruned[key] = value
    return pruned


def _hostile_fields(errors: dict) -> ValidationFailed:
    count = len(errors)
    return ValidationFailed(
        f"{count} field{' holds' if count == 1 else 's hold'} NUL (U+0000) or unpaired "
        "surrogate characters; see errors.", errors=errors)


def refuse_hostile_text() -> None:
    """Before any view: NUL in the path is a 404 (no code, slug or login holds one); NUL in a
    query parameter, name or value, is a 422 naming it under "query", as webargs would. Werkzeug
    decodes invalid UTF-8 in both without producing surrogates, so NUL is all that gets in."""
    if "\x00" in flask.request.path:
        raise NotFound("There is nothing at this address.")
    bad = {}
    for name, value in flask.request.args.items(multi=True):
        if "\x00" in name:
            bad[escape_hostile(name)] = [HOSTILE_NAME_MESSAGE]
        elif "\x00" in value:
            bad[name] = [HOSTILE_MESSAGE]
    if bad:
        raise _hostile_fields({"query": bad})


def register(app: flask.Flask) -> None:
    """Install the checks every request passes before its view (and before CSRF or limits)."""
    app.before_request(refuse_hostile_text)


def request_body(req: flask.Request) -> bytes:
    """The whole body, or a 413 when it is over MAX_CONTENT_LENGTH.

    Werkzeug refuses a too-large Content-Length up front, but a body without one (chunked
    transfer) is silently cut at the limit and handed over as if complete; read one byte past
    the limit from the server's stream to tell "exactly the limit" from "more than allowed".
    """
    data = req.get_data(cache=True)
    limit = req.max_content_length
    if (req.content_length is None and limit is not None and len(data) >= limit
            and req.environ["wsgi.input"].read(1)):
        raise RequestEntityTooLarge()
    return data


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class StrictParser(FlaskParser):
    """JSON bodies must be JSON, sent as JSON; unknown fields are refused everywhere."""

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "json": ma.RAISE, "form": ma.RAISE, "json_or_form": ma.RAISE,
        "query": ma.RAISE, "querystring": ma.RAISE,  # a mistyped filter must not be ignored
    }

    def _raw_load_json(self, req: flask.Request):
        if not is_json_request(req):
            # The body may be gone already (a CSRF check reads forms first): judge by the headers.
            if req.content_length or req.mimetype in FORM_TYPES or request_body(req):
                raise AppError("Send the body as JSON with 'Content-Type: application/json'.",
                               code="unsupported_media_type", status=415,
                               title="Unsupported media type")
            return core.missing
        try:
            data = core.parse_json(request_body(req))
        except RecursionError as exc:  # json.loads gives up on deep nesting
            raise MalformedJSON("The JSON body is nested too deeply.") from exc
        except ValueError as exc:
            if isinstance(exc, json.JSONDecodeError):
                raise
            # Python refuses to convert integers of more than 4,300 digits (CVE-2020-10735).
            raise MalformedJSON(f"The body is not valid JSON: {exc}.") from exc
        errors = hostile_text_errors(data)
        if errors:  # before any schema, hash or query sees the text
            raise _hostile_fields(errors)
        return data

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        reason = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
        raise MalformedJSON(f"The body is not valid JSON: {reason}.")


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictParser()


class JSONNumber(fields.Float):
    """A JSON number only: "45.5" (a string) and true are refused, not coerced."""

    default_error_messages = {"invalid": "Not a number; send a JSON number such as 45.5."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class JSONBoolean(fields.Boolean):
    """A JSON boolean only: "yes", "true" and 1 are refused, not coerced (for bodies; query
    strings, which are all text, keep marshmallow's Boolean)."""

    default_error_messages = {"invalid": "Not a boolean; send true or false."}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def unique_items(items: list) -> None:
    """A list validator: each item once."""
    repeated = sorted({str(item) for item in items if items.count(item) > 1})
    if repeated:
        raise ma.ValidationError(f"Give each item once; repeated: {', '.join(repeated)}.")


class PageArgs(ma.Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


def page_args(args: dict) -> dict:
    """page and per_page out of loaded query arguments, capped by ADAL_PAGE_SIZE_MAX."""
    return {"page": args.pop("page"),
            "per_page": min(args.pop("per_page"), current_app.config["PAGE_SIZE_MAX"])}


@lru_cache(maxsize=None)
def page_of(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """The list envelope {items, total, page, per_page} around `item_schema`."""
    return type(f"{item_schema.__name__.removesuffix('Schema')}Page", (ma.Schema,), {
        "items": fields.List(fields.Nested(item_schema)),
        "total": fields.Integer(),
        "page": fields.Integer(),
        "per_page": fields.Integer(),
    })
