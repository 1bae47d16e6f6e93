"""The supervisor console (/console): the review queue, a visit with its evidence and the
decisions on it, rankings with exports and publishing, recommendations per office.

Pages call services; no rules live here. Every form post carries the session's CSRF token
(views.check_csrf and auth.access refuse it otherwise), and every decision carries the revision
the supervisor looked at, so a stale page gets a clear 409 and changes nothing.
"""
from __future__ import annotations

import uuid as uuid_module

from flask import (Blueprint, current_app, redirect, render_template, request, url_for)

from ..auth.access import current_user
from ..db import paginate, unit_of_work, utcnow
from ..errors import AppError, NotFound, ValidationFailed
from ..extensions import db
from ..forms.service import localize
from ..offices.models import OFFICE_KINDS
from ..periods import half_year_of, parse_period
from ..reports import labels as report_labels, published as report_published
from ..reports import service as report_service
from ..reports.ranking import ranking
from ..review import service as review_service
from ..review.schemas import DECISIONS
from ..visits import filters as visit_filters
from ..visits.models import Visit
from ..visits.reading import get_visit, visit_view
from ..visits.submission import compiled
from . import (console_admin, console_audit, console_map, console_offices, console_planning,
               console_recommendations, console_visits)
from . import console_jobs
from .console_access import SignIn, field_messages, problem_detail, staff, t
from .console_format import (DECISION_STATUS, flag_details, flag_groups, fmt_answer, fmt_value,
                             history_details, label, positions, queue_flags, revisions, widget,
                             widget_value)
from ..i18n import MESSAGES, page_language

# Its own static route: console.js lives here; /console/static/adal.css is the same file as
# /static/adal.css (which base.html links), kept for pages and bookmarks that name it.
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


# Error fields shown by the label of the form field they belong to.
FIELD_LABELS = {
    "older_than_days": "c_older_than_days", "revision": "c_revision", "decision": "c_decision",
    "comment": "c_comment", "reason": "c_reason", "question": "c_question", "value": "c_new_value",
    "period": "period", "kind": "col_kind", "office": "col_office_code",
    "inspector": "c_inspector", "form_key": "c_form", "form_version": "c_form",
    "window_start": "c_window_start", "window_end": "c_window_end", "file": "c_form_file",
    "login": "login", "password": "password", "role": "c_role", "regions": "col_region",
    "display_name": "c_name", "conflict_offices": "c_conflicts", "text": "c_text",
    "due_date": "c_due", "visit": "c_visit", "status": "col_status",
    "verifying_visit": "c_verifying_visit", "yaml": "c_pv_yaml",
    "sha256": "c_pv_sha256", "from": "cf_audit_from", "to": "cf_audit_to", "page": "cf_page",
}
def field_label(field: str) -> str:
    key = FIELD_LABELS.get(field)
    return t(key) if key in MESSAGES else field


@bp.context_processor
def _helpers() -> dict:
    lang = page_language()
    return {"flag_kinds": FLAG_KINDS, "fmt_value": fmt_value, "fmt_answer": fmt_answer,
            "flag_details": flag_details, "history_details": history_details,
            "flag_groups": flag_groups, "positions": positions, "widget": widget,
            "widget_value": widget_value, "decided_visit": decided_visit,
            "correct_url": _correct_url,
            "label": label, "field_label": field_label, "known_keys": MESSAGES,
            "local": lambda text, fallback="": report_labels.localise(text, lang, fallback),
            "queue_page": _queue_page, "problem_detail": problem_detail,
            "field_messages": field_messages}


def decided_visit() -> dict | None:
    """The visit a decision was just taken on (`?decided=<uuid>` after a decision), for the
    notice that names it: office, time, short id and its address; None if there is none or the
    user may not see it."""
    raw = (request.args.get("decided") or "")[:40]
    if not raw or request.args.get("done") not in DECISIONS:
        return None
    try:
        visit = get_visit(user=current_user(), visit_uuid=uuid_module.UUID(raw))
    except (ValueError, AppError):
        return None
    return {"uuid": str(visit.uuid), "short": str(visit.uuid)[:8], "office": visit.office,
            "started_at": visit.started_at, "decision": request.args.get("done"),
            "label": label("vstatus_", DECISION_STATUS[request.args["done"]]),
            "url": url_for("console.visit_page", visit_uuid=visit.uuid,
                           lang=request.args.get("lang"))}


NOTICE_ARGS = ("correct", "done", "decided", "empty")


