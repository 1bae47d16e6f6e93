"""/api/v1/media: metadata and files, only to those allowed; ranges, caching, no changes."""
from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.datastructures import Headers

from tests import factories
from tests.test_conventions import assert_problem

from .conftest import Tus, jpeg_bytes, s3_settings, wav_bytes


@dataclass
class Fetched:
    status_code: int
    data: bytes
    headers: Headers


def fetch(client, path: str, headers: dict) -> Fetched:
    """GET a media file as a browser would: on S3 the app answers 302 to a presigned URL, which
    is followed (with the same Range / If-None-Match), so both backends answer the same."""
    resp = client.get(path, headers=headers)
    if resp.status_code != 302:
        return Fetched(resp.status_code, resp.data, resp.headers)
    assert resp.headers["Cache-Control"] == "no-store"
    passed = {k: v for k, v in headers.items() if k in ("Range", "If-None-Match")}
    try:
        with urllib.request.urlopen(urllib.request.Request(resp.headers["Location"],
                                                           headers=passed)) as s3:
            return Fetched(s3.status, s3.read(), Headers(list(s3.headers.items())))
    except urllib.error.HTTPError as exc:
        return Fetched(exc.code, exc.read(), Headers(list(exc.headers.items())))


@pytest.fixture
def photo(tus) -> tuple[str, bytes]:
    """A photo the `tus` inspector uploaded: (sha256, bytes)."""
    data = jpeg_bytes(width=400, height=300, seed=21)
    resp = tus.send(data, filename="entrance.jpg")
    assert resp.status_code == 204
    return resp.headers["Adal-Media-Sha256"], data


def test_metadata_has_the_contract_shape(client, tus, photo):
    sha, data = photo
    resp = client.get(f"/api/v1/media/{sha}", headers=tus.headers)
    assert resp.status_code == 200
    body = resp.get_json()
    assert set(body) == {"sha256", "kind", "content_type", "size", "width", "height",
                         "duration", "captured_at", "gps", "status", "derivatives"}
    assert (body["sha256"], body["kind"], body["size"], body["width"]) == (sha, "photo",
                                                                           len(data), 400)
    assert body["gps"] is None
    assert {d["name"] for d in body["derivatives"]} == {"thumbnail", "preview"}
    assert set(body["derivatives"][0]) == {"name", "content_type", "width", "height", "size"}


def test_an_audio_has_a_duration_and_no_derivatives(client, tus):
    sha = tus.send(wav_bytes(seconds=0.5)).headers["Adal-Media-Sha256"]
    body = client.get(f"/api/v1/media/{sha}", headers=tus.headers).get_json()
    assert body["kind"] == "audio" and body["derivatives"] == []
    assert body["duration"] == pytest.approx(0.5, abs=0.05)


def test_admins_see_any_media(client, photo, admin_headers):
    assert client.get(f"/api/v1/media/{photo[0]}", headers=admin_headers).status_code == 200


@pytest.fixture
def evidence_of(app, commit):
    """Make `sha` the evidence of a visit at an office of region `region` (made if new)."""
    def link(sha: str, region: str) -> None:
        import uuid
        from datetime import timedelta

        import sqlalchemy as sa

        from server.db import utcnow
        from server.extensions import db
        from server.forms.models import FormVersion, SurveyForm
        from server.media.models import MediaObject
        from server.offices.models import Region
        from server.visits.models import Visit, VisitEvidence
        def build():
            media = db.session.scalar(sa.select(MediaObject).where(MediaObject.sha256 == sha))
            row = db.session.scalar(sa.select(Region).where(Region.code == region))
            office = factories.office(region=row or factories.region(code=region))
            form = SurveyForm(key=f"f-{uuid.uuid4().hex[:8]}")
            version = FormVersion(form=form, version=1, definition={}, sha256="0" * 64,
                                  source="tests")
            db.session.add_all([form, version])
            db.session.flush()
            visit = Visit(uuid=uuid.uuid4(), office_id=office.id, form_version_id=version.id,
                          inspector_id=media.first_uploaded_by_id, started_at=utcnow(),
                          ended_at=utcnow() + timedelta(minutes=5), status="submitted",
                          section_scores={}, critical=[], device={})
            db.session.add(visit)
            db.session.flush()
            db.session.add(VisitEvidence(visit_id=visit.id, question_id="q", media_id=media.id))
        commit(build)
    return link


