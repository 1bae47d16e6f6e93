"""Every answer of the filtered visits, read in batches: rows for the writers (writers.py).

Nothing holds the whole result: the visits are read through one server-side cursor
(`yield_per`, PostgreSQL) in batches of BATCH; each batch fetches its answers, corrections,
evidence and flags with one query each, becomes rows, and is dropped. Offices, inspectors and
form layouts are small and cached for the export's length. Docs: docs/exports.md.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import undefer

from ..auth.models import User
from ..extensions import db
from ..forms.models import FormVersion
from ..media.models import MediaObject
from ..offices.models import Office, Region
from ..review.models import AnswerCorrection
from ..visits.filters import order_by, visit_conditions
from ..visits.models import Answer, Flag, Visit, VisitEvidence
from ..i18n import translate

BATCH = 500
BASE_COLUMNS = ("visit_uuid", "form_key", "form_version", "office_code", "office_name",
                "region", "region_name", "kind", "inspector", "started_at", "ended_at",
                "submitted_at", "revision", "status", "score", "critical", "flags", "corrected")
QUESTION_SUFFIXES = ("", "_code", "_na", "_note", "_evidence")
OTHER_QUESTIONS = "other_questions"
LONG_COLUMNS = ("visit_uuid", "form_key", "form_version", "office_code", "office_name",
                "region", "inspector", "started_at", "status", "section", "question",
                "question_label", "value", "value_code", "not_applicable", "note", "evidence",
                "corrected", "original_value", "original_code", "correction_reason")
NO_ANSWER_TYPES = ("note",)  # shown in the form, never answered


def _text(names: Any, lang: str) -> str:
    if isinstance(names, dict):
        return names.get(lang) or names.get("en") or next(iter(names.values()), "")
    return names or ""


@dataclass
class Question:
    id: str
    type: str
    section: str
    label: str
    choices: dict[str, str]


@dataclass
class Layout:
    """The columns one form version gives an export, labels in the export's language."""
    version_id: int
    form_key: str
    version: int
    sections: list[str]
    questions: list[Question]
    by_id: dict[str, Question] = field(default_factory=dict)

    def wide_header(self, *, other_questions: bool = False) -> list[str]:
        header = [*BASE_COLUMNS, *(f"section_{sid}" for sid in self.sections)]
        for q in self.questions:
            header += [q.id + suffix for suffix in QUESTION_SUFFIXES]
        if other_questions:
            header.append(OTHER_QUESTIONS)
        return header


def layout_of(version: FormVersion, lang: str) -> Layout:
    definition = version.definition
    questions = [Question(q["id"], q["type"], s["id"], _text(q.get("label"), lang),
                          {c["id"]: _text(c.get("label"), lang) for c in q.get("choices", [])})
                 for s in definition["sections"] for q in s["questions"]
                 if q["type"] not in NO_ANSWER_TYPES]
    return Layout(version.id, version.form.key, version.version,
                  [s["id"] for s in definition["sections"]], questions,
                  {q.id: q for q in questions})


def _geopoint(value: dict) -> str:
    parts = [value.get("lat"), value.get("lon"), value.get("accuracy")]
    return " ".join(f"{p:g}" if isinstance(p, (int, float)) else str(p)
                    for p in parts if p is not None)


