"""API conventions: every failure is an RFC 9457 problem with a stable code; pages get HTML."""
from __future__ import annotations

import io
import json
import logging

import pytest
import sqlalchemy as sa

from server import create_app
from server.extensions import db
from server.offices.models import Region
from tests import factories
from tests.problems import assert_problem  # noqa: F401

DOWN_DATABASE = "postgresql://postgres@127.0.0.1:1/nope"
CREDENTIALS = {"login": "nobody", "password": "wrong password"}


@pytest.fixture
def make_app(tmp_path, pg_database):
    """An app like the `app` fixture's, with extra settings; views may be added before use."""
    made = []

    def make(**overrides):
        url = pg_database or f"sqlite:///{tmp_path / 'custom.sqlite3'}"
        app = create_app({"TESTING": True, "SECRET_KEY": "test-secret-key-0123456789",
                          "DATABASE_URL": url, "MEDIA_ROOT": str(tmp_path / "media"),
                          "PASSWORD_HASH_PROFILE": "CHEAPEST",
                          "RATELIMIT_STORAGE_URI": "memory://", **overrides})
        app.instance_path = str(tmp_path / "instance")
        if pg_database is None and "DATABASE_URL" not in overrides:
            with app.app_context():
                db.create_all()
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_an_unknown_api_path_is_a_404_problem(client):
    assert_problem(client.get("/api/v1/no-such-thing"), 404, "not_found")


def test_an_unknown_api_path_is_a_problem_even_for_a_browser(client):
    resp = client.get("/api/v1/no-such-thing", headers={"Accept": "text/html"})
    assert_problem(resp, 404, "not_found")


def test_a_wrong_method_is_a_405_problem_with_allow(client):
    resp = client.put("/api/v1/auth/token", json={})
    assert_problem(resp, 405, "method_not_allowed")
    assert set(resp.headers["Allow"].split(", ")) >= {"POST", "DELETE"}


def test_a_body_over_the_limit_is_a_413_problem(make_app):
    client = make_app(MAX_REQUEST_BYTES=1000).test_client()
    resp = client.post("/api/v1/auth/token", data=b'{"login": "' + b"x" * 2000 + b'"}',
                       content_type="application/json")
    body = assert_problem(resp, 413, "payload_too_large")
    assert "1000 bytes" in body["detail"]


def test_a_50_mb_json_body_is_refused_at_the_default_limit(client):
    """B21: refused from its Content-Length, before anything reads it."""
    resp = client.post("/api/v1/auth/token", data=b" " * (50 * 1024 * 1024),
                       content_type="application/json")
    assert_problem(resp, 413, "payload_too_large")


def _chunked(client, body: bytes):
    """POST without Content-Length, as a chunked upload reaches the app behind gunicorn."""
    return client.post("/api/v1/auth/token", input_stream=io.BytesIO(body),
                       headers={"Transfer-Encoding": "chunked",
                                "Content-Type": "application/json"},
                       environ_overrides={"wsgi.input_terminated": True})


def test_a_chunked_body_over_the_limit_is_a_413_not_a_truncated_body(make_app):
    """Werkzeug cuts such a body at the limit; parsing the cut part must not happen."""
    client = make_app(MAX_REQUEST_BYTES=1000).test_client()
    body = json.dumps(CREDENTIALS).encode() + b" " * 2000  # valid JSON even when cut at 1000
    assert_problem(_chunked(client, body), 413, "payload_too_large")


def test_a_chunked_body_of_exactly_the_limit_is_read(make_app):
    client = make_app(MAX_REQUEST_BYTES=1000).test_client()
    body = json.dumps(CREDENTIALS).encode().ljust(1000)
    assert_problem(_chunked(client, body), 401, "invalid_credentials")


