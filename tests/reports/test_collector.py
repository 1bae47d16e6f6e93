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