def _correct_url(visit_uuid, qid: str) -> str:
    """This visit page with `qid` chosen in the correction form (the page's other arguments
    kept, the last decision's notice not)."""
    args = {k: v for k, v in request.args.items() if k not in NOTICE_ARGS}
    return url_for("console.visit_page", visit_uuid=visit_uuid, correct=qid,
                   **args) + "#correct-heading"


def _queue_page(number: int) -> str:
    return url_for("console.queue", **{**request.args.to_dict(), "page": number})


@bp.get("/")
def home():
    """The console starts at the review queue."""
    staff()
    return redirect(url_for("console.queue", lang=request.args.get("lang")))


QUEUE_FILTERS = ("region", "office", "inspector", "flag", "older_than_days")
CARRY = "q_"  # the queue's filters as the visit page and its forms carry them: q_region, ...


def _queue_filters(args=None, prefix: str = "") -> dict:
    """The queue's filters from the query string (or from the fields `prefix`+name of a visit
    page's form); empty fields are no filter."""
    args = request.args if args is None else args
    filters = {key: (args.get(prefix + key) or "").strip()[:64] or None
               for key in ("region", "office", "inspector", "flag")}
    age = (args.get(prefix + "older_than_days") or "").strip()
    if age:
        if not age.isdigit() or int(age) > 3650:
            raise ValidationFailed(t("c_err_age"), errors={"older_than_days": [t("c_err_age")]})
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
                           now=utcnow(), carry=_carry(filters), choices=_filter_choices(user),
                           row_flags=_row_flags(listing["items"]))


def _filter_choices(user) -> dict:
    """What the queue's region, office and inspector filters offer: only values in the user's
    scope (their regions' offices; inspectors with visits there), names in the page language
    (the choices the visits table and the exports use: server/visits/filters.py)."""
    choices = visit_filters.filter_choices(user=user, lang=page_language())
    return {"region": [(r["code"], r["name"] or r["code"]) for r in choices["regions"]],
            "office": [(o["code"], o["name"] or o["code"]) for o in choices["offices"]],
            "inspector": [(i["login"], i["name"] or i["login"]) for i in choices["inspectors"]]}


def _row_flags(visits) -> dict:
    """Each queue row's flags, each kind once with the questions it is about (labels in the
    page language, from the visit's form version)."""
    lang, forms, out = page_language(), {}, {}
    for visit in visits:
        version = visit.form_version
        if version.id not in forms:
            form = localize(version.definition, lang)
            forms[version.id] = {q["id"]: q for s in form["sections"] for q in s["questions"]}
        out[visit.id] = queue_flags(visit.flags, forms[version.id])
    return out


def _carry(filters: dict) -> dict:
    """The filters in use as the visit page's query arguments (q_region=..., ...)."""
    return {CARRY + key: value for key, value in filters.items() if value is not None}


def _carried() -> dict:
    """The queue's filters a visit page was opened with, for its forms and links; a value the
    queue would refuse is left out here (the page's GET and the decision refuse it)."""
    try:
        return _carry(_queue_filters(request.values, CARRY))
    except ValidationFailed:
        return _carry({**_queue_filters({k: v for k, v in request.values.items()
                                          if k != CARRY + "older_than_days"}, CARRY)})


def _visit_uuid(value: str) -> uuid_module.UUID:
    try:
        return uuid_module.UUID(value)
    except ValueError as exc:
        raise NotFound(t("c_err_no_visit", value=repr(value[:40]))) from exc


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
    media = {link.media.sha256: link.media for link in visit.evidence}  # status, web preview
    answers_by_section: dict[str, list] = {}
    for answer in view["answers"]:
        answers_by_section.setdefault(section_of.get(answer["question_id"], ""), []).append(answer)
    reviewable = visit.status in review_service.REVIEWABLE
    correction = _correction(sections, view, entered or {}, error is not None)
    return render_template(
        "console/visit.html", visit=view, sections=sections, questions=questions,
        answers_by_section=answers_by_section, kinds=kinds, media=media,
        submissions=revisions(visit, view, questions),
        reviewable=reviewable, own=visit.inspector_id == user.id, decisions=DECISIONS,
        office=visit.office, error=error, entered=entered or {}, correction=correction,
        from_queue=bool(request.values.get("next_queue") or request.values.get("from_queue") or
                        request.args.get("from") == "queue"),
        carry=_carried(),
        back={k[len(CARRY):]: v for k, v in _carried().items()}), status