def test_a_chunked_assignments_csv_over_the_limit_is_a_413_and_plans_nothing(app, client, world,
                                                                            count):
    """The CSV import reads its raw body: cut at the limit, the first line alone is valid."""
    from server.assignments.models import Assignment

    header = "office,inspector,form_key,form_version,window_start,window_end\n"
    line = "AST-2,insp2,service-centre-visit,1,2031-03-0{}T09:00:00Z,2031-03-0{}T18:00:00Z\n"
    first = (header + line.format(2, 3)).encode()
    app.config["MAX_CONTENT_LENGTH"] = len(first)
    resp = client.post("/api/v1/assignments/import",
                       input_stream=io.BytesIO(first + line.format(5, 6).encode()),
                       headers={**world["supervisor"], "Transfer-Encoding": "chunked",
                                "Content-Type": "text/csv"},
                       environ_overrides={"wsgi.input_terminated": True})
    assert_problem(resp, 413, "payload_too_large")
    assert count(Assignment) == 1  # the world's own


def test_malformed_json_is_a_400_problem(client):
    resp = client.post("/api/v1/auth/token", data=b'{"login": "a",',
                       content_type="application/json")
    assert_problem(resp, 400, "malformed_json")


def test_a_body_that_is_not_utf8_is_malformed_json(client):
    resp = client.post("/api/v1/auth/token", data=b'{"login": "\xff\xfe"}',
                       content_type="application/json")
    assert_problem(resp, 400, "malformed_json")


def test_json_nested_100000_deep_is_malformed_not_a_crash(client):
    """B22: the parser's recursion limit is the client's problem, not a 500."""
    deep = b"[" * 100_000 + b"]" * 100_000
    resp = client.post("/api/v1/auth/token", data=deep, content_type="application/json")
    body = assert_problem(resp, 400, "malformed_json")
    assert "deep" in body["detail"]


def test_json_nested_100000_deep_in_an_object_is_malformed_too(client):
    deep = b'{"login": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_000 + b"}"
    resp = client.post("/api/v1/auth/token", data=deep, content_type="application/json")
    assert_problem(resp, 400, "malformed_json")


def test_json_sent_as_text_plain_is_a_415_problem(client):
    resp = client.post("/api/v1/auth/token", data=b'{"login": "a", "password": "b"}',
                       content_type="text/plain")
    assert_problem(resp, 415, "unsupported_media_type")


def test_an_unknown_query_parameter_is_a_422_problem(client, admin_headers):
    """A mistyped filter must not be silently ignored (the result would look filtered)."""
    resp = client.get("/api/v1/regions?colour=red", headers=admin_headers)
    body = assert_problem(resp, 422, "validation_failed")
    assert body["errors"] == {"query": {"colour": ["Unknown field."]}}


def test_an_unknown_body_field_is_a_422_problem_naming_it(client):
    resp = client.post("/api/v1/auth/token", json={**CREDENTIALS, "role": "admin"})
    body = assert_problem(resp, 422, "validation_failed")
    assert body["errors"] == {"role": ["Unknown field."]}


SECRET_TEXT = "secret-connection-string postgresql://admin:hunter2@db/adal"


def _app_with_a_failing_view(make_app):
    app = make_app()

    @app.get("/api/v1/boom")
    def boom():
        factories.region(code="HALF")  # a change under way when the bug strikes
        raise RuntimeError(SECRET_TEXT)

    @app.get("/boom")
    def boom_page():
        raise RuntimeError(SECRET_TEXT)

    return app


def test_an_unexpected_error_is_a_500_problem_without_trace_or_message(make_app, caplog):
    app = _app_with_a_failing_view(make_app)
    with caplog.at_level(logging.ERROR, logger="server.errors"):
        resp = app.test_client().get("/api/v1/boom")
    body = assert_problem(resp, 500, "internal_error")
    text = resp.get_data(as_text=True)
    for leak in ("hunter2", "secret-connection-string", "RuntimeError", "Traceback", ".py"):
        assert leak not in text
    error_id = body["instance"].removeprefix("urn:adal:error:")
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None  # the trace is in the log, by the same id


