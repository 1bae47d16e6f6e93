"""From a form version and a visit's answers to section scores, a visit score and findings.

Pure functions: no Flask, no database. See docs/forms.md "Scoring" for the rules in words.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..forms import expressions

NUMBER_TYPES = ("integer", "decimal", "duration_min")


@dataclass(frozen=True)
class Answer:
    value: Any = None
    not_applicable: bool = False


@dataclass(frozen=True)
class LostPoints:
    question: str
    section: str
    fraction: float      # what the answer earned, 0..1
    points: float        # visit-score points it cost, before any critical cap


@dataclass(frozen=True)
class VisitScore:
    score: float | None              # 0..100 after the critical cap; None when nothing scored
    uncapped: float | None
    sections: dict[str, float | None]
    critical: tuple[str, ...]        # questions with a critical finding
    lost: tuple[LostPoints, ...] = field(default=())

    @property
    def capped(self) -> bool:
        return self.score is not None and self.score != self.uncapped


class CompiledForm:
    """A normalised form definition with its expressions parsed once."""

    def __init__(self, definition: Mapping[str, Any]):
        self.definition = definition
        self.questions: dict[str, dict] = {}
        self.section_of: dict[str, str] = {}
        self.relevant: dict[str, expressions.Expression] = {}
        self.constraint: dict[str, expressions.Expression] = {}
        self.critical: dict[str, expressions.Expression | bool] = {}
        for section in definition["sections"]:
            for q in section["questions"]:
                self.questions[q["id"]] = q
                self.section_of[q["id"]] = section["id"]
                if q.get("relevant"):
                    self.relevant[q["id"]] = expressions.parse(q["relevant"])
                if q.get("constraint"):
                    self.constraint[q["id"]] = expressions.parse(q["constraint"]["expr"])
                if q.get("critical") is True:
                    self.critical[q["id"]] = True
                elif q.get("critical"):
                    self.critical[q["id"]] = expressions.parse(q["critical"])
        self.order = self._dependency_order()

    def _dependency_order(self) -> list[str]:
        """Question ids, each after every question its relevance reads (the loader refuses
        cycles); iterative, so long chains cannot exhaust the stack."""
        waiting = {qid: {ref for ref in expr.references if ref in self.questions and ref != qid}
                   for qid, expr in self.relevant.items()}
        order = [qid for qid in self.questions if not waiting.get(qid)]
        dependants: dict[str, list[str]] = {}
        for qid, refs in waiting.items():
            for ref in refs:
                dependants.setdefault(ref, []).append(qid)
        i = 0
        while i < len(order):
            for dependant in dependants.get(order[i], []):
                waiting[dependant].discard(order[i])
                if not waiting[dependant]:
                    order.append(dependant)
            i += 1
        if len(order) != len(self.questions):
            raise ValueError("relevance cycle among " + ", ".join(
                sorted(set(self.questions) - set(order))))
        return order

    def relevance(self, answers: Mapping[str, Answer]) -> dict[str, bool]:
        """Which questions are asked. A question that is not asked counts as unanswered for the
        questions that depend on it (as in ODK)."""
        asked: dict[str, bool] = {}
        for qid in self.order:  # every question after the ones its relevance reads
            expr = self.relevant.get(qid)
            asked[qid] = True if expr is None else expr.holds(
                {ref: self._effective(ref, answers, asked) for ref in expr.references})
        return asked

    def _effective(self, qid: str, answers: Mapping[str, Answer], asked: Mapping[str, bool]):
        answer = answers.get(qid)
        if answer is None or answer.not_applicable or not asked.get(qid, False):
            return None
        return answer.value

    def values(self, answers: Mapping[str, Answer], relevance: Mapping[str, bool]) -> dict:
        """The answer values expressions see: None for unanswered, N/A or not asked."""
        return {qid: (a.value if relevance.get(qid) and not a.not_applicable else None)
                for qid, a in answers.items() if qid in self.questions}


def answer_fraction(question: Mapping[str, Any], value: Any) -> float | None:
    """What an answer earns, 0..1, by the question's score rule; None if it is not scored."""
    score = question.get("score")
    if score is None or value is None:
        return None
    if question["type"] in NUMBER_TYPES:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        for band in score["bands"]:
            if ((band["min"] is None or value >= band["min"])
                    and (band["max"] is None or value <= band["max"])):
                return float(band["score"])
        return 0.0
    if question["type"] == "multi_choice":
        if not isinstance(value, list) or not value:  # [] is unanswered, as answered() says
            return None
        return float(min(1.0, sum(score.get(choice, 0) for choice in set(value))))
    if not isinstance(value, str) or value not in score:
        return None
    return float(score[value])


def critical_findings(form: CompiledForm, answers: Mapping[str, Answer],
                      relevance: Mapping[str, bool]) -> tuple[str, ...]:
    """Questions whose answer is a critical finding (bribe asked, no step-free access, ...)."""
    values = form.values(answers, relevance)
    found = []
    for qid, rule in form.critical.items():
        answer = answers.get(qid)
        if answer is None or answer.not_applicable or not relevance.get(qid):
            continue
        if rule is True:
            hit = answer_fraction(form.questions[qid], answer.value) == 0
        else:
            hit = rule.holds(values, current=answer.value)
        if hit:
            found.append(qid)
    return tuple(found)


def score_visit(form: CompiledForm, answers: Mapping[str, Answer]) -> VisitScore:
    """Section scores, the visit score (capped on a critical finding) and what lost points."""
    definition = form.definition
    zero_unanswered = definition["scoring"]["unanswered"] == "zero"
    relevance = form.relevance(answers)
    sections: dict[str, float | None] = {}
    earned: dict[str, list[tuple[str, float, float]]] = {}  # section -> (qid, fraction, weight)
    for section in definition["sections"]:
        rows = []
        for q in section["questions"]:
            if q.get("score") is None or not relevance[q["id"]]:
                continue
            answer = answers.get(q["id"])
            if answer is not None and answer.not_applicable:
                continue  # N/A leaves the denominator
            fraction = answer_fraction(q, answer.value) if answer is not None else None
            if fraction is None:
                if not zero_unanswered:
                    continue
                fraction = 0.0
            rows.append((q["id"], fraction, float(q["weight"])))
        earned[section["id"]] = rows
        total = sum(w for _, _, w in rows)
        sections[section["id"]] = (100 * sum(f * w for _, f, w in rows) / total) if total else None

    weights = {s["id"]: float(s["weight"]) for s in definition["sections"]}
    scored = [sid for sid, value in sections.items() if value is not None]
    total_weight = sum(weights[sid] for sid in scored)
    uncapped = (sum(weights[sid] * sections[sid] for sid in scored) / total_weight
                if total_weight else None)
    critical = critical_findings(form, answers, relevance)
    score = uncapped
    if critical and score is not None:
        score = min(score, float(definition["scoring"]["critical_cap"]))

    lost = []
    for sid in scored:
        section_total = sum(w for _, _, w in earned[sid])
        for qid, fraction, weight in earned[sid]:
            if fraction < 1:
                points = (1 - fraction) * weight / section_total * 100 * weights[sid] / total_weight
                lost.append(LostPoints(question=qid, section=sid, fraction=fraction,
                                       points=points))
    lost.sort(key=lambda item: -item.points)
    return VisitScore(score=score, uncapped=uncapped, sections=sections, critical=critical,
                      lost=tuple(lost))
