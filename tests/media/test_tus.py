"""tus 1.0 as Adal speaks it: headers, creation, offsets, checksums, expiry, termination, and a
real third-party client (tuspy) over HTTP, including an upload that is interrupted and resumed."""
from __future__ import annotations

import base64
import hashlib
import os
import socket
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from tusclient.client import TusClient

from server.db import utcnow
from server.extensions import db
from server.media import service
from server.media.models import Upload
from tests.test_conventions import assert_problem

from .conftest import OCTETS, TUS, Tus, jpeg_bytes, metadata

KiB = 1024


def assert_head_status(resp, status: int) -> None:
    """A HEAD answer has no body to carry the problem: status and type only."""
    assert resp.status_code == status
    assert resp.headers["Content-Type"] == "application/problem+json"
    assert resp.data == b""


def _row(app, url: str) -> Upload:
    with app.app_context():
        row = db.session.get(Upload, url.rsplit("/", 1)[1])
        db.session.expunge(row)
        return row


def _spool(app, url: str):
    with app.app_context():
        return service.spool_path(url.rsplit("/", 1)[1])


# ---- discovery and headers ------------------------------------------------------------------


def test_options_tells_version_extensions_size_and_checksums_without_auth(client):
    resp = client.options("/api/v1/uploads")
    assert resp.status_code == 204
    assert resp.headers["Tus-Version"] == "1.0.0"
    assert set(resp.headers["Tus-Extension"].split(",")) == {
        "creation", "expiration", "checksum", "termination"}
    assert resp.headers["Tus-Max-Size"] == str(1024 ** 3)
    assert set(resp.headers["Tus-Checksum-Algorithm"].split(",")) == {"sha1", "sha256"}
    assert resp.headers["Tus-Resumable"] == "1.0.0"


def test_a_request_without_tus_resumable_is_412(client, inspector_headers):
    resp = client.post("/api/v1/uploads", headers={**inspector_headers, "Upload-Length": "10"})
    assert_problem(resp, 412, "tus_version_unsupported")
    assert resp.headers["Tus-Version"] == "1.0.0"


def test_another_tus_version_is_412(client, inspector_headers):
    resp = client.post("/api/v1/uploads", headers={**inspector_headers, "Upload-Length": "10",
                                                   "Tus-Resumable": "0.2.2"})
    assert_problem(resp, 412, "tus_version_unsupported")


def test_errors_carry_tus_resumable_too(tus):
    resp = tus.create(10, headers={"Upload-Length": "ten"})
    assert_problem(resp, 400, "bad_header")
    assert resp.headers["Tus-Resumable"] == "1.0.0"


def test_creation_needs_a_bearer_token(client):
    resp = client.post("/api/v1/uploads", headers={**TUS, "Upload-Length": "10"})
    assert_problem(resp, 401, "unauthorized")


# ---- creation -------------------------------------------------------------------------------


def test_creation_answers_201_with_location_and_expiry(tus, app):
    resp = tus.create(100, filename="photo.jpg", filetype="image/jpeg")
    assert resp.status_code == 201
    upload_id = resp.headers["Location"].rsplit("/", 1)[1]
    assert len(upload_id) >= 32 and resp.headers["Location"].startswith("http")
    assert "GMT" in resp.headers["Upload-Expires"]
    row = _row(app, resp.headers["Location"])
    assert (row.length, row.offset, row.filename, row.filetype) == (100, 0, "photo.jpg",
                                                                    "image/jpeg")


def test_creation_without_upload_length_is_400(tus):
    resp = tus.client.post("/api/v1/uploads", headers=tus.headers)
    assert_problem(resp, 400, "missing_header")


def test_deferred_length_is_refused(tus):
    resp = tus.client.post("/api/v1/uploads",
                           headers={**tus.headers, "Upload-Defer-Length": "1"})
    assert_problem(resp, 400, "deferred_length_unsupported")


