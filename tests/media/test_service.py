"""Completion: what a finished upload becomes (stored once, byte-identical, or refused with
nothing kept), on the local disk and on S3, and what happens when S3 is down."""
from __future__ import annotations

import hashlib
import io
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from tusclient.client import TusClient

from server.audit.models import AuditEvent
from server.db import utcnow
from server.extensions import db
from server.media import completion, service
from server.media.models import MediaDerivative, MediaObject, Upload
from tests.test_conventions import assert_problem

from .conftest import Tus, jpeg_bytes, s3_settings, wav_bytes


def _stored_bytes(app, sha: str) -> bytes:
    with app.app_context():
        media = db.session.scalar(sa.select(MediaObject).where(MediaObject.sha256 == sha))
        with service.storage_named(media.storage_backend).open(media.storage_key) as fh:
            return fh.read()


def _keys(app) -> list[str]:
    with app.app_context():
        return sorted(k for s in service.storages().values()
                      for p in ("originals/", "derivatives/") for k in s.keys(p))


def _upload(app, url: str) -> Upload:
    with app.app_context():
        row = db.session.get(Upload, url.rsplit("/", 1)[1])
        db.session.expunge(row)
        return row


# ---- stored -------------------------------------------------------------------------------


def test_a_completed_upload_stores_the_original_byte_identical(backend_app, inspector_headers):
    """On local disk and on S3: same bytes, same SHA-256, under the content address."""
    data = jpeg_bytes(seed=3)
    sha = hashlib.sha256(data).hexdigest()
    resp = Tus(backend_app.test_client(), inspector_headers).send(data, chunk=1000,
                                                                  filename="a.jpg")
    assert resp.status_code == 204, resp.get_data(as_text=True)
    assert resp.headers["Adal-Media-Sha256"] == sha
    assert resp.headers["Upload-Offset"] == str(len(data))
    assert _stored_bytes(backend_app, sha) == data
    assert f"originals/{sha[:2]}/{sha[2:4]}/{sha}" in _keys(backend_app)


def test_a_stored_photo_gets_a_row_with_its_facts_and_derivatives(tus, app, backend):
    resp = tus.send(jpeg_bytes(width=640, height=480))
    sha = resp.headers["Adal-Media-Sha256"]
    with app.app_context():
        media = db.session.scalar(sa.select(MediaObject).where(MediaObject.sha256 == sha))
        assert (media.kind, media.content_type, media.width, media.height) == (
            "photo", "image/jpeg", 640, 480)
        assert media.storage_backend == backend and media.status == "ready"
        assert {d.name for d in media.derivatives} == {"thumbnail", "preview"}
        assert all(d.storage_key.startswith(f"derivatives/{sha}/") for d in media.derivatives)


def test_completion_marks_the_upload_and_drops_its_spool(tus, app):
    url = tus.new(len(data := jpeg_bytes()))
    tus.patch(url, 0, data)
    row = _upload(app, url)
    assert (row.state, row.offset, row.media_id is not None) == ("completed", len(data), True)
    assert row.completed_at is not None
    with app.app_context():
        assert not service.spool_path(row.id).exists()


def test_completion_is_on_the_audit_log(tus, app):
    sha = tus.send(jpeg_bytes(), filename="door.jpg").headers["Adal-Media-Sha256"]
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "media_stored"))
        assert event.object_id == sha
        assert event.payload["filename"] == "door.jpg" and event.payload["new"] is True


def test_the_same_bytes_twice_are_stored_once(tus, app, count):
    data = jpeg_bytes(seed=5)
    first = tus.send(data)
    second = tus.send(data)
    assert second.status_code == 204
    assert second.headers["Adal-Media-Sha256"] == first.headers["Adal-Media-Sha256"]
    assert count(MediaObject) == 1
    with app.app_context():
        uploads = db.session.scalars(sa.select(Upload)).all()
        assert len({u.media_id for u in uploads}) == 1 and len(uploads) == 2


def test_the_same_bytes_from_two_inspectors_give_each_a_completed_upload(client, app,
                                                                          headers_for, count):
    data = jpeg_bytes(seed=6)
    for _ in range(2):
        assert Tus(client, headers_for("inspector")).send(data).status_code == 204
    assert count(MediaObject) == 1
    with app.app_context():
        assert len(set(db.session.scalars(sa.select(Upload.owner_id)))) == 2


def test_a_matching_client_sha256_is_accepted(tus):
    data = jpeg_bytes()
    resp = tus.send(data, sha256=hashlib.sha256(data).hexdigest().upper())
    assert resp.status_code == 204


