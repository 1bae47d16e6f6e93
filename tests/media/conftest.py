"""Fixtures of the media tests: a moto S3 server over real HTTP, apps on either backend, a live
HTTP server for third-party tus clients, small generated media files, and tus request helpers."""
from __future__ import annotations

import base64
import io
import threading
import uuid
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from server import create_app
from server.extensions import db
from server.media.storage import build_storages

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = "application/offset+octet-stream"
SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "photos"
S3_KEYS = {"S3_ACCESS_KEY_ID": "testing", "S3_SECRET_ACCESS_KEY": "testing",
           "S3_REGION": "us-east-1"}


# ---- S3 over HTTP ---------------------------------------------------------------------------


class MotoServer:
    """moto's threaded server on a fixed free port; can be stopped and started again."""

    def __init__(self) -> None:
        self.server = _started(0)
        self.port = self.server.get_host_and_port()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.running = True

    def stop(self) -> None:
        self.server.stop()
        self.running = False

    def start(self) -> None:
        self.server = _started(self.port)
        self.running = True

    def new_bucket(self) -> str:
        name = f"adal-{uuid.uuid4().hex[:16]}"
        boto3.client("s3", endpoint_url=self.url, region_name="us-east-1",
                     aws_access_key_id="testing",
                     aws_secret_access_key="testing").create_bucket(Bucket=name)
        return name


def _started(port: int) -> ThreadedMotoServer:
    """ThreadedMotoServer.start(), except that a server thread that fails (say, the port is
    not free yet) is an error here instead of a wait that never ends."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    failed: list[BaseException] = []

    def entry() -> None:
        try:
            server._server_entry()
        except BaseException as exc:
            failed.append(exc)
            server._server_ready_event.set()
            raise

    server._thread = threading.Thread(target=entry, daemon=True)
    server._thread.start()
    if not server._server_ready_event.wait(30) or failed:
        raise RuntimeError(f"moto's server did not start on port {port}: {failed}")
    return server


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    """One moto server for the session; each test makes its own bucket."""
    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture
def own_moto() -> Iterator[MotoServer]:
    """A moto server of this test's own, which it may stop and start (S3 outages)."""
    server = MotoServer()
    yield server
    try:
        server.stop()
    except Exception:  # already stopped by the test
        pass


def s3_settings(server: MotoServer) -> dict:
    return {"MEDIA_BACKEND": "s3", "S3_ENDPOINT_URL": server.url,
            "S3_BUCKET": server.new_bucket(), **S3_KEYS}


# ---- apps -----------------------------------------------------------------------------------


# The tus, service and API suites run twice, on the local backend and on S3 (moto over HTTP):
# every test there that uses the `app` fixture gets the app of one backend, and `tus`, `client`,
# `count` and `commit` follow it. A test marked `one_backend` runs once, on the local backend: it
# is about that backend (hard links, the local disk), or it builds its own S3 app.
BACKEND_SUITES = {"test_tus", "test_service", "test_api"}


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "one_backend: run once, on the local backend (media)")