def test_a_2_gb_upload_is_413_at_creation_and_nothing_allocated(tus, app, count):
    """B17."""
    resp = tus.create(2 * 1024 ** 3)
    assert_problem(resp, 413, "upload_too_large")
    assert resp.headers["Tus-Max-Size"] == str(1024 ** 3)
    assert count(Upload) == 0
    with app.app_context():
        assert not list(service.spool_dir().glob("*.part"))


def test_an_empty_file_is_422_empty_file_at_creation(tus, count):
    """B4: a zero-length upload is complete at creation, and empty."""
    assert_problem(tus.create(0, filename="x.jpg"), 422, "empty_file")
    assert count(Upload) == 0


def test_malformed_metadata_is_400(tus):
    resp = tus.create(10, headers={"Upload-Metadata": "filename not-base64!"})
    assert_problem(resp, 400, "bad_upload_metadata")


def test_a_client_sha256_that_is_not_hex_is_400(tus):
    assert_problem(tus.create(10, sha256="xyz"), 400, "bad_upload_metadata")


def test_metadata_is_decoded_and_a_bare_key_allowed(tus, app):
    resp = tus.create(10, headers={"Upload-Metadata": metadata(filename="a.jpg") + ",secret"})
    row = _row(app, resp.headers["Location"])
    assert row.meta == {"filename": "a.jpg", "secret": ""}


@pytest.mark.parametrize("raw, shown", [
    ("../../etc/passwd", "passwd"),                      # B14: a display name, never a path
    ("..\\..\\x.jpg", "x.jpg"),
    ("фото 1.jpg", "фото 1.jpg"),                        # B15
    ("\U0001F642.png", "\U0001F642.png"),
    ("evil\u202egpj.exe", "evilgpj.exe"),                # RTL override stripped
    ("a\x00.php.jpg", "a.php.jpg"),                      # control characters stripped
    ("e\u0301.jpg", "\u00e9.jpg"),                       # NFC
])
def test_filenames_are_kept_as_clean_display_names(tus, app, raw, shown):
    resp = tus.create(10, filename=raw)
    assert resp.status_code == 201
    assert _row(app, resp.headers["Location"]).filename == shown


def test_a_10_kb_filename_is_cut_to_255_bytes_of_utf8(tus, app):
    resp = tus.create(10, filename="я" * 5000 + ".jpg")
    name = _row(app, resp.headers["Location"]).filename
    assert len(name.encode("utf-8")) <= 255 and set(name) == {"я"}


# ---- HEAD and PATCH -------------------------------------------------------------------------


def test_head_tells_offset_length_and_forbids_caching(tus):
    url = tus.new(100)
    resp = tus.head(url)
    assert resp.status_code == 200
    assert (resp.headers["Upload-Offset"], resp.headers["Upload-Length"]) == ("0", "100")
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.data == b""


def test_head_returns_the_metadata_given_at_creation(tus):
    url = tus.new(100, filename="a.jpg")
    assert tus.head(url).headers["Upload-Metadata"] == metadata(filename="a.jpg")


def test_patch_appends_and_moves_the_offset(tus, app):
    url = tus.new(100)
    resp = tus.patch(url, 0, b"x" * 40)
    assert resp.status_code == 204
    assert resp.headers["Upload-Offset"] == "40"
    assert tus.offset(url) == 40
    assert _spool(app, url).read_bytes() == b"x" * 40


def test_patch_with_another_content_type_is_415(tus):
    url = tus.new(100)
    resp = tus.client.patch(url, data=b"x", headers={**tus.headers, "Upload-Offset": "0",
                                                     "Content-Type": "application/octet-stream"})
    assert_problem(resp, 415, "unsupported_media_type")
    assert tus.offset(url) == 0


def test_patch_without_upload_offset_is_400(tus):
    url = tus.new(100)
    resp = tus.client.patch(url, data=b"x", headers={**tus.headers, "Content-Type": OCTETS})
    assert_problem(resp, 400, "missing_header")


