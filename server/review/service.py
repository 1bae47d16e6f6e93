"""Review decisions, answer corrections and reopening. Functions flush; the caller commits.

Every step is a new row (Review, AnswerCorrection) and an audit event; nothing is overwritten
except the visit's current status and score, whose every past value those rows keep.
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from ..audit.service import append_event
from ..auth.models import Role, User
from ..auth.scope import by_office_and_inspector, region_ids, scoped
from ..db import utcnow
from ..errors import AppError, Conflict, Forbidden, ValidationFailed
from ..extensions import db
from ..offices.models import Office, Region
from ..scoring.rules import Answer as ScoredAnswer
from ..scoring.rules import score_visit
from ..visits.models import (Flag, Visit, VisitFinding, VisitSectionScore,
                             VisitStatus)
from ..visits.storing import store_results
from ..visits.submission import compiled
from ..visits.validation import value_problem
from ..reports import summaries
from .models import AnswerCorrection, Decision, Review

REVIEWABLE = (VisitStatus.SUBMITTED.value, VisitStatus.IN_REVIEW.value)
OUTCOME = {Decision.APPROVE.value: VisitStatus.APPROVED.value,
           Decision.REJECT.value: VisitStatus.REJECTED.value,
           Decision.RETURN.value: VisitStatus.RETURNED.value}


def review_queue_query(*, user: User, region: str | None = None, office: str | None = None,
                       inspector: str | None = None, flag: str | None = None,
                       older_than_days: int | None = None) -> sa.Select:
    """Visits waiting for a decision that the user may review, oldest first: never their own
    (a supervisor who was an inspector cannot review those visits, so does not see them)."""
    query = scoped(sa.select(Visit).where(Visit.status.in_(REVIEWABLE),
                                          Visit.inspector_id != user.id), user,
                   inspector_column=Visit.inspector_id, office_column=Visit.office_id)
    if region is not None:
        allowed = region_ids(user)
        found = db.session.scalar(sa.select(Region).where(Region.code == region))
        if found is None or (allowed is not None and found.id not in allowed):
            raise Forbidden(f"Region {region!r} is not in your scope.", code="out_of_scope")
        query = query.where(Visit.office_id.in_(
            sa.select(Office.id).where(Office.region_id == found.id)))
    query = by_office_and_inspector(query, office_column=Visit.office_id,
                                    inspector_column=Visit.inspector_id, office=office,
                                    inspector=inspector)
    if flag is not None:
        query = query.where(Visit.id.in_(sa.select(Flag.visit_id).where(Flag.kind == flag)))
    if older_than_days is not None:
        query = query.where(Visit.submitted_at <= utcnow() - timedelta(days=older_than_days))
    return query.order_by(Visit.submitted_at, Visit.id)


def _not_own(visit: Visit, user: User) -> None:
    if visit.inspector_id == user.id:
        raise Forbidden("Nobody reviews their own visit.", code="own_visit")


def stale(visit: Visit, revision: int) -> AppError:
    return AppError(f"The visit was amended: revision {visit.revision} is current, you "
                    f"reviewed {revision}. Look at it again.", code="stale_revision",
                    status=409, title="Conflict",
                    errors={"revision": [f"Current revision is {visit.revision}."]})


def corrections_count(visit: Visit) -> int:
    """Corrections made on the visit's current revision (what a decision's `corrections` is
    compared with)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(AnswerCorrection).where(
        AnswerCorrection.visit_id == visit.id, AnswerCorrection.revision == visit.revision))


