"""Looking at what arrived on the server, for the browser tests: through the API and the rows."""
from __future__ import annotations

import hashlib
from pathlib import Path

import sqlalchemy as sa

from server.extensions import db


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def visits(client, headers) -> list[dict]:
    resp = client.get("/api/v1/visits", headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.json["items"]


def visit(client, headers, uuid: str) -> dict:
    resp = client.get(f"/api/v1/visits/{uuid}", headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.json


def answers_by_question(detail: dict) -> dict[str, dict]:
    return {a["question"]: a for a in detail["answers"]}


def make_video(path: Path, *, frames: int = 48, size: tuple[int, int] = (320, 240)) -> Path:
    """A real MP4 of noise (it compresses badly, so it is several chunks long) made with PyAV."""
    import random

    import av

    rng = random.Random(7)
    width, height = size
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=24)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 20_000_000
        for _ in range(frames):
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane in frame.planes:
                plane.update(rng.randbytes(plane.buffer_size))
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
