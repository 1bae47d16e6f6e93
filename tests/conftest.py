"""Fixtures: an app per test on a clean database, a client, a CLI runner, signed-in users.

SQLite (the default): a new database file per test, copied from a schema built once per test
process. PostgreSQL (ADAL_TEST_DATABASE_URL): one database per xdist worker, schema created once,
the tables a test wrote to emptied after it. Emptying rather than a rolled-back outer
transaction lets tests commit for real, which the concurrency tests need (see docs/testing.md,
"Speed", for what each of these choices saves).
"""
from __future__ import annotations

import copy
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings
from sqlalchemy.engine import make_url

from server import create_app
from server.extensions import db, limiter
from server.media.storage import build_storages
from tests import factories

PG_URL = os.environ.get("ADAL_TEST_DATABASE_URL", "")

# No Hypothesis deadlines: a deadline is a timed assertion, and on a shared, loaded machine an
# example that takes 380 ms once fails a test about statistics (speed is measured in bench/).
settings.register_profile("adal", deadline=None)
settings.load_profile("adal")


@sa.event.listens_for(sa.Engine, "connect")
def _no_waiting_for_the_disk(dbapi_connection, _record) -> None:
    """Test databases are thrown away: commits need not wait for the disk (fsync).

    SQLite: PRAGMA synchronous=OFF; PostgreSQL: synchronous_commit=off for the session. Neither
    changes what a transaction sees, locks or commits (journal mode, isolation and locking are
    untouched); only durability against a power cut, which no test is about. Every engine of
    the test process gets it, including the apps tests build themselves."""
    module = type(dbapi_connection).__module__
    if module == "sqlite3":
        dbapi_connection.execute("PRAGMA synchronous=OFF")
    elif module.startswith("psycopg"):
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        dbapi_connection.execute("SET synchronous_commit TO off")
        dbapi_connection.autocommit = autocommit


_COMMITS = [0]  # commits on any engine of this process (see `world`)


@sa.event.listens_for(sa.Engine, "commit")
def _count_commit(_connection) -> None:
    _COMMITS[0] += 1


def _worker_database_url(worker: str) -> str:
    """The PostgreSQL database this xdist worker owns, created empty."""
    url = make_url(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{url.database}_{worker}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _worker_id(config: pytest.Config) -> str:
    """The xdist worker's id ("gw0", ...), or "master" without xdist (-n 0, -p no:xdist)."""
    workerinput = getattr(config, "workerinput", None)
    return workerinput["workerid"] if workerinput else "master"


_DIRTY_TABLES: list[str] = []  # the query of _dirty_tables_sql(), built once per process


@pytest.fixture(scope="session")
def pg_database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The worker's PostgreSQL URL with the schema in place, or None on SQLite."""
    if not PG_URL:
        yield None
        return
    url = _worker_database_url(_worker_id(request.config))
    app = create_app({"TESTING": True, "SECRET_KEY": "x" * 32, "DATABASE_URL": url})
    with app.app_context():
        db.create_all()
        _DIRTY_TABLES[:] = [_dirty_tables_sql()]
        db.session.remove()
        db.engine.dispose()
    yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory, pg_database) -> Path | None:
    """A SQLite file with the schema built (create_all) once per test process; each test's
    database is a copy of it. None on PostgreSQL."""
    if pg_database is not None:
        return None
    path = tmp_path_factory.mktemp("schema") / "template.sqlite3"
    app = create_app({"TESTING": True, "SECRET_KEY": "x" * 32, "DATABASE_URL": f"sqlite:///{path}"})
    with app.app_context():
        db.create_all()
        db.session.remove()
        db.engine.dispose()
    return path


_SEQUENCES: dict[str, list[str]] = {}  # table -> its id sequences, found once per process


def _dirty_tables_sql() -> str:
    """One query naming the tables that hold rows or whose id sequence has moved: the ones a
    test wrote to. (A sequence moves even when the rows were deleted again.)"""
    parts = []
    for table in db.metadata.sorted_tables:
        parts.append(f"SELECT '{table.name}' WHERE EXISTS (SELECT 1 FROM \"{table.name}\")")
        for column in table.columns:
            sequence = db.session.scalar(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                                         {"t": f'"{table.name}"', "c": column.name})
            if sequence:
                _SEQUENCES.setdefault(table.name, []).append(sequence)
                parts.append(f"SELECT '{table.name}' WHERE (SELECT is_called FROM {sequence})")
    return " UNION ".join(parts)


