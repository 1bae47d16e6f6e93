"""Settings: ADAL_* parsing, the generated secret key, the default database (docs/configuration.md)."""
from __future__ import annotations

import base64
import multiprocessing
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from server import config, create_app
from server.config import ConfigError

TEST_KEY = "test-secret-key-0123456789"


@pytest.fixture
def env(monkeypatch):
    """Set ADAL_* variables for one test; the ones already set (but the test database) go."""
    for name in list(os.environ):
        if name.startswith("ADAL_") and name != "ADAL_TEST_DATABASE_URL":
            monkeypatch.delenv(name)

    def set_(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"ADAL_{key}", value)
    return set_


@pytest.fixture
def build(tmp_path):
    """create_app with a temp instance folder (no real database is opened)."""
    def make(overrides: dict | None = None):
        return create_app({"TESTING": True, "RATELIMIT_STORAGE_URI": "memory://",
                           **(overrides or {})}, instance_path=str(tmp_path / "instance"))
    return make


# --- ADAL_* parsing --------------------------------------------------------------------------

def test_an_all_digit_secret_key_stays_a_string(env, build, tmp_path):
    env(SECRET_KEY="12345678901234567890",
        DATABASE_URL=f"sqlite:///{tmp_path / 'a.sqlite3'}")
    app = build()
    assert app.config["SECRET_KEY"] == "12345678901234567890"
    assert app.test_client().get("/login").status_code == 200  # signs a CSRF token: was a 500


@pytest.mark.parametrize("key, raw", [
    ("S3_BUCKET", "2026"), ("MEDIA_ROOT", "12345"), ("LOGIN_RATE_LIMIT", "5"),
    ("DEFAULT_LANGUAGE", "en"), ("S3_ACCESS_KEY_ID", "true"), ("S3_REGION", "null"),
    ("S3_SECRET_ACCESS_KEY", '{"a": 1}'),
])
def test_text_settings_keep_the_exact_string(env, build, key, raw):
    env(SECRET_KEY=TEST_KEY, DATABASE_URL="sqlite://", **{key: raw})
    assert build().config[key] == raw


@pytest.mark.parametrize("key, raw, value", [
    ("MAX_REQUEST_BYTES", "2048", 2048),
    ("SESSION_COOKIE_SECURE", "true", True),
    ("MAX_DISTANCE_M", "150.5", 150.5),
    ("ALLOW_UNPLANNED_VISITS", "false", False),
    ("PROXY_FIX_X_FOR", "1", 1),
])
def test_numbers_and_booleans_are_parsed(env, build, key, raw, value):
    env(SECRET_KEY=TEST_KEY, DATABASE_URL="sqlite://", **{key: raw})
    got = build().config[key]
    assert got == value and type(got) is type(value)


def test_max_request_bytes_becomes_flasks_limit(env, build):
    env(SECRET_KEY=TEST_KEY, DATABASE_URL="sqlite://", MAX_REQUEST_BYTES="4096")
    assert build().config["MAX_CONTENT_LENGTH"] == 4096


@pytest.mark.parametrize("key, raw", [("MAX_REQUEST_BYTES", "lots"), ("PAGE_SIZE_MAX", "0"),
                                      ("TOKEN_TTL_DAYS", "true"), ("DEFAULT_LANGUAGE", "fr"),
                                      ("TIMEZONE", "Mars/Olympus"), ("SECRET_KEY", "short"),
                                      ("SESSION_LIFETIME_HOURS", "half a day")])
def test_a_wrong_setting_stops_the_start_naming_it(env, build, key, raw):
    env(**{"SECRET_KEY": TEST_KEY, "DATABASE_URL": "sqlite://", key: raw})
    with pytest.raises(ConfigError, match=f"ADAL_{key}"):
        build()


def test_a_secret_key_that_is_not_text_is_refused(env, build):
    env(DATABASE_URL="sqlite://")
    with pytest.raises(ConfigError, match="ADAL_SECRET_KEY"):
        build({"SECRET_KEY": 12345678901234567890})


@pytest.mark.parametrize("given, engine", [
    ("postgres://u@db/adal", "postgresql+psycopg://u@db/adal"),
    ("postgresql://u@db/adal", "postgresql+psycopg://u@db/adal"),
    ("sqlite:////srv/adal.sqlite3", "sqlite:////srv/adal.sqlite3"),
])
def test_database_urls_are_given_the_psycopg_driver(env, build, given, engine):
    env(SECRET_KEY=TEST_KEY, DATABASE_URL=given)
    assert build().config["SQLALCHEMY_DATABASE_URI"] == engine


# --- defaults derived at start-up ------------------------------------------------------------

def test_the_default_database_is_sqlite_in_the_instance_folder(env, build, tmp_path):
    env(SECRET_KEY=TEST_KEY)
    app = build()
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'instance' / 'adal.sqlite3'}"


def test_without_a_secret_key_one_is_generated_with_mode_0600(env, build, tmp_path):
    env(DATABASE_URL="sqlite://")
    key = build().config["SECRET_KEY"]
    path = tmp_path / "instance" / "secret_key"
    assert path.read_text() == key
    assert len(key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # no temp file left; the receipts' signing key is generated the same way
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret_key", "signing_key"]
    signing = path.parent / "signing_key"
    assert len(base64.b64decode(signing.read_text())) == 32
    assert stat.S_IMODE(signing.stat().st_mode) == 0o600


def test_the_generated_secret_key_is_stable_across_restarts(env, build):
    env(DATABASE_URL="sqlite://")
    assert build().config["SECRET_KEY"] == build().config["SECRET_KEY"]


def test_a_set_secret_key_writes_no_file(env, build, tmp_path):
    env(SECRET_KEY=TEST_KEY, DATABASE_URL="sqlite://")
    build()
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_a_reader_waits_for_a_key_file_another_process_is_still_writing(tmp_path):
    path = tmp_path / "secret_key"
    path.write_text("")  # created, not yet written (a key file of an older version)

    def finish():
        time.sleep(0.3)
        path.write_text("the-key-of-the-first-process")

    writer = threading.Thread(target=finish)
    writer.start()
    try:
        assert config._instance_secret(tmp_path) == "the-key-of-the-first-process"
    finally:
        writer.join()


def test_a_key_file_that_stays_empty_stops_the_start(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "SECRET_READ_ATTEMPTS", 2)
    (tmp_path / "secret_key").write_text("")
    with pytest.raises(ConfigError, match="secret_key is empty"):
        config._instance_secret(tmp_path)


def _secret_of_a_new_process(instance: str, start: float, queue) -> None:
    time.sleep(max(0.0, start - time.time()))  # all begin at the same moment
    queue.put(config._instance_secret(Path(instance)))


def test_processes_starting_together_all_get_the_same_key(tmp_path):
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    start = time.time() + 0.5
    procs = [ctx.Process(target=_secret_of_a_new_process, args=(str(tmp_path), start, queue))
             for _ in range(12)]
    for proc in procs:
        proc.start()
    keys = [queue.get(timeout=30) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    assert len(set(keys)) == 1 and keys[0]
    assert (tmp_path / "secret_key").read_text() == keys[0]
