"""The rules of evidence: uploads, their completion into content-addressed media, who sees what.

Completion (`finalise_upload`) is the one place where media is stored. It hashes the spooled file,
refuses what may not be kept, and for new content stores the original byte-for-byte, then its
derivatives, then the rows, in one unit of work whose rollback deletes the objects it stored. A
per-content lock around that keeps two uploads of the same bytes from racing (one stores, the other
points at it) and keeps a rollback from deleting an object another upload has just claimed.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import secrets
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from .. import failpoints
from ..audit.service import append_event
from ..auth.models import Role, User
from ..jobs.queue import enqueue
from ..db import unit_of_work, utcnow
from ..errors import AppError, Conflict, NotFound
from ..auth.scope import scoped
from ..extensions import db
from . import processing
from .models import MediaDerivative, MediaObject, Upload, UploadState
from .storage import Storage, StorageError, StorageFull, StorageUnavailable

log = logging.getLogger(__name__)

SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
DERIVATIVE_NAMES = ("thumbnail", "preview", "poster")
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp",
              "image/heic": "heic", "image/heif": "heif", "video/mp4": "mp4",
              "video/quicktime": "mov", "video/webm": "webm", "audio/mp4": "m4a",
              "audio/aac": "aac", "audio/mpeg": "mp3", "audio/ogg": "ogg", "audio/opus": "opus",
              "audio/wav": "wav", "audio/x-wav": "wav", "audio/vnd.wave": "wav"}
MAX_NAME_BYTES = 255
MAX_META_VALUE_BYTES = 1024
RETRY_AFTER_SECONDS = "10"
STORAGE_FAILED_RETRY_AFTER = "60"  # a full disk or a wrong bucket needs an administrator
_HASH_BLOCK = 1024 * 1024
# Bidi_Control characters: they can make "gpj.exe" display as "exe.jpg".
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class StorageDown(AppError):
    status, code, title = 503, "storage_unavailable", "Storage unavailable"

    def __init__(self, detail: str | None = None, **kw):
        kw.setdefault("headers", {"Retry-After": RETRY_AFTER_SECONDS})
        super().__init__(detail or "The media store cannot be reached; nothing was stored. "
                         "Send the last chunk again in a little while.", **kw)


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


class UploadGone(AppError):
    status, code, title = 410, "upload_expired", "Upload expired"


class UploadLocked(AppError):
    status, code, title = 423, "upload_locked", "Upload busy"


# ---- settings and paths -------------------------------------------------------------------


def spool_dir() -> Path:
    """Where partial uploads live: ADAL_UPLOAD_SPOOL, or <instance>/uploads. Always local disk."""
    configured = current_app.config.get("UPLOAD_SPOOL")
    path = Path(configured) if configured else Path(current_app.instance_path) / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def spool_path(upload_id: str) -> Path:
    return spool_dir() / f"{upload_id}.part"


def storages() -> dict[str, Storage]:
    return current_app.extensions["adal_storages"]


def default_storage() -> Storage:
    """The backend new objects go to (ADAL_MEDIA_BACKEND)."""
    return storages()[current_app.config["MEDIA_BACKEND"]]


def storage_named(name: str) -> Storage:
    try:
        return storages()[name]
    except KeyError as exc:  # a row of a backend this process is not configured for
        raise StorageDown(f"The media store {name!r} is not configured on this server.") from exc


def original_key(sha256: str) -> str:
    return f"originals/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def derivative_key(sha256: str, name: str, content_type: str) -> str:
    return f"derivatives/{sha256}/{name}.{EXTENSIONS.get(content_type, 'bin')}"


def kind_limit(kind: str) -> int:
    return int(current_app.config[f"MEDIA_MAX_BYTES_{kind.upper()}"])


# ---- names and metadata -------------------------------------------------------------------


def _clip_utf8(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def clean_text(raw: str, *, limit: int) -> str:
    """NFC, without control or bidi characters, at most `limit` bytes of UTF-8."""
    text = unicodedata.normalize("NFC", raw)
    text = "".join(ch for ch in text
                   if ch not in _BIDI and unicodedata.category(ch) not in ("Cc", "Cs"))
    return _clip_utf8(text.strip(), limit)


def display_filename(raw: str) -> str:
    """The name to show for an upload: its last path segment, cleaned. Never a storage key."""
    last = re.split(r"[/\\]", raw)[-1]
    return clean_text(last, limit=MAX_NAME_BYTES)


# ---- uploads ------------------------------------------------------------------------------


def create_upload(*, owner: User, length: int, metadata: dict[str, str]) -> Upload:
    """Open a resumable upload of `length` bytes; flushes. Nothing is written to disk yet."""
    limit = int(current_app.config["UPLOAD_MAX_BYTES"])
    if length > limit:
        raise AppError(f"The upload is {length} bytes; at most {limit} are accepted.",
                       status=413, code="upload_too_large", title="Upload too large")
    if length == 0:
        raise AppError("The file is empty.", status=422, code="empty_file", title="Empty file")
    client_sha = metadata.get("sha256")
    if client_sha is not None:
        client_sha = client_sha.strip().lower()
        if not SHA256_PATTERN.fullmatch(client_sha):
            raise AppError("Upload-Metadata sha256 must be 64 hexadecimal digits.", status=400,
                           code="bad_upload_metadata", title="Bad upload metadata")
    upload = Upload(
        id=secrets.token_urlsafe(32), owner_id=owner.id, length=length, offset=0,
        meta={clean_text(k, limit=64): clean_text(v, limit=MAX_META_VALUE_BYTES)
              for k, v in metadata.items()},
        filename=display_filename(metadata.get("filename", "")),
        filetype=clean_text(metadata.get("filetype", ""), limit=255),
        client_sha256=client_sha, state=UploadState.RECEIVING,
        expires_at=utcnow() + expiry())
    db.session.add(upload)
    db.session.flush()
    return upload


def expiry() -> timedelta:
    return timedelta(hours=int(current_app.config["UPLOAD_EXPIRY_HOURS"]))


def find_upload(*, owner: User, upload_id: str) -> Upload:
    """The owner's upload with this id; 404 for anyone else's, unknown or terminated ones."""
    upload = None
    if re.fullmatch(r"[A-Za-z0-9_-]{20,64}", upload_id):
        upload = db.session.get(Upload, upload_id, populate_existing=True)
    if upload is None or upload.owner_id != owner.id or upload.state == UploadState.TERMINATED:
        raise NotFound("No such upload.", code="upload_not_found")
    return upload


def check_receiving(upload: Upload, *, now: datetime | None = None) -> None:
    """Refuse to go on with an upload that expired or was refused (410)."""
    if upload.state == UploadState.REFUSED:
        raise UploadGone(f"This upload was refused ({upload.refusal}); start a new one.",
                         code="upload_refused", title="Upload refused")
    if upload.state == UploadState.EXPIRED or (
            upload.state == UploadState.RECEIVING and upload.expires_at <= (now or utcnow())):
        raise UploadGone("This upload expired before it was finished; start a new one.")


def record_offset(*, upload: Upload, offset: int) -> None:
    """Durable progress: the spool file holds `offset` bytes (fsynced); flushes."""
    if upload.state != UploadState.RECEIVING:  # expired by the sweep while the chunk came
        check_receiving(upload)
    upload.offset = offset
    upload.expires_at = utcnow() + expiry()  # an upload that moves is not stale
    db.session.flush()


def terminate_upload(*, upload: Upload) -> None:
    """tus termination: the partial data goes; a completed upload's media is evidence and stays."""
    if upload.state == UploadState.COMPLETED:
        raise Conflict("A completed upload cannot be terminated: its media is evidence.",
                       code="upload_completed")
    check_receiving(upload)
    upload.state = UploadState.TERMINATED
    upload.terminated_at = utcnow()
    db.session.flush()


