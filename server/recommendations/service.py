"""Recommendations to offices: creation, status changes with history, reading, follow-up figures.

Functions flush; the caller commits. Every change appends a RecommendationEvent (the history shown
with the recommendation) and an audit event, in the caller's transaction.
"""
from __future__ import annotations

import re
import uuid as uuid_module
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased

from ..assignments.models import Assignment, AssignmentStatus
from ..audit.service import append_event
from ..auth.models import Role, User
from ..auth.scope import office_in_scope, region_ids, scoped
from ..db import utcnow
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..offices.models import Office, Region
from ..offices.service import get_office
from ..validators import CODE_PATTERN
from ..visits.models import Visit, VisitStatus
from ..visits.submission import compiled
from .models import Recommendation, RecommendationEvent, RecommendationStatus

S = RecommendationStatus
ACTIVE = (S.OPEN.value, S.IN_PROGRESS.value, S.REPORTED_DONE.value)
FINAL = (S.VERIFIED.value, S.NOT_DONE.value)
WAITING_ON_OFFICE = (S.OPEN.value, S.IN_PROGRESS.value)  # what can become overdue

# Next statuses; not_done from open or in_progress only once the recommendation is overdue.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.OPEN.value: (S.IN_PROGRESS.value, S.REPORTED_DONE.value, S.NOT_DONE.value),
    S.IN_PROGRESS.value: (S.REPORTED_DONE.value, S.NOT_DONE.value),
    S.REPORTED_DONE.value: (S.VERIFIED.value, S.NOT_DONE.value),
    S.VERIFIED.value: (),
    S.NOT_DONE.value: (),
}
ONLY_WHEN_OVERDUE = {(S.OPEN.value, S.NOT_DONE.value), (S.IN_PROGRESS.value, S.NOT_DONE.value)}
MAX_ID = 2_147_483_647


# --- time ------------------------------------------------------------------------------------

def local_today(moment: datetime | None = None) -> date:
    """The offices' calendar date (ADAL_TIMEZONE) at `moment` (default now)."""
    return (moment or utcnow()).astimezone(ZoneInfo(current_app.config["TIMEZONE"])).date()


def is_overdue(rec: Recommendation, today: date | None = None) -> bool:
    """Still waiting on the office (open, in progress) and its due date has passed."""
    today = today or local_today()
    return (rec.status in WAITING_ON_OFFICE and rec.due_date is not None
            and rec.due_date < today)


def allowed_next(rec: Recommendation, today: date | None = None) -> list[str]:
    """The statuses this recommendation may move to now."""
    overdue = is_overdue(rec, today)
    return [nxt for nxt in TRANSITIONS[rec.status]
            if (rec.status, nxt) not in ONLY_WHEN_OVERDUE or overdue]


# --- scope -----------------------------------------------------------------------------------

def _in_scope(query: sa.Select, user: User) -> sa.Select:
    regions = region_ids(user)
    if regions is None:
        return query
    return query.where(Recommendation.office_id.in_(
        sa.select(Office.id).where(Office.region_id.in_(regions))))


def get_recommendation(*, user: User, recommendation_id: int) -> Recommendation:
    """A recommendation in the user's regions; 404 otherwise."""
    if not 1 <= recommendation_id <= MAX_ID:
        raise NotFound(f"No recommendation {recommendation_id}.")
    rec = db.session.scalar(_in_scope(
        sa.select(Recommendation).where(Recommendation.id == recommendation_id), user))
    if rec is None:
        raise NotFound(f"No recommendation {recommendation_id}.")
    return rec


def _visible_visit(user: User, visit_uuid: uuid_module.UUID) -> Visit | None:
    return db.session.scalar(scoped(sa.select(Visit).where(Visit.uuid == visit_uuid), user,
                                    inspector_column=Visit.inspector_id,
                                    office_column=Visit.office_id))


# --- changes ---------------------------------------------------------------------------------

def _office_for(actor: User, code: str, errors: dict) -> Office | None:
    office = get_office(code)
    if office is None:
        errors["office"] = [f"Unknown office {code!r}."]
    elif not office_in_scope(actor, office):
        errors["office"] = [f"Office {office.code!r} is outside your regions."]
    elif not office.active:
        errors["office"] = [f"Office {office.code!r} is inactive."]
    else:
        return office
    return None


