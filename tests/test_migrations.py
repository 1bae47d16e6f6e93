"""The migrations build the schema from empty, match the models exactly, and undo cleanly."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from server import create_app
from server.config import PROJECT_ROOT
from server.extensions import db


@contextmanager
def throwaway_postgres(worker_url: str, suffix: str) -> Iterator[str]:
    """An empty PostgreSQL database named after the worker's, dropped afterwards."""
    url = make_url(worker_url)
    name = f"{url.database}_{suffix}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def scratch_postgres(suffix: str):
    """A module's throwaway PostgreSQL database (`<worker db>_<suffix>`), or None on SQLite.

    One per module, not per test: creating and dropping databases is slow on a busy server.
    `empty_database` empties it before each test.
    """
    @pytest.fixture(scope="module")
    def fixture(pg_database: str | None) -> Iterator[str | None]:
        if pg_database is None:
            yield None
            return
        with throwaway_postgres(pg_database, suffix) as url:
            yield url
    return fixture


pg_scratch = scratch_postgres("mig")


@contextmanager
def empty_database(kind: str, tmp_path, pg_scratch: str | None) -> Iterator[str]:
    """The URL of a database with nothing in it: a new SQLite file, or the emptied scratch PG."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    if pg_scratch is None:
        pytest.skip("needs PostgreSQL (set ADAL_TEST_DATABASE_URL)")
    engine = sa.create_engine(pg_scratch)
    with engine.begin() as conn:  # whatever an earlier test left, even half a migration
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    yield pg_scratch


def app_on(url: str, tmp_path):
    """An app like the `app` fixture's on `url`, with no tables created."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret-key-0123456789",
                      "DATABASE_URL": url, "MEDIA_ROOT": str(tmp_path / "media"),
                      "PASSWORD_HASH_PROFILE": "CHEAPEST", "RATELIMIT_STORAGE_URI": "memory://"})
    app.instance_path = str(tmp_path / "instance")
    return app


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_app(request, tmp_path, pg_scratch):
    """An app whose empty database was brought to the newest revision by the migrations."""
    with empty_database(request.param, tmp_path, pg_scratch) as url:
        app = app_on(url, tmp_path)
        with app.app_context():
            flask_migrate.upgrade()
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _differences(app) -> list:
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def _tables(app) -> set[str]:
    with app.app_context():
        return set(sa.inspect(db.engine).get_table_names())


def test_the_migrations_build_every_table_of_the_models(migrated_app):
    assert _tables(migrated_app) == set(db.metadata.tables) | {"alembic_version"}


def test_autogenerate_finds_no_difference_between_models_and_migrations(migrated_app):
    assert _differences(migrated_app) == []


def test_downgrade_to_base_leaves_only_alembic_version(migrated_app):
    with migrated_app.app_context():
        flask_migrate.downgrade(revision="base")
    assert _tables(migrated_app) == {"alembic_version"}


def test_upgrade_after_downgrade_rebuilds_the_same_schema(migrated_app):
    with migrated_app.app_context():
        flask_migrate.downgrade(revision="base")
        flask_migrate.upgrade()
    assert _differences(migrated_app) == []


def test_the_revisions_form_a_single_line():
    """Two heads (parallel branches merged without a merge revision) would stop `upgrade`."""
    script = ScriptDirectory(str(PROJECT_ROOT / "migrations"))
    assert len(script.get_heads()) == 1
