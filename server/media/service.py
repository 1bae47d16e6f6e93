"""The rules of evidence: uploads and their spool, where media is stored, who sees what.

An upload is received into a spool file on local disk under a lock of its own (`upload_lock`);
its completion into content-addressed media (`finalise_upload`) is in completion.py.
"""
from __future__ import annotations

import fcntl
import os
import re
import secrets
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from ..auth.models import Role, User
from ..db import utcnow
from ..errors import AppError, Conflict, NotFound
from ..auth.scope import scoped
from ..extensions import db
from .models import MediaDerivative, MediaObject, Upload, UploadState
from .storage import Storage

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
HASH_BLOCK = 1024 * 1024  # spool files are read and copied by this much
# Bidi_Control characters: they can make "gpj.exe" display as "exe.jpg".
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class StorageDown(AppError):
    status, code, title = 503, "storage_unavailable", "Storage unavailable"

    def __init__(self, detail: str | None = None, **kw):
        kw.setdefault("headers", {"Retry-After": RETRY_AFTER_SECONDS})
        super().__init__(detail or "The media store cannot be reached; nothing was stored. "
                         "Send the last chunk again in a little while.", **kw)


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
                    block = src.read(min(HASH_BLOCK, left))
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
