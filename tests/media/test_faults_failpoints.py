"""server/failpoints.py: inert unless ADAL_FAILPOINTS_FILE names a file, and then exactly what
the file says, re-read at every hit."""
from __future__ import annotations

import errno
import threading
import time

import pytest

from server import failpoints


def test_without_the_variable_nothing_happens(monkeypatch, tmp_path):
    monkeypatch.delenv(failpoints.ENV, raising=False)
    (tmp_path / "points").write_text("tus.spool_write=enospc\n")  # a file alone does nothing
    failpoints.hit("tus.spool_write")


def test_a_missing_file_or_another_name_does_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv(failpoints.ENV, str(tmp_path / "absent"))
    failpoints.hit("tus.spool_write")
    (tmp_path / "points").write_text("# tus.spool_write=enospc\nother.point=enospc\n")
    monkeypatch.setenv(failpoints.ENV, str(tmp_path / "points"))
    failpoints.hit("tus.spool_write")


def test_actions_as_the_file_says_and_disarmed_by_rewriting_it(monkeypatch, tmp_path):
    points = tmp_path / "points"
    monkeypatch.setenv(failpoints.ENV, str(points))
    points.write_text(" tus.spool_write = enospc  # a full disk\nx=error\n")
    with pytest.raises(OSError) as caught:
        failpoints.hit("tus.spool_write")
    assert caught.value.errno == errno.ENOSPC
    with pytest.raises(RuntimeError, match="failpoint x: error"):
        failpoints.hit("x")
    points.write_text("")
    failpoints.hit("tus.spool_write")


def test_block_waits_until_the_line_is_gone(monkeypatch, tmp_path):
    points = tmp_path / "points"
    monkeypatch.setenv(failpoints.ENV, str(points))
    points.write_text("p=block\n")
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (failpoints.hit("p"), done.set()))
    waiter.start()
    time.sleep(0.05)  # the one way to show it is still waiting
    assert not done.is_set()
    points.write_text("")
    waiter.join(2)
    assert done.is_set()
