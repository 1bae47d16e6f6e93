"""/api/v1/uploads: resumable uploads speaking tus 1.0 (core, creation, expiration, checksum,
termination), so any tus client (tus-js-client, tuspy, TUSKit) can send evidence.

A chunk is streamed from the request into the upload's spool file on local disk, 1 MiB at a time,
so memory stays flat whatever the size. Durability order: fsync the spool file, then commit the
new offset; every PATCH first cuts the spool file back to the committed offset, so a killed
process or a cut connection leaves a consistent state, and HEAD always answers the last durable
offset. The chunk that completes the upload commits its offset only together with the stored
media (completion.finalise_upload): if storing fails, the client sends that chunk again.
"""
from __future__ import annotations

import base64
import binascii
import errno
import hashlib
import os
import re
from dataclasses import dataclass

from flask import Response, current_app, request, url_for
from flask.views import MethodView
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.http import http_date

from .. import failpoints
from ..auth.access import ANY_ROLE, require_role, require_user
from ..db import unit_of_work
from ..errors import AppError, Conflict, problem
from ..extensions import db
from ..receipts import service as receipts
from ..rest import Blueprint
from . import completion, service
from .models import Upload, UploadState
from .schemas import UploadOut

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,expiration,checksum,termination"
CHECKSUMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}
OFFSET_STREAM = "application/offset+octet-stream"
READ_BLOCK = 1024 * 1024
MAX_METADATA_CHARS = 64 * 1024
MEDIA_HEADER = "Adal-Media-Sha256"
RECEIPT_HEADER = "Adal-Receipt"  # base64 of the signed receipt's JSON (docs/receipts.md)

blp = Blueprint("uploads", __name__, url_prefix="/api/v1",
                description="Resumable evidence uploads, tus 1.0 (docs/media.md). Send "
                            "`Tus-Resumable: 1.0.0` on every request but OPTIONS.")


def _bad(detail: str, code: str = "bad_request", status: int = 400, **kw) -> AppError:
    return AppError(detail, status=status, code=code, title=kw.pop("title", "Bad request"), **kw)


@blp.before_request
def _tus_preconditions() -> None:
    """Tus-Resumable on every request but OPTIONS; a PATCH body may be as large as an upload."""
    if request.method == "PATCH":
        # Flask's MAX_CONTENT_LENGTH (10 MiB) would cut a chunk; the view enforces the
        # upload's own remaining length.
        # One byte over, here and in _receive: a server that terminates the input itself
        # (gunicorn) gets a stream that raises on reaching the limit exactly.
        request.max_content_length = int(current_app.config["UPLOAD_MAX_BYTES"]) + 1
    if request.method in ("OPTIONS", "GET"):
        return
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise _bad(f"Send 'Tus-Resumable: {TUS_VERSION}'; it is the only version spoken here.",
                   "tus_version_unsupported", 412, title="Tus version not supported",
                   headers={"Tus-Version": TUS_VERSION})


@blp.errorhandler(completion.Refused)
def _refused(error: completion.Refused) -> Response:
    """A refused file's problem carries what was detected (`detected_type`) as a member too."""
    return problem(error.status, error.code, error.title, error.detail, errors=error.errors,
                   headers=error.headers, extra=error.extra)


@blp.after_request
def _tus_headers(resp: Response) -> Response:
    resp.headers["Tus-Resumable"] = TUS_VERSION
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Access-Control-Expose-Headers"] = (
        "Location, Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, "
        f"Tus-Checksum-Algorithm, Upload-Offset, Upload-Length, Upload-Expires, {MEDIA_HEADER}, "
        f"{RECEIPT_HEADER}")
    return resp


def _options() -> Response:
    resp = Response(status=204)
    resp.headers.update({"Tus-Version": TUS_VERSION, "Tus-Extension": TUS_EXTENSIONS,
                         "Tus-Max-Size": str(current_app.config["UPLOAD_MAX_BYTES"]),
                         "Tus-Checksum-Algorithm": ",".join(CHECKSUMS)})
    return resp


