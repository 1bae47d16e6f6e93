"""The supervisor console (/console): the review queue, a visit with its evidence and the
decisions on it, rankings with exports and publishing, recommendations per office.

Pages call services; no rules live here. Every form post carries the session's CSRF token
(views.check_csrf and auth.access refuse it otherwise), and every decision carries the revision
the supervisor looked at, so a stale page gets a clear 409 and changes nothing.
"""
from __future__ import annotations

import uuid as uuid_module

from flask import (Blueprint, current_app, redirect, render_template, request, url_for)

from ..db import paginate, unit_of_work, utcnow
from ..errors import AppError, NotFound, ValidationFailed
from ..extensions import db
from ..forms.service import localize
from ..offices.models import OFFICE_KINDS
from ..periods import half_year_of, parse_period
from ..recommendations import service as rec_service
from ..reports import service as report_service
from ..review import service as review_service
from ..review.schemas import DECISIONS
from ..visits.service import compiled, get_visit, visit_view
from . import console_admin, console_planning
from .console_access import SignIn, staff
from .i18n import STRINGS, page_language

# Its own static route: the app's /static/<path> rule (no folder behind it) shadows web.static,
# so /static/adal.css is a 404 today (see docs/console.md); the console serves it here too.
bp = Blueprint("console", __name__, url_prefix="/console", static_folder="static",
               static_url_path="/static")

PER_PAGE = 50
FLAG_KINDS = ("far_from_office", "too_short", "outside_window", "critical_finding",
              "evidence_missing", "photo_far_from_office", "photo_outside_window", "media_reused")
NUMBER_TYPES = ("integer", "duration_min")


@bp.errorhandler(SignIn)
def _to_login(_exc):
    return redirect(url_for("web.login", next=request.full_path.rstrip("?"),
                            lang=request.args.get("lang")))


@bp.context_processor
def _helpers() -> dict:
    lang = page_language()
    return {"flag_kinds": FLAG_KINDS, "fmt_value": _fmt_value, "known_keys": STRINGS,
            "local": lambda text, fallback="": report_service.localise(text, lang, fallback),
            "queue_page": _queue_page}


def _queue_page(number: int) -> str:
    return url_for("console.queue", **{**request.args.to_dict(), "page": number})