def shown_value(question: Question | None, value: Any, lang: str) -> tuple[Any, Any]:
    """(value as people read it in `lang`, its code): a choice's label and its id; yes/no in
    words and yes/no; numbers and text as they are; a position as 'lat lon accuracy'."""
    if value is None:
        return None, None
    qtype = question.type if question is not None else None
    if qtype == "yes_no" and value in ("yes", "no"):
        return translate(f"c_{value}", lang), value
    if qtype == "single_choice" and isinstance(value, str):
        return question.choices.get(value, value), value
    if qtype == "multi_choice" and isinstance(value, list):
        ids = [str(v) for v in value]
        return "; ".join(question.choices.get(v, v) for v in ids), " ".join(ids)
    if isinstance(value, dict) and {"lat", "lon"} <= value.keys():
        return _geopoint(value), _geopoint(value)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        text = json.dumps(value, ensure_ascii=False)
        return text, text
    return value, value


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@dataclass
class Record:
    """One visit with everything an export shows of it."""
    row: Any  # the visit's columns (VISIT_COLUMNS)
    office: tuple  # code, name, region code, region name, kind
    inspector: str
    answers: dict[str, tuple] = field(default_factory=dict)  # qid: (value, na, note)
    corrections: dict[str, tuple] = field(default_factory=dict)  # qid: (value, na, reason)
    evidence: dict[str, list[str]] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)

    def current(self, qid: str) -> tuple[Any, bool, str] | None:
        """(value, not_applicable, note) as corrected by a supervisor, if it was."""
        answer = self.answers.get(qid)
        correction = self.corrections.get(qid)
        if correction is None:
            return answer
        return correction[0], correction[1], answer[2] if answer else ""


VISIT_COLUMNS = (Visit.id, Visit.uuid, Visit.form_version_id, Visit.office_id,
                 Visit.inspector_id, Visit.started_at, Visit.ended_at, Visit.submitted_at,
                 Visit.revision, Visit.status, Visit.score, Visit.critical, Visit.section_scores)


