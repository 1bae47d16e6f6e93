"""quick_load (the intake fast path's loader) gives exactly what VisitIn.load gives, and never
accepts a body VisitIn finds a problem in: anything unusual goes the long way."""
from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from server.visits.schemas import SHAPE_ERRORS, PositionIn, VisitIn, _plain_position, quick_load

UUID = "5f0c1f6e-8a4b-4c3e-9d57-0a1b2c3d4e5f"
ANSWERS = [{"question": "q1", "value": "yes"}, {"question": "q2", "value": 3}]
USUAL = {"uuid": UUID, "assignment": 7, "started_at": "2026-11-30T09:00:00+05:00",
         "ended_at": "2026-11-30T09:40:00+05:00",
         "position_start": {"lat": 51.1, "lon": 71.4, "accuracy": 15},
         "position_end": {"lat": 51.1, "lon": 71.4, "accuracy": None,
                          "at": "2026-11-30T09:40:00Z"},
         "answers": ANSWERS, "device": {"app_version": "1.4", "clock_offset_ms": -120}}

moments = st.sampled_from(["2026-11-30T09:00:00+05:00", "2026-11-30T09:00:00Z",
                           "2026-11-30T09:00:00", "1999-12-31T23:59:59Z", "2100-01-01T00:00:00Z",
                           "9999-12-31T23:00:00-05:00", "yesterday", "", 5, None])
numbers = st.one_of(st.sampled_from([0, 51.1, -90, 90.5, 181, 1e400, True, "51.1", None]),
                    st.floats(allow_nan=False), st.integers())
positions = st.one_of(st.none(), st.sampled_from([[], "here", 5]), st.fixed_dictionaries(
    {}, optional={"lat": numbers, "lon": numbers, "accuracy": numbers, "at": moments,
                  "alt": numbers}))
devices = st.one_of(st.none(), st.sampled_from([[], "phone"]), st.fixed_dictionaries({}, optional={
    "app_version": st.sampled_from(["1.4", "", "x" * 64, "x" * 65, "a\x00", 3, None]),
    "platform": st.sampled_from(["android", "\ud800", None]),
    "user_agent": st.text(max_size=5),
    "clock_offset_ms": st.sampled_from([0, -120, 10**10, 10**10 + 1, 1.0, 1.5, "5", True, None]),
    "colour": st.just("red")}))
bodies = st.fixed_dictionaries({}, optional={
    "uuid": st.sampled_from([UUID, UUID.upper(), "{" + UUID + "}", UUID.replace("-", ""),
                             "not-a-uuid", "", 5, None]),
    "assignment": st.sampled_from([1, 7, 0, -1, 2_147_483_647, 2_147_483_648, True, 7.0, "7",
                                   None]),
    "office": st.sampled_from(["AST-1", ""]),
    "form_key": st.just("service_centre_visit"),
    "form_version": st.sampled_from([1, 0]),
    "started_at": moments,
    "ended_at": moments,
    "position_start": positions,
    "position_end": positions,
    "answers": st.one_of(st.just(ANSWERS), st.just([]), st.just([None]), st.just([5, "x"]),
                         st.just([{}] * 501), st.just([{}] * 500), st.just("answers"), st.none()),
    "device": devices,
    "extra": st.integers(),
})


@settings(max_examples=1500, deadline=None)
@given(st.one_of(bodies, bodies.map(lambda b: {**USUAL, **b})))
def test_quick_load_matches_visitin(body):
    quick = quick_load(body)
    if quick is None:
        return
    expected = VisitIn().load(body)
    assert SHAPE_ERRORS not in expected, "quick_load accepted what VisitIn refuses"
    assert quick == expected


def test_the_usual_visit_takes_the_quick_way():
    loaded = quick_load(USUAL)
    assert loaded == VisitIn().load(USUAL)
    assert loaded["uuid"] == uuid.UUID(UUID)
    assert loaded["answers"] == ANSWERS and loaded["answers"] is not ANSWERS
    minimal = {k: USUAL[k] for k in ("uuid", "assignment", "started_at", "ended_at", "answers")}
    assert quick_load(minimal) == VisitIn().load(minimal)
    assert quick_load(minimal)["device"] == {} and quick_load(minimal)["position_start"] is None


@settings(max_examples=400, deadline=None)
@given(positions)
def test_the_plain_position_is_positionins_load(position):
    plain = _plain_position(position)
    if plain is not None:
        assert plain == PositionIn().load(position)


def test_a_phones_position_takes_the_plain_way():
    for position in ({"lat": 51.1, "lon": 71.4, "accuracy": 15}, {"lat": -90, "lon": 180}):
        assert _plain_position(position) == PositionIn().load(position)
    assert _plain_position({"lat": 51.1, "lon": 71.4, "at": "2026-11-30T09:40:00Z"}) is None
    assert _plain_position({"lat": True, "lon": 71.4}) is None


def test_anything_unusual_goes_the_long_way():
    assert quick_load({**USUAL, "office": "AST-1"}) is None  # an unplanned visit's field
    assert quick_load({**USUAL, "assignment": True}) is None
    assert quick_load({**USUAL, "device": {"clock_offset_ms": "soon"}}) is None
    assert quick_load({k: v for k, v in USUAL.items() if k != "ended_at"}) is None
    assert quick_load([USUAL]) is None
