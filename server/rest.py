"""What every API blueprint shares: the strict argument parser, list arguments, list envelopes."""
from __future__ import annotations

import json
from functools import lru_cache

import flask
import flask_smorest
import marshmallow as ma
from flask import current_app
from marshmallow import fields, validate
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import RequestEntityTooLarge

from .errors import AppError, MalformedJSON


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
            return core.parse_json(request_body(req))
        except RecursionError as exc:  # json.loads gives up on deep nesting
            raise MalformedJSON("The JSON body is nested too deeply.") from exc

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        reason = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
        raise MalformedJSON(f"The body is not valid JSON: {reason}.")


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictParser()


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
