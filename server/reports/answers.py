"""How approved visits answered each question, per office or region: the data behind the charts
of the office and region report pages.

Answers are taken as review left them: the inspector's answer with the newest correction made on
the visit's current revision on top (as scores are computed, server/review/service.py). Only
approved visits started within the period count, like every other report figure. Questions are
described by the newest form version the counted visits used; answers to questions that version
no longer has are left out of the charts (they still count in the scores of their own version).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa

from ..extensions import db
from ..forms.models import FormVersion
from ..i18n import translate
from ..periods import Period
from ..review.models import AnswerCorrection
from ..scoring.rules import NUMBER_TYPES
from ..visits.models import Answer, Visit, VisitStatus
from .labels import localise

CHOICE_TYPES = ("yes_no", "single_choice", "multi_choice")
CHARTED_TYPES = CHOICE_TYPES + NUMBER_TYPES
_v, _a, _c = Visit.__table__, Answer.__table__, AnswerCorrection.__table__


@dataclass
class Tally:
    """One group's answers to one question."""

    visits: int = 0                  # visits that answered it (N/A included)
    not_applicable: int = 0
    choices: Counter = field(default_factory=Counter)  # choice id -> visits choosing it
    numbers: list = field(default_factory=list)        # every numeric answer


def _approved_visits(period: Period, office_ids: list[int]):
    return (sa.select(_v.c.id, _v.c.office_id, _v.c.revision, _v.c.form_version_id)
            .where(_v.c.status == VisitStatus.APPROVED.value, _v.c.started_at >= period.start,
                   _v.c.started_at < period.end, _v.c.office_id.in_(office_ids)))


def _effective(period: Period, office_ids: list[int]):
    """(office id, question id, value, not applicable) of every counted answer, corrected."""
    visits = _approved_visits(period, office_ids).subquery()
    answers = db.session.execute(
        sa.select(visits.c.id, visits.c.office_id, _a.c.question_id, _a.c.value,
                  _a.c.not_applicable)
        .join(_a, _a.c.visit_id == visits.c.id)).all()
    corrections = db.session.execute(
        sa.select(_c.c.visit_id, _c.c.question_id, _c.c.new_value, _c.c.new_not_applicable)
        .join(visits, sa.and_(_c.c.visit_id == visits.c.id, _c.c.revision == visits.c.revision))
        .order_by(_c.c.id)).all()
    newest = {(visit_id, qid): (value, na) for visit_id, qid, value, na in corrections}
    office_of = {}
    for visit_id, office_id, qid, value, na in answers:
        office_of[visit_id] = office_id
        value, na = newest.pop((visit_id, qid), (value, na))
        yield office_id, qid, value, na
    for (visit_id, qid), (value, na) in newest.items():  # corrected questions left unanswered
        if visit_id in office_of:
            yield office_of[visit_id], qid, value, na


def newest_definition(period: Period, office_ids: list[int]) -> dict | None:
    """The definition of the newest form version the period's approved visits used."""
    versions = _approved_visits(period, office_ids).with_only_columns(
        _v.c.form_version_id).distinct().subquery()
    version = db.session.scalar(
        sa.select(FormVersion).where(FormVersion.id.in_(sa.select(versions.c.form_version_id)))
        .order_by(FormVersion.published_at.desc(), FormVersion.id.desc()).limit(1))
    return version.definition if version else None


def tally(*, period: Period, groups: dict[int, str]) -> tuple[dict | None, dict]:
    """The form definition and {(group, question): Tally} for the offices in `groups` (office
    id -> group key: the office itself, or its region)."""
    office_ids = sorted(groups)
    if not office_ids:
        return None, {}
    definition = newest_definition(period, office_ids)
    if definition is None:
        return None, {}
    types = {q["id"]: q["type"] for s in definition["sections"] for q in s["questions"]}
    tallies: dict = defaultdict(Tally)
    for office_id, qid, value, na in _effective(period, office_ids):
        kind = types.get(qid)
        if kind not in CHARTED_TYPES:
            continue
        if not na and (value is None or value == []):
            continue  # not answered (not asked, or skipped): not a visit that answered it
        t = tallies[(groups[office_id], qid)]
        t.visits += 1
        if na:
            t.not_applicable += 1
        elif kind in NUMBER_TYPES:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                t.numbers.append(value)
        elif kind == "multi_choice":
            t.choices.update(set(value) if isinstance(value, list) else ())
        elif isinstance(value, str):
            t.choices[value] += 1
    return definition, dict(tallies)


def questions(definition: dict, lang: str) -> list[dict]:
    """The charted questions in form order: id, type, label, unit, choices, score rule."""
    out = []
    for section in definition["sections"]:
        for q in section["questions"]:
            if q["type"] not in CHARTED_TYPES:
                continue
            out.append({"id": q["id"], "type": q["type"], "section": localise(
                section.get("title"), lang, section["id"]),
                "label": localise(q.get("label"), lang, q["id"]),
                "unit": localise(q.get("unit"), lang, "") if q.get("unit") else "",
                "choices": ([("yes", translate("app_yes", lang)), ("no", translate("app_no", lang))]
                            if q["type"] == "yes_no" else
                            [(c["id"], localise(c.get("label"), lang, c["id"]))
                             for c in q.get("choices", [])]),
                "score": q.get("score")})
    return out