def test_patch_at_a_wrong_offset_is_409_and_the_offset_unchanged(tus):
    """B35."""
    url = tus.new(100)
    tus.patch(url, 0, b"a" * 10)
    resp = tus.patch(url, 5, b"b" * 10)
    assert_problem(resp, 409, "offset_mismatch")
    assert resp.headers["Upload-Offset"] == "10"
    assert tus.offset(url) == 10


def test_a_chunk_past_upload_length_is_413_and_nothing_kept(tus, app):
    url = tus.new(10)
    tus.patch(url, 0, b"a" * 4)
    assert_problem(tus.patch(url, 4, b"b" * 7), 413, "upload_past_length")
    assert tus.offset(url) == 4
    assert _spool(app, url).read_bytes() == b"a" * 4


def test_a_chunked_body_past_upload_length_is_413_and_nothing_kept(tus, app):
    """Without Content-Length the server counts while reading."""
    url = tus.new(10)
    resp = tus.client.patch(
        url, input_stream=__import__("io").BytesIO(b"c" * 20),
        headers={**tus.headers, "Upload-Offset": "0", "Content-Type": OCTETS,
                 "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True})
    assert_problem(resp, 413, "upload_past_length")
    assert tus.offset(url) == 0
    assert _spool(app, url).stat().st_size == 0


def test_a_chunk_ending_exactly_at_upload_length_is_taken_from_a_terminated_stream(tus):
    """gunicorn marks its input terminated; the last chunk ends exactly at the length."""
    data = jpeg_bytes()
    url = tus.new(len(data))
    resp = tus.client.patch(url, data=data, headers={
        **tus.headers, "Upload-Offset": "0", "Content-Type": OCTETS},
        environ_overrides={"wsgi.input_terminated": True})
    assert resp.status_code == 204


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
def test_a_chunk_with_a_right_checksum_is_kept(tus, algorithm):
    url = tus.new(100)
    digest = base64.b64encode(hashlib.new(algorithm, b"z" * 30).digest()).decode()
    resp = tus.patch(url, 0, b"z" * 30, Upload_Checksum=f"{algorithm} {digest}")
    assert resp.status_code == 204
    assert tus.offset(url) == 30


def test_a_chunk_with_a_wrong_checksum_is_460_discarded_offset_unchanged(tus, app):
    """B36."""
    url = tus.new(100)
    tus.patch(url, 0, b"a" * 10)
    digest = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    resp = tus.patch(url, 10, b"b" * 10, Upload_Checksum=f"sha256 {digest}")
    assert_problem(resp, 460, "checksum_mismatch")
    assert tus.offset(url) == 10
    assert _spool(app, url).read_bytes() == b"a" * 10


def test_an_unsupported_checksum_algorithm_is_400(tus):
    url = tus.new(100)
    resp = tus.patch(url, 0, b"a", Upload_Checksum="md5 DMF1ucDxtqgxw5niaXcmYQ==")
    assert_problem(resp, 400, "checksum_algorithm_unsupported")
    assert tus.offset(url) == 0


def test_a_duplicate_chunk_after_a_lost_response_is_409_then_head_recovers(tus):
    """F8: the first PATCH landed but its answer was lost; the re-sent one is refused."""
    url = tus.new(100)
    assert tus.patch(url, 0, b"a" * 25).status_code == 204
    assert_problem(tus.patch(url, 0, b"a" * 25), 409, "offset_mismatch")
    offset = tus.offset(url)
    assert tus.patch(url, offset, b"b" * 25).status_code == 204
    assert tus.offset(url) == 50


def test_bytes_past_the_durable_offset_are_dropped_on_the_next_patch(tus, app):
    """F1: a process killed after writing but before committing leaves extra bytes in the
    spool file; HEAD answers the durable offset and the next chunk goes right after it."""
    url = tus.new(100)
    tus.patch(url, 0, b"a" * 10)
    with _spool(app, url).open("ab") as fh:
        fh.write(b"GARBAGE" * 3)
    assert tus.offset(url) == 10
    assert tus.patch(url, 10, b"b" * 5).status_code == 204
    assert _spool(app, url).read_bytes() == b"a" * 10 + b"b" * 5


def test_another_users_upload_is_404_for_head_patch_and_delete(tus, client, headers_for):
    url = tus.new(100)
    other = Tus(client, headers_for("inspector"))
    assert_head_status(other.head(url), 404)
    assert_problem(other.patch(url, 0, b"x"), 404, "upload_not_found")
    assert_problem(client.delete(url, headers=other.headers), 404, "upload_not_found")
    admin = Tus(client, headers_for("admin"))
    assert_head_status(admin.head(url), 404)
    assert tus.offset(url) == 0


def test_an_unknown_upload_is_404(tus):
    assert_head_status(tus.head("/api/v1/uploads/" + "A" * 43), 404)


def test_an_upload_busy_with_another_request_is_423(tus, app):
    url = tus.new(100)
    with app.app_context(), service.upload_lock(url.rsplit("/", 1)[1]):
        assert_problem(tus.patch(url, 0, b"x"), 423, "upload_locked")
    assert tus.patch(url, 0, b"x").status_code == 204


# ---- expiration and termination ----------------------------------------------------------


def _expire(app, url: str) -> None:
    with app.app_context():
        db.session.execute(sa.update(Upload).where(Upload.id == url.rsplit("/", 1)[1])
                           .values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()


def test_an_expired_upload_is_410_for_head_and_patch(tus, app):
    """F15."""
    url = tus.new(100)
    tus.patch(url, 0, b"a" * 10)
    _expire(app, url)
    assert_head_status(tus.head(url), 410)
    assert_problem(tus.patch(url, 10, b"b"), 410, "upload_expired")


def test_each_chunk_pushes_the_expiry_back(tus, app):
    url = tus.new(100)
    before = _row(app, url).expires_at
    tus.patch(url, 0, b"a")
    assert _row(app, url).expires_at > before


def test_termination_removes_the_partial_data(tus, app):
    url = tus.new(100)
    tus.patch(url, 0, b"a" * 10)
    resp = tus.client.delete(url, headers=tus.headers)
    assert resp.status_code == 204
    assert not _spool(app, url).exists()
    assert_head_status(tus.head(url), 404)
    assert _row(app, url).state == "terminated"  # the row stays, as a record


def test_termination_needs_tus_resumable(tus):
    url = tus.new(100)
    headers = {k: v for k, v in tus.headers.items() if k != "Tus-Resumable"}
    assert_problem(tus.client.delete(url, headers=headers), 412, "tus_version_unsupported")


# ---- real HTTP ------------------------------------------------------------------------------


def _cut_patch(base: str, path: str, token_headers: dict, offset: int, declared: int,
               sent: bytes, extra: dict | None = None) -> None:
    """Send a PATCH that announces `declared` bytes, send only `sent`, and hang up (F7)."""
    host, port = urlsplit(base).hostname, urlsplit(base).port
    headers = {**token_headers, **TUS, "Upload-Offset": str(offset), "Content-Type": OCTETS,
               "Content-Length": str(declared), **(extra or {})}
    head = f"PATCH {path} HTTP/1.1\r\nHost: {host}:{port}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection((host, port)) as sock:
        sock.sendall(head.encode() + sent)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(5)
        try:
            while sock.recv(4096):
                pass
        except OSError:
            pass


def test_a_cut_connection_keeps_what_arrived_and_the_upload_resumes(app, live_server, tus):
    """F7 without a checksum: the bytes that arrived are kept; HEAD tells where to resume."""
    base = live_server(app)
    url = tus.new(1000)
    _cut_patch(base, url, {"Authorization": tus.headers["Authorization"]}, 0, 1000,
               b"a" * 300)
    offset = tus.offset(url)
    assert offset == 300
    assert tus.patch(url, offset, b"b" * 100).status_code == 204
    assert _spool(app, url).read_bytes() == b"a" * 300 + b"b" * 100


def test_a_cut_connection_with_a_checksum_drops_the_chunk(app, live_server, tus):
    """F7 with a checksum: a partial chunk cannot be verified, so none of it is kept."""
    base = live_server(app)
    url = tus.new(1000)
    digest = base64.b64encode(hashlib.sha1(b"a" * 1000).digest()).decode()
    _cut_patch(base, url, {"Authorization": tus.headers["Authorization"]}, 0, 1000,
               b"a" * 300, {"Upload-Checksum": f"sha1 {digest}"})
    assert tus.offset(url) == 0
    assert _spool(app, url).stat().st_size == 0


def test_tuspy_options_and_head_work_against_a_live_server(app, live_server, inspector_headers):
    base = live_server(app)
    client = TusClient(base + "/api/v1/uploads", headers=inspector_headers)
    uploader = client.uploader(file_stream=__import__("io").BytesIO(os.urandom(10)),
                               chunk_size=4)
    uploader.upload_chunk()
    assert uploader.get_offset() == 4


def test_a_full_spool_disk_is_507_and_keeps_nothing_of_the_chunk(tus, app, monkeypatch):
    """F6: ENOSPC while writing a chunk — a clear 507, the offset and the bytes as before."""
    import errno
    import io

    from server.media import tus as tus_module

    url = tus.new(100)
    tus.patch(url, 0, b"a" * 10)

    class FullDisk(io.FileIO):
        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tus_module, "open", lambda path, mode, **kw: FullDisk(path, "r+"),
                        raising=False)
    resp = tus.patch(url, 10, b"b" * 20)
    assert_problem(resp, 507, "spool_full")
    assert resp.headers["Retry-After"]
    monkeypatch.undo()
    assert tus.offset(url) == 10
    assert _spool(app, url).read_bytes() == b"a" * 10
    assert tus.patch(url, 10, b"b" * 20).status_code == 204  # once there is room, it goes on


# ---- a completion killed after storing, before its commit -----------------------------------


def _crash_after_storing(app, tus, data: bytes, last: int) -> str:
    """All but the last `last` bytes sent; then the state a process killed inside completion
    leaves on the local backend: the whole file spooled and hard-linked into originals/, no
    row, the offset before the last chunk."""
    url = tus.new(len(data))
    assert tus.patch(url, 0, data[:-last]).status_code == 204
    path = _spool(app, url)
    with open(path, "r+b") as fh:
        fh.seek(len(data) - last)
        fh.write(data[-last:])
        fh.flush()
        os.fsync(fh.fileno())
    with app.app_context():
        service.default_storage().save_file(
            service.original_key(hashlib.sha256(data).hexdigest()), path)
    assert path.stat().st_nlink == 2
    return url


def _original(app, data: bytes):
    with app.app_context():
        return service.default_storage().path_for(
            service.original_key(hashlib.sha256(data).hexdigest()))


@pytest.mark.one_backend  # hard links: the local backend
def test_the_last_chunk_again_after_a_crash_during_completion_completes(tus, app, count):
    """Not 423 until expiry: the linked spool is compared with the chunk, not written."""
    from server.media.models import MediaObject

    data = jpeg_bytes(width=200, height=100, seed=31)
    url = _crash_after_storing(app, tus, data, last=300)
    assert count(MediaObject) == 0
    resp = tus.patch(url, len(data) - 300, data[-300:])
    assert resp.status_code == 204, resp.get_data(as_text=True)
    assert resp.headers["Adal-Media-Sha256"] == hashlib.sha256(data).hexdigest()
    assert count(MediaObject) == 1
    assert _row(app, url).state == "completed"
    assert _original(app, data).read_bytes() == data
    assert not _spool(app, url).exists()


@pytest.mark.one_backend  # hard links: the local backend
def test_after_a_crash_during_completion_smaller_chunks_are_compared_too(tus, app):
    data = jpeg_bytes(width=200, height=100, seed=32)
    url = _crash_after_storing(app, tus, data, last=300)
    start = len(data) - 300
    assert tus.patch(url, start, data[start:start + 100]).status_code == 204
    assert tus.offset(url) == start + 100
    assert _spool(app, url).stat().st_nlink == 2  # never written to
    assert tus.patch(url, start + 100, data[start + 100:]).status_code == 204
    assert _row(app, url).state == "completed"
    assert _original(app, data).read_bytes() == data


@pytest.mark.one_backend  # hard links: the local backend
def test_after_a_crash_other_bytes_go_to_a_new_spool_and_the_stored_file_is_untouched(tus,
                                                                                       app):
    """Recovery: the spool gets a file of its own; the linked original keeps its bytes."""
    photo = jpeg_bytes(width=200, height=100, seed=33)
    data, other = photo + b"A" * 300, photo + b"B" * 300  # bytes after the JPEG's end are kept
    url = _crash_after_storing(app, tus, data, last=400)
    resp = tus.patch(url, len(data) - 400, other[-400:])
    assert resp.status_code == 204, resp.get_data(as_text=True)
    assert resp.headers["Adal-Media-Sha256"] == hashlib.sha256(other).hexdigest()
    assert _original(app, data).read_bytes() == data
    assert _original(app, other).read_bytes() == other


@pytest.mark.one_backend  # hard links: the local backend
def test_a_linked_spool_that_does_not_hold_the_whole_upload_is_copied_and_goes_on(tus, app):
    url = tus.new(100)
    assert tus.patch(url, 0, b"a" * 10).status_code == 204
    path = _spool(app, url)
    elsewhere = path.parent / "elsewhere"
    os.link(path, elsewhere)
    assert tus.patch(url, 10, b"b" * 20).status_code == 204
    assert path.read_bytes() == b"a" * 10 + b"b" * 20
    assert path.stat().st_nlink == 1
    assert elsewhere.read_bytes() == b"a" * 10  # the other name of the old file kept its bytes


@pytest.mark.one_backend  # hard links: the local backend
def test_a_checksum_mismatch_on_a_linked_spool_leaves_it_as_it_was(tus, app):
    data = jpeg_bytes(width=200, height=100, seed=35)
    url = _crash_after_storing(app, tus, data, last=300)
    digest = base64.b64encode(hashlib.sha1(b"nope").digest()).decode()
    resp = tus.patch(url, len(data) - 300, data[-300:], Upload_Checksum=f"sha1 {digest}")
    assert_problem(resp, 460, "checksum_mismatch")
    assert _spool(app, url).read_bytes() == data
    assert tus.patch(url, len(data) - 300, data[-300:]).status_code == 204


# ---- a real kill ------------------------------------------------------------------------------


_SERVE = """
import sys
from werkzeug.serving import run_simple
from server import create_app
run_simple("127.0.0.1", int(sys.argv[1]), create_app(), threaded=True)
"""
_PREPARE = """
from server import create_app
from server.extensions import db
from server.auth import service
from server.auth.models import Role
app = create_app()
with app.app_context():
    db.create_all()
    user = service.create_user(login="killed", role=Role.INSPECTOR,
                               password="killed password 1", display_name="Killed")
    secret, _ = service.issue_token(user=user)
    db.session.commit()
    print(secret)
"""


def _start_server(env: dict, port: int):
    import subprocess
    import sys
    import time

    import requests

    proc = subprocess.Popen([sys.executable, "-c", _SERVE, str(port)], env=env,
                            cwd=service.__file__.rsplit("/server/", 1)[0],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        assert proc.poll() is None, "the server exited at start-up"
        try:
            requests.options(f"http://127.0.0.1:{port}/api/v1/uploads", timeout=5)
            return proc
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the server did not start")


@pytest.mark.one_backend  # a server process of its own, on the local backend
def test_a_server_killed_mid_patch_resumes_with_tuspy_and_stores_the_exact_bytes(tmp_path):
    """SIGKILL while a chunk streams in; a new server process; HEAD gives the last durable
    offset; tuspy resumes from there; the stored original has the file's SHA-256."""
    import io
    import signal
    import subprocess
    import sys
    import time

    import requests

    from .conftest import wav_bytes

    data = wav_bytes(seconds=200)  # 3.2 MB
    env = {**os.environ, "ADAL_DATABASE_URL": f"sqlite:///{tmp_path / 'adal.sqlite3'}",
           "ADAL_SECRET_KEY": "kill-test-secret-key-0123456789",
           "ADAL_MEDIA_ROOT": str(tmp_path / "media"),
           "ADAL_UPLOAD_SPOOL": str(tmp_path / "spool"),
           "ADAL_PASSWORD_HASH_PROFILE": "CHEAPEST"}
    root = service.__file__.rsplit("/server/", 1)[0]
    token = subprocess.run([sys.executable, "-c", _PREPARE], env=env, cwd=root, check=True,
                           capture_output=True, text=True).stdout.strip().splitlines()[-1]
    auth = {"Authorization": f"Bearer {token}"}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    proc = _start_server(env, port)
    try:
        resp = requests.post(base + "/api/v1/uploads", headers={
            **auth, **TUS, "Upload-Length": str(len(data)),
            "Upload-Metadata": metadata(filename="voice.wav")})
        assert resp.status_code == 201
        url = resp.headers["Location"]
        path = urlsplit(url).path
        first = 1024 * 1024
        resp = requests.patch(url, data=data[:first], headers={
            **auth, **TUS, "Upload-Offset": "0", "Content-Type": OCTETS})
        assert resp.status_code == 204
        # The next chunk announces the rest, sends part of it, and the server dies meanwhile.
        head = (f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: {auth['Authorization']}\r\nTus-Resumable: 1.0.0\r\n"
                f"Upload-Offset: {first}\r\nContent-Type: {OCTETS}\r\n"
                f"Content-Length: {len(data) - first}\r\n\r\n").encode()
        spool = tmp_path / "spool" / f"{path.rsplit('/', 1)[1]}.part"
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(head + data[first:first + 1024 * 1024])
            for _ in range(100):  # until the server has written some of it
                if spool.stat().st_size > first:
                    break
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        assert spool.stat().st_size > first  # bytes past the durable offset were on disk
        proc = _start_server(env, port)
        resp = requests.head(url, headers={**auth, **TUS})
        assert resp.status_code == 200
        assert int(resp.headers["Upload-Offset"]) == first
        uploader = TusClient(base + "/api/v1/uploads", headers=auth).uploader(
            file_stream=io.BytesIO(data), url=url, chunk_size=512 * 1024)
        assert uploader.offset == first
        uploader.upload()
        resp = requests.head(url, headers={**auth, **TUS})
        sha = hashlib.sha256(data).hexdigest()
        assert resp.headers["Adal-Media-Sha256"] == sha
        stored = tmp_path / "media" / "originals" / sha[:2] / sha[2:4] / sha
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == sha
    finally:
        proc.kill()
        proc.wait(10)


@pytest.mark.one_backend  # the spool only
def test_a_spool_given_a_new_file_stays_locked_by_the_request_that_holds_it(tus, app):
    """`SpoolLock.unshare` renames a new file over the spool: it is locked before it is seen."""
    url = tus.new(100)
    assert tus.patch(url, 0, b"a" * 10).status_code == 204
    upload_id = url.rsplit("/", 1)[1]
    with app.app_context(), service.upload_lock(upload_id) as spool:
        before = os.stat(spool.path).st_ino
        spool.unshare(10)
        assert os.stat(spool.path).st_ino != before
        assert spool.path.read_bytes() == b"a" * 10
        assert_problem(tus.patch(url, 10, b"b"), 423, "upload_locked")
    assert tus.patch(url, 10, b"b").status_code == 204
    assert _spool(app, url).read_bytes() == b"a" * 10 + b"b"