def test_a_supervisor_sees_the_evidence_of_visits_in_their_regions(client, photo, commit,
                                                                 headers_for, evidence_of):
    evidence_of(photo[0], "NORTH")
    own = headers_for("supervisor", regions=["NORTH"])
    assert client.get(f"/api/v1/media/{photo[0]}", headers=own).status_code == 200
    anywhere = headers_for("supervisor")  # a supervisor of every region
    assert client.get(f"/api/v1/media/{photo[0]}", headers=anywhere).status_code == 200


def test_a_supervisor_of_another_region_gets_404_for_metadata_and_files(
        client, photo, headers_for, evidence_of, commit):
    """Issue 12 (9): media are scoped like the visits they belong to."""
    evidence_of(photo[0], "NORTH")
    commit(lambda: factories.region(code="SOUTH"))
    other = headers_for("supervisor", regions=["SOUTH"])
    for path in ("", "/original", "/thumbnail", "/preview"):
        assert_problem(client.get(f"/api/v1/media/{photo[0]}{path}", headers=other), 404,
                       "not_found")


def test_media_not_yet_evidence_of_any_visit_is_only_the_uploaders(client, photo, headers_for):
    assert_problem(client.get(f"/api/v1/media/{photo[0]}", headers=headers_for("supervisor")),
                   404, "not_found")


def test_another_inspector_gets_404_for_metadata_and_files(client, photo, headers_for):
    other = headers_for("inspector")
    assert_problem(client.get(f"/api/v1/media/{photo[0]}", headers=other), 404, "not_found")
    assert_problem(client.get(f"/api/v1/media/{photo[0]}/original", headers=other), 404,
                   "not_found")
    assert_problem(client.get(f"/api/v1/media/{photo[0]}/thumbnail", headers=other), 404,
                   "not_found")


def test_media_needs_sign_in(client, photo):
    assert_problem(client.get(f"/api/v1/media/{photo[0]}"), 401, "unauthorized")


def test_unknown_and_malformed_hashes_are_404(client, admin_headers):
    assert_problem(client.get("/api/v1/media/" + "a" * 64, headers=admin_headers), 404,
                   "not_found")
    assert_problem(client.get("/api/v1/media/../../etc", headers=admin_headers), 404,
                   "not_found")
    assert_problem(client.get("/api/v1/media/xyz/original", headers=admin_headers), 404,
                   "not_found")


def test_the_original_is_the_exact_bytes_as_an_attachment(client, tus, photo, backend):
    sha, data = photo
    resp = fetch(client, f"/api/v1/media/{sha}/original", tus.headers)
    assert resp.status_code == 200
    assert resp.data == data and hashlib.sha256(resp.data).hexdigest() == sha
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert resp.headers["Content-Type"] == "image/jpeg"
    if backend == "local":  # served by the app itself
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["ETag"] == f'"{sha}"'
        # Behind sign-in nothing is stored by caches (issue 12: originals carry GPS).
        assert resp.headers["Cache-Control"] == "no-store"


def test_a_range_request_gets_206_with_those_bytes(client, tus, photo):
    sha, data = photo
    resp = fetch(client, f"/api/v1/media/{sha}/original",
                 {**tus.headers, "Range": "bytes=100-199"})
    assert resp.status_code == 206
    assert resp.data == data[100:200]
    assert resp.headers["Content-Range"] == f"bytes 100-199/{len(data)}"


@pytest.mark.one_backend  # on S3 the store's own ETag (its MD5) answers
def test_a_known_etag_gets_304(client, tus, photo):
    sha, _ = photo
    resp = client.get(f"/api/v1/media/{sha}/original",
                      headers={**tus.headers, "If-None-Match": f'"{sha}"'})
    assert resp.status_code == 304


