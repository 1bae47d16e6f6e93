"""Errors: the AppError family, and RFC 9457 problem details for every failure under /api.

Programs read `code` (a stable snake_case slug, listed in docs/errors.md); people read `title` and
`detail`; `errors` maps fields to messages. HTML pages get a friendly page instead.
"""
from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from flask import Flask, Response, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from .extensions import PROBLEM_JSON, db, limiter

log = logging.getLogger(__name__)

# Stable codes for the HTTP errors Werkzeug and the extensions raise.
HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload_too_large", "Request too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("validation_failed", "Validation failed"),
    429: ("rate_limited", "Too many requests"),
    500: ("internal_error", "Internal error"),
    503: ("service_unavailable", "Service unavailable"),
}


class AppError(Exception):
    """An error a client can act on; raised by services and views, rendered as a problem."""

    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(self, detail: str | None = None, *, code: str | None = None,
                 errors: dict | None = None, status: int | None = None,
                 title: str | None = None, headers: dict | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.code = code or self.code
        self.errors = errors
        self.status = status or self.status
        self.title = title or self.title
        self.headers = headers or {}


class ValidationFailed(AppError):
    status, code, title = 422, "validation_failed", "Validation failed"


class MalformedJSON(AppError):
    status, code, title = 400, "malformed_json", "Malformed JSON"


class Unauthorized(AppError):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **kw):
        kw.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="adal"'})
        super().__init__(detail, **kw)


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(AppError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(AppError):
    status, code, title = 409, "conflict", "Conflict"


class ServiceUnavailable(AppError):
    status, code, title = 503, "service_unavailable", "Service unavailable"


def wants_json() -> bool:
    """API paths and clients that prefer JSON get problem+json; browsers get a page."""
    if request.path.startswith("/api/") or request.path == "/healthz":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json", PROBLEM_JSON])
    return best in ("application/json", PROBLEM_JSON)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _encodable(value: Any) -> Any:
    """`value` with every lone surrogate (in strings and keys) written as a \\u escape: an
    error message may quote what the client sent, and UTF-8 cannot encode a lone surrogate."""
    if isinstance(value, str):
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", value)
    if isinstance(value, dict):
        return {_encodable(k) if isinstance(k, str) else k: _encodable(v)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encodable(v) for v in value]
    return value


def problem(status: int, code: str, title: str, detail: str, *, errors: dict | None = None,
            headers: dict | None = None, extra: dict | None = None) -> Response:
    """Render one error as problem+json, or as an HTML page for browsers; never raises."""
    try:
        resp = _render_problem(status, code, _encodable(title), _encodable(detail),
                               errors=_encodable(errors), extra=_encodable(extra))
    except Exception:  # a failing error page must not turn a 4xx into an unexplained 500
        log.exception("rendering the %s problem %s failed", status, code)
        body = {"type": f"urn:adal:problem:{code}", "status": status, "code": code,
                "title": HTTP_CODES.get(status, ("", "Error"))[1],
                "detail": "The error could not be described in full."}
        resp = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return resp


def _render_problem(status: int, code: str, title: str, detail: str, *, errors: dict | None,
                    extra: dict | None) -> Response:
    if wants_json():
        body: dict[str, Any] = {"type": f"urn:adal:problem:{code}", "title": title,
                                "status": status, "detail": detail, "code": code}
        if errors:
            body["errors"] = errors
        if extra:
            body.update(extra)
        return Response(json.dumps(body, ensure_ascii=False, default=str), status=status,
                        mimetype=PROBLEM_JSON)
    html = render_template("error.html", status=status, title=title, detail=detail, code=code)
    return Response(html, status=status, mimetype="text/html")


def _handle_app_error(error: AppError) -> Response:
    return problem(error.status, error.code, error.title, error.detail, errors=error.errors,
                   headers=error.headers)


def _validation_errors(messages: dict) -> dict:
    """webargs groups messages by location; the JSON body's fields go on top, others by name."""
    errors: dict = {}
    for location, fields in messages.items():
        if location == "json" and isinstance(fields, dict):
            errors.update(fields)
        else:
            errors[location] = fields
    return errors


def _handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    code, title = HTTP_CODES.get(status, ("http_error", error.name))
    detail = error.description or title
    errors = None
    data = getattr(error, "data", None) or {}
    if "messages" in data:  # webargs / flask-smorest validation
        errors = _validation_errors(data["messages"])
        count = len(errors)
        detail = f"{count} field{'s' if count != 1 else ''} did not validate; see errors."
    headers = {}
    if status == 405 and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    if status == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        detail = (f"The request body is larger than the {limit} bytes allowed here. "
                  "Send media through the resumable upload endpoint /api/v1/uploads.")
    if status == 429:
        detail = f"Too many requests ({error.description}); wait and try again."
        current = limiter.current_limit
        retry = int(current.reset_at - time.time()) + 1 if current is not None else 60
        headers["Retry-After"] = str(max(1, retry))
    if status == 404 and request.path.startswith("/api/"):
        detail = "There is nothing at this address, or you may not see it."
    return problem(status, code, title, detail, errors=errors, headers=headers)


def _handle_csrf(error: CSRFError) -> Response:
    return problem(400, "csrf_failed", "CSRF check failed",
                   f"{error.description} Reload the page and try again.")


def _rollback_quietly() -> None:
    try:
        db.session.rollback()
    except Exception:  # the error being answered matters more than a failed rollback
        log.exception("rollback while handling an error failed")


def _handle_database_down(error: Exception) -> Response:
    log.error("database unavailable: %s", error)
    _rollback_quietly()
    return problem(503, "database_unavailable", "Database unavailable",
                   "The database cannot be reached; nothing was changed. Try again shortly.",
                   headers={"Retry-After": "5"})


def _handle_pool_exhausted(error: Exception) -> Response:
    # Every pooled connection is in use for longer than the pool timeout: overload, not a bug.
    log.error("no free database connection: %s", error)
    _rollback_quietly()
    return problem(503, "database_unavailable", "Database unavailable",
                   "The server has no free database connection right now; nothing was changed. "
                   "Try again shortly.", headers={"Retry-After": "5"})


def _handle_data_error(error: DataError) -> Response:
    # The database refused a value the checks before it let through (last line of defence):
    # the client's input, not our failure. The message names neither table nor value.
    log.warning("database refused a value on %s %s: %s", request.method, request.path,
                error.orig)
    _rollback_quietly()
    if "NUL" in str(error.orig):
        return problem(400, "invalid_text", "Invalid text",
                       "Text must not contain NUL (U+0000); nothing was changed.")
    return problem(400, "invalid_value", "Invalid value",
                   "The database refused a value of this request (out of range or of the "
                   "wrong form); nothing was changed.")


def _handle_unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return _handle_http_exception(error)
    error_id = uuid.uuid4().hex
    log.exception("unexpected error %s on %s %s", error_id, request.method, request.path)
    _rollback_quietly()
    return problem(500, "internal_error", "Internal error",
                   f"Something went wrong on our side; nothing was changed. Error id {error_id}.",
                   extra={"instance": f"urn:adal:error:{error_id}"})


def register(app: Flask) -> None:
    """Install the handlers; they replace flask-smorest's own HTTPException handler."""
    app.register_error_handler(AppError, _handle_app_error)
    app.register_error_handler(CSRFError, _handle_csrf)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(OperationalError, _handle_database_down)
    app.register_error_handler(InterfaceError, _handle_database_down)
    app.register_error_handler(PoolTimeout, _handle_pool_exhausted)
    app.register_error_handler(DataError, _handle_data_error)
    app.register_error_handler(Exception, _handle_unexpected)