class SpoolLock:
    """The held lock of one upload's spool file (see `upload_lock`)."""

    def __init__(self, path: Path, fd: int):
        self.path = path
        self.fd = fd

    def shared(self) -> bool:
        """Is the spool file also a stored original (hard-linked into the local store)?

        Completion links the spool into originals/ before it commits; a process killed in
        between leaves the link and no row. Such a file is evidence: it is never written to."""
        return os.fstat(self.fd).st_nlink > 1

    def unshare(self, keep: int) -> None:
        """Give the spool a new file of its own holding its first `keep` bytes (fsynced), locked
        before it takes the spool's name; the linked file is left as it is."""
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-", suffix=".copy")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody else can know it yet
            with open(self.path, "rb") as src:
                left = keep
                while left > 0:
                    block = src.read(min(_HASH_BLOCK, left))
                    if not block:
                        break
                    os.write(fd, block)
                    left -= len(block)
            os.fsync(fd)
            os.replace(tmp, self.path)
        except BaseException:
            os.close(fd)
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(self.path.parent)
        os.close(self.fd)
        self.fd = fd


def _fsync_dir(path: Path) -> None:
    dir_fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@contextmanager
def upload_lock(upload_id: str) -> Iterator[SpoolLock]:
    """Hold the spool file of an upload exclusively (423 if another request has it).

    A lock on the file, not on the row: a slow phone may take minutes to send one chunk, and a
    database connection must not wait with it. Processes on one machine share the spool disk.
    The lock is on the file the spool name points to once it is held: a spool replaced by
    `SpoolLock.unshare` meanwhile is busy too.
    """
    path = spool_path(upload_id)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    lock = SpoolLock(path, fd)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(path).st_ino != os.fstat(fd).st_ino:
                raise BlockingIOError
        except (BlockingIOError, FileNotFoundError) as exc:
            raise UploadLocked("Another request is writing to this upload; try again when it "
                               "has finished.") from exc
        yield lock
    finally:
        os.close(lock.fd)


