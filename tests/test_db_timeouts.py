"""Issue 12 (2): a database that is reachable but does not answer must not hang requests. Every
PostgreSQL connection has a bounded connect, TCP keepalives, tcp_user_timeout and a statement
timeout; requests then get 503 problem+json with Retry-After, /healthz answers fast."""
from __future__ import annotations

import socket
import threading
import time

import pytest
import sqlalchemy as sa

from server import create_app
from server.extensions import db
from tests.problems import assert_problem


@pytest.fixture
def blackhole():
    """A TCP port that accepts connections and never says a word (a hung database host)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def _app(tmp_path, url, **overrides):
    return create_app({"TESTING": True, "SECRET_KEY": "test-secret-key-0123456789",
                       "DATABASE_URL": url, "MEDIA_ROOT": str(tmp_path / "media"),
                       "PASSWORD_HASH_PROFILE": "CHEAPEST", "RATELIMIT_STORAGE_URI": "memory://",
                       **overrides})


def test_every_postgresql_connection_carries_the_timeouts(tmp_path):
    app = _app(tmp_path, "postgresql://adal@db.invalid/adal", DB_STATEMENT_TIMEOUT_MS=4000,
               DB_TCP_TIMEOUT_MS=8000, DB_CONNECT_TIMEOUT=3)
    args = app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]
    assert args["connect_timeout"] == 3 and args["tcp_user_timeout"] == 8000
    assert args["keepalives"] == 1
    assert "statement_timeout=4000" in args["options"]


def test_a_hung_database_host_gives_a_fast_503_with_retry_after(tmp_path, blackhole):
    app = _app(tmp_path, f"postgresql://adal@127.0.0.1:{blackhole}/adal", DB_CONNECT_TIMEOUT=1)
    client = app.test_client()
    started = time.monotonic()
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json["checks"]["database"] == "unavailable"
    resp = client.post("/api/v1/auth/token", json={"login": "a", "password": "b" * 12})
    assert_problem(resp, 503, "database_unavailable")
    assert resp.headers["Retry-After"]
    assert time.monotonic() - started < 10  # bounded by the connect timeout, not the OS's


@pytest.mark.postgres
def test_a_statement_stuck_behind_a_lock_ends_in_503_and_changes_nothing(tmp_path, pg_database,
                                                                        admin_headers, app):
    if not pg_database:
        pytest.skip("needs PostgreSQL (ADAL_TEST_DATABASE_URL)")
    slow = _app(tmp_path, pg_database, DB_STATEMENT_TIMEOUT_MS=300)
    client = slow.test_client()
    with app.app_context():
        locker = db.engine.connect()
        transaction = locker.begin()
        locker.execute(sa.text("LOCK TABLE offices IN ACCESS EXCLUSIVE MODE"))
        try:
            started = time.monotonic()
            resp = client.get("/api/v1/offices", headers=admin_headers)
            assert_problem(resp, 503, "database_unavailable")
            assert resp.headers["Retry-After"]
            assert time.monotonic() - started < 5
        finally:
            transaction.rollback()
            locker.close()
    assert client.get("/api/v1/offices", headers=admin_headers).status_code == 200