def _count_header(name: str, *, required: bool = True) -> int | None:
    raw = request.headers.get(name)
    if raw is None:
        if required:
            raise _bad(f"The {name} header is required.", "missing_header")
        return None
    if not re.fullmatch(r"[0-9]{1,19}", raw.strip()):
        raise _bad(f"{name} must be a non-negative whole number of bytes.", "bad_header")
    return int(raw)


def parse_metadata(header: str) -> dict[str, str]:
    """Upload-Metadata: comma-separated `key base64(value)` pairs (a bare key has no value)."""
    if len(header) > MAX_METADATA_CHARS:
        raise _bad("Upload-Metadata is too long.", "bad_upload_metadata")
    out: dict[str, str] = {}
    for pair in header.split(","):
        if not pair.strip():
            continue
        parts = pair.strip().split(" ")
        key = parts[0]
        if len(parts) > 2 or not re.fullmatch(r"[\x21-\x2b\x2d-\x7e]{1,64}", key) or key in out:
            raise _bad(f"Upload-Metadata has a malformed pair {pair.strip()[:40]!r}.",
                       "bad_upload_metadata")
        try:
            out[key] = (base64.b64decode(parts[1], validate=True).decode("utf-8")
                        if len(parts) == 2 else "")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise _bad(f"Upload-Metadata {key!r} is not base64 of UTF-8 text.",
                       "bad_upload_metadata") from exc
    return out


def _encode_metadata(meta: dict[str, str]) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" if v else k
                    for k, v in meta.items())


def _checksum() -> tuple[str, bytes] | None:
    raw = request.headers.get("Upload-Checksum")
    if raw is None:
        return None
    algorithm, _, value = raw.strip().partition(" ")
    if algorithm.lower() not in CHECKSUMS:
        raise _bad(f"Checksum algorithm {algorithm[:20]!r} is not supported; use one of "
                   f"{', '.join(CHECKSUMS)}.", "checksum_algorithm_unsupported")
    try:
        expected = base64.b64decode(value.strip(), validate=True)
    except binascii.Error as exc:
        raise _bad("Upload-Checksum must be the algorithm and the base64 digest.",
                   "bad_header") from exc
    return algorithm.lower(), expected


def _progress_headers(resp: Response, upload: Upload) -> Response:
    resp.headers["Upload-Offset"] = str(upload.offset)
    resp.headers["Upload-Length"] = str(upload.length)
    if upload.state == UploadState.RECEIVING:
        resp.headers["Upload-Expires"] = http_date(upload.expires_at)
    if upload.state == UploadState.COMPLETED and upload.media is not None:
        resp.headers[MEDIA_HEADER] = upload.media.sha256
        with unit_of_work():  # the signing key is registered on its first use
            receipt = receipts.stored_evidence_receipt(upload=upload)
        resp.headers[RECEIPT_HEADER] = receipts.as_header(receipt)
    return resp


@blp.route("/uploads")
class Uploads(MethodView):
    def options(self):
        """What this tus server speaks: version, extensions, maximum size, checksums."""
        return _options()

    @require_role(*ANY_ROLE)
    def post(self):
        """Create an upload (tus creation): Upload-Length and Upload-Metadata
        (`filename`, `filetype`, optional `sha256` in hex). 201 with its Location."""
        if request.headers.get("Upload-Defer-Length") is not None:
            raise _bad("Give Upload-Length; deferred lengths are not supported.",
                       "deferred_length_unsupported")
        length = _count_header("Upload-Length")
        metadata = parse_metadata(request.headers.get("Upload-Metadata", ""))
        try:
            with unit_of_work():
                upload = service.create_upload(owner=require_user(), length=length,
                                               metadata=metadata)
        except AppError as exc:
            if exc.status == 413:
                exc.headers["Tus-Max-Size"] = str(current_app.config["UPLOAD_MAX_BYTES"])
            raise
        resp = Response(status=201)
        resp.headers["Location"] = url_for("uploads.UploadItem", upload_id=upload.id,
                                           _external=True)
        return _progress_headers(resp, upload)


@dataclass
class _Received:
    count: int
    cut: bool = False
    too_long: bool = False
    digest: bytes | None = None


