"""A worker SIGKILLed during an upload's completion (issue 12, item 10), for real: the app runs
under gunicorn in a subprocess, a failpoint (server/failpoints.py, armed through a file) holds
or kills the worker at the worst moments, and gunicorn's master starts a new one.

Whatever the moment, afterwards: no media row without its file, no half-written object under a
key, the upload still resumable from its last durable offset, and resuming stores it once. The
temporary files a killed store leaves are removed by `adal media sweep`."""
from __future__ import annotations

import base64
import hashlib
import os
import shutil
import signal
import threading
import time

import pytest
import requests
import sqlalchemy as sa

from server import create_app
from server.extensions import db
from server.media import service
from server.media.models import MediaObject, Upload
from tests import factories

from .conftest import S3_KEYS, jpeg_bytes
from .faults import Gunicorn, wait_until

TUS = {"Tus-Resumable": "1.0.0"}


class Live:
    """The gunicorn server, the failpoints file it reads, and an app on the same database and
    folders for looking at what it stored."""

    def __init__(self, folder, sqlite_template, **extra):
        self.folder = folder
        self.points = folder / "failpoints"
        self.points.write_text("")
        self.media = folder / "media"
        self.spool = folder / "spool"
        database = folder / "adal.sqlite3"
        settings = {"DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "k" * 32,
                    "MEDIA_ROOT": str(self.media), "UPLOAD_SPOOL": str(self.spool),
                    "SIGNING_KEY": base64.b64encode(b"s" * 32).decode(), **extra}
        if sqlite_template is not None:
            shutil.copyfile(sqlite_template, database)
        self.app = create_app({"TESTING": True, **settings},
                              instance_path=str(folder / "instance"))
        with self.app.app_context():
            db.create_all()
            token = factories.token_for(factories.user(role="inspector"))
            db.session.commit()
        self.headers = {"Authorization": f"Bearer {token}", **TUS}
        self.server = Gunicorn({f"ADAL_{k}": v for k, v in settings.items()}
                               | {"ADAL_FAILPOINTS_FILE": str(self.points)}, workdir=folder)
        self.url = self.server.url

    def arm(self, text: str = "") -> None:
        self.points.write_text(text)

    def create(self, length: int) -> str:
        resp = requests.post(self.url + "/api/v1/uploads", timeout=10,
                             headers={**self.headers, "Upload-Length": str(length)})
        assert resp.status_code == 201, resp.text
        return resp.headers["Location"]

    def patch(self, location: str, offset: int, data: bytes) -> requests.Response:
        return requests.patch(location, data=data, timeout=20, headers={
            **self.headers, "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream"})

    def offset(self, location: str) -> int:
        resp = requests.head(location, headers=self.headers, timeout=10)
        assert resp.status_code == 200, resp.status_code
        return int(resp.headers["Upload-Offset"])

    def rows(self, sha: str | None = None) -> list[tuple[str, str]]:
        """(sha256, storage key) of the media rows (of this content)."""
        query = sa.select(MediaObject.sha256, MediaObject.storage_key)
        if sha:
            query = query.where(MediaObject.sha256 == sha)
        with self.app.app_context():
            rows = db.session.execute(query)
            result = [tuple(r) for r in rows]
            db.session.remove()
            return result

    def temporaries(self) -> list[str]:
        return sorted(p.name for root in (self.media, self.spool) for p in root.rglob(".*")
                      if p.name.startswith((".tmp-", ".work-")))

    def check_every_row_has_its_file(self) -> None:
        with self.app.app_context():
            for media in db.session.scalars(sa.select(MediaObject)):
                with service.storage_named(media.storage_backend).open(media.storage_key) as fh:
                    assert hashlib.sha256(fh.read()).hexdigest() == media.sha256
            db.session.remove()

    def stored(self, key: str) -> bool:
        with self.app.app_context():
            return service.default_storage().exists(key)

    def restart_worker_after_kill(self, pid: int) -> None:
        wait_until(lambda: self.server.worker_pids() and pid not in self.server.worker_pids(),
                   what="a new worker")
        wait_until(self.server.ready, what="the new worker to answer")


def _stop(server: Live) -> None:
    server.server.stop()
    with server.app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def live(tmp_path_factory, sqlite_template):
    server = Live(tmp_path_factory.mktemp("live"), sqlite_template)
    yield server
    _stop(server)


@pytest.fixture(scope="module")
def live_s3(tmp_path_factory, sqlite_template, moto):
    """The same on the S3 backend (moto over HTTP, in this test process)."""
    server = Live(tmp_path_factory.mktemp("live-s3"), sqlite_template,
                  MEDIA_BACKEND="s3", S3_ENDPOINT_URL=moto.url, S3_BUCKET=moto.new_bucket(),
                  **S3_KEYS)
    yield server
    _stop(server)


def _send_all_but(live, data: bytes, last: int) -> str:
    location = live.create(len(data))
    assert live.patch(location, 0, data[:-last]).status_code == 204
    return location