def pytest_generate_tests(metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    once = module not in BACKEND_SUITES or metafunc.definition.get_closest_marker("one_backend")
    metafunc.parametrize("backend", ["local"] if once else ["local", "s3"], indirect=True)


@pytest.fixture
def backend(request) -> str:
    """The media backend of this test's app: "local" or "s3"."""
    return getattr(request, "param", "local")


_SHARED_SETTINGS = ("TESTING", "SECRET_KEY", "DATABASE_URL", "MEDIA_ROOT",
                    "PASSWORD_HASH_PROFILE", "RATELIMIT_STORAGE_URI", "MEDIA_BACKEND",
                    "S3_ENDPOINT_URL", "S3_BUCKET", *S3_KEYS)


def _another_app(app, overrides: dict):
    other = create_app({**{k: app.config[k] for k in _SHARED_SETTINGS if k in app.config},
                        **overrides})
    other.instance_path = app.instance_path
    return other


def _dispose(other) -> None:
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(app, backend, request):
    """The test app (tests/conftest.py) on this test's backend; S3 gets a bucket of its own.

    The same app reconfigured, not a second one: building an app per test is what costs."""
    if backend == "s3":
        app.config.update(s3_settings(request.getfixturevalue("moto")))
        app.extensions["adal_storages"] = build_storages(app.config)
    return app


@pytest.fixture
def backend_app(app):
    """The test app on its backend (kept for the tests that name it)."""
    return app


@pytest.fixture
def app_with(app) -> Iterator[Callable[..., object]]:
    """Another app on the `app` fixture's database and backend, with other settings (e.g. the
    S3 backend). Users made with `headers_for` exist for it too."""
    made = []

    def make(**overrides):
        other = _another_app(app, overrides)
        made.append(other)
        return other

    yield make
    for other in made:
        _dispose(other)


@pytest.fixture
def live_server() -> Iterator[Callable[[object], str]]:
    """Serve an app over real HTTP on 127.0.0.1 in a thread; returns its base URL."""
    servers = []

    def serve(app) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server, thread in servers:
        server.shutdown()
        thread.join()


# ---- media files ----------------------------------------------------------------------------


def jpeg_bytes(width: int = 64, height: int = 48, seed: int = 1) -> bytes:
    """A small real JPEG; different seeds give different bytes."""
    from PIL import Image
    img = Image.new("RGB", (width, height), ((seed * 37) % 256, (seed * 91) % 256, 120))
    for x in range(0, width, 4):
        img.putpixel((x, (x * seed) % height), (255, 255, 255))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def wav_bytes(seconds: float = 0.2, rate: int = 8000) -> bytes:
    """A WAV file of silence."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    return out.getvalue()


@pytest.fixture
def jpeg() -> bytes:
    return jpeg_bytes()


@pytest.fixture
def sample_photos() -> list[Path]:
    photos = sorted(p for p in SAMPLES.iterdir() if p.is_file()) if SAMPLES.is_dir() else []
    if not photos:
        pytest.skip(f"no sample photos in {SAMPLES}")
    return photos


# ---- tus requests ---------------------------------------------------------------------------


def metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


class Tus:
    """tus requests through a Flask test client, as one user."""

    def __init__(self, client, headers: dict):
        self.client = client
        self.headers = {**headers, **TUS}

    def create(self, length: int, *, headers: dict | None = None, **meta: str):
        hdrs = {**self.headers, "Upload-Length": str(length), **(headers or {})}
        if meta:
            hdrs["Upload-Metadata"] = metadata(**meta)
        return self.client.post("/api/v1/uploads", headers=hdrs)

    def new(self, length: int, **meta: str) -> str:
        """Create an upload; its path."""
        resp = self.create(length, **meta)
        assert resp.status_code == 201, resp.get_data(as_text=True)
        return "/api/v1/uploads/" + resp.headers["Location"].rsplit("/", 1)[1]

    def patch(self, url: str, offset: int, data: bytes, **headers):
        hdrs = {**self.headers, "Upload-Offset": str(offset), "Content-Type": OCTETS}
        hdrs.update({k.replace("_", "-"): v for k, v in headers.items()})
        return self.client.patch(url, data=data, headers=hdrs)

    def head(self, url: str):
        return self.client.head(url, headers=self.headers)

    def offset(self, url: str) -> int:
        resp = self.head(url)
        assert resp.status_code == 200, resp.status_code
        return int(resp.headers["Upload-Offset"])

    def send(self, data: bytes, *, chunk: int | None = None, **meta: str):
        """Upload `data` whole (in chunks if asked); the last PATCH's response."""
        url = self.new(len(data), **meta)
        chunk = chunk or len(data)
        resp = None
        for start in range(0, len(data), chunk):
            resp = self.patch(url, start, data[start:start + chunk])
            if resp.status_code != 204:
                return resp
        return resp


@pytest.fixture
def tus(client, inspector_headers) -> Tus:
    return Tus(client, inspector_headers)