def _receive(spool: service.SpoolLock, *, committed: int, remaining: int,
             algorithm: str | None) -> _Received:
    """Append the request body to the spool file at `committed`; fsynced before returning.

    A spool file that is also a stored original (a completion killed after storing, before its
    commit: see `SpoolLock.shared`) is never written to: the chunk is compared with the bytes it
    holds, and counts as received where they agree. At the first byte that differs, or if the
    file does not hold the whole upload, the spool gets a file of its own with the bytes that
    agree, and the chunk goes on as usual.
    """
    request.max_content_length = remaining + 1  # more than `remaining` is caught below
    hasher = CHECKSUMS[algorithm]() if algorithm else None
    result = _Received(count=0)
    compare = spool.shared()
    if compare and spool.path.stat().st_size != committed + remaining:
        _unshare(spool, committed)
        compare = False
    # Unbuffered: a full disk shows at the write it fails, never later at a flush or a close
    # (which would answer 500 and could write the buffer back past a truncation).
    out = open(spool.path, "r+b", buffering=0)  # noqa: SIM115 - replaced if unshared
    try:
        if not compare:
            # Whatever lies past the durable offset (a killed process, a cut chunk) is dropped.
            out.truncate(committed)
        out.seek(committed)
        stream = request.stream
        while True:
            try:
                block = stream.read(min(READ_BLOCK, remaining - result.count + 1))
            except RequestEntityTooLarge:
                result.too_long = True
                break
            except (ClientDisconnected, OSError):
                result.cut = True
                break
            if not block:
                break
            if result.count + len(block) > remaining:
                result.too_long = True
                break
            if compare:
                held = out.read(len(block))
                if held == block:
                    if hasher:
                        hasher.update(block)
                    result.count += len(block)
                    continue
                out.close()
                _unshare(spool, committed + result.count)
                out = open(spool.path, "r+b", buffering=0)  # noqa: SIM115
                out.seek(committed + result.count)
                compare = False
            try:
                failpoints.hit("tus.spool_write")
                _write_all(out, block)
            except OSError as exc:
                _spool_failed(out, committed, exc)
                raise
            if hasher:
                hasher.update(block)
            result.count += len(block)
        if result.too_long and not compare:
            out.truncate(committed)
        try:
            os.fsync(out.fileno())
        except OSError as exc:  # some file systems report a full disk only here
            _spool_failed(out, committed, exc)
            raise
    finally:
        out.close()
    result.digest = hasher.digest() if hasher else None
    return result


def _unshare(spool: service.SpoolLock, keep: int) -> None:
    """`SpoolLock.unshare`, whose copy needs room on the spool disk: 507 if there is none."""
    try:
        spool.unshare(keep)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise _full_spool() from exc
        raise


def _write_all(out, block: bytes) -> None:
    view = memoryview(block)
    while view:
        view = view[out.write(view):]


def _spool_failed(out, committed: int, exc: OSError) -> None:
    """Drop what was written of the chunk; raise a 507 if the disk is full."""
    out.truncate(committed)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        raise _full_spool() from exc


def _full_spool() -> AppError:
    return AppError("The server's upload disk is full; nothing of this chunk was kept. "
                    "Try again later.", status=507, code="spool_full",
                    title="Insufficient storage", headers={"Retry-After": "60"})


def _discard(spool: service.SpoolLock, committed: int) -> None:
    if spool.shared():  # nothing was written to it
        return
    with open(spool.path, "r+b") as out:
        out.truncate(committed)
        os.fsync(out.fileno())