def test_an_unexpected_error_stores_nothing(make_app):
    app = _app_with_a_failing_view(make_app)
    app.test_client().get("/api/v1/boom")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Region)) == 0


def test_an_unexpected_error_on_a_page_is_an_html_page_without_the_message(make_app):
    app = _app_with_a_failing_view(make_app)
    resp = app.test_client().get("/boom", headers={"Accept": "text/html"})
    assert resp.status_code == 500
    assert resp.mimetype == "text/html"
    assert "hunter2" not in resp.get_data(as_text=True)


def test_an_unreachable_database_is_a_503_problem_with_retry_after(make_app):
    """F5: connection refused is the database's fault, not a bug; the client may retry."""
    client = make_app(DATABASE_URL=DOWN_DATABASE).test_client()
    resp = client.post("/api/v1/auth/token", json=CREDENTIALS)
    body = assert_problem(resp, 503, "database_unavailable")
    assert int(resp.headers["Retry-After"]) > 0
    assert "127.0.0.1" not in body["detail"] and "nope" not in body["detail"]


def test_an_unreachable_database_behind_a_bearer_token_is_a_503_too(make_app):
    client = make_app(DATABASE_URL=DOWN_DATABASE).test_client()
    resp = client.get("/api/v1/regions", headers={"Authorization": "Bearer adal_whatever"})
    assert_problem(resp, 503, "database_unavailable")


def test_no_free_database_connection_is_a_503_problem_not_a_bug(make_app):
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0,
                                              "pool_timeout": 0.05})
    with app.app_context():
        engine = db.engine
    with engine.connect():  # another request holds the only connection
        resp = app.test_client().post("/api/v1/auth/token", json=CREDENTIALS)
    assert_problem(resp, 503, "database_unavailable")
    assert int(resp.headers["Retry-After"]) > 0


def test_a_page_while_the_database_is_down_is_an_html_503(make_app):
    client = make_app(DATABASE_URL=DOWN_DATABASE).test_client()
    with client.session_transaction() as session:
        # a signed-in browser: the page must look its session and user up
        session.update({"uid": 1, "pwd": "0" * 16, "sid": "some-session-secret"})
    resp = client.get("/", headers={"Accept": "text/html"})
    assert resp.status_code == 503
    assert resp.mimetype == "text/html"
    assert "database_unavailable" in resp.get_data(as_text=True)


def test_a_missing_identity_is_a_401_problem_with_www_authenticate(client):
    resp = client.get("/api/v1/regions")
    assert_problem(resp, 401, "unauthorized")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_browser_gets_an_html_error_page_outside_the_api(client):
    resp = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert resp.status_code == 404
    assert resp.mimetype == "text/html"
    assert "<html" in resp.get_data(as_text=True)


def test_a_program_asking_for_json_outside_the_api_gets_a_problem(client):
    resp = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert_problem(resp, 404, "not_found")


def test_the_openapi_spec_documents_the_api_and_bearer_auth(client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    spec = resp.get_json()
    assert spec is not None
    assert {"/api/v1/offices", "/api/v1/auth/token", "/api/v1/regions",
            "/api/v1/users"} <= spec["paths"].keys()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http",
                                                                   "scheme": "bearer"}


HUGE_INTEGER = b"1" * 5000  # past Python's 4,300-digit limit for int() of a string


@pytest.mark.parametrize("path, role", [("/api/v1/auth/token", None), ("/api/v1/visits", "inspector"),
                                        ("/api/v1/offices", "admin"), ("/api/v1/assignments", "supervisor")])
def test_an_integer_of_5000_digits_is_malformed_json_not_a_crash(client, headers_for, path, role):
    headers = headers_for(role) if role else {}
    body = b'{"login": ' + HUGE_INTEGER + b', "n": ' + HUGE_INTEGER + b"}"
    resp = client.post(path, data=body, content_type="application/json", headers=headers)
    problem = assert_problem(resp, 400, "malformed_json")
    assert "4300" in problem["detail"] or "digits" in problem["detail"]
