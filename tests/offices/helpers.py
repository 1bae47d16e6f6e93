"""Plain helpers for the office tests: request bodies and problem assertions."""
from __future__ import annotations

from tests import factories
from tests.problems import assert_problem  # noqa: F401

OFFICE_KEYS = {"code", "name", "region", "kind", "address", "lat", "lon", "active"}
LANGS = ("kk", "ru", "en", "uz")


def office_body(**overrides) -> dict:
    """A valid POST /api/v1/offices body for region AST; `overrides` replace fields."""
    body = {"code": "AST-1", "name": factories.names("Office One"), "region": "AST",
            "kind": "service_centre", "address": "Astana, Mangilik El 55",
            "lat": 51.1283, "lon": 71.4304, "active": True}
    body.update(overrides)
    return body


PROBLEM = "application/problem+json"


def name_errors(errors: dict) -> dict:
    """The per-language messages under errors["name"]: {"uz": [...]}."""
    return errors["name"]