def _source_visit(actor: User, office: Office | None, visit_uuid, question: str | None,
                  errors: dict) -> Visit | None:
    if visit_uuid is None:
        if question is not None:
            errors["question"] = ["Give the visit the finding comes from."]
        return None
    visit = _visible_visit(actor, visit_uuid)
    if visit is None:
        errors["visit"] = [f"No visit {visit_uuid}."]
        return None
    if office is not None and visit.office_id != office.id:
        errors["visit"] = [f"That visit was to office {visit.office.code!r}, not {office.code!r}."]
    if question is not None and question not in compiled(visit.form_version).questions:
        version = visit.form_version
        errors["question"] = [f"Not a question of form {version.form.key!r} version "
                              f"{version.version}, which the visit used."]
    return visit


def create_recommendation(*, actor: User, office: str, text: str, due_date: date | None = None,
                          visit: uuid_module.UUID | None = None,
                          question: str | None = None) -> Recommendation:
    """A recommendation to an office, by hand or from a visit's finding; it starts `open`."""
    errors: dict[str, list[str]] = {}
    target = _office_for(actor, office, errors)
    if due_date is not None and due_date < local_today():
        errors["due_date"] = ["In the past; give today or a later date."]
    source = _source_visit(actor, target, visit, question, errors)
    if errors:
        raise ValidationFailed("The recommendation cannot be made; see errors.", errors=errors)
    now = utcnow()
    rec = Recommendation(office=target, visit_id=source.id if source else None,
                         question_id=question, text=text, due_date=due_date,
                         status=S.OPEN.value, created_by_id=actor.id, created_at=now,
                         updated_at=now)
    db.session.add(rec)
    db.session.flush()
    db.session.add(RecommendationEvent(recommendation_id=rec.id, status=S.OPEN.value, comment="",
                                       actor_id=actor.id, at=now))
    append_event("recommendation_created", actor=actor, object_type="recommendation",
                 object_id=rec.id, payload={
                     "office": target.code, "visit": str(source.uuid) if source else None,
                     "question": question, "text": text,
                     "due_date": due_date.isoformat() if due_date else None})
    return rec


def _verifying_visit(actor: User, rec: Recommendation, status: str, visit_uuid,
                     errors: dict) -> Visit | None:
    if visit_uuid is None:
        return None
    if status not in FINAL:
        errors["verifying_visit"] = ["Only verified and not_done name a verifying visit."]
        return None
    visit = _visible_visit(actor, visit_uuid)
    if visit is None:
        errors["verifying_visit"] = [f"No visit {visit_uuid}."]
        return None
    problems = []
    if visit.office_id != rec.office_id:
        problems.append(f"That visit was to office {visit.office.code!r}, "
                        f"not {rec.office.code!r}.")
    if visit.submitted_at <= rec.created_at:
        problems.append("That visit was submitted before the recommendation was made.")
    if visit.status == VisitStatus.REJECTED.value:
        problems.append("That visit was rejected; it verifies nothing.")
    if problems:
        errors["verifying_visit"] = problems
        return None
    return visit


