"""How fast does a large resumable upload go, and how much memory does the server use for it?

Baselines, same file, same disk, same run: `shutil.copyfile` (the median of three), and the same
copy followed by fsync (an upload is durable when it is answered, a plain copy is not).
Measured: the file sent with tus in 8 MiB chunks (creation, PATCHes, completion: hashing,
type check, storing the original on the local backend) to the app under gunicorn on 127.0.0.1,
from the POST to the answer of the last PATCH. Reported: throughput of both and their ratio, and
the peak RSS (VmHWM) of the gunicorn worker that served it.

The file is a WAV header followed by silence, so completion runs the real checks on a type the
allow-list accepts (the audio size limit is raised to fit the benchmark).

    python -m bench.upload --size-mb 1024
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

CHUNK = 8 * 1024 * 1024
ROOT = Path(__file__).resolve().parent.parent


def write_wav(path: Path, size: int) -> None:
    """A PCM WAV file of exactly `size` bytes: a 44-byte header and silence."""
    data = size - 44
    rate, channels, width = 48000, 2, 2
    header = (b"RIFF" + struct.pack("<I", 36 + data) + b"WAVE"
              + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate,
                                      rate * channels * width, channels * width, width * 8)
              + b"data" + struct.pack("<I", data))
    block = b"\x00" * CHUNK
    with path.open("wb") as out:
        out.write(header)
        left = data
        while left:
            n = min(left, CHUNK)
            out.write(block[:n])
            left -= n
        out.flush()
        os.fsync(out.fileno())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(env: dict) -> str:
    """Schema and one inspector in a fresh SQLite database; their bearer token."""
    code = (
        "from server import create_app\n"
        "from server.extensions import db\n"
        "from server.auth import service\n"
        "from server.auth.models import Role\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    db.create_all()\n"
        "    user = service.create_user(login='bench', role=Role.INSPECTOR,\n"
        "                               password='bench password 1', display_name='Bench')\n"
        "    secret, _ = service.issue_token(user=user)\n"
        "    db.session.commit()\n"
        "    print(secret)\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _wait_up(base: str, proc: subprocess.Popen) -> None:
    for _ in range(200):
        if proc.poll() is not None:
            raise SystemExit("gunicorn exited at start-up")
        try:
            requests.options(base + "/api/v1/uploads", timeout=10)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)
    raise SystemExit("gunicorn did not start")


def upload(base: str, token: str, path: Path) -> tuple[float, float]:
    """Send `path` with tus in 8 MiB chunks; (total seconds, seconds of the last PATCH)."""
    size = path.stat().st_size
    headers = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
    session = requests.Session()
    t0 = time.perf_counter()
    resp = session.post(base + "/api/v1/uploads", headers={
        **headers, "Upload-Length": str(size), "Upload-Metadata": "filename YmVuY2gud2F2"})
    resp.raise_for_status()
    url = resp.headers["Location"]
    offset, last = 0, 0.0
    with path.open("rb") as fh:
        while offset < size:
            chunk = fh.read(CHUNK)
            t_chunk = time.perf_counter()
            resp = session.patch(url, data=chunk, headers={
                **headers, "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream"}, timeout=600)
            if resp.status_code != 204:
                raise SystemExit(f"PATCH at {offset}: {resp.status_code} {resp.text[:300]}")
            offset = int(resp.headers["Upload-Offset"])
            last = time.perf_counter() - t_chunk
    return time.perf_counter() - t0, last


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--dir", default=None, help="work directory (default: a temp dir)")
    args = parser.parse_args(argv)
    size = args.size_mb * 1024 * 1024
    work = Path(tempfile.mkdtemp(prefix="adal-bench-upload-", dir=args.dir))
    proc = None
    try:
        source = work / "source.wav"
        write_wav(source, size)
        copy_s, durable_s = _copy_baselines(source, work / "copy.wav")

        port = _free_port()
        env = {**os.environ, "ADAL_DATABASE_URL": f"sqlite:///{work / 'adal.sqlite3'}",
               "ADAL_SECRET_KEY": "bench-secret-key-0123456789",
               "ADAL_MEDIA_ROOT": str(work / "media"), "ADAL_UPLOAD_SPOOL": str(work / "spool"),
               "ADAL_MEDIA_MAX_BYTES_AUDIO": str(max(size, 1024)),
               "ADAL_UPLOAD_MAX_BYTES": str(max(size, 1024 ** 3)),
               "ADAL_PASSWORD_HASH_PROFILE": "CHEAPEST"}
        token = _prepare(env)
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
             "--worker-class", "gthread", "--threads", "4", "--timeout", "600",
             "--log-level", "warning", "wsgi:app"], env=env, cwd=ROOT)
        base = f"http://127.0.0.1:{port}"
        _wait_up(base, proc)
        workers = _children(proc.pid)
        # A warm server: the first completion starts the decoders' process server.
        warm = work / "warm.wav"
        write_wav(warm, 64 * 1024)
        upload(base, token, warm)
        idle = {pid: _hwm_mb(pid) for pid in workers}
        total_s, last_s = upload(base, token, source)
        peak = {pid: _hwm_mb(pid) for pid in workers}
        stored = list((work / "media" / "originals").rglob("*"))
        stored_files = [p for p in stored if p.is_file()]
        assert any(p.stat().st_size == size for p in stored_files), stored_files
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        shutil.rmtree(work, ignore_errors=True)

    mb = size / 1024 / 1024
    tus_rate = mb / total_s
    print(f"file: {mb:.0f} MiB WAV, tus chunks of {CHUNK // 1024 // 1024} MiB, local backend")
    print(f"plain copy (shutil.copyfile):  {copy_s:6.2f} s  {mb / copy_s:7.1f} MiB/s")
    print(f"copy + fsync (durable copy):   {durable_s:6.2f} s  {mb / durable_s:7.1f} MiB/s")
    print(f"tus upload, to stored:         {total_s:6.2f} s  {tus_rate:7.1f} MiB/s  "
          f"(last PATCH with completion: {last_s:.2f} s)")
    print(f"ratio upload / plain copy:     {copy_s / total_s:6.2f}")
    print(f"ratio upload / durable copy:   {durable_s / total_s:6.2f}")
    for pid in workers:
        print(f"gunicorn worker {pid}: peak RSS (VmHWM) {peak[pid]:.0f} MB "
              f"(after start-up and a warm-up upload {idle[pid]:.0f} MB)")


def _copy_baselines(source: Path, target: Path) -> tuple[float, float]:
    """Median of three plain copies, and median of three copies made durable with fsync."""
    plain, durable = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        shutil.copyfile(source, target)
        plain.append(time.perf_counter() - t0)
        target.unlink()
        t0 = time.perf_counter()
        shutil.copyfile(source, target)
        with target.open("rb+") as fh:
            os.fsync(fh.fileno())
        durable.append(time.perf_counter() - t0)
        target.unlink()
    return sorted(plain)[1], sorted(durable)[1]


if __name__ == "__main__":
    main()
