"""Completion: a fully received upload becomes content-addressed, stored media.

`finalise_upload` is the one place where media is stored. It hashes the spooled file, refuses
what may not be kept, and for new content stores the original byte-for-byte, then its
derivatives, then the rows, in one unit of work whose rollback deletes the objects it stored. A
per-content lock around that keeps two uploads of the same bytes from racing (one stores, the other
points at it) and keeps a rollback from deleting an object another upload has just claimed.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from .. import failpoints
from ..audit.service import append_event
from ..auth.models import User
from ..db import unit_of_work, utcnow
from ..errors import AppError
from ..extensions import db
from ..jobs.queue import enqueue
from . import processing
from .models import MediaDerivative, MediaObject, Upload, UploadState
from .service import (HASH_BLOCK, StorageDown, default_storage, derivative_key, kind_limit,
                      original_key, remove_spool, spool_dir, spool_path)
from .storage import Storage, StorageError, StorageFull, StorageUnavailable

log = logging.getLogger(__name__)

STORAGE_FAILED_RETRY_AFTER = "60"  # a full disk or a wrong bucket needs an administrator


class StorageFailed(AppError):
    """The media store refused or failed a write (disk full, I/O error, access denied, no such
    bucket): nothing was stored, the upload stays resumable. 507 when the store is full."""

    status, code, title = 503, "storage_failed", "Storage failed"

    def __init__(self, detail: str | None = None, **kw):
        kw.setdefault("headers", {"Retry-After": STORAGE_FAILED_RETRY_AFTER})
        super().__init__(detail or "The media store failed to store this file; nothing was "
                         "stored. Send the last chunk again later.", **kw)


class Refused(AppError):
    """A file refused at completion; `extra` are members of the problem body besides the usual
    ones (`detected_type` for a 415: what the bytes were recognised as)."""

    def __init__(self, detail: str, *, extra: dict | None = None, **kw):
        super().__init__(detail, **kw)
        self.extra = extra or {}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def content_lock(sha256: str) -> Iterator[None]:
    """Serialise the storing of one content across requests and processes.

    PostgreSQL: a session-level advisory lock on a connection of its own, so it spans the unit of
    work and its rollback undo. SQLite (one machine by nature): a file lock in the spool folder.
    """
    engine = db.engine
    if engine.dialect.name == "postgresql":
        key = int(sha256[:15], 16)  # 60 bits: fits PostgreSQL's signed bigint
        with engine.connect() as conn:
            conn.execute(sa.select(sa.func.pg_advisory_lock(key)))
            conn.commit()
            try:
                yield
            finally:
                try:
                    conn.execute(sa.select(sa.func.pg_advisory_unlock(key)))
                    conn.commit()
                except Exception:  # never return a connection still holding the lock
                    conn.invalidate()
                    raise
        return
    locks = spool_dir() / ".locks"
    locks.mkdir(exist_ok=True)
    fd = os.open(locks / sha256[:2], os.O_RDWR | os.O_CREAT, 0o600)  # 256 stripes at most
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@dataclass
class Finalised:
    upload: Upload
    media: MediaObject
    new: bool


def _refuse(upload_id: str, code: str, status: int, detail: str, title: str, *,
            detected: str | None = None) -> AppError:
    """Mark the upload refused (a final state) and drop its spool; the error to raise."""
    with unit_of_work() as uow:
        upload = db.session.get(Upload, upload_id, populate_existing=True)
        upload.state = UploadState.REFUSED
        upload.refusal = code
        uow.after_commit(lambda: remove_spool(upload_id))
    log.warning("upload %s refused: %s (%s)", upload_id, code, detail)
    return Refused(detail, status=status, code=code, title=title,
                   extra={"detected_type": detected} if detected else None)


def finalise_upload(*, upload_id: str, actor: User) -> Finalised:
    """Turn a fully received upload into stored media; commits (it runs as its own job).

    Called with the upload's spool lock held and every byte fsynced. The offset is committed
    together with the media, so if storing fails the client re-sends the last chunk later.
    """
    upload = db.session.get(Upload, upload_id, populate_existing=True)
    path = spool_path(upload_id)
    client_sha = upload.client_sha256
    db.session.rollback()  # hashing a gigabyte must not hold a database connection
    sha = sha256_of(path)
    if client_sha and client_sha != sha:
        raise _refuse(upload_id, "hash_mismatch", 422,
                      f"The file received has SHA-256 {sha}, not the {client_sha} announced; "
                      "nothing was kept. Upload it again.", "Hash mismatch")
    with content_lock(sha):
        media = db.session.scalar(sa.select(MediaObject).where(MediaObject.sha256 == sha))
        if media is not None:
            return _link(upload_id=upload_id, media_id=media.id, actor=actor, new=False)
        db.session.rollback()
        size = path.stat().st_size
        try:
            kind, _content_type = processing.sniff(path)
            if size > kind_limit(kind):
                raise _refuse(upload_id, "too_large_for_kind", 413,
                              f"A {kind} may be at most {kind_limit(kind)} bytes; this one is "
                              f"{size}.", "Too large for its kind")
            workdir = Path(tempfile.mkdtemp(prefix=".work-", dir=spool_dir()))
            try:
                analysis = processing.analyse(  # validation only: derivatives are a job
                    path, workdir=workdir, max_pixels=int(current_app.config["MEDIA_MAX_PIXELS"]),
                    timeout=float(current_app.config["MEDIA_PROCESS_TIMEOUT"]), derivatives=False)
                return _store(upload_id=upload_id, sha=sha, size=size, path=path,
                              analysis=analysis, actor=actor)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
        except processing.MediaRefused as refused:
            raise _refuse(upload_id, refused.code, refused.status, refused.detail,
                          "Media refused", detected=refused.detected) from refused


def _stored(uow, storage: Storage, key: str, path: Path) -> int:
    """Save `path` under `key`; undone on rollback only if this call created it."""
    if storage.exists(key):  # an orphan of an earlier failure: the same bytes by its name
        return storage.size(key)
    size = storage.save_file(key, path)
    uow.on_rollback(lambda: storage.delete(key))
    return size


def _storage_problem(exc: StorageError) -> AppError:
    """The answer to a store that failed during completion (after the rollback's undo)."""
    if isinstance(exc, StorageUnavailable):
        log.error("media store unavailable: %s", exc)
        return StorageDown()
    log.error("media store failed: %s", exc)
    if isinstance(exc, StorageFull):
        return StorageFailed("The media store is full; nothing was stored. Send the last "
                             "chunk again once the administrators have made room.",
                             status=507, title="Insufficient storage")
    return StorageFailed()


def _store(*, upload_id: str, sha: str, size: int, path: Path, analysis,
           actor: User) -> Finalised:
    try:
        return _store_in(upload_id=upload_id, sha=sha, size=size, path=path,
                         analysis=analysis, actor=actor)
    except StorageError as exc:
        raise _storage_problem(exc) from exc


def _store_in(*, upload_id: str, sha: str, size: int, path: Path, analysis,
              actor: User) -> Finalised:
    storage = default_storage()
    with unit_of_work() as uow:
        key = original_key(sha)
        stored = _stored(uow, storage, key, path)
        if stored != size:
            raise StorageError(f"stored {stored} bytes of {size} under {key!r}")
        derivatives = []
        for d in analysis.derivatives:
            d_key = derivative_key(sha, d.name, d.content_type)
            derivatives.append(MediaDerivative(
                name=d.name, storage_backend=storage.name, storage_key=d_key,
                content_type=d.content_type, size=_stored(uow, storage, d_key, d.path),
                width=d.width, height=d.height))
        gps = analysis.gps if analysis.gps_status == "valid" else None
        media = MediaObject(
            sha256=sha, size=size, content_type=analysis.content_type, kind=analysis.kind,
            storage_backend=storage.name, storage_key=key, width=analysis.width,
            height=analysis.height, duration=analysis.duration,
            duration_claimed=bool(analysis.duration_claimed), captured_at=analysis.captured_at,
            gps_lat=gps[0] if gps else None, gps_lon=gps[1] if gps else None,
            gps_status=analysis.gps_status, info=analysis.info or {},
            status="processing" if analysis.kind in ("photo", "video") else "ready",
            derivative_error=analysis.derivative_error, first_uploaded_by_id=actor.id,
            derivatives=derivatives)
        db.session.add(media)
        db.session.flush()
        if media.status == "processing":  # thumbnail, preview, poster: server/media/jobs.py
            enqueue("media.derivatives", media_id=media.id)
        result = _complete(uow, upload_id=upload_id, media=media, actor=actor, new=True)
        failpoints.hit("media.completion_stored")  # stored and flushed, not committed
    return result


def _link(*, upload_id: str, media_id: int, actor: User, new: bool) -> Finalised:
    with unit_of_work() as uow:
        media = db.session.get(MediaObject, media_id)
        result = _complete(uow, upload_id=upload_id, media=media, actor=actor, new=new)
    return result


def _complete(uow, *, upload_id: str, media: MediaObject, actor: User, new: bool) -> Finalised:
    upload = db.session.get(Upload, upload_id, populate_existing=True)
    upload.offset = upload.length
    upload.state = UploadState.COMPLETED
    upload.completed_at = utcnow()
    upload.media_id = media.id
    db.session.flush()
    append_event("media_stored", actor=actor, object_type="media", object_id=media.sha256,
                 payload={"upload": upload.id, "kind": media.kind,
                          "content_type": media.content_type, "size": media.size,
                          "filename": upload.filename, "new": new})
    uow.after_commit(lambda: remove_spool(upload_id))
    return Finalised(upload=upload, media=media, new=new)