def remove_spool(upload_id: str) -> None:
    spool_path(upload_id).unlink(missing_ok=True)


# ---- completion ---------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_HASH_BLOCK):
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


# ---- reading media ------------------------------------------------------------------------


def uploaded_by(*, user: User, media: MediaObject) -> bool:
    """Has `user` completed an upload of this media (so it is theirs to see and cite)?"""
    return db.session.scalar(sa.select(sa.exists().where(
        Upload.owner_id == user.id, Upload.media_id == media.id,
        Upload.state == UploadState.COMPLETED))) or False


def visible_media(*, user: User, sha256: str) -> MediaObject:
    """The media with this hash if `user` may see it: admins; an inspector who uploaded it; a
    supervisor when it is evidence of a visit in their regions (an unrestricted supervisor: of
    any visit). 404 otherwise, as for media that does not exist, so a region-limited supervisor
    cannot even learn that another region's file exists."""
    media = None
    if SHA256_PATTERN.fullmatch(sha256):
        media = db.session.scalar(sa.select(MediaObject).where(MediaObject.sha256 == sha256))
    if media is None or not _may_see(user, media):
        raise NotFound("No such media, or you may not see it.")
    return media


def _may_see(user: User, media: MediaObject) -> bool:
    if user.role == Role.ADMIN:
        return True
    if user.role == Role.INSPECTOR:
        return uploaded_by(user=user, media=media)
    from ..visits.models import Visit, VisitEvidence  # visits import media: import at use

    visits = (sa.select(VisitEvidence.id).join(Visit, Visit.id == VisitEvidence.visit_id)
              .where(VisitEvidence.media_id == media.id))
    visits = scoped(visits, user, inspector_column=Visit.inspector_id,
                    office_column=Visit.office_id)
    return db.session.scalar(sa.select(visits.exists())) or False


# ---- housekeeping -------------------------------------------------------------------------


def expire_uploads(*, now: datetime | None = None) -> list[str]:
    """Mark unfinished uploads past their expiry as expired; flushes. Returns their ids."""
    now = now or utcnow()
    stale = db.session.scalars(sa.select(Upload).where(
        Upload.state == UploadState.RECEIVING, Upload.expires_at <= now)).all()
    for upload in stale:
        upload.state = UploadState.EXPIRED
    db.session.flush()
    return [u.id for u in stale]


def stray_spool_files() -> list[Path]:
    """Spool files that no receiving upload owns (finished, terminated, refused, expired)."""
    receiving = set(db.session.scalars(sa.select(Upload.id).where(
        Upload.state == UploadState.RECEIVING)))
    return sorted(p for p in spool_dir().glob("*.part") if p.stem not in receiving)


def orphan_objects() -> list[tuple[str, str]]:
    """(backend, key) of stored originals and derivatives that no row points to. Report only."""
    known = {(row[0], row[1]) for model in (MediaObject, MediaDerivative)
             for row in db.session.execute(sa.select(model.storage_backend, model.storage_key))}
    found = []
    for name, storage in storages().items():
        for prefix in ("originals/", "derivatives/"):
            found += [(name, key) for key in storage.keys(prefix) if (name, key) not in known]
    return sorted(found)
