"""Issue 12, item 8: a URL or header past the limits is answered as problem+json, never with
gunicorn's or nginx's HTML page. gunicorn runs for real with gunicorn.conf.py, alone and behind
nginx configured with the snippet of docs/deployment.md (skipped if nginx is not installed)."""
from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from server import create_app
from server.extensions import db
from tests.media.faults import Gunicorn, free_port, wait_until

ROOT = Path(__file__).resolve().parents[1]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def _documented_snippet() -> str:
    """The nginx block of docs/deployment.md that answers the limits (tested as written)."""
    text = (ROOT / "docs" / "deployment.md").read_text()
    blocks = re.findall(r"```nginx\n(.*?)```", text, re.S)
    [snippet] = [b for b in blocks if "error_page 414" in b]
    return snippet


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory, sqlite_template):
    folder = tmp_path_factory.mktemp("limits")
    if sqlite_template is not None:
        shutil.copyfile(sqlite_template, folder / "adal.sqlite3")
    else:  # a PostgreSQL run: the server still gets a SQLite file of its own
        app = create_app({"TESTING": True, "SECRET_KEY": "k" * 32,
                          "DATABASE_URL": f"sqlite:///{folder / 'adal.sqlite3'}"},
                         instance_path=str(folder / "instance"))
        with app.app_context():
            db.create_all()
            db.session.remove()
            db.engine.dispose()
    server = Gunicorn({"ADAL_DATABASE_URL": f"sqlite:///{folder / 'adal.sqlite3'}",
                       "ADAL_SECRET_KEY": "k" * 32, "ADAL_MEDIA_ROOT": str(folder / "media"),
                       "ADAL_UPLOAD_SPOOL": str(folder / "spool"),
                       "ADAL_SIGNING_KEY": base64.b64encode(b"s" * 32).decode()},
                      workdir=folder)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def nginx(gunicorn, tmp_path_factory):
    if NGINX is None:
        pytest.skip("nginx is not installed")
    folder = tmp_path_factory.mktemp("nginx")
    port = free_port()
    temps = "\n".join(f"    {name}_temp_path {folder / name};"
                      for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (folder / "nginx.conf").write_text(f"""
pid {folder / 'nginx.pid'};
error_log {folder / 'error.log'};
events {{ worker_connections 64; }}
http {{
    access_log off;
{temps}
    server {{
        listen 127.0.0.1:{port};
{_documented_snippet()}
        location / {{ proxy_pass http://127.0.0.1:{gunicorn.port}; }}
    }}
}}
""")
    proc = subprocess.Popen([NGINX, "-p", str(folder), "-e", str(folder / "error.log"),
                             "-c", str(folder / "nginx.conf"), "-g", "daemon off; master_process off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"

    def up():
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode())
        try:
            return requests.get(url + "/healthz", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    wait_until(up, what="nginx")
    yield url
    proc.terminate()
    proc.wait(5)


def _problem(resp, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text[:300]
    assert resp.headers["Content-Type"].startswith("application/problem+json"), resp.text[:300]
    body = resp.json()
    assert (body["status"], body["code"], body["type"]) == (status, code,
                                                            f"urn:adal:problem:{code}")
    assert body["title"] and body["detail"]
    assert "<html" not in resp.text


LONG_PATH = "/api/v1/offices?q=" + "a" * 9000
LONG_HEADER = {"X-Long": "b" * 20000}


@pytest.fixture(params=["gunicorn", "nginx"])
def base(request) -> str:
    return request.getfixturevalue(request.param) if request.param == "nginx" \
        else request.getfixturevalue("gunicorn").url


def test_a_url_past_the_limit_is_414_problem_json(base):
    _problem(requests.get(base + LONG_PATH, timeout=10), 414, "uri_too_long")


def test_a_header_past_the_limit_is_431_problem_json(base):
    _problem(requests.get(base + "/api/v1/offices", headers=LONG_HEADER, timeout=10),
             431, "header_too_large")


def test_a_url_over_4_kib_within_the_limit_reaches_adal(base):
    resp = requests.get(base + "/api/v1/offices?q=" + "a" * 5000, timeout=10)
    _problem(resp, 401, resp.json()["code"])  # Adal's own answer: sign in first


def test_a_long_header_line_and_many_headers_within_the_limits_reach_adal(base):
    headers = {"X-Long": "c" * 7000, **{f"X-Many-{i}": "d" for i in range(150)}}
    resp = requests.get(base + "/api/v1/offices", headers=headers, timeout=10)
    _problem(resp, 401, resp.json()["code"])
