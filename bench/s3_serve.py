"""What does asking S3 for the object (a HEAD) before redirecting to it cost a media request?

Serving a file stored on S3 answers with a redirect to a presigned URL. Since issue 12 the app
first asks the store whether the object is there (`_check_stored` in server/media/api.py), so a
store that is down is a 503 instead of a redirect to nowhere. Baseline: the same requests with
that check turned off, in the same run, against the same store: moto's server over HTTP on
127.0.0.1 (a real S3 is further away: the check then costs one round trip to it).

    python -m bench.s3_serve [--requests 300]
"""
from __future__ import annotations

import argparse
import hashlib
import logging
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

from server import create_app
from server.auth import service as auth_service
from server.auth.models import Role
from server.extensions import db
from server.media import api as media_api
from server.media.storage import build_storages


def _photo() -> bytes:
    import io

    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(out, "JPEG")
    return out.getvalue()


def _timed(client, path: str, headers: dict, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        resp = client.get(path, headers=headers)
        times.append(time.perf_counter() - started)
        assert resp.status_code == 302, resp.status_code
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's access log

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    url = f"http://127.0.0.1:{moto.get_host_and_port()[1]}"
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    keys = {"S3_ACCESS_KEY_ID": "bench", "S3_SECRET_ACCESS_KEY": "bench",
            "S3_REGION": "us-east-1"}
    boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
                 aws_secret_access_key="bench").create_bucket(Bucket=bucket)
    folder = Path(tempfile.mkdtemp(prefix="adal-bench-s3-"))
    app = create_app({"TESTING": True, "SECRET_KEY": "b" * 32,
                      "DATABASE_URL": f"sqlite:///{folder / 'adal.sqlite3'}",
                      "MEDIA_ROOT": str(folder / "media"), "UPLOAD_SPOOL": str(folder / "spool"),
                      "MEDIA_BACKEND": "s3", "S3_ENDPOINT_URL": url, "S3_BUCKET": bucket,
                      "PASSWORD_HASH_PROFILE": "CHEAPEST", **keys},
                     instance_path=str(folder / "instance"))
    app.extensions["adal_storages"] = build_storages(app.config)
    with app.app_context():
        db.create_all()
        user = auth_service.create_user(login="bench", role=Role.ADMIN, password="x" * 12)
        token, _ = auth_service.issue_token(user=user)
        db.session.commit()
    headers = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
    client = app.test_client()
    data = _photo()
    resp = client.post("/api/v1/uploads", headers={**headers, "Upload-Length": str(len(data))})
    client.patch(resp.headers["Location"], data=data, headers={
        **headers, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    path = f"/api/v1/media/{hashlib.sha256(data).hexdigest()}/original"

    check = media_api._check_stored
    _timed(client, path, headers, 20)  # warm-up
    with_check = _timed(client, path, headers, args.requests)
    media_api._check_stored = lambda *a, **kw: None
    try:
        _timed(client, path, headers, 20)
        without = _timed(client, path, headers, args.requests)
    finally:
        media_api._check_stored = check
    moto.stop()

    def ms(values):
        return statistics.median(values) * 1000

    print(f"{args.requests} GETs of a media original on S3 (moto over HTTP on 127.0.0.1)")
    print(f"  without the HEAD check (baseline): median {ms(without):.2f} ms")
    print(f"  with the HEAD check:               median {ms(with_check):.2f} ms")
    print(f"  ratio with / without: {ms(with_check) / ms(without):.2f}")


if __name__ == "__main__":
    main()