def test_a_thumbnail_is_a_small_jpeg_never_stored_by_caches(client, tus, photo, backend):
    sha, _ = photo
    resp = fetch(client, f"/api/v1/media/{sha}/thumbnail", tus.headers)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "image/jpeg"
    assert resp.data[:3] == b"\xff\xd8\xff"
    assert "attachment" not in resp.headers.get("Content-Disposition", "")
    if backend == "local":  # on S3 the presigned URL expires instead
        assert resp.headers["Cache-Control"] == "no-store"


def test_a_photo_has_no_poster(client, tus, photo):
    assert_problem(client.get(f"/api/v1/media/{photo[0]}/poster", headers=tus.headers), 404,
                   "not_found")


def test_an_unknown_variant_is_404(client, tus, photo):
    assert_problem(client.get(f"/api/v1/media/{photo[0]}/exif", headers=tus.headers), 404,
                   "not_found")


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_no_method_changes_or_deletes_media(client, admin_headers, photo, method):
    """B33: there is no way to alter evidence through the API."""
    for path in (f"/api/v1/media/{photo[0]}", f"/api/v1/media/{photo[0]}/original"):
        resp = getattr(client, method)(path, headers=admin_headers, data=b"x")
        assert_problem(resp, 405, "method_not_allowed")
    assert fetch(client, f"/api/v1/media/{photo[0]}/original", admin_headers).data == photo[1]


@pytest.mark.one_backend  # an S3 app of its own
def test_on_s3_a_file_is_a_redirect_to_a_presigned_url(app_with, moto, inspector_headers):
    s3_app = app_with(**s3_settings(moto))
    client = s3_app.test_client()
    data = jpeg_bytes(seed=22)
    sha = Tus(client, inspector_headers).send(data).headers["Adal-Media-Sha256"]
    resp = client.get(f"/api/v1/media/{sha}/original", headers=inspector_headers)
    assert resp.status_code == 302
    assert resp.headers["Cache-Control"] == "no-store"
    with urllib.request.urlopen(resp.headers["Location"]) as s3:
        assert s3.read() == data
        assert s3.headers["Content-Disposition"].startswith("attachment")


@pytest.mark.one_backend  # an S3 app of its own
def test_on_s3_another_inspector_gets_404_not_a_url(app_with, moto, inspector_headers,
                                                     headers_for):
    s3_app = app_with(**s3_settings(moto))
    client = s3_app.test_client()
    sha = Tus(client, inspector_headers).send(jpeg_bytes(seed=23)).headers["Adal-Media-Sha256"]
    resp = client.get(f"/api/v1/media/{sha}/original", headers=headers_for("inspector"))
    assert_problem(resp, 404, "not_found")


def test_the_upload_state_names_its_media(client, tus):
    data = jpeg_bytes(seed=24)
    url = tus.new(len(data))
    tus.patch(url, 0, data)
    body = client.get(url, headers=tus.headers).get_json()
    assert body["state"] == "completed" and body["media"] == hashlib.sha256(data).hexdigest()
    assert body["offset"] == body["length"] == len(data)


# ---- video and audio, uploaded by a real tus client and served --------------------------------


def _tuspy_upload(app, live_server, headers: dict, path) -> str:
    """Upload `path` with tuspy over real HTTP in several chunks; its SHA-256."""
    from tusclient.client import TusClient

    base = live_server(app)
    uploader = TusClient(base + "/api/v1/uploads", headers=headers).uploader(
        file_path=str(path), chunk_size=4096, metadata={"filename": path.name},
        upload_checksum=True)
    uploader.upload()
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert uploader.offset == path.stat().st_size
    return sha