def _correction(sections: list, view: dict, entered: dict, failed: bool) -> dict:
    """The correction form: the questions that may be corrected, the one chosen (`?correct=`,
    else the one just refused, else the first) with its widget and the values to show chosen."""
    options = [(qid, q) for s in sections for qid, q in s["questions"].items()
               if widget(q) is not None]
    ids = {qid for qid, _q in options}
    chosen = next((c for c in ((entered.get("question") if failed else None),
                               (request.args.get("correct") or "")[:64]) if c in ids),
                  options[0][0] if options else None)
    question = dict(options).get(chosen)
    current: list[str] = []
    if failed and entered.get("question") == chosen:
        current = [v for v in entered.get("values", []) if v]
    elif chosen is not None:
        for answer in view["answers"]:
            if answer["question_id"] == chosen:
                fixed = answer.get("corrected")
                value = fixed["value"] if fixed else answer["value"]
                values = value if isinstance(value, list) else [value]
                current = [widget_value(v) for v in values if v is not None]
    return {"options": options, "chosen": chosen, "question": question,
            "widget": widget(question) if question else None, "current": current}


@bp.get("/visits/<visit_uuid>")
def visit_page(visit_uuid):
    """One visit for review."""
    user = staff()
    vid = _visit_uuid(visit_uuid)
    review_service.review_queue_query(user=user, **_queue_filters(request.args, CARRY))
    return _render_visit(user, vid)


def _revision() -> int | None:
    raw = (request.form.get("revision") or "").strip()
    if not raw.isdigit():
        raise ValidationFailed(t("c_err_revision"), errors={"revision": [t("c_err_required")]})
    return int(raw)


def _stale(visit, revision: int) -> AppError:
    return AppError(t("c_err_stale", current=visit.revision, seen=revision),
                    code="stale_revision", status=409, title="Conflict",
                    errors={"revision": [t("c_err_stale_field", current=visit.revision)]})


@bp.post("/visits/<visit_uuid>/decide")
def decide(visit_uuid):
    """Approve, reject or return the visit at the revision the page showed."""
    user = staff()
    vid = _visit_uuid(visit_uuid)
    decision = request.form.get("decision", "")
    comment = (request.form.get("comment") or "")[:4000]
    try:
        if decision not in DECISIONS:
            raise ValidationFailed(t("c_err_decision"),
                                   errors={"decision": [t("c_err_decision_field")]})
        if decision != "approve" and not comment.strip():
            raise ValidationFailed(t("c_err_comment"),
                                   errors={"comment": [t("c_err_comment_field")]})
        revision = _revision()
        filters = _queue_filters(request.form, CARRY)
        # the queue to go on with is checked before deciding (a region out of scope is a 403)
        review_service.review_queue_query(user=user, **filters)
        with unit_of_work():
            visit = get_visit(user=user, visit_uuid=vid)
            review_service.review_visit(visit=visit, reviewer=user, decision=decision,
                                        comment=comment, revision=revision)
    except AppError as exc:
        if exc.status == 404:
            raise
        return _render_visit(user, vid, error=exc, status=exc.status,
                             entered={"comment": comment})
    if request.form.get("next_queue"):
        return _next_in_queue(user, vid, decision, filters)
    return redirect(url_for("console.visit_page", visit_uuid=vid, done=decision, decided=vid,
                            lang=request.args.get("lang")))


def _next_in_queue(user, decided: uuid_module.UUID, decision: str, filters: dict):
    """After a decision taken from the queue: the oldest visit still waiting (not the user's own)
    in the same filtered queue, opened the way the keyboard path opened this one, the filters
    carried on; the queue with its filters when none is left."""
    lang = request.args.get("lang")
    query = (review_service.review_queue_query(user=user, **filters)
             .where(Visit.uuid != decided, Visit.inspector_id != user.id).limit(1))
    following = db.session.scalars(query).first()
    if following is None:
        return redirect(url_for("console.queue", done=decision, lang=lang, empty=1,
                                decided=decided,
                                **{k: v for k, v in filters.items() if v is not None}))
    focus = request.form.get("focus")
    return redirect(url_for("console.visit_page", visit_uuid=following.uuid, done=decision,
                            decided=decided, lang=lang, **{"from": "queue"}, **_carry(filters),
                            focus=focus if focus in ("approve", "return") else None))


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


def _constraint_in_language(exc: AppError, question: dict | None) -> AppError:
    """The review service words a refused constraint with the form's English message; the form
    has it in every language, so the page shows the one of its language."""
    messages = ((question or {}).get("constraint") or {}).get("message") or {}
    english = messages.get("en")
    local = messages.get(page_language())
    if english and local and (exc.errors or {}).get("value") == [english]:
        exc.errors = {**exc.errors, "value": [local]}
        exc.detail = f"The form refuses this value: {local}"
    return exc