def _empty_all_tables() -> None:
    """Empty every table a test wrote to (one query finds them) and restart its sequences.

    DELETE with foreign-key triggers off (session_replication_role, the superuser the tests
    run as) rather than TRUNCATE: on these small tables TRUNCATE costs ~40-60 ms per test in
    new files and fsyncs, DELETE ~5 ms (docs/testing.md "Speed")."""
    dirty = db.session.scalars(sa.text(_DIRTY_TABLES[0])).all()
    if dirty:
        statements = ["SET LOCAL session_replication_role = replica"]
        statements += [f'DELETE FROM "{name}"' for name in dirty]
        statements += [f"SELECT setval('{sequence}', 1, false)" for name in dirty
                       for sequence in _SEQUENCES.get(name, [])]
        db.session.connection().exec_driver_sql("; ".join(statements))
    db.session.commit()


class _ReusedApp:
    """One app per test process, put back before every test as create_app() left it.

    Building an app costs ~80 ms of CPU (flask-smorest documenting every view, Werkzeug
    compiling the URL rules), which over ~3,000 tests was a third of the suite. What a test can
    change on an app, and how it is put back:
    - the database: SQLite, the one file of this process is replaced by a copy of the schema
      template (connections closed first); PostgreSQL, the tables a test wrote to are emptied,
      as before;
    - config: restored from a deep copy taken after create_app();
    - app.extensions: keys a test (or lazy code, e.g. the receipt-key cache) added are removed;
      the storages are rebuilt on this test's media folder;
    - the instance folder and media root: this test's own tmp_path, as before;
    - the limiter's counters: reset (memory storage).
    A test that must add views or hooks builds an app of its own (`fresh_app`): Flask refuses
    them on an app that has served a request."""

    def __init__(self, app, sqlite_file: Path | None) -> None:
        self.app = app
        self.sqlite_file = sqlite_file
        self.config = copy.deepcopy(dict(app.config))
        self.extensions = dict(app.extensions)
        self.commits_at_prepare = -1
        self.world: dict | None = None  # `world`'s answer, once its database file is kept

    def prepare(self, tmp_path: Path, sqlite_template: Path | None) -> None:
        app = self.app
        app.config.clear()
        app.config.update(copy.deepcopy(self.config))
        app.config["MEDIA_ROOT"] = str(tmp_path / "media")
        app.instance_path = str(tmp_path / "instance")
        for key in set(app.extensions) - set(self.extensions):
            del app.extensions[key]
        app.extensions.update(self.extensions)
        app.extensions["adal_storages"] = build_storages(app.config)
        limiter.reset()
        if self.sqlite_file is not None:
            self.replace_database(sqlite_template)
        self.commits_at_prepare = _COMMITS[0]

    def replace_database(self, source: Path) -> None:
        """SQLite: this process's database file becomes a copy of `source` (the engine's
        connections must be closed)."""
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{self.sqlite_file}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(source, self.sqlite_file)

    @property
    def untouched(self) -> bool:
        """SQLite, and nothing committed since prepare(): the database is still the template."""
        return self.sqlite_file is not None and _COMMITS[0] == self.commits_at_prepare

    def close_connections(self) -> None:
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()

    def clean(self, pg: bool) -> None:
        with self.app.app_context():
            db.session.remove()
            if pg:
                _empty_all_tables()
            db.engine.dispose()


def _app_settings(url: str, tmp_path: Path) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-0123456789",
        "DATABASE_URL": url,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "PASSWORD_HASH_PROFILE": "CHEAPEST",
        "RATELIMIT_STORAGE_URI": "memory://",
    }


@pytest.fixture(scope="session")
def _reused_app(tmp_path_factory, pg_database) -> _ReusedApp:
    folder = tmp_path_factory.mktemp("app")
    sqlite_file = None if pg_database else folder / "adal.sqlite3"
    url = pg_database or f"sqlite:///{sqlite_file}"
    app = create_app(_app_settings(url, folder), instance_path=str(folder / "instance"))
    return _ReusedApp(app, sqlite_file)


@pytest.fixture
def app(tmp_path, pg_database, sqlite_template, _reused_app):
    """The app on an empty database; media and instance folder under the test's own folder."""
    _reused_app.prepare(tmp_path, sqlite_template)
    yield _reused_app.app
    _reused_app.clean(pg_database is not None)