def test_a_video_uploaded_with_tuspy_has_a_poster_and_serves_ranges(app, live_server, client,
                                                                    inspector_headers,
                                                                    tmp_path):
    from .test_processing import make_video

    path = make_video(tmp_path / "queue.mp4", seconds=2, audio=True)
    data = path.read_bytes()
    sha = _tuspy_upload(app, live_server, inspector_headers, path)
    body = client.get(f"/api/v1/media/{sha}", headers=inspector_headers).get_json()
    assert (body["kind"], body["content_type"], body["size"]) == ("video", "video/mp4",
                                                                  len(data))
    assert body["duration"] == pytest.approx(2.0, abs=0.1)
    assert [d["name"] for d in body["derivatives"]] == ["poster"]
    poster = fetch(client, f"/api/v1/media/{sha}/poster", inspector_headers)
    assert poster.status_code == 200 and poster.headers["Content-Type"] == "image/jpeg"
    assert poster.data[:3] == b"\xff\xd8\xff"
    start, end = len(data) // 3, len(data) // 3 + 999
    part = fetch(client, f"/api/v1/media/{sha}/original",
                 {**inspector_headers, "Range": f"bytes={start}-{end}"})
    assert part.status_code == 206
    assert part.data == data[start:end + 1]
    assert part.headers["Content-Range"] == f"bytes {start}-{end}/{len(data)}"
    assert part.headers["Content-Type"] == "video/mp4"