def change_status(*, actor: User, rec: Recommendation, status: str, comment: str = "",
                  verifying_visit: uuid_module.UUID | None = None) -> Recommendation:
    """Move a recommendation to its next status, with history and audit event.

    The change is a conditional UPDATE on the status read: of two changes at once, one wins and
    the other is a 409 `status_changed` (PostgreSQL re-checks the condition after the winner's
    commit; SQLite runs one writer at a time).
    """
    current = rec.status
    allowed = allowed_next(rec)
    if status not in allowed:
        raise Conflict(_refusal(rec, status, allowed), code="invalid_transition",
                       errors={"status": [f"Allowed next: {', '.join(allowed)}." if allowed
                                          else f"{current} is final."]})
    errors: dict[str, list[str]] = {}
    if status in FINAL and not comment.strip():
        errors["comment"] = [f"Required for {status}: say what was found."]
    visit = _verifying_visit(actor, rec, status, verifying_visit, errors)
    if errors:
        raise ValidationFailed("The status cannot be changed; see errors.", errors=errors)
    now = utcnow()
    table = Recommendation.__table__
    result = db.session.execute(table.update()
                                .where(table.c.id == rec.id, table.c.status == current)
                                .values(status=status, updated_at=now))
    if result.rowcount != 1:
        raise Conflict("The recommendation's status was changed meanwhile; reload it and try "
                       "again.", code="status_changed")
    db.session.expire(rec)
    db.session.add(RecommendationEvent(recommendation_id=rec.id, status=status, comment=comment,
                                       actor_id=actor.id, at=now,
                                       verifying_visit_id=visit.id if visit else None))
    append_event("recommendation_status_changed", actor=actor, object_type="recommendation",
                 object_id=rec.id, payload={
                     "office": rec.office.code, "from": current, "to": status,
                     "comment": comment,
                     "verifying_visit": str(visit.uuid) if visit else None})
    return rec


def _refusal(rec: Recommendation, status: str, allowed: list[str]) -> str:
    if not allowed:
        return f"The recommendation is {rec.status}, which is final."
    text = (f"A recommendation that is {rec.status} cannot become {status}; allowed next: "
            f"{', '.join(allowed)}.")
    if (rec.status, status) in ONLY_WHEN_OVERDUE:
        text += " It can be judged not_done only once its due date has passed."
    return text


# --- reading ---------------------------------------------------------------------------------

def list_query(*, user: User, office: str | None = None, status: str | None = None,
               overdue: bool | None = None) -> sa.Select:
    """Recommendations in the user's regions, newest first, filtered."""
    query = _in_scope(sa.select(Recommendation), user)
    if office is not None:
        query = query.where(Recommendation.office_id.in_(
            sa.select(Office.id).where(Office.code == office)))
    if status is not None:
        query = query.where(Recommendation.status == status)
    if overdue is not None:
        late = sa.and_(Recommendation.status.in_(WAITING_ON_OFFICE),
                       Recommendation.due_date.is_not(None),
                       Recommendation.due_date < local_today())
        query = query.where(late if overdue else sa.not_(late))
    return query.order_by(Recommendation.created_at.desc(), Recommendation.id.desc())


def office_for_viewer(*, user: User, code: str) -> Office:
    """The office whose recommendations `user` may read, or 404.

    Supervisors: an office in their regions. Inspectors: only an office they have an open,
    unexpired assignment for (they are about to visit it).
    """
    office = get_office(code) if re.match(CODE_PATTERN, code) else None  # no NUL to the DB
    if office is None:
        raise NotFound(f"No office {code!r}.")
    if user.role == Role.INSPECTOR:
        planned = db.session.scalar(sa.select(Assignment.id).where(
            Assignment.inspector_id == user.id, Assignment.office_id == office.id,
            Assignment.status == AssignmentStatus.OPEN.value,
            Assignment.window_end > utcnow()).limit(1))
        if planned is None:
            raise NotFound(f"No office {code!r} with recommendations for you.")
    elif not office_in_scope(user, office):
        raise NotFound(f"No office {code!r}.")
    return office


def office_query(*, office: Office, status: str | None = None) -> sa.Select:
    """An office's recommendations, soonest due first; without `status` the ones not final."""
    query = sa.select(Recommendation).where(Recommendation.office_id == office.id)
    query = query.where(Recommendation.status == status if status is not None
                        else Recommendation.status.in_(ACTIVE))
    return query.order_by(Recommendation.due_date.is_(None), Recommendation.due_date,
                          Recommendation.id)


def office_report_list(*, office: Office, made_before: datetime | None = None) -> list[dict]:
    """An office's recommendations for its report page, newest first, those made before
    `made_before` if given: text, question, due date, status now, overdue."""
    query = sa.select(Recommendation).where(Recommendation.office_id == office.id)
    if made_before is not None:
        query = query.where(Recommendation.created_at < made_before)
    today = local_today()
    return [{"id": r.id, "text": r.text, "question": r.question_id, "due_date": r.due_date,
             "created_at": r.created_at, "status": r.status, "overdue": is_overdue(r, today)}
            for r in db.session.scalars(query.order_by(Recommendation.created_at.desc(),
                                                       Recommendation.id.desc()))]


