"""Media derivatives as a job: the upload answers at once, the media is "processing" until a
worker has made thumbnail / preview / poster, and a large or non-H.264 video gets an MP4
preview of at most 720 lines."""
from __future__ import annotations

import hashlib

import av
import sqlalchemy as sa

from server.extensions import db
from server.media.models import MediaObject
from tests.media.conftest import Tus, jpeg_bytes
from tests.media.test_processing import make_video

from .redis_fixture import drain, redis_jobs  # noqa: F401  (fixture)


def _media(app, sha: str) -> tuple[str, dict]:
    with app.app_context():
        media = db.session.scalar(sa.select(MediaObject).where(MediaObject.sha256 == sha))
        return media.status, {d.name: (d.content_type, d.width, d.height)
                              for d in media.derivatives}


def test_the_upload_answers_before_the_derivatives_exist(app, client, inspector_headers,
                                                         redis_jobs):
    data = jpeg_bytes(width=300, height=200, seed=7)
    sha = hashlib.sha256(data).hexdigest()
    assert Tus(client, inspector_headers).send(data).status_code == 204
    assert _media(app, sha) == ("processing", {})
    shown = client.get(f"/api/v1/media/{sha}", headers=inspector_headers).json
    assert shown["status"] == "processing" and shown["derivatives"] == []
    resp = client.get(f"/api/v1/media/{sha}/thumbnail", headers=inspector_headers)
    assert resp.status_code == 404  # not yet: a problem, never a broken image
    drain(app)
    status, derivatives = _media(app, sha)
    assert status == "ready" and set(derivatives) == {"thumbnail", "preview"}
    resp = client.get(f"/api/v1/media/{sha}/thumbnail", headers=inspector_headers)
    assert resp.status_code == 200 and resp.mimetype == "image/jpeg"


def test_a_large_video_gets_a_web_preview_of_at_most_720_lines(app, client, inspector_headers,
                                                              tmp_path):
    app.config["MEDIA_WEB_PREVIEW_BYTES"] = 0  # every video counts as large
    path = make_video(tmp_path / "v.mp4", seconds=0.4, fps=10, size=(1280, 960), audio=True)
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    assert Tus(client, inspector_headers).send(data).status_code == 204  # inline: no Redis
    status, derivatives = _media(app, sha)
    assert status == "ready", derivatives
    assert derivatives["preview"] == ("video/mp4", 960, 720)
    assert "poster" in derivatives
    resp = client.get(f"/api/v1/media/{sha}/preview", headers=inspector_headers)
    assert resp.status_code == 200
    (tmp_path / "p.mp4").write_bytes(resp.data)
    with av.open(str(tmp_path / "p.mp4")) as preview:
        assert preview.streams.video[0].codec_context.name == "h264"
        assert preview.streams.audio[0].codec_context.name == "aac"
