"""/api/v1/media: stored evidence, read-only. Nothing here modifies or deletes media."""
from __future__ import annotations

import logging

from flask import Response, redirect, send_file
from flask.views import MethodView

from ..auth.access import ANY_ROLE, require_role, require_user
from ..errors import AppError, NotFound
from ..rest import Blueprint
from . import service
from .schemas import MediaOut
from .storage import StorageError

log = logging.getLogger(__name__)

VARIANTS = ("thumbnail", "preview", "poster", "original")

blp = Blueprint("media", __name__, url_prefix="/api/v1",
                description="Stored evidence: metadata and files, for the inspector who "
                            "uploaded it, supervisors and admins.")


@blp.route("/media/<sha256>")
class MediaItem(MethodView):
    @require_role(*ANY_ROLE)
    @blp.response(200, MediaOut)
    def get(self, sha256):
        """What is known about one stored media: type, size, dimensions, capture time, GPS."""
        return service.visible_media(user=require_user(), sha256=sha256)


@blp.route("/media/<sha256>/<variant>")
class MediaFile(MethodView):
    @require_role(*ANY_ROLE)
    def get(self, sha256, variant):
        """The original (as an attachment) or a derivative: thumbnail, preview, poster. Range
        requests work; on S3 the answer is a redirect to a short-lived presigned URL."""
        if variant not in VARIANTS:
            raise NotFound("Ask for thumbnail, preview, poster or original.")
        media = service.visible_media(user=require_user(), sha256=sha256)
        if variant == "original":
            backend, key, content_type = media.storage_backend, media.storage_key, \
                media.content_type
            etag = media.sha256
            name = f"{media.sha256}.{service.EXTENSIONS.get(content_type, 'bin')}"
        else:
            found = next((d for d in media.derivatives if d.name == variant), None)
            if found is None:
                raise NotFound(f"This media has no {variant}.")
            backend, key, content_type = found.storage_backend, found.storage_key, \
                found.content_type
            etag = f"{media.sha256}-{variant}"
            name = None
        return _serve(backend=backend, key=key, content_type=content_type, etag=etag,
                      attachment_name=name)


def _missing(backend: str, key: str) -> AppError:
    log.error("stored media missing: backend %s key %s", backend, key)
    return AppError("The stored file cannot be found; the administrators have been told.",
                    status=500, code="media_missing", title="Media missing")


def _check_stored(storage, *, backend: str, key: str) -> None:
    """Ask the store for the object before sending the client to it: a store that is down or
    silent is a 503 here (within its timeouts), not a redirect the client cannot follow."""
    try:
        found = storage.exists(key)
    except StorageError as exc:
        log.error("media store unavailable while serving %s: %s", key, exc)
        raise service.StorageDown("The media store cannot be reached; try again in a "
                                  "little while.") from exc
    if not found:
        raise _missing(backend, key)


def _serve(*, backend: str, key: str, content_type: str, etag: str,
           attachment_name: str | None) -> Response:
    storage = service.storage_named(backend)
    disposition = f'attachment; filename="{attachment_name}"' if attachment_name else "inline"
    url = storage.url_for_download(key, content_type=content_type, disposition=disposition)
    if url is not None:
        _check_stored(storage, backend=backend, key=key)
        resp = redirect(url, 302)
        resp.headers["Cache-Control"] = "no-store"  # the URL expires soon
        return resp
    path = storage.path_for(key)
    if not path.is_file():
        raise _missing(backend, key)
    original = attachment_name is not None
    # Cache-Control: no-store, like every answer to a signed-in user (server/transport.py): an
    # original carries GPS, and access may be withdrawn. A client's If-None-Match still gets 304.
    resp = send_file(path, mimetype=content_type, as_attachment=original,
                     download_name=attachment_name, conditional=True, etag=etag)
    if original:
        resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp
