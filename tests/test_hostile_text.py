"""Hostile text at the edge: NUL and lone surrogates never reach the database or a 500.

PostgreSQL refuses NUL in text (psycopg raises DataError), and a lone surrogate cannot be
encoded as UTF-8 at all (not by the driver, not by a hash, not by the error renderer). Both are
refused where the request comes in; see docs/errors.md ("Hostile text").
"""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from server.auth.models import User
from server.errors import problem
from server.extensions import db
from server.offices.models import Office
from tests import factories
from tests.problems import assert_problem


def _post_json(client, url: str, body, headers: dict | None = None):
    """POST `body` as JSON text exactly as json.dumps writes it (\\u0000, \\ud800 escapes)."""
    return client.post(url, data=json.dumps(body), content_type="application/json",
                       headers=headers or {})


# --- query strings and path segments --------------------------------------------------------

@pytest.mark.parametrize("url, name", [
    ("/api/v1/reports/ranking?period=2026H2%00", "period"),
    ("/api/v1/reports/ranking?period=2026H2&region=AST%00", "region"),
    ("/api/v1/review/queue?inspector=insp%00", "inspector"),
    ("/api/v1/review/queue?flag=gps%00", "flag"),
    ("/api/v1/offices?region=AST%00", "region"),
    ("/api/v1/reports/published?period=2026H2%00", "period"),
    ("/api/v1/review/queue?%00=1", "\\u0000"),
])
def test_nul_in_a_query_parameter_is_a_422_naming_it(client, admin_headers, url, name):
    body = assert_problem(client.get(url, headers=admin_headers), 422, "validation_failed")
    assert list(body["errors"]["query"]) == [name]
    assert "U+0000" in body["errors"]["query"][name][0]


def test_nul_in_a_public_query_parameter_is_a_422_without_sign_in(client):
    resp = client.get("/api/v1/opendata/visits.csv?period=2026H2%00")
    assert list(assert_problem(resp, 422, "validation_failed")["errors"]["query"]) == ["period"]


@pytest.mark.parametrize("url", ["/api/v1/public/reports/a%00b", "/api/v1/offices/AST%00",
                                 "/api/v1/users/ali%00ce"])
def test_nul_in_a_path_segment_is_a_404(client, admin_headers, url):
    """No slug, code or login can hold a NUL: there is nothing at such an address."""
    assert_problem(client.get(url, headers=admin_headers), 404, "not_found")


def test_nul_in_the_public_report_page_path_is_a_404_page(client):
    resp = client.get("/public/reports/a%00b", headers={"Accept": "text/html"})
    assert resp.status_code == 404
    assert resp.mimetype == "text/html"


@pytest.mark.parametrize("query", ["period=2026H2&region=AST%00", "period=2026H2%00"])
def test_nul_in_a_ranking_page_parameter_is_an_error_page(client, sign_in, query):
    """The pages read request.args themselves: the check before every view covers them."""
    sign_in("supervisor")
    resp = client.get(f"/reports/ranking?{query}", headers={"Accept": "text/html"})
    assert resp.status_code == 422
    assert resp.mimetype == "text/html"


# --- JSON bodies ---------------------------------------------------------------------------

def _office(**changes) -> dict:
    body = {"code": "AST-9", "name": factories.names("Nine"), "region": "AST",
            "kind": "service_centre", "address": "Street 9", "lat": 51.1, "lon": 71.4,
            "active": True}
    body.update(changes)
    return body


@pytest.fixture
def ast(commit):
    commit(lambda: factories.region(code="AST"))


@pytest.mark.parametrize("changes, path", [
    ({"address": "Street\u00009"}, ("address",)),
    ({"address": "Street \ud8009"}, ("address",)),
    ({"address": "\udfff"}, ("address",)),
    ({"name": {**factories.names("Nine"), "en": "Ni\u0000ne"}}, ("name", "en")),
])
def test_nul_or_a_lone_surrogate_in_a_json_value_is_a_422_naming_the_field(
        client, admin_headers, ast, count, changes, path):
    resp = _post_json(client, "/api/v1/offices", _office(**changes), admin_headers)
    errors = assert_problem(resp, 422, "validation_failed")["errors"]
    for key in path:
        errors = errors[key]
    assert "U+0000" in errors[0] or "surrogate" in errors[0]
    assert count(Office) == 0


def test_a_surrogate_in_an_unknown_field_name_is_a_422_not_a_crash(client, admin_headers, ast,
                                                                   count):
    resp = _post_json(client, "/api/v1/offices", {**_office(), "x\ud800": 1}, admin_headers)
    errors = assert_problem(resp, 422, "validation_failed")["errors"]
    assert list(errors) == ["x\\ud800"]  # the name, escaped so that it can be sent back
    assert count(Office) == 0


