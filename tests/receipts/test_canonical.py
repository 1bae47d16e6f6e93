"""canonical_parsed (orjson, the intake fast path) gives canonical()'s bytes exactly for any
document orjson parsed: the receipt's size and the body's SHA-256 must not depend on the path."""
from __future__ import annotations

import json

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from server.receipts.service import canonical, canonical_parsed

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1e16, 1e-7, 1e-05, 0.0001, 1e22, 123456789.125, 5e-324]),
    st.text(), st.sampled_from(["", "\x00", "\x1f\x7f", "\u2028\u2029", '"\\/', "5e3",
                                "é 🙂 Ұ", "\ud83d\ude42"]))
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)),
    max_leaves=30)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.text(max_size=8), documents, max_size=6))
def test_the_fast_encoding_is_the_canonical_one(document):
    parsed = orjson.loads(json.dumps(document))  # what the fast path has: orjson's parse
    assert canonical_parsed(parsed) == canonical(parsed)


def test_usual_bodies_take_orjson():
    body = {"b": [1, 2.5, None, True], "a": {"z": "Ұлттық", "y": "line\nbreak"}}
    assert canonical_parsed(body) == orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    assert canonical_parsed(body) == canonical(body)
    assert canonical_parsed({"x": 1e-7}) == b'{"x":1e-07}'  # Python's exponent, not orjson's
    assert canonical_parsed({"x": [{"y": 1e-05}]}) == b'{"x":[{"y":1e-05}]}'
    assert canonical_parsed({"x": 1e16, "y": 0.0001}) == b'{"x":1e+16,"y":0.0001}'
    assert canonical_parsed({"x": 2**64}) == b'{"x":18446744073709551616}'


def test_a_usual_visit_body_never_takes_the_slow_encoder(monkeypatch):
    from server.receipts import service

    def slow(_data):
        raise AssertionError("the standard encoder was used")

    monkeypatch.setattr(service, "canonical", slow)
    body = {"uuid": "5f0c1f6e-8a4b-4c3e-9d57-0a1b2c3d4e5f", "assignment": 7,
            "started_at": "2026-11-30T09:00:00+05:00",
            "position_start": {"lat": 51.1283, "lon": 71.4304, "accuracy": 15},
            "answers": [{"question": "wait_min", "value": 12.5}, {"question": "ramp",
                                                                   "value": "yes", "note": ""}]}
    assert canonical_parsed(body) == orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