@bp.post("/visits/<visit_uuid>/correct")
def correct(visit_uuid):
    """Correct one answer with a reason; the score is recomputed by the service."""
    user = staff()
    vid = _visit_uuid(visit_uuid)
    qid = (request.form.get("question") or "")[:64]
    values = [v[:2000] for v in request.form.getlist("value")[:200]]
    raw = values[0] if len(values) == 1 else ",".join(values)
    reason = (request.form.get("reason") or "")[:2000]
    not_applicable = request.form.get("not_applicable") == "1"
    entered = {"question": qid, "value": raw, "values": values, "reason": reason}
    question = None
    try:
        if not reason.strip():
            raise ValidationFailed(t("c_err_reason"), errors={"reason": [t("c_err_required")]})
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
        return _render_visit(user, vid, error=_constraint_in_language(exc, question),
                             status=exc.status, entered=entered)
    opened = {"from": "queue", **_carried()} if request.form.get("from_queue") else {}
    return redirect(url_for("console.visit_page", visit_uuid=vid, done="correct",
                            lang=request.args.get("lang"), **opened) + f"#q-{qid}")


def _period():
    tz = current_app.config["TIMEZONE"]
    label = (request.values.get("period") or "").strip()
    if not label:
        return half_year_of(utcnow(), tz)
    try:
        return parse_period(label[:16], tz)
    except ValueError as exc:
        message = t("c_err_period", value=repr(label[:16]))
        raise ValidationFailed(message, errors={"period": [message]}) from exc


def _kind() -> str | None:
    kind = request.values.get("kind") or None
    if kind is not None and kind not in OFFICE_KINDS:
        raise ValidationFailed(t("c_err_kind"), errors={"kind": [t("c_err_kind")]})
    return kind


def _render_rankings(user, *, error: AppError | None = None, status: int = 200):
    period, kind = _period(), _kind()
    region = (request.values.get("region") or "").strip()[:32] or None
    scope = report_service.resolve_scope(user=user, region=region)
    report = ranking(period=period, kind=kind, scope=scope, lang=page_language())
    published = db.session.scalars(
        report_published.published_reports_query(period=period.label).limit(20)).all()
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
            report = report_published.publish_report(period=period, kind=kind, scope=scope,
                                                   actor=user)
            slug = report.slug
    except AppError as exc:
        return _render_rankings(user, error=exc, status=exc.status)
    return redirect(url_for("report_pages.public_report", slug=slug,
                            lang=request.args.get("lang")))


bp.add_url_rule("/offices/<code>/recommendations",
                view_func=console_recommendations.office_recommendations)
bp.add_url_rule("/offices/<code>/recommendations",
                view_func=console_recommendations.create_recommendation, methods=["POST"])
bp.add_url_rule("/recommendations/<int:rec_id>/status",
                view_func=console_recommendations.recommendation_status, methods=["POST"])
bp.add_url_rule("/planning", view_func=console_planning.planning)
bp.add_url_rule("/planning/assignments", view_func=console_planning.create_assignment,
                methods=["POST"])
bp.add_url_rule("/planning/assignments.csv", view_func=console_planning.upload_assignments,
                methods=["POST"])
bp.add_url_rule("/planning/inspectors/<login>/conflicts",
                view_func=console_planning.update_conflicts, methods=["POST"])
bp.add_url_rule("/admin", view_func=console_admin.admin)
bp.add_url_rule("/admin/jobs", view_func=console_jobs.jobs_page)
bp.add_url_rule("/admin/jobs/<int:job_id>/retry", view_func=console_jobs.retry_job, methods=["POST"])
bp.add_url_rule("/admin/users", view_func=console_admin.create_user, methods=["POST"])
bp.add_url_rule("/admin/users/<login>/deactivate", view_func=console_admin.deactivate_user,
                methods=["POST"])
bp.add_url_rule("/admin/users/<login>/token", view_func=console_admin.new_token,
                methods=["POST"])
bp.add_url_rule("/admin/forms", view_func=console_admin.publish_form_file, methods=["POST"])
bp.add_url_rule("/admin/forms", view_func=console_admin.forms_page, methods=["GET"])
bp.add_url_rule("/admin/audit", view_func=console_audit.audit_page)
bp.add_url_rule("/admin/forms/publish", view_func=console_admin.publish_converted_form,
                methods=["POST"])
bp.add_url_rule("/map", view_func=console_map.office_map)
console_offices.register(bp)
console_visits.register(bp)
