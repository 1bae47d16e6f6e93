"""Evidence checks: flags for the reviewer. They never refuse a visit — a refused visit is lost."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..scoring.rules import Answer, CompiledForm

EARTH_RADIUS_M = 6_371_008.8
# EXIF clocks are set by hand and photos may be taken just before or after the visit.
PHOTO_TIME_TOLERANCE = timedelta(minutes=30)


@dataclass(frozen=True)
class FlagSpec:
    kind: str
    severity: str  # info, warning, high
    detail: dict = field(default_factory=dict)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


@dataclass(frozen=True)
class VisitFacts:
    """What the checks look at, gathered by the service."""
    office_lat: float | None
    office_lon: float | None
    started_at: datetime
    ended_at: datetime
    window: tuple[datetime, datetime] | None
    position_start: dict | None
    position_end: dict | None
    answers: dict[str, Answer]
    evidence: dict[str, list]          # question id -> MediaObjects
    reused: dict[str, list[str]]       # media sha256 -> other visits' uuids
    critical: tuple[str, ...]


def run_checks(form: CompiledForm, facts: VisitFacts, *, max_distance_m: float,
               timezone: str) -> list[FlagSpec]:
    """Every flag that applies to one visit."""
    flags: list[FlagSpec] = []
    has_office_position = facts.office_lat is not None and facts.office_lon is not None
    for which, position in (("start", facts.position_start), ("end", facts.position_end)):
        if position and has_office_position:
            d = distance_m(position["lat"], position["lon"], facts.office_lat, facts.office_lon)
            if d > max_distance_m:
                flags.append(FlagSpec("far_from_office", "warning", {
                    "position": which, "distance_m": round(d), "accuracy_m": position.get("accuracy"),
                    "threshold_m": max_distance_m}))
    minutes = (facts.ended_at - facts.started_at).total_seconds() / 60
    minimum = form.definition.get("min_duration_min")
    if minimum is not None and minutes < minimum:
        flags.append(FlagSpec("too_short", "warning",
                              {"minutes": round(minutes, 1), "minimum": minimum}))
    if facts.window is not None and not facts.window[0] <= facts.started_at <= facts.window[1]:
        flags.append(FlagSpec("outside_window", "info", {
            "started_at": facts.started_at.isoformat(), "window_start": facts.window[0].isoformat(),
            "window_end": facts.window[1].isoformat()}))
    flags += _missing_evidence(form, facts)
    flags += _media_checks(facts, has_office_position, max_distance_m, timezone)
    if facts.critical:
        flags.append(FlagSpec("critical_finding", "high", {"questions": list(facts.critical)}))
    return flags


def _missing_evidence(form: CompiledForm, facts: VisitFacts) -> list[FlagSpec]:
    relevance = form.relevance(facts.answers)
    flags = []
    for qid, question in form.questions.items():
        answer = facts.answers.get(qid)
        if not relevance[qid] or (answer is not None and answer.not_applicable):
            continue
        needed = dict(question.get("evidence") or {})
        if question["type"] in ("photo", "video", "audio") and question.get("required"):
            needed[question["type"]] = "required"
        kinds = {media.kind for media in facts.evidence.get(qid, [])}
        for kind, rule in needed.items():
            if rule.startswith("required_when:"):
                wanted = rule.split(":", 1)[1]
                value = answer.value if answer is not None else None
                applies = value == wanted or (isinstance(value, list) and wanted in value)
            else:
                applies = rule == "required"
            if applies and kind not in kinds:
                flags.append(FlagSpec("evidence_missing", "warning",
                                      {"question": qid, "kind": kind, "rule": rule}))
    return flags


def _capture_time(media, timezone: str) -> datetime | None:
    """When the photo was taken; an EXIF time without offset is read as the offices' local time."""
    captured = media.captured_at
    if captured is None:
        return None
    if (media.info or {}).get("captured_at_offset_known") is False:
        return captured.replace(tzinfo=ZoneInfo(timezone))
    return captured


def _media_checks(facts: VisitFacts, has_office_position: bool, max_distance_m: float,
                  timezone: str) -> list[FlagSpec]:
    flags, seen = [], set()
    for qid, items in facts.evidence.items():
        for media in items:
            if media.sha256 in seen:
                continue
            seen.add(media.sha256)
            short = media.sha256[:12]
            if has_office_position and media.gps_status == "valid" and media.gps_lat is not None:
                d = distance_m(media.gps_lat, media.gps_lon, facts.office_lat, facts.office_lon)
                if d > max_distance_m:
                    flags.append(FlagSpec("photo_far_from_office", "warning", {
                        "question": qid, "media": short, "distance_m": round(d),
                        "threshold_m": max_distance_m}))
            taken = _capture_time(media, timezone)
            if taken is not None and not (facts.started_at - PHOTO_TIME_TOLERANCE <= taken
                                          <= facts.ended_at + PHOTO_TIME_TOLERANCE):
                flags.append(FlagSpec("photo_outside_window", "warning", {
                    "question": qid, "media": short, "captured_at": taken.isoformat()}))
            if facts.reused.get(media.sha256):
                flags.append(FlagSpec("media_reused", "high", {
                    "question": qid, "media": short, "other_visits": facts.reused[media.sha256]}))
    return flags
