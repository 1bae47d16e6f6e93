"""Helpers of the fault tests (tests/media/test_faults_*.py): a TCP proxy that can make a store
go silent, and the app under gunicorn in a real subprocess, which a test may SIGKILL."""
from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, *, timeout: float = 60.0, what: str = "condition"):
    """Poll `check` (every 20 ms) until it returns something true; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class SilentProxy:
    """A TCP proxy to `upstream` (host, port). `silent = True` makes it a store that is up but
    does not answer: connections are accepted, what is sent is read and dropped, nothing comes
    back (new connections and those already open alike)."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.silent = False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.closed = False
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        up = None
        try:
            up = socket.create_connection(self.upstream)
            self.sockets.append(up)
            while not self.closed:
                ready, _, _ = select.select([conn, up], [], [], 0.05)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if not self.silent:
                        (up if sock is conn else conn).sendall(data)
        except OSError:
            return
        finally:
            for sock in (conn, up):
                if sock is not None:
                    sock.close()

    def close(self) -> None:
        self.closed = True
        self.listener.close()


class Gunicorn:
    """`gunicorn wsgi:app` (one gthread worker) in a subprocess with the given ADAL_* settings;
    a killed worker is replaced by the master, as in production."""

    def __init__(self, env: dict[str, str], *, workdir: Path, args: tuple[str, ...] = ()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "gunicorn.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
             "-b", f"127.0.0.1:{self.port}", "-w", "1", "--threads", "2",
             "--graceful-timeout", "1", "--preload", *args, "wsgi:app"],
            cwd=ROOT, env={**os.environ, **env}, stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self.ready, timeout=60, what=f"gunicorn on {self.url} (see {self.log})")

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"gunicorn exited: {self.log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=2) as resp:
                return resp.status == 200
        except urllib.error.HTTPError as exc:
            return exc.code < 500
        except OSError:
            return False

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
                             capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
