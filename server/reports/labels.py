"""Section titles and question labels of form versions, in a language (localise)."""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from ..extensions import db
from ..forms.models import FormVersion


@dataclass(frozen=True)
class Labels:
    sections: dict  # section id -> title {lang: text}, in the newest form's order
    questions: dict  # question id -> label {lang: text}
    critical: dict = field(default_factory=dict)  # form version id -> its critical question ids


_definitions: dict[str, tuple[list, dict, tuple]] = {}  # sha256 -> labels, critical; immutable


def _definition_labels(definition: dict) -> tuple[list, dict, tuple]:
    """(sections, question labels, ids of the questions that can be a critical finding)."""
    sections, questions, critical = [], {}, []
    for section in definition.get("sections", []):
        sections.append((section["id"], section.get("title") or {}))
        for question in section.get("questions", []):
            questions[question["id"]] = question.get("label") or {}
            if question.get("critical"):
                critical.append(question["id"])
    return sections, questions, tuple(critical)


def labels_of(version_ids: set[int], shas: dict[int, str] | None = None) -> Labels:
    """Section titles and question labels of these form versions, newest first. A version
    never changes (its SHA-256 names its content), so each definition is read once."""
    if not version_ids:
        return Labels({}, {})
    if shas is not None:  # read with the totals already
        rows = sorted(shas.items(), reverse=True)
    else:
        rows = db.session.execute(sa.select(FormVersion.id, FormVersion.sha256)
                                  .where(FormVersion.id.in_(sorted(version_ids)))
                                  .order_by(FormVersion.id.desc())).all()
    known = {sha: _definitions.get(sha) for _, sha in rows}
    missing = [sha for sha, labels in known.items() if labels is None]
    if missing:
        if len(_definitions) > 64:  # many forms over the years: start again, never grow
            _definitions.clear()
        for sha, definition in db.session.execute(
                sa.select(FormVersion.sha256, FormVersion.definition)
                .where(FormVersion.sha256.in_(missing))):
            known[sha] = _definitions[sha] = _definition_labels(definition)
    sections: dict = {}
    questions: dict = {}
    critical: dict = {}
    for version_id, sha in rows:
        version_sections, version_questions, critical[version_id] = known[sha]
        for section_id, title in version_sections:
            sections.setdefault(section_id, title)
        for question_id, label in version_questions.items():
            questions.setdefault(question_id, label)
    return Labels(sections, questions, critical)


def localise(text: dict | str | None, lang: str | None, fallback: str = "") -> dict | str:
    """Text in `lang` (English, then any, if missing); the whole {lang: text} when lang is None."""
    if not isinstance(text, dict):
        return text if text else fallback
    if lang is None:
        return dict(text) if text else {"en": fallback}
    return text.get(lang) or text.get("en") or next(iter(text.values()), fallback) or fallback