@pytest.mark.parametrize("store", ["local", "s3"])
def test_a_worker_killed_after_storing_before_its_commit_leaves_a_resumable_upload(
        request, store):
    """The worst moment: the original stored, the rows flushed, not committed (derivatives
    come later, from a job enqueued by that commit). The worker is held there by a `block`
    failpoint and SIGKILLed from outside."""
    live = request.getfixturevalue("live" if store == "local" else "live_s3")
    data = jpeg_bytes(width=320, height=240, seed=91)
    sha = hashlib.sha256(data).hexdigest()
    location = _send_all_but(live, data, 1000)
    live.arm("media.completion_stored=block\n")
    [pid] = live.server.worker_pids()
    answer = {}
    sender = threading.Thread(target=lambda: answer.update(
        resp=_patch_or_error(live, location, len(data) - 1000, data[-1000:])))
    sender.start()
    wait_until(lambda: live.stored(service.original_key(sha)), what="the original stored")
    os.kill(pid, signal.SIGKILL)
    sender.join(10)
    assert isinstance(answer["resp"], Exception)  # the connection died with the worker
    live.arm("")  # before the new worker starts: /healthz stores a probe too
    live.restart_worker_after_kill(pid)
    assert live.rows(sha) == []  # nothing committed
    assert live.offset(location) == len(data) - 1000  # resumable from its durable offset
    resp = live.patch(location, len(data) - 1000, data[-1000:])
    assert resp.status_code == 204, resp.text
    assert resp.headers["Adal-Media-Sha256"] == sha
    assert live.rows(sha) == [(sha, service.original_key(sha))]
    live.check_every_row_has_its_file()
    with live.app.app_context():
        assert service.orphan_objects() == []


def test_a_worker_killed_while_writing_an_object_leaves_no_half_object(live):
    """Killed with the original written to a temporary file, before its rename: nothing under
    the key; the upload resumes; the sweep removes the temporary file, and the derivatives'
    work folders the kills left, once they are stale."""
    data = jpeg_bytes(width=320, height=240, seed=92)
    sha = hashlib.sha256(data).hexdigest()
    location = _send_all_but(live, data, 700)
    live.arm("local.save_written=kill\n")
    [pid] = live.server.worker_pids()
    assert isinstance(_patch_or_error(live, location, len(data) - 700, data[-700:]), Exception)
    live.arm("")  # before the new worker starts: /healthz stores a probe too
    live.restart_worker_after_kill(pid)
    assert not (live.media / service.original_key(sha)).exists()
    left = live.temporaries()
    assert any(name.startswith(".tmp-") for name in left), left
    assert live.rows(sha) == []
    assert live.offset(location) == len(data) - 700
    resp = live.patch(location, len(data) - 700, data[-700:])
    assert resp.status_code == 204, resp.text
    assert live.rows(sha) == [(sha, service.original_key(sha))]
    live.check_every_row_has_its_file()
    # The sweep leaves fresh temporaries (another worker may be writing them), removes stale ones.
    result = live.app.test_cli_runner().invoke(args=["adal", "media", "sweep"])
    assert result.exit_code == 0, result.output
    assert live.temporaries() == left
    old = time.time() - 2 * 3600
    for root in (live.media, live.spool):
        for path in [*root.rglob(".tmp-*"), *root.rglob(".work-*"), *root.rglob(".work-*/*")]:
            os.utime(path, (old, old))
    result = live.app.test_cli_runner().invoke(args=["adal", "media", "sweep"])
    assert f"Removed {len(left)} temporary file(s)" in result.output, result.output
    assert live.temporaries() == []
    live.check_every_row_has_its_file()


def test_a_full_spool_in_a_real_server_is_507_problem_json(live):
    data = jpeg_bytes(seed=93)
    location = live.create(len(data))
    assert live.patch(location, 0, data[:100]).status_code == 204
    live.arm("tus.spool_write=enospc\n")
    resp = live.patch(location, 100, data[100:])
    assert resp.status_code == 507
    assert resp.headers["Content-Type"] == "application/problem+json"
    assert resp.json()["code"] == "spool_full"
    live.arm("")
    assert live.offset(location) == 100
    assert live.patch(location, 100, data[100:]).status_code == 204


def _patch_or_error(live, location, offset, data):
    try:
        return live.patch(location, offset, data)
    except requests.RequestException as exc:
        return exc


def test_every_upload_of_this_module_completed_once_with_its_file(live):
    """After the kills and resumes: each upload completed, pointing at a row whose file is
    whole; no row without its file, no object without its row."""
    with live.app.app_context():
        uploads = db.session.execute(sa.select(Upload.state, Upload.media_id)).all()
        db.session.remove()
    assert uploads and all(str(state) in ("completed", "UploadState.COMPLETED") and media
                           for state, media in uploads), uploads
    live.check_every_row_has_its_file()
    with live.app.app_context():
        assert service.orphan_objects() == []