@blp.route("/uploads/<upload_id>")
class UploadItem(MethodView):
    def options(self, upload_id):
        """What this tus server speaks."""
        return _options()

    @require_role(*ANY_ROLE)
    def head(self, upload_id):
        """The durable offset of an upload (tus core)."""
        upload = service.find_upload(owner=require_user(), upload_id=upload_id)
        if upload.state != UploadState.COMPLETED:
            service.check_receiving(upload)
        resp = _progress_headers(Response(status=200), upload)
        if upload.meta:
            resp.headers["Upload-Metadata"] = _encode_metadata(upload.meta)
        return resp

    @require_role(*ANY_ROLE)
    @blp.response(200, UploadOut)
    def get(self, upload_id):
        """An upload's state as JSON (not part of tus): offset, state, and the media it made."""
        return service.find_upload(owner=require_user(), upload_id=upload_id)

    @require_role(*ANY_ROLE)
    def patch(self, upload_id):
        """Append a chunk at Upload-Offset (tus core, checksum). The chunk that completes the
        upload stores the media; the answer then names it in Adal-Media-Sha256."""
        user = require_user()
        if request.mimetype != OFFSET_STREAM:
            raise _bad(f"Send the chunk as '{OFFSET_STREAM}'.", "unsupported_media_type", 415,
                       title="Unsupported media type")
        offset = _count_header("Upload-Offset")
        checksum = _checksum()
        upload = service.find_upload(owner=user, upload_id=upload_id)
        if upload.state == UploadState.COMPLETED:
            return self._already_complete(upload, offset)
        service.check_receiving(upload)
        with service.upload_lock(upload.id) as spool:
            upload = service.find_upload(owner=user, upload_id=upload_id)  # as of the lock
            if upload.state == UploadState.COMPLETED:  # completed while this one waited
                return self._already_complete(upload, offset)
            service.check_receiving(upload)
            if offset != upload.offset:
                raise Conflict(f"Upload-Offset {offset} is not this upload's offset "
                               f"{upload.offset}; ask with HEAD and resume from there.",
                               code="offset_mismatch",
                               headers={"Upload-Offset": str(upload.offset)})
            committed, length, upload_id = upload.offset, upload.length, upload.id
            remaining = length - committed
            if request.content_length is not None and request.content_length > remaining:
                raise _past_length(remaining)
            db.session.rollback()  # no database connection waits while a slow phone sends
            got = _receive(spool, committed=committed, remaining=remaining,
                           algorithm=checksum[0] if checksum else None)
            if got.too_long:
                raise _past_length(remaining)
            if checksum and got.cut:
                _discard(spool, committed)
                raise _bad("The chunk did not arrive whole; it was dropped.", "chunk_incomplete")
            if checksum and got.digest != checksum[1]:
                _discard(spool, committed)
                raise _bad("The chunk does not match its Upload-Checksum; it was dropped. "
                           "Send it again.", "checksum_mismatch", 460,
                           title="Checksum mismatch")
            new_offset = committed + got.count
            if new_offset == length:
                done = completion.finalise_upload(upload_id=upload_id, actor=user)
                return _progress_headers(Response(status=204), done.upload)
            with unit_of_work():
                upload = db.session.get(Upload, upload_id)
                service.record_offset(upload=upload, offset=new_offset)
            if got.cut:
                raise _bad("The connection broke during the chunk; what arrived is kept. "
                           "Ask with HEAD and resume.", "chunk_incomplete")
            return _progress_headers(Response(status=204), upload)

    def _already_complete(self, upload: Upload, offset: int) -> Response:
        """A completed upload answers a repeated last PATCH (its answer was lost) in kind."""
        if offset != upload.length:
            raise Conflict(f"This upload is complete at offset {upload.length}.",
                           code="offset_mismatch", headers={"Upload-Offset": str(upload.length)})
        if request.content_length:
            raise _past_length(0)
        return _progress_headers(Response(status=204), upload)

    @require_role(*ANY_ROLE)
    def delete(self, upload_id):
        """Terminate an unfinished upload (tus termination): its partial data is removed.
        A completed upload cannot be terminated: its media is evidence."""
        upload = service.find_upload(owner=require_user(), upload_id=upload_id)
        if upload.state == UploadState.COMPLETED:
            service.terminate_upload(upload=upload)  # refuses with 409
        service.check_receiving(upload)
        with service.upload_lock(upload.id):
            with unit_of_work() as uow:
                upload = service.find_upload(owner=require_user(), upload_id=upload_id)
                service.terminate_upload(upload=upload)
                uow.after_commit(lambda: service.remove_spool(upload_id))
        return Response(status=204)


def _past_length(remaining: int) -> AppError:
    return AppError(f"The chunk goes past Upload-Length: {remaining} bytes remain. Nothing of "
                    "it was kept.", status=413, code="upload_past_length",
                    title="Chunk past the upload's length")
