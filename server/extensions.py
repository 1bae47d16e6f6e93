"""Extension objects, created unbound; create_app() binds them. Imports no feature."""
from __future__ import annotations

import http
import re

import marshmallow as ma
from apispec import BasePlugin
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

PROBLEM_JSON = "application/problem+json"

# Named constraints, so migrations can alter them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ProblemSchema(ma.Schema):
    """An RFC 9457 problem, as server/errors.py renders every error (documentation only)."""

    type = ma.fields.String(required=True, metadata={
        "description": "urn:adal:problem:<code>", "example": "urn:adal:problem:not_found"})
    title = ma.fields.String(required=True, metadata={"description": "For people; may change."})
    status = ma.fields.Integer(required=True, metadata={"description": "The HTTP status."})
    detail = ma.fields.String(required=True, metadata={"description": "For people; may change."})
    code = ma.fields.String(required=True, metadata={
        "description": "Stable snake_case code for programs (docs/errors.md).",
        "example": "validation_failed"})
    errors = ma.fields.Dict(metadata={
        "description": "Field -> messages, nested like the body; query parameters under "
                       "\"query\"."})
    instance = ma.fields.String(metadata={"description": "500 only: urn:adal:error:<id>, the "
                                                         "id in the server log."})


# Python-only regex syntax, and its ECMA-262 spelling (OpenAPI patterns are ECMA regexes; "$"
# there matches only at the very end, as Python's \Z does, when the m flag is off).
_PYTHON_ONLY = [(re.compile(r"(?<!\\)((?:\\\\)*)\\Z"), r"\1$"),
                (re.compile(r"(?<!\\)((?:\\\\)*)\\A"), r"\1^"),
                (re.compile(r"\(\?P<"), "(?<"),
                (re.compile(r"\(\?P=(\w+)\)"), r"\\k<\1>")]


def ecma_pattern(pattern: str) -> str:
    """`pattern` (Python re syntax) as an ECMA-262 regex, which OpenAPI tools compile."""
    for python, ecma in _PYTHON_ONLY:
        pattern = python.sub(ecma, pattern)
    return pattern


def _ecma_patterns(self, field, ret, **kwargs) -> dict:
    """marshmallow converter attribute function: rewrite the patterns of Regexp validators."""
    if "pattern" in ret:
        return {"pattern": ecma_pattern(ret["pattern"])}
    return {}


def _status_name(status: int) -> str:
    return http.HTTPStatus(status).name


class ProblemResponses(BasePlugin):
    """Document the problems every operation can answer: 401 and 403 unless it is public
    (security: []), 404 when its path has parameters, 422 when it takes a body or arguments."""

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        for operation in (operations or {}).values():
            responses = operation.setdefault("responses", {})
            wanted = []
            if operation.get("security") != []:
                wanted += [401, 403]
            if "{" in (path or ""):
                wanted.append(404)
            if "requestBody" in operation or operation.get("parameters"):
                wanted.append(422)
            for status in wanted:
                responses.setdefault(str(status), _status_name(status))


class AdalApi(Api):
    """flask-smorest's Api, documenting our problem+json errors instead of its own Error."""

    ERROR_SCHEMA = ProblemSchema

    def _init_spec(self, *, extra_plugins=None, **options):
        super()._init_spec(extra_plugins=[*(extra_plugins or ()), ProblemResponses()],
                           **options)
        self.ma_plugin.converter.add_attribute_function(_ecma_patterns)  # after field2pattern

    def _register_responses(self):
        """Like flask-smorest's, with the error responses as application/problem+json."""
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if not 100 <= status < 200 and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Any other error: a problem with its code",
                    "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True)
api = AdalApi()
csrf = CSRFProtect()
# Limits are declared per view (login); nothing is limited by default.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