def brief_views(recs: Iterable[Recommendation]) -> list[dict]:
    """What an inspector may see: no author, no source visit, no history."""
    today = local_today()
    return [{"id": r.id, "office": r.office.code, "question": r.question_id, "text": r.text,
             "due_date": r.due_date, "status": r.status, "overdue": is_overdue(r, today)}
            for r in recs]


def views(recs: Iterable[Recommendation]) -> list[dict]:
    """Full views with history, in three queries whatever the number of recommendations."""
    recs = list(recs)
    if not recs:
        return []
    ids = [r.id for r in recs]
    verifier = aliased(Visit)
    rows = db.session.execute(
        sa.select(RecommendationEvent, User.login, verifier.uuid)
        .join(User, User.id == RecommendationEvent.actor_id)
        .outerjoin(verifier, verifier.id == RecommendationEvent.verifying_visit_id)
        .where(RecommendationEvent.recommendation_id.in_(ids))
        .order_by(RecommendationEvent.id)).all()
    history: dict[int, list[dict]] = {i: [] for i in ids}
    for event, login, visit_uuid in rows:
        history[event.recommendation_id].append({
            "status": event.status, "comment": event.comment, "actor": login, "at": event.at,
            "verifying_visit": visit_uuid})
    sources = dict(db.session.execute(sa.select(Visit.id, Visit.uuid).where(
        Visit.id.in_({r.visit_id for r in recs if r.visit_id is not None}))).all())
    authors = dict(db.session.execute(sa.select(User.id, User.login).where(
        User.id.in_({r.created_by_id for r in recs}))).all())
    today = local_today()
    return [{"id": r.id, "office": r.office.code, "visit": sources.get(r.visit_id),
             "question": r.question_id, "text": r.text, "due_date": r.due_date,
             "status": r.status, "overdue": is_overdue(r, today), "created_at": r.created_at,
             "created_by": authors.get(r.created_by_id), "history": history[r.id]}
            for r in recs]


def view(rec: Recommendation) -> dict:
    return views([rec])[0]


# --- follow-up -------------------------------------------------------------------------------

def follow_up_as_of(until: datetime | date | None) -> tuple[datetime | None, date]:
    """(cut-off moment or None for now, the calendar date overdue is judged on)."""
    if until is None:
        return None, local_today()
    if not isinstance(until, datetime):  # a date: up to the end of that day, local time
        zone = ZoneInfo(current_app.config["TIMEZONE"])
        until = datetime.combine(until + timedelta(days=1), time(), tzinfo=zone)
    if until.tzinfo is None:
        raise ValueError("follow_up(until=...) needs an aware datetime")
    return until, local_today(until - timedelta(microseconds=1))


def _figures(total: int, verified: int, not_done: int, open_: int, overdue: int) -> dict:
    judged = verified + not_done + overdue
    return {"total": total, "verified": verified, "not_done": not_done, "open": open_,
            "overdue": overdue, "share_done": verified / judged if judged else None}


def follow_up_params(office_ids: Iterable[int] | None, cutoff: datetime | None,
                     today: date) -> dict:
    """The parameters of follow_up_select() for these offices (None: all) and cut-off."""
    params: dict = {"today": today}
    if cutoff is not None:
        params["cutoff"] = cutoff
    if office_ids is not None:
        params["office_ids"] = list(office_ids)
    return params