@pytest.mark.parametrize("name, fmt, codec, rate, sample_format, content_type", [
    ("voice.m4a", "ipod", "aac", 44100, "fltp", "audio/mp4"),
    ("voice.ogg", "ogg", "libopus", 48000, "s16", "audio/ogg"),
])
def test_audio_uploaded_with_tuspy_is_stored_and_served_whole(app, live_server, client,
                                                              inspector_headers, tmp_path, name,
                                                              fmt, codec, rate, sample_format,
                                                              content_type):
    from .test_processing import make_audio

    path = make_audio(tmp_path / name, fmt=fmt, codec=codec, rate=rate,
                      sample_format=sample_format, seconds=2.0)
    data = path.read_bytes()
    sha = _tuspy_upload(app, live_server, inspector_headers, path)
    body = client.get(f"/api/v1/media/{sha}", headers=inspector_headers).get_json()
    assert (body["kind"], body["content_type"], body["derivatives"]) == ("audio", content_type,
                                                                        [])
    assert body["duration"] == pytest.approx(2.0, abs=0.15)
    assert_problem(client.get(f"/api/v1/media/{sha}/poster", headers=inspector_headers), 404,
                   "not_found")
    whole = fetch(client, f"/api/v1/media/{sha}/original", inspector_headers)
    assert whole.status_code == 200 and whole.data == data
    assert whole.headers["Content-Type"] == content_type
    tail = fetch(client, f"/api/v1/media/{sha}/original", {**inspector_headers,
                                                           "Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.data == data[-100:]


# ---- hostile files, through tus and the API -------------------------------------------------


def _bomb_png(tmp_path) -> bytes:
    """20000×20000 1-bit PNG in a few tens of KB (B1)."""
    import zlib

    from .test_processing import png_with_header

    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + 20000 // 8)
    idat = b"".join(packer.compress(row) for _ in range(20000)) + packer.flush()
    return png_with_header(tmp_path / "bomb.png", 20000, 20000, depth=1, colour=0,
                           idat=idat).read_bytes()


def _svg(tmp_path) -> bytes:
    return (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
            b"<script>alert(document.domain)</script></svg>")


def _zip(tmp_path) -> bytes:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("photo.jpg", b"\xff\xd8\xff" + bytes(100))
    return out.getvalue()


def _polyglot(tmp_path) -> bytes:
    """JPEG + <script> + a ZIP appended (B9): accepted as the JPEG it starts as."""
    return jpeg_bytes(width=200, height=150, seed=51) + b"<script>alert(1)</script>" + _zip(
        tmp_path)


def _broken_exif(tmp_path) -> bytes:
    import random
    import struct

    good = jpeg_bytes(width=100, height=80, seed=52)
    junk = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff" + random.Random(5).randbytes(200)
    return good[:2] + b"\xff\xe1" + struct.pack(">H", len(junk) + 2) + junk + good[2:]


def _ten_hour_claim(tmp_path) -> bytes:
    """A 3 s MP4 whose headers all claim 10 hours (B19)."""
    import struct

    from .test_processing import make_video

    data = bytearray(make_video(tmp_path / "real.mp4", seconds=3).read_bytes())

    def u32(box: bytes, offset: int, value: int | None = None) -> int:
        at = data.find(box) + offset
        if value is not None:
            data[at:at + 4] = struct.pack(">I", value)
        return struct.unpack(">I", data[at:at + 4])[0]

    movie_scale, track_scale = u32(b"mvhd", 16), u32(b"mdhd", 16)
    u32(b"stts", 16, 1200 * track_scale)
    for box, offset, scale in ((b"mvhd", 20, movie_scale), (b"tkhd", 24, movie_scale),
                               (b"elst", 12, movie_scale), (b"mdhd", 20, track_scale)):
        u32(box, offset, 36000 * scale)
    return bytes(data)


def _passwd_named(tmp_path) -> bytes:
    return jpeg_bytes(width=120, height=90, seed=53)


HOSTILE = [  # (make the bytes, filename, status, problem code or None, detected_type part)
    pytest.param(_bomb_png, "bomb.png", 422, "image_too_large", None, id="bomb-png"),
    pytest.param(_svg, "photo.jpg", 415, "type_not_allowed", "SVG", id="svg"),
    pytest.param(_zip, "photo.jpg", 415, "type_not_allowed", "ZIP", id="zip"),
    pytest.param(_polyglot, "polyglot.jpg", 204, None, None, id="polyglot"),
    pytest.param(_broken_exif, "broken.jpg", 204, None, None, id="broken-exif"),
    pytest.param(_ten_hour_claim, "ten_hours.mp4", 204, None, None, id="ten-hour-claim"),
    pytest.param(_passwd_named, "../../etc/passwd", 204, None, None, id="dot-dot-filename"),
]


@pytest.mark.parametrize("make, filename, status, code, detected", HOSTILE)
def test_hostile_files_through_tus_get_their_exact_answer(app, client, tus, count, tmp_path,
                                                          make, filename, status, code,
                                                          detected):
    """Refused: the exact status and code, the upload refused, no media row, no object.
    Accepted: stored as the bytes sent, under its hash, with only clean derivatives."""
    import sqlalchemy as sa

    from server.extensions import db
    from server.media import service
    from server.media.models import MediaDerivative, MediaObject, Upload

    data = make(tmp_path)
    url = tus.new(len(data), filename=filename)
    tus.patch(url, 0, data[:100])
    resp = tus.patch(url, 100, data[100:])
    with app.app_context():
        upload = db.session.get(Upload, url.rsplit("/", 1)[1])
        keys = sorted(k for s in service.storages().values()
                      for p in ("originals/", "derivatives/") for k in s.keys(p))
        (upload_state, refusal, shown) = (upload.state, upload.refusal, upload.filename)
    if code is not None:
        assert_problem(resp, status, code)
        if detected:
            assert detected in resp.get_json()["detected_type"]
        assert (upload_state, refusal) == ("refused", code)
        assert count(MediaObject) == 0 and count(MediaDerivative) == 0
        assert keys == []
        return
    assert resp.status_code == 204, resp.get_data(as_text=True)
    sha = hashlib.sha256(data).hexdigest()
    assert resp.headers["Adal-Media-Sha256"] == sha and upload_state == "completed"
    assert fetch(client, f"/api/v1/media/{sha}/original", tus.headers).data == data
    body = client.get(f"/api/v1/media/{sha}", headers=tus.headers).get_json()
    for d in body["derivatives"]:
        got = fetch(client, f"/api/v1/media/{sha}/{d['name']}", tus.headers).data
        assert got[:3] == b"\xff\xd8\xff" and b"<script" not in got and b"PK\x03\x04" not in got
    assert all(k.startswith((f"originals/{sha[:2]}/{sha[2:4]}/{sha}", f"derivatives/{sha}/"))
               for k in keys)
    if filename == "../../etc/passwd":
        assert shown == "passwd"  # the display name only; keys come from the hash
        assert not (Path(app.config["MEDIA_ROOT"]).parent / "etc").exists()
    if filename == "ten_hours.mp4":
        with app.app_context():
            media = db.session.scalar(sa.select(MediaObject).where(MediaObject.sha256 == sha))
            assert media.duration == pytest.approx(36000, rel=0.01) and media.duration_claimed
    if filename == "broken.jpg":
        assert body["gps"] is None and body["captured_at"] is None