def review_visit(*, visit: Visit, reviewer: User, decision: str, comment: str,
                 revision: int | None, corrections: int | None = None) -> Review:
    """Approve, reject or return a visit; one decision per revision, whoever comes first wins.

    `revision` and `corrections` say what the reviewer looked at: a newer revision is 409
    stale_revision, another number of corrections on it (a colleague corrected an answer
    meanwhile) is 409 stale_corrections; nothing changes then.
    """
    _not_own(visit, reviewer)
    if revision is not None and revision != visit.revision:
        raise stale(visit, revision)
    # A conditional update: of two reviewers deciding at once, exactly one changes the row. It
    # also takes the row's lock, which a correction takes first too (correct_answer), so the
    # corrections counted below are all that exist: a correction waiting for the lock finds
    # the visit decided and is refused.
    seen = visit.revision
    changed = db.session.execute(
        sa.update(Visit).where(Visit.id == visit.id, Visit.status.in_(REVIEWABLE),
                               Visit.revision == seen)
        .values(status=OUTCOME[decision], updated_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        db.session.refresh(visit)
        if visit.status in REVIEWABLE and visit.revision != seen:
            raise stale(visit, revision if revision is not None else seen)
        raise Conflict(f"The visit is already {visit.status} (revision {visit.revision}).",
                       code="already_reviewed")
    if corrections is not None:
        current = corrections_count(visit)
        if current != corrections:  # the caller's unit of work rolls the decision back
            raise AppError(f"The visit has {current} correction(s) on revision "
                           f"{visit.revision}, you reviewed it with {corrections}: a colleague "
                           "corrected an answer meanwhile. Look at it again.",
                           code="stale_corrections", status=409, title="Conflict",
                           errors={"corrections": [f"Current corrections: {current}."]})
    if decision == Decision.APPROVE.value:
        summaries.add_visit(visit.id)  # the report summaries, in this same transaction
    review = Review(visit_id=visit.id, revision=visit.revision, reviewer_id=reviewer.id,
                    decision=decision, comment=comment)
    db.session.add(review)
    db.session.flush()
    db.session.refresh(visit)
    append_event("visit_reviewed", actor=reviewer, object_type="visit", object_id=visit.uuid,
                 payload={"decision": decision, "comment": comment, "revision": visit.revision,
                          "status": visit.status})
    return review


def reopen_visit(*, visit: Visit, admin: User, reason: str) -> Review:
    """An admin sends an approved or rejected visit back to review, with a reason."""
    if admin.role != Role.ADMIN:
        raise Forbidden("Only an admin reopens a decided visit.")
    changed = 0
    for decided in (VisitStatus.APPROVED.value, VisitStatus.REJECTED.value):
        # One status at a time, so that we know which one it was: an approved visit leaves
        # the report summaries in this same transaction.
        changed = db.session.execute(
            sa.update(Visit).where(Visit.id == visit.id, Visit.status == decided)
            .values(status=VisitStatus.SUBMITTED.value, updated_at=utcnow())
            .execution_options(synchronize_session=False)).rowcount
        if changed == 1:
            if decided == VisitStatus.APPROVED.value:
                summaries.remove_visit(visit.id)
            break
    if changed != 1:
        db.session.refresh(visit)
        raise Conflict(f"The visit is {visit.status}; only approved or rejected visits are "
                       "reopened.", code="not_decided")
    review = Review(visit_id=visit.id, revision=visit.revision, reviewer_id=admin.id,
                    decision=Decision.REOPEN.value, comment=reason)
    db.session.add(review)
    db.session.flush()
    db.session.refresh(visit)
    append_event("visit_reopened", actor=admin, object_type="visit", object_id=visit.uuid,
                 payload={"reason": reason, "revision": visit.revision})
    return review


def effective_answers(visit: Visit) -> dict[str, ScoredAnswer]:
    """The inspector's answers with the newest correction of each question (made on the current
    revision) on top."""
    answers = {a.question_id: ScoredAnswer(a.value, a.not_applicable) for a in visit.answers}
    for c in db.session.scalars(sa.select(AnswerCorrection).where(
            AnswerCorrection.visit_id == visit.id, AnswerCorrection.revision == visit.revision)
            .order_by(AnswerCorrection.id)):
        answers[c.question_id] = ScoredAnswer(c.new_value, c.new_not_applicable)
    return answers


def correct_answer(*, visit: Visit, reviewer: User, question: str, value, not_applicable: bool,
                   reason: str) -> AnswerCorrection:
    """Correct one answer with a reason; the original stays, the score is recomputed."""
    _not_own(visit, reviewer)
    # A conditional update first, as review_visit does: it checks the status in the database
    # (not as read earlier) and holds the row's lock to the commit, so a decision and a
    # correction never interleave: whichever comes second sees the first.
    seen = visit.revision
    changed = db.session.execute(
        sa.update(Visit).where(Visit.id == visit.id, Visit.status.in_(REVIEWABLE),
                               Visit.revision == seen)
        .values(updated_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        db.session.refresh(visit)
        if visit.status in REVIEWABLE:
            raise stale(visit, seen)
        raise Conflict(f"The visit is {visit.status}; corrections are made during review "
                       "(an admin can reopen it).", code="not_in_review")
    db.session.refresh(visit)
    form = compiled(visit.form_version)
    q = form.questions.get(question)
    if q is None:
        raise ValidationFailed(errors={"question": ["Not a question of this visit's form."]})
    if not_applicable and (value is not None or not q.get("not_applicable")):
        raise ValidationFailed(errors={"not_applicable": [
            "Give a value or not_applicable, not both." if value is not None
            else "This question cannot be answered 'not applicable'."]})
    problem = None if not_applicable else value_problem(q, value)
    answers = effective_answers(visit)
    if problem is None and not not_applicable and question in form.constraint and value is not None:
        relevance = form.relevance(answers)
        if not form.constraint[question].holds(form.values(answers, relevance), current=value):
            messages = q["constraint"]["message"] or {}
            problem = messages.get("en") or next(iter(messages.values()), "Invalid answer.")
    if problem:
        raise ValidationFailed(f"The form refuses this value: {problem}",
                               errors={"value": [problem]})
    old = answers.get(question, ScoredAnswer())
    before = score_visit(form, answers)
    answers[question] = ScoredAnswer(value, not_applicable)
    after = score_visit(form, answers)
    correction = AnswerCorrection(
        visit_id=visit.id, revision=visit.revision, question_id=question, old_value=old.value,
        old_not_applicable=old.not_applicable, new_value=value,
        new_not_applicable=not_applicable, reason=reason, score_before=before.score,
        score_after=after.score, corrected_by_id=reviewer.id)
    db.session.add(correction)
    visit.score, visit.score_uncapped = after.score, after.uncapped
    visit.section_scores, visit.critical = after.sections, list(after.critical)
    for model in (VisitSectionScore, VisitFinding):
        db.session.execute(sa.delete(model).where(model.visit_id == visit.id))
    db.session.flush()
    store_results(visit_id=visit.id, result=after)
    append_event("answer_corrected", actor=reviewer, object_type="visit", object_id=visit.uuid,
                 payload={"question": question, "old": {"value": old.value,
                                                        "not_applicable": old.not_applicable},
                          "new": {"value": value, "not_applicable": not_applicable},
                          "reason": reason, "score_before": before.score,
                          "score_after": after.score, "revision": visit.revision})
    return correction