@lru_cache(maxsize=4)
def follow_up_select(history: bool, some_offices: bool) -> sa.Select:
    """The grouped SELECT behind follow_up(): office_id, total, verified, not_done, open,
    overdue per office, ordered by office. Binds `today` (overdue is judged on it), `cutoff`
    (with `history`: the status each recommendation had just before it, from its events) and
    `office_ids` (with `some_offices`). Built once per shape: building it cost more than
    running it for one office (the office report page)."""
    if not history:
        base = sa.select(Recommendation.office_id.label("office_id"),
                         Recommendation.status.label("status"),
                         Recommendation.due_date.label("due_date"))
    else:
        last = (sa.select(RecommendationEvent.recommendation_id.label("rid"),
                          sa.func.max(RecommendationEvent.id).label("eid"))
                .where(RecommendationEvent.at < sa.bindparam("cutoff",
                                                             type_=RecommendationEvent.at.type))
                .group_by(RecommendationEvent.recommendation_id).subquery())
        base = (sa.select(Recommendation.office_id.label("office_id"),
                          RecommendationEvent.status.label("status"),
                          Recommendation.due_date.label("due_date"))
                .join(last, last.c.rid == Recommendation.id)
                .join(RecommendationEvent, RecommendationEvent.id == last.c.eid))
    if some_offices:
        base = base.where(Recommendation.office_id.in_(sa.bindparam("office_ids",
                                                                    expanding=True)))
    rows = base.subquery()

    def count_if(condition) -> sa.ColumnElement:
        return sa.func.sum(sa.case((condition, 1), else_=0))

    late = sa.and_(rows.c.status.in_(WAITING_ON_OFFICE), rows.c.due_date.is_not(None),
                   rows.c.due_date < sa.bindparam("today", type_=Recommendation.due_date.type))
    return (sa.select(rows.c.office_id, sa.func.count(),
                      count_if(rows.c.status == S.VERIFIED.value),
                      count_if(rows.c.status == S.NOT_DONE.value),
                      count_if(rows.c.status.in_(ACTIVE)), count_if(late))
            .group_by(rows.c.office_id).order_by(rows.c.office_id))


def follow_up_figures(numbers) -> dict:
    """One office's figures (as follow_up() gives them) from the numbers of a
    follow_up_select() row after its office id."""
    return _figures(*[int(n or 0) for n in numbers])


def follow_up(office_ids: Iterable[int] | None = None,
              until: datetime | date | None = None) -> dict:
    """How far offices carried out their recommendations, per office and overall.

    `office_ids`: the offices to count (None: all). `until`: figures as they stood just before
    this moment, from the history (an aware datetime, exclusive; a date means the end of that day
    in ADAL_TIMEZONE); None: as they stand now. Recommendations made later are left out.

    Returns {"overall": figures, "offices": {office_id: figures}} with figures
    {total, verified, not_done, open, overdue, share_done}: `open` counts open, in_progress and
    reported_done; `overdue` those open or in_progress past their due date (a part of `open`);
    share_done = verified / (verified + not_done + overdue), None when that is 0 / 0. Offices
    without recommendations are not in "offices". Counted in the database (one GROUP BY).
    """
    cutoff, today = follow_up_as_of(until)
    params = follow_up_params(office_ids, cutoff, today)
    result = db.session.execute(follow_up_select(cutoff is not None, office_ids is not None),
                                params).all()
    offices: dict[int, dict] = {}
    sums = [0, 0, 0, 0, 0]
    for office_id, *numbers in result:
        numbers = [int(n or 0) for n in numbers]
        offices[office_id] = _figures(*numbers)
        sums = [a + b for a, b in zip(sums, numbers)]
    return {"overall": _figures(*sums), "offices": offices}


def follow_up_offices(*, user: User, region: str | None = None) -> list[int] | None:
    """The office ids a follow-up request covers: the region's, within the user's scope."""
    regions = region_ids(user)
    if region is not None:
        found = db.session.scalar(sa.select(Region).where(Region.code == region))
        if found is None:
            raise ValidationFailed(f"There is no region {region!r}.",
                                   errors={"query": {"region": ["Unknown region."]}})
        if regions is not None and found.id not in regions:
            raise NotFound(f"No region {region!r} in your scope.")
        regions = {found.id}
    if regions is None:
        return None
    return list(db.session.scalars(sa.select(Office.id).where(Office.region_id.in_(regions))))


def office_codes(office_ids: Iterable[int]) -> dict[int, str]:
    ids = list(office_ids)
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(Office.id, Office.code)
                                   .where(Office.id.in_(ids))).all())