class Export:
    """The visits `user` may see that match `filters`, ready to be read in batches.

    Building it checks the filters (422 naming the field, 403 out_of_scope) before any byte
    is sent, and finds the form versions involved."""

    def __init__(self, *, user: User, filters: dict, lang: str, media_base: str):
        self.lang = lang
        self.media_base = media_base.rstrip("/")
        self.clauses = visit_conditions(user=user, filters=filters)
        self.order = order_by(filters)
        version_ids = db.session.scalars(sa.select(Visit.form_version_id).where(*self.clauses)
                                         .distinct()).all()
        versions = db.session.scalars(
            sa.select(FormVersion).where(FormVersion.id.in_(version_ids))
            .options(undefer(FormVersion.definition))).all()
        versions.sort(key=lambda v: (v.form.key, v.version))
        self.layouts = {v.id: layout_of(v, lang) for v in versions}
        newest = max(versions, key=lambda v: (v.published_at, v.id), default=None)
        self.newest = self.layouts[newest.id] if newest is not None else None
        self._offices: dict[int, tuple] = {}
        self._users: dict[int, str] = {}

    # -- reading ----------------------------------------------------------------------------

    def records(self) -> Iterator[Record]:
        """Every matching visit, in the asked order, a batch at a time."""
        query = (sa.select(*VISIT_COLUMNS).where(*self.clauses).order_by(*self.order)
                 .execution_options(yield_per=BATCH))
        result = db.session.execute(query)
        try:
            for batch in result.partitions():
                yield from self._complete(batch)
        finally:
            result.close()

    def _complete(self, batch) -> list[Record]:
        self._load_offices({r.office_id for r in batch})
        self._load_users({r.inspector_id for r in batch})
        records = {r.id: Record(r, self._offices[r.office_id], self._users[r.inspector_id])
                   for r in batch}
        ids = list(records)
        for visit_id, qid, value, na, note in db.session.execute(
                sa.select(Answer.visit_id, Answer.question_id, Answer.value,
                          Answer.not_applicable, Answer.note)
                .where(Answer.visit_id.in_(ids)).order_by(Answer.id)):
            records[visit_id].answers[qid] = (value, na, note)
        for visit_id, revision, qid, value, na, reason in db.session.execute(
                sa.select(AnswerCorrection.visit_id, AnswerCorrection.revision,
                          AnswerCorrection.question_id, AnswerCorrection.new_value,
                          AnswerCorrection.new_not_applicable, AnswerCorrection.reason)
                .where(AnswerCorrection.visit_id.in_(ids)).order_by(AnswerCorrection.id)):
            record = records[visit_id]
            if revision == record.row.revision:  # corrections belong to their revision
                record.corrections[qid] = (value, na, reason)  # the newest wins
        for visit_id, qid, sha in db.session.execute(
                sa.select(VisitEvidence.visit_id, VisitEvidence.question_id, MediaObject.sha256)
                .join(MediaObject, MediaObject.id == VisitEvidence.media_id)
                .where(VisitEvidence.visit_id.in_(ids)).order_by(VisitEvidence.id)):
            records[visit_id].evidence.setdefault(qid, []).append(sha)
        for visit_id, kind in db.session.execute(
                sa.select(Flag.visit_id, Flag.kind).where(Flag.visit_id.in_(ids))
                .order_by(Flag.id)):
            records[visit_id].flags.append(kind)
        return [records[r.id] for r in batch]

    def _load_offices(self, ids: set[int]) -> None:
        missing = ids - self._offices.keys()
        if missing:
            for office, region in db.session.execute(
                    sa.select(Office, Region).join(Region, Office.region_id == Region.id)
                    .where(Office.id.in_(missing))):
                self._offices[office.id] = (office.code, _text(office.name, self.lang),
                                            region.code, _text(region.name, self.lang),
                                            office.kind)

    def _load_users(self, ids: set[int]) -> None:
        missing = ids - self._users.keys()
        if missing:
            self._users.update(db.session.execute(
                sa.select(User.id, User.login).where(User.id.in_(missing))).all())

    # -- rows -------------------------------------------------------------------------------

    def _media(self, shas: list[str] | None) -> str | None:
        if not shas:
            return None
        return " ".join(f"{self.media_base}/api/v1/media/{sha}" for sha in dict.fromkeys(shas))

    def _base(self, record: Record) -> list:
        r, office = record.row, record.office
        layout = self.layouts[r.form_version_id]
        return [str(r.uuid), layout.form_key, layout.version, office[0], office[1], office[2],
                office[3], office[4], record.inspector, _iso(r.started_at), _iso(r.ended_at),
                _iso(r.submitted_at), r.revision, r.status, r.score,
                " ".join(r.critical or []) or None,
                " ".join(sorted(set(record.flags))) or None,
                " ".join(sorted(record.corrections)) or None]

    def wide_row(self, record: Record, layout: Layout, *, other_questions: bool = False) -> list:
        """One visit as a row of `layout`'s columns (its own version's, or another's: the
        questions they share fill their columns; with `other_questions`, the ids of answered
        questions without a column are listed last)."""
        own = self.layouts[record.row.form_version_id]
        sections = record.row.section_scores or {}
        row = self._base(record) + [sections.get(sid) for sid in layout.sections]
        for q in layout.questions:
            current = record.current(q.id)
            if current is None:
                row += [None, None, None, None, self._media(record.evidence.get(q.id))]
                continue
            value, na, note = current
            shown, code = shown_value(own.by_id.get(q.id, q), value, self.lang)
            row += [shown, code, na, note or None, self._media(record.evidence.get(q.id))]
        if other_questions:
            answered = set(record.answers) | set(record.corrections) | set(record.evidence)
            row.append(" ".join(sorted(answered - layout.by_id.keys())) or None)
        return row

    def long_rows(self, record: Record) -> Iterator[list]:
        """One row per answer (or correction, or evidence without an answer) of a visit, in
        the form's order; questions the form no longer has come last."""
        r, office = record.row, record.office
        layout = self.layouts[r.form_version_id]
        answered = set(record.answers) | set(record.corrections) | set(record.evidence)
        order = [q.id for q in layout.questions if q.id in answered]
        order += sorted(answered - set(order))
        for qid in order:
            q = layout.by_id.get(qid)
            answer = record.answers.get(qid)
            current = record.current(qid) or (None, False, "")
            shown, code = shown_value(q, current[0], self.lang)
            correction = record.corrections.get(qid)
            original = shown_value(q, answer[0], self.lang) if answer else (None, None)
            yield [str(r.uuid), layout.form_key, layout.version, office[0], office[1],
                   office[2], record.inspector, _iso(r.started_at), r.status,
                   q.section if q else None, qid, q.label if q else None, shown, code,
                   current[1], current[2] or None, self._media(record.evidence.get(qid)),
                   correction is not None,
                   original[0] if correction else None, original[1] if correction else None,
                   correction[2] if correction else None]