def test_an_audio_file_is_stored_with_its_duration(tus, app):
    sha = tus.send(wav_bytes(seconds=1.0)).headers["Adal-Media-Sha256"]
    with app.app_context():
        media = db.session.scalar(sa.select(MediaObject).where(MediaObject.sha256 == sha))
        assert media.kind == "audio" and media.duration == pytest.approx(1.0, abs=0.05)


# Every file in ../shared/samples/photos, with what is known of it: (content type, stored width
# and height (upright), GPS (lat, lon) or None, capture time or None). The GPS positions are the
# ones the camera wrote (Nikon Coolpix samples, Tuscany), read independently of Adal.
SAMPLE_FACTS = {
    "Canon_40D.jpg": ("image/jpeg", (100, 68), None, datetime(2008, 5, 30, 15, 56, 1)),
    "DSCN0010.jpg": ("image/jpeg", (640, 480), (43.467448, 11.885127),
                     datetime(2008, 10, 22, 16, 28, 39)),
    "DSCN0012.jpg": ("image/jpeg", (640, 480), (43.467157, 11.885395),
                     datetime(2008, 10, 22, 16, 29, 49)),
    "landscape_6.jpg": ("image/jpeg", (600, 450), None, None),  # EXIF orientation 6
    "portrait_5.jpg": ("image/jpeg", (450, 600), None, None),  # EXIF orientation 5
    "samplefilehub.heif": ("image/heic", (640, 426), None, None),
}


def test_sample_photos_keep_their_exif_facts(tus, app, sample_photos):
    """Every sample photo, through tus: its type, upright size, GPS and capture time."""
    assert sorted(p.name for p in sample_photos) == sorted(SAMPLE_FACTS)  # a new sample: add it
    for path in sample_photos:
        resp = tus.send(path.read_bytes(), filename=path.name)
        assert resp.status_code == 204, (path.name, resp.get_data(as_text=True))
        content_type, size, gps, captured = SAMPLE_FACTS[path.name]
        with app.app_context():
            row = db.session.scalar(sa.select(MediaObject).where(
                MediaObject.sha256 == resp.headers["Adal-Media-Sha256"]))
            assert (row.kind, row.content_type, (row.width, row.height)) == (
                "photo", content_type, size), path.name
            if gps is None:
                assert (row.gps_status, row.gps_lat, row.gps_lon) == ("absent", None, None)
            else:
                assert row.gps_status == "valid", path.name
                assert (row.gps_lat, row.gps_lon) == pytest.approx(gps, abs=1e-5), path.name
            expected = captured.replace(tzinfo=timezone.utc) if captured else None
            assert row.captured_at == expected, path.name
            thumb = next(d for d in row.derivatives if d.name == "thumbnail")
            assert max(thumb.width, thumb.height) == min(320, max(size))
            assert (thumb.width > thumb.height) == (size[0] > size[1]), path.name


# ---- refused ------------------------------------------------------------------------------


def _assert_nothing_stored(app, count) -> None:
    assert count(MediaObject) == 0 and count(MediaDerivative) == 0
    assert _keys(app) == []


def test_a_text_file_named_jpg_is_415_and_nothing_stored(tus, app, count):
    """B11."""
    url = tus.new(len(data := b"<html><script>alert(1)</script></html>"),
                  filename="photo.jpg", filetype="image/jpeg")
    resp = tus.patch(url, 0, data)
    assert_problem(resp, 415, "type_not_allowed")
    assert resp.get_json()["detected_type"] == "an HTML document (text/html)"
    assert resp.headers["Tus-Resumable"] == "1.0.0"
    _assert_nothing_stored(app, count)
    row = _upload(app, url)
    assert (row.state, row.refusal) == ("refused", "type_not_allowed")
    with app.app_context():
        assert not service.spool_path(row.id).exists()


def test_a_refused_upload_cannot_be_resumed(tus):
    url = tus.new(len(data := b"just text, not a photo"))
    tus.patch(url, 0, data)
    assert tus.head(url).status_code == 410
    assert_problem(tus.patch(url, 0, data), 410, "upload_refused")


def test_a_client_sha256_mismatch_is_422_and_nothing_kept(tus, app, count):
    """B37."""
    data = jpeg_bytes()
    url = tus.new(len(data), sha256="0" * 64)
    assert_problem(tus.patch(url, 0, data), 422, "hash_mismatch")
    _assert_nothing_stored(app, count)
    assert _upload(app, url).refusal == "hash_mismatch"


