"""Job "media.derivatives": thumbnail, preview and poster of stored media, off the request.

Upload completion validates the file, stores the original and answers at once with the media
"processing"; this job (a worker, or inline after the commit without Redis) decodes the stored
original again in the isolated child, stores the derivatives and marks the media ready (or
failed, with the reason). A video larger than ADAL_MEDIA_WEB_PREVIEW_BYTES, or not H.264, also
gets a web-friendly MP4 preview (server/media/transcode.py).
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from flask import current_app

from ..db import current_unit_of_work
from ..extensions import db
from . import processing
from .completion import _stored
from .models import MediaObject, MediaDerivative
from .service import derivative_key, spool_dir, storage_named
from .sniff import brief
from .transcode import web_preview

PROCESSING = "processing"


def needs_web_preview(media: MediaObject) -> bool:
    return media.kind == "video" and (
        media.size > int(current_app.config["MEDIA_WEB_PREVIEW_BYTES"])
        or (media.info or {}).get("video_codec") != "h264")


def make_derivatives(*, media_id: int) -> None:
    media = db.session.get(MediaObject, media_id)
    if media is None or media.status != PROCESSING:
        return  # made already (a job pushed twice does nothing)
    uow = current_unit_of_work()
    storage = storage_named(media.storage_backend)
    workdir = Path(tempfile.mkdtemp(prefix=".job-", dir=spool_dir()))
    try:
        original = workdir / "original"
        with storage.open(media.storage_key) as source, original.open("wb") as copy:
            shutil.copyfileobj(source, copy, 1024 * 1024)
        try:
            analysis = processing.analyse(
                original, workdir=workdir / "derivatives",
                max_pixels=int(current_app.config["MEDIA_MAX_PIXELS"]),
                timeout=float(current_app.config["MEDIA_PROCESS_TIMEOUT"]))
        except processing.MediaRefused as refused:
            media.status, media.derivative_error = "failed", refused.detail
            return
        made = [(d.name, d.path, d.content_type, d.width, d.height)
                for d in analysis.derivatives]
        error = analysis.derivative_error
        if error is None and needs_web_preview(media):
            try:
                preview = workdir / "preview.mp4"
                width, height = web_preview(original, preview)
                made.append(("preview", preview, "video/mp4", width, height))
            except Exception as exc:  # noqa: BLE001  (any decoder failure: recorded, visible)
                error = f"web preview failed ({brief(exc)})"
        for name, path, content_type, width, height in made:
            key = derivative_key(media.sha256, name, content_type)
            media.derivatives.append(MediaDerivative(
                name=name, storage_backend=storage.name, storage_key=key,
                content_type=content_type, size=_stored(uow, storage, key, path),
                width=width, height=height))
        media.status, media.derivative_error = ("failed" if error else "ready"), error
        db.session.flush()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