@pytest.fixture
def fresh_app(tmp_path, pg_database, sqlite_template):
    """An app of this test's own, for tests that register views or hooks on it."""
    if pg_database is None:
        shutil.copyfile(sqlite_template, tmp_path / "adal.sqlite3")
    url = pg_database or f"sqlite:///{tmp_path / 'adal.sqlite3'}"
    app = create_app(_app_settings(url, tmp_path), instance_path=str(tmp_path / "instance"))
    yield app
    with app.app_context():
        db.session.remove()
        if pg_database is not None:
            _empty_all_tables()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def commit(app) -> Callable:
    """Run `fn` in an app context and commit: for data an API test needs to exist."""
    def run(fn: Callable, *args, **kwargs):
        with app.app_context():
            result = fn(*args, **kwargs)
            db.session.commit()
            return result
    return run


@pytest.fixture
def headers_for(commit) -> Callable[..., dict]:
    """Bearer headers of a new user with `role` (admin, supervisor, inspector)."""
    def make(role: str = "admin", **user_kw) -> dict:
        def create():
            user = factories.user(role=role, **user_kw)
            return factories.token_for(user)
        return {"Authorization": f"Bearer {commit(create)}"}
    return make


@pytest.fixture
def admin_headers(headers_for) -> dict:
    return headers_for("admin")


@pytest.fixture
def supervisor_headers(headers_for) -> dict:
    return headers_for("supervisor")


@pytest.fixture
def inspector_headers(headers_for) -> dict:
    return headers_for("inspector")


@pytest.fixture
def count(app) -> Callable[[type], int]:
    """Rows of a model, read in a context of its own (what another request would see)."""
    def rows(model) -> int:
        with app.app_context():
            return db.session.scalar(sa.select(sa.func.count()).select_from(model))
    return rows


DEFAULT_FORM = "survey_forms/service_centre_visit.v1.yaml"


@pytest.fixture
def world(app, commit, _reused_app):
    """A region, an office, an inspector and a supervisor with tokens, the default checklist
    published, and an open assignment for the inspector whose window covers now.

    On SQLite it is built once per test process: its database file is kept, and a later test
    whose database is still untouched gets a copy of that file instead of a new build (~0.1 s
    of CPU for ~1,000 tests). A test that wrote anything first gets a build of its own."""
    reused = _reused_app if app is _reused_app.app else None
    world_file = reused.sqlite_file.with_name("world.sqlite3") if reused and reused.sqlite_file \
        else None
    if reused and reused.world is not None and reused.untouched:
        reused.close_connections()
        reused.replace_database(world_file)
        return copy.deepcopy(reused.world)
    keep = reused is not None and reused.world is None and reused.untouched
    from datetime import timedelta
    from pathlib import Path

    from server.assignments.models import Assignment
    from server.config import PROJECT_ROOT
    from server.db import utcnow
    from server.forms.service import publish_file

    def build():
        version, _ = publish_file(path=Path(PROJECT_ROOT) / DEFAULT_FORM)
        office = factories.office(code="AST-1", lat=51.1283, lon=71.4304)
        other_office = factories.office(code="AST-2", region=office.region, lat=51.18, lon=71.41)
        inspector = factories.user(role="inspector", login="insp")
        other = factories.user(role="inspector", login="insp2")
        supervisor = factories.user(role="supervisor", login="sup")
        admin = factories.user(role="admin", login="adm")
        now = utcnow()
        assignment = Assignment(office=office, inspector=inspector, form_version=version,
                                window_start=now - timedelta(days=3),
                                window_end=now + timedelta(days=3))
        db.session.add(assignment)
        db.session.flush()
        return {
            "version_id": version.id, "office": office.code, "other_office": other_office.code,
            "assignment": assignment.id,
            "inspector": {"Authorization": f"Bearer {factories.token_for(inspector)}"},
            "other_inspector": {"Authorization": f"Bearer {factories.token_for(other)}"},
            "supervisor": {"Authorization": f"Bearer {factories.token_for(supervisor)}"},
            "admin": {"Authorization": f"Bearer {factories.token_for(admin)}"},
        }
    built = commit(build)
    if keep:
        reused.close_connections()
        shutil.copyfile(reused.sqlite_file, world_file)
        reused.world = copy.deepcopy(built)
    return built


@pytest.fixture
def default_form():
    """The default checklist, compiled (pure; no database)."""
    from server.config import PROJECT_ROOT
    from server.forms.loader import load_form_file
    from server.scoring.rules import CompiledForm

    return CompiledForm(load_form_file(PROJECT_ROOT / DEFAULT_FORM))


@pytest.fixture
def sign_in(client, commit):
    """Sign the test client in to the pages as a new user with `role` (session cookie and its
    server-side session, as /login makes them); keyword arguments go to the user."""
    def run(role: str, **kw) -> None:
        values = commit(lambda: factories.browser_session(factories.user(role=role, **kw)))
        with client.session_transaction() as session:
            session.update(values)
    return run
