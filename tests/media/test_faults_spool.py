"""The upload spool disk full (issue 12, item 10): a PATCH whose chunk cannot be written is a 507
problem+json `spool_full`; the offset does not move, nothing of that chunk is kept (not even the
part that fitted), and the same chunk goes through once there is room again.

Two ways to fill the disk: a real tmpfs of 256 KiB as the spool (needs the right to mount; the
test is skipped without it), and the `tus.spool_write=enospc` failpoint (server/failpoints.py),
which works anywhere."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from server.media import service
from server.media.models import MediaObject
from server.media.storage import build_storages
from tests.problems import assert_problem

from .conftest import wav_bytes


def _mount(path: Path, size: str, *, remount: bool = False) -> bool:
    options = f"size={size}" + (",remount" if remount else "")
    args = ["mount", "-o", options, path] if remount else ["mount", "-t", "tmpfs", "-o",
                                                            options, "tmpfs", path]
    return subprocess.run(args, capture_output=True).returncode == 0


def _fresh(disk: Path) -> None:
    """The small disk back at 256 KiB, empty (a previous test's spool gone)."""
    _mount(disk, "256k", remount=True)
    for old in disk.iterdir():
        shutil.rmtree(old) if old.is_dir() else old.unlink()


@pytest.fixture(scope="module")
def small_disk(tmp_path_factory):
    """A 256 KiB tmpfs (skipped where this process may not mount)."""
    path = tmp_path_factory.mktemp("full-spool")
    if not _mount(path, "256k"):
        pytest.skip("cannot mount a tmpfs here (needs CAP_SYS_ADMIN)")
    yield path
    subprocess.run(["umount", "-l", path], capture_output=True)


@pytest.fixture
def full_spool(request, app, monkeypatch, tmp_path):
    """The app's spool on a disk that is full (`request.param`: "tmpfs" or "failpoint");
    calling the result makes room."""
    if request.param == "tmpfs":
        disk = request.getfixturevalue("small_disk")
        _fresh(disk)
        app.config["UPLOAD_SPOOL"] = str(disk)
        yield lambda: _mount(disk, "4m", remount=True)
        return
    points = tmp_path / "failpoints"
    points.write_text("")
    monkeypatch.setenv("ADAL_FAILPOINTS_FILE", str(points))
    app.config["UPLOAD_SPOOL"] = str(tmp_path / "spool")
    yield lambda: points.write_text("")
    return


def _arm(request, app) -> None:
    if request.node.callspec.params["full_spool"] == "failpoint":
        Path(os.environ["ADAL_FAILPOINTS_FILE"]).write_text("tus.spool_write=enospc\n")


@pytest.mark.parametrize("full_spool", ["tmpfs", "failpoint"], indirect=True)
def test_a_full_spool_is_507_spool_full_and_the_chunk_goes_through_once_there_is_room(
        request, app, full_spool, tus, count):
    data = wav_bytes(seconds=25)  # 400 KB: more than the 256 KiB disk holds
    spool = Path(app.config["UPLOAD_SPOOL"])
    url = tus.new(len(data))
    assert tus.patch(url, 0, data[:100_000]).status_code == 204
    part = spool / (url.rsplit("/", 1)[1] + ".part")
    _arm(request, app)
    resp = tus.patch(url, 100_000, data[100_000:])
    body = assert_problem(resp, 507, "spool_full")
    assert int(resp.headers["Retry-After"]) > 0
    assert "full" in body["detail"]
    assert tus.offset(url) == 100_000
    assert part.stat().st_size == 100_000  # what fitted of the chunk is not kept either
    assert part.read_bytes() == data[:100_000]
    full_spool()  # room again
    resp = tus.patch(url, 100_000, data[100_000:])
    assert resp.status_code == 204, resp.get_data(as_text=True)
    assert resp.headers["Adal-Media-Sha256"] == hashlib.sha256(data).hexdigest()
    assert count(MediaObject) == 1
    assert not part.exists()


def test_a_small_chunk_that_finds_the_disk_full_is_507_too(app, small_disk, tus):
    """A chunk smaller than the file buffer fails when it is flushed, not when it is written."""
    _fresh(small_disk)
    app.config["UPLOAD_SPOOL"] = str(small_disk)
    data = wav_bytes(seconds=10)
    url = tus.new(len(data))
    assert tus.patch(url, 0, data[:1000]).status_code == 204
    filler = _fill(small_disk)
    resp = tus.patch(url, 1000, data[1000:7000])
    assert_problem(resp, 507, "spool_full")
    assert tus.offset(url) == 1000
    filler.unlink()
    assert tus.patch(url, 1000, data[1000:7000]).status_code == 204
    assert tus.offset(url) == 7000


def _fill(disk: Path) -> Path:
    """A file taking every free page of `disk`; its path."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def test_a_spool_that_must_be_copied_on_a_full_disk_is_507_and_the_evidence_untouched(
        app, small_disk, tus, count):
    """A completion killed after linking the spool into the store leaves the spool shared with
    the original; a chunk that differs from it needs a copy of the spool, which a full disk
    refuses: 507, the original as it was, and the right bytes still complete the upload."""
    _fresh(small_disk)
    app.config.update(UPLOAD_SPOOL=str(small_disk / "spool"), MEDIA_ROOT=str(small_disk / "media"))
    app.extensions["adal_storages"] = build_storages(app.config)
    data = wav_bytes(seconds=3)  # 48 KB
    sha = hashlib.sha256(data).hexdigest()
    url = tus.new(len(data))
    assert tus.patch(url, 0, data[:-1000]).status_code == 204
    part = small_disk / "spool" / (url.rsplit("/", 1)[1] + ".part")
    with open(part, "r+b") as fh:  # what a completion killed after storing leaves
        fh.seek(len(data) - 1000)
        fh.write(data[-1000:])
    with app.app_context():
        service.default_storage().save_file(service.original_key(sha), part)
    assert part.stat().st_nlink == 2
    filler = _fill(small_disk)
    wrong = data[-1000:-1] + b"!"
    assert_problem(tus.patch(url, len(data) - 1000, wrong), 507, "spool_full")
    assert tus.offset(url) == len(data) - 1000
    assert (small_disk / "media" / service.original_key(sha)).read_bytes() == data
    filler.unlink()
    resp = tus.patch(url, len(data) - 1000, data[-1000:])
    assert resp.status_code == 204, resp.get_data(as_text=True)
    assert resp.headers["Adal-Media-Sha256"] == sha
    assert count(MediaObject) == 1