def _fmt_value(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


@bp.get("/")
def home():
    """The console starts at the review queue."""
    staff()
    return redirect(url_for("console.queue", lang=request.args.get("lang")))


def _queue_filters() -> dict:
    """The queue's filters from the query string; empty fields are no filter."""
    args = request.args
    filters = {key: (args.get(key) or "").strip()[:64] or None
               for key in ("region", "office", "inspector", "flag")}
    age = (args.get("older_than_days") or "").strip()
    if age:
        if not age.isdigit() or int(age) > 3650:
            raise ValidationFailed("Age is a number of days, 0 to 3650.",
                                   errors={"older_than_days": ["A number of days, 0 to 3650."]})
        filters["older_than_days"] = int(age)
    else:
        filters["older_than_days"] = None
    return filters


@bp.get("/queue")
def queue():
    """Visits waiting for a decision, oldest first, with filters and counts per flag."""
    user = staff()
    filters = _queue_filters()
    try:
        page = max(1, min(int(request.args.get("page", 1)), 10_000))
    except ValueError:
        page = 1
    listing = paginate(review_service.review_queue_query(user=user, **filters),
                       page=page, per_page=PER_PAGE)
    everything = paginate(review_service.review_queue_query(user=user), page=1, per_page=1)
    flag_counts = {}
    for kind in FLAG_KINDS:
        counted = paginate(review_service.review_queue_query(user=user, flag=kind),
                           page=1, per_page=1)
        flag_counts[kind] = counted["total"]
    return render_template("console/queue.html", listing=listing, filters=filters,
                           total_waiting=everything["total"], flag_counts=flag_counts,
                           now=utcnow())


def _visit_uuid(value: str) -> uuid_module.UUID:
    try:
        return uuid_module.UUID(value)
    except ValueError as exc:
        raise NotFound(f"No visit {value[:40]!r}.") from exc


def _render_visit(user, visit_uuid, *, error: AppError | None = None, status: int = 200,
                  entered: dict | None = None):
    """The visit page: answers next to their evidence, flags, score, history, the forms."""
    visit = get_visit(user=user, visit_uuid=visit_uuid)
    view = visit_view(visit)
    lang = page_language()
    form = localize(visit.form_version.definition, lang)
    sections = [{"id": s["id"], "title": s["title"],
                 "questions": {q["id"]: q for q in s["questions"]}}
                for s in form["sections"]]
    questions = {qid: q for s in sections for qid, q in s["questions"].items()}
    section_of = {qid: s["id"] for s in sections for qid in s["questions"]}
    kinds = {link.media.sha256: link.media.kind for link in visit.evidence}
    answers_by_section: dict[str, list] = {}
    for answer in view["answers"]:
        answers_by_section.setdefault(section_of.get(answer["question_id"], ""), []).append(answer)
    submissions = [{"revision": s.revision, "received_at": s.received_at, "score": s.score}
                   for s in visit.submissions]
    reviewable = visit.status in review_service.REVIEWABLE
    return render_template(
        "console/visit.html", visit=view, sections=sections, questions=questions,
        answers_by_section=answers_by_section, kinds=kinds, submissions=submissions,
        reviewable=reviewable, own=visit.inspector_id == user.id, decisions=DECISIONS,
        office=visit.office, error=error, entered=entered or {}), status


@bp.get("/visits/<visit_uuid>")
def visit_page(visit_uuid):
    """One visit for review."""
    user = staff()
    return _render_visit(user, _visit_uuid(visit_uuid))


def _revision() -> int | None:
    raw = (request.form.get("revision") or "").strip()
    if not raw.isdigit():
        raise ValidationFailed("The page did not say which revision you looked at; reload it.",
                               errors={"revision": ["Required."]})
    return int(raw)


def _stale(visit, revision: int) -> AppError:
    return AppError(f"The visit was amended: revision {visit.revision} is current, you "
                    f"reviewed {revision}. Look at it again.", code="stale_revision",
                    status=409, title="Conflict",
                    errors={"revision": [f"Current revision is {visit.revision}."]})


@bp.post("/visits/<visit_uuid>/decide")
def decide(visit_uuid):
    """Approve, reject or return the visit at the revision the page showed."""
    user = staff()
    vid = _visit_uuid(visit_uuid)
    decision = request.form.get("decision", "")
    comment = (request.form.get("comment") or "")[:4000]
    try:
        if decision not in DECISIONS:
            raise ValidationFailed("Choose approve, reject or return.",
                                   errors={"decision": ["Unknown decision."]})
        if decision != "approve" and not comment.strip():
            raise ValidationFailed("Say why: the inspector and the record need a reason.",
                                   errors={"comment": ["Required to reject or return."]})
        revision = _revision()
        with unit_of_work():
            visit = get_visit(user=user, visit_uuid=vid)
            review_service.review_visit(visit=visit, reviewer=user, decision=decision,
                                        comment=comment, revision=revision)
    except AppError as exc:
        if exc.status == 404:
            raise
        return _render_visit(user, vid, error=exc, status=exc.status,
                             entered={"comment": comment})
    nxt = request.form.get("next_queue")
    if nxt:
        return redirect(url_for("console.queue", done=decision, lang=request.args.get("lang")))
    return redirect(url_for("console.visit_page", visit_uuid=vid, done=decision,
                            lang=request.args.get("lang")))


def _parse_value(question: dict | None, raw: str):
    """The form field as the answer's type: numbers, lists for multiple choice, else text."""
    raw = raw.strip()
    if question is None or raw == "":
        return None
    qtype = question.get("type")
    try:
        if qtype in NUMBER_TYPES:
            return int(raw)
        if qtype == "decimal":
            return float(raw.replace(",", "."))
    except ValueError:
        return raw  # the service names the problem
    if qtype == "multi_choice":
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


@bp.post("/visits/<visit_uuid>/correct")
def correct(visit_uuid):
    """Correct one answer with a reason; the score is recomputed by the service."""
    user = staff()
    vid = _visit_uuid(visit_uuid)
    qid = (request.form.get("question") or "")[:64]
    raw = (request.form.get("value") or "")[:2000]
    reason = (request.form.get("reason") or "")[:2000]
    not_applicable = request.form.get("not_applicable") == "1"
    entered = {"question": qid, "value": raw, "reason": reason}
    try:
        if not reason.strip():
            raise ValidationFailed("Give the reason for the correction.",
                                   errors={"reason": ["Required."]})
        revision = _revision()
        with unit_of_work():
            visit = get_visit(user=user, visit_uuid=vid)
            if revision != visit.revision:
                # review_service.correct_answer takes no revision (see docs/console.md)
                raise _stale(visit, revision)
            question = compiled(visit.form_version).questions.get(qid)
            review_service.correct_answer(
                visit=visit, reviewer=user, question=qid,
                value=None if not_applicable else _parse_value(question, raw),
                not_applicable=not_applicable, reason=reason)
    except AppError as exc:
        if exc.status == 404:
            raise
        return _render_visit(user, vid, error=exc, status=exc.status, entered=entered)
    return redirect(url_for("console.visit_page", visit_uuid=vid, done="correct",
                            lang=request.args.get("lang")) + f"#q-{qid}")


def _period():
    tz = current_app.config["TIMEZONE"]
    label = (request.values.get("period") or "").strip()
    if not label:
        return half_year_of(utcnow(), tz)
    try:
        return parse_period(label[:16], tz)
    except ValueError as exc:
        raise ValidationFailed(str(exc), errors={"period": [str(exc)]}) from exc


def _kind() -> str | None:
    kind = request.values.get("kind") or None
    if kind is not None and kind not in OFFICE_KINDS:
        raise ValidationFailed("Unknown kind.", errors={"kind": ["Unknown kind."]})
    return kind


def _render_rankings(user, *, error: AppError | None = None, status: int = 200):
    period, kind = _period(), _kind()
    region = (request.values.get("region") or "").strip()[:32] or None
    scope = report_service.resolve_scope(user=user, region=region)
    report = report_service.ranking(period=period, kind=kind, scope=scope, lang=page_language())
    published = db.session.scalars(
        report_service.published_reports_query(period=period.label).limit(20)).all()
    return render_template("console/rankings.html", report=report, period=period, kind=kind,
                           region=region, kinds=OFFICE_KINDS, published=published,
                           error=error), status


@bp.get("/rankings")
def rankings():
    """The period's ranking in brief, with links to the report pages, exports and publishing."""
    return _render_rankings(staff())


@bp.post("/rankings/publish")
def publish():
    """Freeze the ranking of a period (and kind) and open its public page."""
    user = staff()
    try:
        period, kind = _period(), _kind()
        region = (request.form.get("region") or "").strip()[:32] or None
        with unit_of_work():
            scope = report_service.resolve_scope(user=user, region=region, location="json")
            report = report_service.publish_report(period=period, kind=kind, scope=scope,
                                                   actor=user)
            slug = report.slug
    except AppError as exc:
        return _render_rankings(user, error=exc, status=exc.status)
    return redirect(url_for("report_pages.public_report", slug=slug,
                            lang=request.args.get("lang")))


@bp.get("/offices/<code>/recommendations")
def office_recommendations(code):
    """One office's recommendations with their status, due date and follow-up."""
    user = staff()
    office = rec_service.office_for_viewer(user=user, code=code[:32])
    recs = rec_service.views(db.session.scalars(rec_service.office_query(office=office)).all())
    return render_template("console/recommendations.html", office=office, recs=recs,
                           period=half_year_of(utcnow(), current_app.config["TIMEZONE"]))


bp.add_url_rule("/planning", view_func=console_planning.planning)
bp.add_url_rule("/planning/assignments", view_func=console_planning.create_assignment,
                methods=["POST"])
bp.add_url_rule("/planning/assignments.csv", view_func=console_planning.upload_assignments,
                methods=["POST"])
bp.add_url_rule("/admin", view_func=console_admin.admin)
bp.add_url_rule("/admin/users", view_func=console_admin.create_user, methods=["POST"])
bp.add_url_rule("/admin/users/<login>/deactivate", view_func=console_admin.deactivate_user,
                methods=["POST"])
bp.add_url_rule("/admin/users/<login>/token", view_func=console_admin.new_token,
                methods=["POST"])
bp.add_url_rule("/admin/forms", view_func=console_admin.publish_form_file, methods=["POST"])
