"""Failed-sign-in limits on the real Redis (docs/configuration.md: ADAL_RATELIMIT_STORAGE_URI).

With several app processes the counters must be shared; memory:// counts per process. These
tests run a second app process beside the test's app, on one database and one
Redis at 127.0.0.1:6379, which .ci/run starts; they are skipped when no Redis answers there.
(Two apps in one process would prove nothing: the limiter object is global to the process.)
"""
from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa

from server import create_app
from server.config import PROJECT_ROOT
from server.extensions import db
from tests import factories
from tests.auth import assert_problem

redis = pytest.importorskip("redis", reason="the redis package (requirements.txt) is needed")

REDIS_URL = "redis://127.0.0.1:6379/0"
TOKEN = "/api/v1/auth/token"
# One prefix per test process: Flask-Limiter keeps the first non-empty prefix it is given.
PREFIX = f"adal-test-{uuid.uuid4().hex}"

# What another app process does: the same settings, a few failed sign-ins, their statuses.
OTHER_PROCESS = """
import json, sys
from server import create_app
from server.config import PROJECT_ROOT
url, prefix, instance, times = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
app = create_app({"TESTING": True, "SECRET_KEY": "test-secret-key-0123456789",
                  "DATABASE_URL": url, "PASSWORD_HASH_PROFILE": "CHEAPEST",
                  "RATELIMIT_STORAGE_URI": %r, "RATELIMIT_KEY_PREFIX": prefix},
                 instance_path=instance)
client = app.test_client()
print(json.dumps([client.post("/api/v1/auth/token", json={"login": "alice",
                  "password": "not the password"}).status_code for _ in range(times)]))
""" % REDIS_URL


def _redis_or_skip() -> "redis.Redis":
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"no Redis at {REDIS_URL} ({exc}); .ci/run starts one")
    return client


def _our_keys(server) -> list:
    return list(server.scan_iter(f"*{PREFIX}*"))


@pytest.fixture
def redis_app(tmp_path, pg_database):
    """An app counting in Redis under this process's prefix, emptied before and after; alice
    exists. Yields (app, database URL)."""
    server = _redis_or_skip()
    for key in _our_keys(server):
        server.delete(key)
    url = pg_database or f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret-key-0123456789",
                      "DATABASE_URL": url, "PASSWORD_HASH_PROFILE": "CHEAPEST",
                      "MEDIA_ROOT": str(tmp_path / "media"),
                      "RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": PREFIX},
                     instance_path=str(tmp_path / "instance"))
    with app.app_context():
        if pg_database is None:
            db.create_all()
        factories.user(role="inspector", login="alice")
        db.session.commit()
    yield app, url
    for key in _our_keys(server):
        server.delete(key)
    with app.app_context():
        db.session.remove()
        if pg_database is not None:
            names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            db.session.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            db.session.commit()
        db.engine.dispose()


def _fail(app, login: str = "alice"):
    return app.test_client().post(TOKEN, json={"login": login, "password": "not the password"})


def test_the_limiter_counts_failures_in_redis(redis_app):
    app, _ = redis_app
    assert _fail(app).status_code == 401
    keys = {key.decode() for key in _our_keys(_redis_or_skip())}
    assert any("login-account" in key for key in keys), keys
    assert any("login-address" in key for key in keys), keys


def test_failures_in_another_process_count_towards_the_same_limit(redis_app, tmp_path):
    app, url = redis_app
    other = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS, url, PREFIX, str(tmp_path / "other"), "6"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(other.stdout.strip().splitlines()[-1]) == [401] * 6
    for _ in range(4):
        assert _fail(app).status_code == 401
    resp = _fail(app)  # the 11th failure, counted by two processes
    assert_problem(resp, 429, "rate_limited")
    assert int(resp.headers["Retry-After"]) > 0


def test_a_lone_surrogate_in_the_login_never_reaches_redis(redis_app):
    """Redis keys are UTF-8: the per-login key of such a request must still be writable."""
    app, _ = redis_app
    resp = app.test_client().post(TOKEN, data='{"login": "al\\ud800ice", "password": "x"}',
                                  content_type="application/json")
    assert_problem(resp, 422, "validation_failed")