def test_a_nul_in_a_field_name_is_a_422(client, admin_headers, ast, count):
    resp = _post_json(client, "/api/v1/offices", {**_office(), "x\u0000": 1}, admin_headers)
    assert list(assert_problem(resp, 422, "validation_failed")["errors"]) == ["x\\u0000"]
    assert count(Office) == 0


def test_hostile_text_deep_in_a_list_names_its_place(client, admin_headers, count):
    resp = _post_json(client, "/api/v1/users",
                      {"login": "bob", "role": "inspector", "password": "long enough password",
                       "languages": ["kk", "r\u0000u"]}, admin_headers)
    errors = assert_problem(resp, 422, "validation_failed")["errors"]
    assert list(errors["languages"]) == ["1"]
    assert count(User) == 1


def test_a_paired_surrogate_escape_is_an_ordinary_character(client, admin_headers, ast,
                                                            count):
    """\\ud83d\\ude42 is one character (🙂), not hostile."""
    resp = client.post("/api/v1/offices", headers=admin_headers, content_type="application/json",
                       data=json.dumps(_office(address="Street 9 \U0001F642")))
    assert resp.status_code == 201, resp.json
    assert resp.json["address"] == "Street 9 \U0001F642"


def test_a_lone_surrogate_in_an_idempotent_request_is_refused_before_hashing(world, client,
                                                                             count):
    from server.assignments.models import Assignment

    resp = _post_json(client, "/api/v1/assignments",
                      {"office": "AST-2\ud800", "inspector": "insp2"},
                      {**world["supervisor"], "Idempotency-Key": "k-1"})
    assert_problem(resp, 422, "validation_failed")
    assert count(Assignment) == 1


def test_a_lone_surrogate_in_a_visit_body_is_refused(world, default_form, client, count):
    from server.visits.models import Visit
    from tests.visits.builders import visit_payload

    body = visit_payload(default_form, assignment=world["assignment"])
    body["device"]["app_version"] = "1.0\ud800"
    resp = _post_json(client, "/api/v1/visits", body, world["inspector"])
    errors = assert_problem(resp, 422, "validation_failed")["errors"]
    assert list(errors) == ["device"]
    assert count(Visit) == 0


# --- the error renderer and the database's own refusal -----------------------------------------

def test_problem_renders_a_lone_surrogate_without_crashing(app):
    with app.test_request_context("/api/v1/x"):
        resp = problem(422, "validation_failed", "Validation failed", "bad \ud800 detail",
                       errors={"x\ud800": ["Unknown field."]})
    body = json.loads(resp.get_data())
    assert resp.status_code == 422
    assert body["detail"] == "bad \\ud800 detail"
    assert list(body["errors"]) == ["x\\ud800"]


def test_problem_renders_a_surrogate_in_an_html_page_too(app):
    with app.test_request_context("/somewhere", headers={"Accept": "text/html"}):
        resp = problem(400, "bad_request", "Bad request", "bad \ud800")
    assert resp.status_code == 400
    assert "bad" in resp.get_data(as_text=True)


def test_a_database_data_error_is_a_400_problem(fresh_app):
    """The last line of defence: text the edge let through and the database refuses."""
    from server.offices.models import Region
    app, client = fresh_app, fresh_app.test_client()
    from server.rest import Blueprint

    blp = Blueprint("nul_probe", __name__)

    @blp.route("/api/v1/nul-probe", methods=["POST"])
    def nul_probe():
        db.session.add(Region(code="N\x00UL", name=factories.names("Nul")))
        db.session.flush()
        if db.engine.dialect.name != "postgresql":  # SQLite stores NUL: imitate PostgreSQL
            raise sa.exc.DataError("INSERT", {}, ValueError("cannot contain NUL (0x00) bytes"))
        return "stored"

    app.register_blueprint(blp)
    assert_problem(client.post("/api/v1/nul-probe"), 400, "invalid_text")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Region)) == 0


def test_another_database_data_error_is_a_400_invalid_value(fresh_app):
    from server.rest import Blueprint
    app, client = fresh_app, fresh_app.test_client()

    blp = Blueprint("range_probe", __name__)

    @blp.route("/api/v1/range-probe")
    def range_probe():
        raise sa.exc.DataError("SELECT", {}, ValueError("integer out of range"))

    app.register_blueprint(blp)
    body = assert_problem(client.get("/api/v1/range-probe"), 400, "invalid_value")
    assert "integer" not in body["detail"]  # the driver's text stays in the log
