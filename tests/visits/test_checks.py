"""Evidence checks (pure): every flag a reviewer gets, and where each one starts."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from server.config import PROJECT_ROOT
from server.forms.definition import check_definition
from server.forms.loader import load_form_file
from server.scoring.rules import Answer, CompiledForm
from server.visits.checks import EARTH_RADIUS_M, FlagSpec, VisitFacts, distance_m, run_checks
from tests.conftest import DEFAULT_FORM

TZ = "Asia/Almaty"
OFFICE = (51.1283, 71.4304)
START = datetime(2026, 5, 4, 10, 0, tzinfo=ZoneInfo(TZ))  # whatever Almaty's offset is that day
END = START + timedelta(minutes=40)
SHA = "a" * 64


def north_of_office(metres: float) -> tuple[float, float]:
    """A point `metres` due north of the office (along a meridian the distance is exact)."""
    return OFFICE[0] + math.degrees(metres / EARTH_RADIUS_M), OFFICE[1]


@pytest.fixture(scope="module")
def default_form() -> CompiledForm:
    """The default checklist, compiled once: these tests need no app (conftest's does)."""
    return CompiledForm(load_form_file(PROJECT_ROOT / DEFAULT_FORM))


def facts(**kw) -> VisitFacts:
    base = dict(office_lat=OFFICE[0], office_lon=OFFICE[1], started_at=START, ended_at=END,
                window=(START - timedelta(days=1), START + timedelta(days=1)),
                position_start=None, position_end=None, answers={}, evidence={}, reused={},
                critical=())
    base.update(kw)
    return VisitFacts(**base)


def media(sha: str = SHA, *, kind: str = "photo", gps: tuple[float, float] | None = None,
          gps_status: str | None = None, captured_at: datetime | None = None,
          info: dict | None = None) -> SimpleNamespace:
    return SimpleNamespace(sha256=sha, kind=kind,
                           gps_status=gps_status or ("valid" if gps else "absent"),
                           gps_lat=gps[0] if gps else None, gps_lon=gps[1] if gps else None,
                           captured_at=captured_at, info=info or {})


def run(form: CompiledForm, f: VisitFacts) -> list[FlagSpec]:
    return run_checks(form, f, max_distance_m=300, timezone=TZ)


def kinds(flags: list[FlagSpec]) -> list[str]:
    return [flag.kind for flag in flags]


def only(flags: list[FlagSpec], kind: str) -> list[FlagSpec]:
    return [flag for flag in flags if flag.kind == kind]


def test_a_clean_visit_has_no_flags(default_form):
    position = {"lat": OFFICE[0], "lon": OFFICE[1], "accuracy": 10}
    assert run(default_form, facts(position_start=position, position_end=position)) == []


# --- distance ----------------------------------------------------------------------------

def test_distance_between_astana_and_almaty():
    assert distance_m(51.1694, 71.4491, 43.2220, 76.8512) == pytest.approx(970_000, rel=0.01)


def test_distance_is_symmetric_and_zero_on_the_spot():
    assert distance_m(*OFFICE, *OFFICE) == 0
    assert distance_m(43.2, 76.8, 51.1, 71.4) == pytest.approx(distance_m(51.1, 71.4, 43.2, 76.8))


@pytest.mark.parametrize("metres", [299, 301])
def test_the_test_points_are_where_they_claim(metres):
    assert distance_m(*north_of_office(metres), *OFFICE) == pytest.approx(metres, abs=0.01)


def test_a_position_just_inside_the_threshold_is_not_flagged(default_form):
    lat, lon = north_of_office(299)
    flags = run(default_form, facts(position_start={"lat": lat, "lon": lon, "accuracy": 8},
                                    position_end={"lat": lat, "lon": lon, "accuracy": 8}))
    assert only(flags, "far_from_office") == []


@pytest.mark.parametrize("which", ["start", "end"])
def test_a_position_just_outside_the_threshold_is_flagged(default_form, which):
    lat, lon = north_of_office(301)
    flags = run(default_form, facts(**{f"position_{which}": {"lat": lat, "lon": lon,
                                                              "accuracy": 8}}))
    assert only(flags, "far_from_office") == [FlagSpec("far_from_office", "warning", {
        "position": which, "distance_m": 301, "accuracy_m": 8, "threshold_m": 300})]


def test_without_an_office_position_distance_is_not_judged(default_form):
    far = north_of_office(50_000)
    position = {"lat": far[0], "lon": far[1], "accuracy": 5}
    flags = run(default_form, facts(office_lat=None, office_lon=None, position_start=position,
                                    position_end=position,
                                    evidence={"A01": [media(gps=far)]}))
    assert "far_from_office" not in kinds(flags)
    assert "photo_far_from_office" not in kinds(flags)


# --- duration and window -----------------------------------------------------------------

def test_a_visit_shorter_than_the_minimum_is_flagged(default_form):
    flags = run(default_form, facts(ended_at=START + timedelta(minutes=9, seconds=54)))
    assert only(flags, "too_short") == [FlagSpec("too_short", "warning",
                                                 {"minutes": 9.9, "minimum": 10})]


def test_a_visit_of_exactly_the_minimum_is_not_flagged(default_form):
    assert run(default_form, facts(ended_at=START + timedelta(minutes=10))) == []


def test_a_form_without_a_minimum_never_flags_a_short_visit():
    f = small_form({"id": "Q1", "type": "yes_no"})
    assert run(f, facts(ended_at=START + timedelta(seconds=30))) == []


def test_a_visit_started_outside_the_window_is_flagged(default_form):
    window = (START + timedelta(hours=1), START + timedelta(days=2))
    flags = run(default_form, facts(window=window))
    assert only(flags, "outside_window") == [FlagSpec("outside_window", "info", {
        "started_at": START.isoformat(), "window_start": window[0].isoformat(),
        "window_end": window[1].isoformat()})]
    assert kinds(run(default_form, facts(window=(START - timedelta(days=2),
                                                 START - timedelta(seconds=1))))) == [
        "outside_window"]


def test_a_visit_started_on_the_window_edges_or_unplanned_is_not_flagged(default_form):
    assert run(default_form, facts(window=(START, START + timedelta(days=1)))) == []
    assert run(default_form, facts(window=(START - timedelta(days=1), START))) == []
    assert run(default_form, facts(window=None)) == []


# --- required evidence -------------------------------------------------------------------

def small_form(*questions: dict, **top) -> CompiledForm:
    for q in questions:
        q.setdefault("label", {"en": q["id"]})
        for choice in q.get("choices", []):
            choice.setdefault("label", {"en": choice["id"]})
    return CompiledForm(check_definition({
        "key": "t", "version": 1, "languages": ["en"], "title": {"en": "T"},
        "sections": [{"id": "s", "title": {"en": "S"}, "questions": list(questions)}], **top},
        "test"))


def missing(flags: list[FlagSpec]) -> list[tuple[str, str, str]]:
    return [(f.detail["question"], f.detail["kind"], f.detail["rule"])
            for f in only(flags, "evidence_missing")]


@pytest.fixture
def evidence_form() -> CompiledForm:
    return small_form(
        {"id": "Q1", "type": "yes_no", "evidence": {"photo": "required"}},
        {"id": "Q2", "type": "yes_no", "relevant": "Q1 == 'yes'", "not_applicable": True,
         "evidence": {"photo": "required", "video": "optional"}},
        {"id": "Q3", "type": "multi_choice", "evidence": {"photo": "required_when:b"},
         "choices": [{"id": "a"}, {"id": "b"}]},
    )


def test_required_evidence_missing_is_flagged(evidence_form):
    flags = run(evidence_form, facts(answers={"Q1": Answer("yes"), "Q2": Answer("no")}))
    assert missing(flags) == [("Q1", "photo", "required"), ("Q2", "photo", "required")]
    assert only(flags, "evidence_missing")[0].severity == "warning"


def test_required_evidence_present_is_not_flagged(evidence_form):
    flags = run(evidence_form, facts(answers={"Q1": Answer("no")},
                                     evidence={"Q1": [media()]}))
    assert missing(flags) == []


def test_evidence_of_another_kind_does_not_count(evidence_form):
    flags = run(evidence_form, facts(answers={"Q1": Answer("no")},
                                     evidence={"Q1": [media(kind="video")]}))
    assert missing(flags) == [("Q1", "photo", "required")]


def test_required_evidence_of_a_question_not_asked_is_not_flagged(evidence_form):
    flags = run(evidence_form, facts(answers={"Q1": Answer("no")}, evidence={"Q1": [media()]}))
    assert "Q2" not in [q for q, _, _ in missing(flags)]


def test_required_evidence_of_a_not_applicable_answer_is_not_flagged(evidence_form):
    flags = run(evidence_form, facts(answers={"Q1": Answer("yes"),
                                              "Q2": Answer(None, not_applicable=True)},
                                     evidence={"Q1": [media()]}))
    assert missing(flags) == []


def test_required_when_a_choice_is_ticked(evidence_form):
    answered = {"Q1": Answer("no")}
    evidence = {"Q1": [media()]}
    ticked = run(evidence_form, facts(answers={**answered, "Q3": Answer(["a", "b"])},
                                      evidence=evidence))
    assert missing(ticked) == [("Q3", "photo", "required_when:b")]
    not_ticked = run(evidence_form, facts(answers={**answered, "Q3": Answer(["a"])},
                                          evidence=evidence))
    assert missing(not_ticked) == []


def test_a_required_photo_question_without_a_photo_is_flagged():
    f = small_form({"id": "P", "type": "photo", "required": True},
                   {"id": "V", "type": "video"})
    assert missing(run(f, facts())) == [("P", "photo", "required")]
    assert missing(run(f, facts(evidence={"P": [media()]}))) == []


def test_required_when_no_on_the_default_checklist(default_form):
    # A01 (step-free access) needs a photo when the answer is no, and so does A03 (handrails),
    # which is only asked when A01 is yes.
    flags = run(default_form, facts(answers={"A01": Answer("no")}))
    assert missing(flags) == [("A01", "photo", "required_when:no")]


def test_required_when_no_is_not_flagged_on_yes(default_form):
    flags = run(default_form, facts(answers={"A01": Answer("yes"), "A03": Answer("yes")}))
    assert missing(flags) == []


def test_required_when_no_is_not_flagged_when_the_question_is_not_asked(default_form):
    # A03 "no" without a photo, but A01 is "no": A03 is not asked.
    flags = run(default_form, facts(answers={"A01": Answer("no"), "A03": Answer("no")},
                                    evidence={"A01": [media()]}))
    assert missing(flags) == []


def test_required_when_no_is_not_flagged_on_not_applicable(default_form):
    flags = run(default_form, facts(answers={"A01": Answer("yes"),
                                             "A03": Answer(None, not_applicable=True)}))
    assert missing(flags) == []


def test_required_when_no_on_a_question_left_unanswered_is_not_flagged(default_form):
    assert missing(run(default_form, facts(answers={}))) == []


# --- photos: where, when, reused ---------------------------------------------------------

def test_a_photo_taken_far_from_the_office_is_flagged(default_form):
    flags = run(default_form, facts(evidence={"A01": [media(gps=north_of_office(301))]}))
    assert only(flags, "photo_far_from_office") == [FlagSpec("photo_far_from_office", "warning", {
        "question": "A01", "media": SHA[:12], "distance_m": 301, "threshold_m": 300})]


def test_a_photo_taken_near_the_office_is_not_flagged(default_form):
    assert run(default_form, facts(evidence={"A01": [media(gps=north_of_office(299))]})) == []


@pytest.mark.parametrize("status", ["invalid", "absent"])
def test_a_photo_position_that_is_not_valid_is_not_judged(default_form, status):
    photo = media(gps=north_of_office(10_000), gps_status=status)
    assert run(default_form, facts(evidence={"A01": [photo]})) == []


def test_a_photo_taken_outside_the_visit_is_flagged(default_form):
    taken = START - timedelta(minutes=31)
    flags = run(default_form, facts(evidence={"A01": [media(captured_at=taken)]}))
    assert only(flags, "photo_outside_window") == [FlagSpec("photo_outside_window", "warning", {
        "question": "A01", "media": SHA[:12], "captured_at": taken.isoformat()})]
    late = END + timedelta(minutes=31)
    assert kinds(run(default_form, facts(evidence={"A01": [media(captured_at=late)]}))) == [
        "photo_outside_window"]


@pytest.mark.parametrize("taken", [START - timedelta(minutes=29), START + timedelta(minutes=20),
                                   END + timedelta(minutes=29)])
def test_a_photo_taken_during_the_visit_or_just_around_it_is_not_flagged(default_form, taken):
    assert run(default_form, facts(evidence={"A01": [media(captured_at=taken)]})) == []


def test_a_photo_time_without_offset_is_read_in_the_offices_time_zone(default_form):
    # The camera said 10:20 with no offset; stored as 10:20 UTC. In Almaty that is during the
    # visit (10:00-10:40 local); read as UTC it would be hours after it.
    wall_clock = START.replace(tzinfo=None) + timedelta(minutes=20)
    stored = wall_clock.replace(tzinfo=timezone.utc)
    unknown = media(captured_at=stored, info={"captured_at_offset_known": False})
    assert run(default_form, facts(evidence={"A01": [unknown]})) == []
    known = media(captured_at=stored, info={"captured_at_offset_known": True})
    flags = run(default_form, facts(evidence={"A01": [known]}))
    assert kinds(flags) == ["photo_outside_window"]


def test_a_photo_time_without_offset_outside_the_visit_is_still_flagged(default_form):
    wall_clock = START.replace(tzinfo=None) - timedelta(hours=3)
    unknown = media(captured_at=wall_clock.replace(tzinfo=timezone.utc),
                    info={"captured_at_offset_known": False})
    flags = only(run(default_form, facts(evidence={"A01": [unknown]})), "photo_outside_window")
    assert len(flags) == 1
    assert datetime.fromisoformat(flags[0].detail["captured_at"]) == START - timedelta(hours=3)


def test_media_already_used_in_another_visit_is_flagged(default_form):
    flags = run(default_form, facts(evidence={"A01": [media()]},
                                    reused={SHA: ["4f0c…-other-visit"]}))
    assert flags == [FlagSpec("media_reused", "high", {
        "question": "A01", "media": SHA[:12], "other_visits": ["4f0c…-other-visit"]})]


def test_one_media_offered_for_two_questions_is_judged_once(default_form):
    photo = media(gps=north_of_office(5_000), captured_at=START - timedelta(days=1))
    flags = run(default_form, facts(evidence={"A01": [photo], "A04": [photo]},
                                    reused={SHA: ["other"]}))
    assert sorted(kinds(flags)) == ["media_reused", "photo_far_from_office",
                                    "photo_outside_window"]


def test_each_photo_is_judged_on_its_own(default_form):
    near, far = media("b" * 64, gps=north_of_office(10)), media("c" * 64,
                                                                 gps=north_of_office(900))
    flags = run(default_form, facts(evidence={"A01": [near, far]}))
    assert [(f.kind, f.detail["media"]) for f in flags] == [("photo_far_from_office",
                                                             "c" * 12)]


# --- critical findings -------------------------------------------------------------------

def test_critical_findings_are_flagged_high(default_form):
    flags = run(default_form, facts(critical=("A01", "D02")))
    assert flags == [FlagSpec("critical_finding", "high", {"questions": ["A01", "D02"]})]
