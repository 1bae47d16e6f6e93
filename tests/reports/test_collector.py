"""A ranking pauses Python's cyclic garbage collector while it is built, and leaves it as it
found it: on after a ranking and after a failing one, off if it was off."""
from __future__ import annotations

import gc

import pytest

from server.reports import ranking as ranking_module


@pytest.fixture
def collector():
    was_on = gc.isenabled()
    yield
    if was_on:
        gc.enable()


def test_the_collector_is_off_while_a_ranking_is_built_and_on_again_after(
        commit, rw, rank, monkeypatch, collector):
    commit(lambda: rw.visits(rw.office("A"), [80, 90, 100]))
    seen = []
    real = ranking_module.item_of

    def item_of(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)
    monkeypatch.setattr(ranking_module, "item_of", item_of)
    gc.enable()
    assert rank()["items"][0]["score"] == 90.0
    assert seen == [False] and gc.isenabled()


def test_a_failing_ranking_turns_the_collector_back_on(commit, rw, rank, monkeypatch,
                                                        collector):
    commit(lambda: rw.office("A"))

    def broken(*args, **kwargs):
        raise RuntimeError("failpoint")
    monkeypatch.setattr(ranking_module, "item_of", broken)
    gc.enable()
    with pytest.raises(RuntimeError):
        rank()
    assert gc.isenabled()


def test_a_collector_turned_off_elsewhere_stays_off(commit, rw, rank, collector):
    commit(lambda: rw.office("A"))
    gc.disable()
    rank()
    assert not gc.isenabled()


def test_overlapping_rankings_in_threads_leave_the_collector_on(collector):
    """Two rankings that overlap (the second starts while the first runs and ends after it):
    the collector is off while either runs and on once both are done, whatever the order."""
    import threading

    gc.enable()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with ranking_module._collector_paused():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second():
        first_in.wait(5)
        with ranking_module._collector_paused():
            second_in.set()
            first_out.wait(5)
            seen["after the first ended"] = gc.isenabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == {"after the first ended": False}
    assert gc.isenabled()