def test_a_truncated_jpeg_is_422_and_nothing_stored(tus, app, count):
    data = jpeg_bytes(width=300, height=200)
    assert_problem(tus.send(data[: len(data) // 2]), 422, "corrupt_image")
    _assert_nothing_stored(app, count)


def test_a_photo_over_the_photo_limit_is_413_too_large_for_kind(app_with, inspector_headers,
                                                                 count):
    small = app_with(MEDIA_MAX_BYTES_PHOTO=100)
    resp = Tus(small.test_client(), inspector_headers).send(jpeg_bytes())
    assert_problem(resp, 413, "too_large_for_kind")
    _assert_nothing_stored(small, count)


def test_a_failure_after_storing_deletes_what_this_completion_stored(tus, app, count,
                                                                      monkeypatch):
    """The unit of work's rollback removes the objects; the offset stays before the last
    chunk, so the client can send it again."""
    def broken(*args, **kwargs):
        raise RuntimeError("database trouble at the worst moment")

    monkeypatch.setattr(completion, "append_event", broken)
    data = jpeg_bytes()
    url = tus.new(len(data))
    tus.patch(url, 0, data[:100])
    assert tus.patch(url, 100, data[100:]).status_code == 500
    _assert_nothing_stored(app, count)
    assert tus.offset(url) == 100
    monkeypatch.undo()
    assert tus.patch(url, 100, data[100:]).status_code == 204


def test_an_object_already_under_the_key_is_kept_and_used(tus, app):
    """An orphan of an earlier failure (stored, no row) holds the same bytes by its name."""
    data = jpeg_bytes()
    sha = hashlib.sha256(data).hexdigest()
    with app.app_context():
        service.default_storage().save(service.original_key(sha), io.BytesIO(data))
    assert tus.send(data).status_code == 204
    assert _stored_bytes(app, sha) == data


# ---- S3 down --------------------------------------------------------------------------------


@pytest.mark.one_backend  # an S3 app of its own
def test_s3_down_is_503_with_retry_after_and_the_upload_completes_when_it_is_back(
        app_with, own_moto, inspector_headers, count):
    """F4: nothing is stored while S3 is down; the offset stays before the last chunk; once S3
    is back, re-sending that chunk completes the upload."""
    s3_app = app_with(**s3_settings(own_moto))
    tus = Tus(s3_app.test_client(), inspector_headers)
    data = jpeg_bytes(seed=9)
    url = tus.new(len(data))
    assert tus.patch(url, 0, data[:500]).status_code == 204
    own_moto.stop()
    resp = tus.patch(url, 500, data[500:])
    assert_problem(resp, 503, "storage_unavailable")
    assert int(resp.headers["Retry-After"]) > 0
    assert tus.offset(url) == 500
    assert count(MediaObject) == 0
    own_moto.start()
    resp = tus.patch(url, 500, data[500:])
    assert resp.status_code == 204
    assert _stored_bytes(s3_app, hashlib.sha256(data).hexdigest()) == data


# ---- the store fails ------------------------------------------------------------------------


def _full_disk_for(monkeypatch, part: str) -> None:
    """ENOSPC from the media disk for keys containing `part` (the spool disk still works)."""
    import errno

    from server.media import storage as storage_module

    real_link, real_mkstemp = storage_module.os.link, storage_module.tempfile.mkstemp

    def link(src, dst, *args, **kwargs):
        if part in str(dst.parent if hasattr(dst, "parent") else dst):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_link(src, dst, *args, **kwargs)

    def mkstemp(*args, dir=None, **kwargs):
        if part in str(dir):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(storage_module.os, "link", link)
    monkeypatch.setattr(storage_module.tempfile, "mkstemp", mkstemp)


def _retry_failed_jobs(app) -> list[str]:
    """What an admin's "retry" does (console Jobs page): each failed job again; their states."""
    import sqlalchemy as sa

    from server.db import unit_of_work
    from server.extensions import db
    from server.jobs import queue
    from server.jobs.models import Job
    with app.app_context():
        failed = db.session.scalars(sa.select(Job.id).where(Job.state == "failed")).all()
        for job_id in failed:
            with unit_of_work():
                queue.retry(job_id)
        return [j.state for j in db.session.scalars(sa.select(Job).order_by(Job.id))]


def _media_status(app, sha: str) -> str:
    import sqlalchemy as sa

    from server.extensions import db
    with app.app_context():
        return db.session.scalar(sa.select(MediaObject.status).where(MediaObject.sha256 == sha))


@pytest.mark.one_backend  # the local disk
def test_a_full_disk_for_derivatives_leaves_the_original_stored_and_the_job_to_retry(
        tus, app, count, monkeypatch):
    """F6 after the original: the upload is complete (derivatives are a job); the job fails,
    the media says "processing", and a retry once there is room makes the derivatives."""
    data = jpeg_bytes(width=300, height=200, seed=41)
    sha = hashlib.sha256(data).hexdigest()
    url = tus.new(len(data))
    assert tus.patch(url, 0, data[:100]).status_code == 204
    _full_disk_for(monkeypatch, "derivatives")
    assert tus.patch(url, 100, data[100:]).status_code == 204
    assert _stored_bytes(app, sha) == data
    assert _media_status(app, sha) == "processing" and count(MediaDerivative) == 0
    monkeypatch.undo()
    assert _retry_failed_jobs(app) == ["done"]
    assert _media_status(app, sha) == "ready" and count(MediaDerivative) == 2


@pytest.mark.one_backend  # the local disk
@pytest.mark.parametrize("part", ["originals"])
def test_a_full_media_disk_is_507_storage_failed_and_nothing_half_stored(tus, app, count,
                                                                         monkeypatch, part):
    """F6 on the media disk: the original cannot be written."""
    data = jpeg_bytes(width=300, height=200, seed=41)
    url = tus.new(len(data))
    assert tus.patch(url, 0, data[:100]).status_code == 204
    _full_disk_for(monkeypatch, part)
    resp = tus.patch(url, 100, data[100:])
    assert_problem(resp, 507, "storage_failed")
    assert int(resp.headers["Retry-After"]) > 0
    _assert_nothing_stored(app, count)
    with app.app_context():
        assert not [k for k in service.default_storage().keys() if "/" in k]
    assert tus.offset(url) == 100
    monkeypatch.undo()
    resp = tus.patch(url, 100, data[100:])
    assert resp.status_code == 204
    assert _stored_bytes(app, hashlib.sha256(data).hexdigest()) == data


@pytest.mark.one_backend  # the local disk
def test_an_io_error_of_the_media_disk_is_503_storage_failed(tus, app, count, monkeypatch):
    import errno

    from server.media import storage as storage_module

    def broken(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(storage_module.os, "link", broken)
    resp = tus.send(jpeg_bytes(seed=42))
    assert_problem(resp, 503, "storage_failed")
    assert int(resp.headers["Retry-After"]) > 0
    _assert_nothing_stored(app, count)


@pytest.mark.one_backend  # an S3 app of its own
def test_a_missing_s3_bucket_is_503_storage_failed_and_the_upload_stays_resumable(
        app_with, moto, inspector_headers, count):
    """AccessDenied / NoSuchBucket are not outages, but not the client's fault either."""
    s3_app = app_with(**{**s3_settings(moto), "S3_BUCKET": "adal-no-such-bucket-here"})
    tus = Tus(s3_app.test_client(), inspector_headers)
    data = jpeg_bytes(seed=43)
    url = tus.new(len(data))
    assert tus.patch(url, 0, data[:100]).status_code == 204
    resp = tus.patch(url, 100, data[100:])
    assert_problem(resp, 503, "storage_failed")
    assert int(resp.headers["Retry-After"]) > 0
    assert "NoSuchBucket" not in resp.get_json()["detail"]  # the store's words stay in the log
    assert count(MediaObject) == 0 and count(MediaDerivative) == 0
    assert tus.offset(url) == 100


@pytest.mark.one_backend  # an S3 app of its own
def test_s3_failing_after_the_original_leaves_the_derivatives_to_a_retried_job(
        app_with, moto, inspector_headers, count, monkeypatch):
    """The original is PUT, then S3 goes away: the upload is complete (the derivatives are a
    job), the job fails and leaves only the original; its retry stores the derivatives without
    sending the original again."""
    from server.media.storage import S3Storage, StorageUnavailable

    s3_app = app_with(**s3_settings(moto))
    tus = Tus(s3_app.test_client(), inspector_headers)
    data = jpeg_bytes(width=300, height=200, seed=44)
    sha = hashlib.sha256(data).hexdigest()
    url = tus.new(len(data))
    assert tus.patch(url, 0, data[:100]).status_code == 204
    real_save_file, saved = S3Storage.save_file, []

    def save_file(self, key, path):
        saved.append(key)
        if key.startswith("derivatives/"):
            raise StorageUnavailable(f"cannot save {key!r}: the store cannot be reached")
        return real_save_file(self, key, path)

    def delete(self, key):
        raise StorageUnavailable(f"cannot delete {key!r}: the store cannot be reached")

    monkeypatch.setattr(S3Storage, "save_file", save_file)
    monkeypatch.setattr(S3Storage, "delete", delete)
    assert tus.patch(url, 100, data[100:]).status_code == 204
    assert count(MediaObject) == 1 and count(MediaDerivative) == 0
    assert _media_status(s3_app, sha) == "processing"
    assert _keys(s3_app) == [service.original_key(sha)]  # content-addressed, nothing else
    monkeypatch.setattr(S3Storage, "save_file", lambda self, key, path: (
        saved.append(key), real_save_file(self, key, path))[1])
    saved.clear()
    assert _retry_failed_jobs(s3_app) == ["done"]
    assert _media_status(s3_app, sha) == "ready"
    assert service.original_key(sha) not in saved  # not sent again
    assert saved and all(k.startswith(f"derivatives/{sha}/") for k in saved)
    assert _stored_bytes(s3_app, sha) == data
    with s3_app.app_context():
        assert service.orphan_objects() == []


# ---- a real tus client ----------------------------------------------------------------------


def test_tuspy_uploads_a_file_in_small_chunks(app, live_server, inspector_headers, tmp_path):
    base = live_server(app)
    path = tmp_path / "evidence.jpg"
    path.write_bytes(data := jpeg_bytes(width=320, height=240, seed=11))
    uploader = TusClient(base + "/api/v1/uploads", headers=inspector_headers).uploader(
        file_path=str(path), chunk_size=1024, metadata={"filename": "evidence.jpg"},
        upload_checksum=True)
    uploader.upload()
    assert uploader.offset == len(data)
    assert _stored_bytes(app, hashlib.sha256(data).hexdigest()) == data


def test_tuspy_resumes_an_interrupted_upload_with_a_new_uploader(app, live_server,
                                                                 inspector_headers):
    base = live_server(app)
    data = jpeg_bytes(width=320, height=240, seed=12)
    client = TusClient(base + "/api/v1/uploads", headers=inspector_headers)
    first = client.uploader(file_stream=io.BytesIO(data), chunk_size=700)
    first.upload(stop_at=2100)  # the phone loses the network after three chunks
    assert first.offset == 2100
    second = client.uploader(file_stream=io.BytesIO(data), chunk_size=700, url=first.url)
    assert second.offset == 2100  # asked the server with HEAD
    second.upload()
    assert _stored_bytes(app, hashlib.sha256(data).hexdigest()) == data


def test_the_same_bytes_completed_at_once_by_two_clients_are_stored_once(
        app, live_server, headers_for, count):
    """The per-content lock: one completion stores, the other points at what it stored."""
    from concurrent.futures import ThreadPoolExecutor

    base = live_server(app)
    data = jpeg_bytes(width=640, height=480, seed=13)
    uploaders = [TusClient(base + "/api/v1/uploads", headers=headers_for("inspector")).uploader(
        file_stream=io.BytesIO(data), chunk_size=len(data) - 10) for _ in range(2)]
    for uploader in uploaders:
        uploader.upload_chunk()  # all but the last 10 bytes
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda u: u.upload(), uploaders))
    assert count(MediaObject) == 1
    with app.app_context():
        assert [u.state for u in db.session.scalars(sa.select(Upload))] == ["completed"] * 2
    assert _stored_bytes(app, hashlib.sha256(data).hexdigest()) == data


# ---- the sweep ------------------------------------------------------------------------------


def test_the_sweep_expires_stale_uploads_and_removes_their_spool(tus, app, runner):
    url = tus.new(100)
    tus.patch(url, 0, b"a" * 10)
    with app.app_context():
        db.session.execute(sa.update(Upload).values(expires_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    result = runner.invoke(args=["adal", "media", "sweep"])
    assert result.exit_code == 0, result.output
    assert "Expired 1" in result.output
    row = _upload(app, url)
    assert row.state == "expired"
    with app.app_context():
        assert not service.spool_path(row.id).exists()


def test_the_sweep_reports_objects_without_rows_and_keeps_them(app, runner, backend):
    key = "originals/ab/cd/ab" + "0" * 62
    with app.app_context():
        service.default_storage().save(key, io.BytesIO(b"orphan"))
    result = runner.invoke(args=["adal", "media", "sweep"])
    assert f"{backend}:{key}" in result.output
    with app.app_context():
        assert service.default_storage().exists(key)


def test_the_sweep_leaves_a_receiving_upload_alone(tus, app, runner):
    url = tus.new(100)
    tus.patch(url, 0, b"a" * 10)
    runner.invoke(args=["adal", "media", "sweep"])
    assert tus.offset(url) == 10
    with app.app_context():
        assert service.spool_path(url.rsplit("/", 1)[1]).stat().st_size == 10
