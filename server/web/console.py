"""The supervisor console (/console): the review queue, a visit with its evidence and the
decisions on it, rankings with exports and publishing, recommendations per office.

Pages call services; no rules live here. Every form post carries the session's CSRF token
(views.check_csrf and auth.access refuse it otherwise), and every decision carries the revision
the supervisor looked at, so a stale page gets a clear 409 and changes nothing.
"""
from __future__ import annotations

import uuid as uuid_module
from datetime import datetime, timezone

import marshmallow as ma
from flask import (Blueprint, current_app, redirect, render_template, request, url_for)

from ..db import paginate, unit_of_work, utcnow
from ..errors import AppError, NotFound, ValidationFailed
from ..extensions import db
from ..forms.service import localize
from ..offices.models import OFFICE_KINDS
from ..periods import half_year_of, parse_period
from ..recommendations import service as rec_service
from ..recommendations.models import RecommendationStatus
from ..recommendations.schemas import RecommendationIn, StatusIn
from ..reports import service as report_service
from ..review import service as review_service
from ..review.schemas import DECISIONS
from ..visits.models import Visit
from ..visits.service import compiled, get_visit, visit_view
from . import console_admin, console_map, console_offices, console_planning, console_visits
from .console_access import SignIn, field_messages, problem_detail, staff, t
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
    "sha256": "c_pv_sha256",
}
# Flag detail keys whose values are metres or minutes.
METRES = ("distance_m", "accuracy_m", "threshold_m")
MINUTES = ("minutes", "minimum")


def label(prefix: str, code) -> str:
    """The page-language name of a stored code (a role, a status, an action), else the code."""
    key = f"{prefix}{getattr(code, 'value', code)}"
    return t(key) if key in MESSAGES else str(getattr(code, "value", code))


def field_label(field: str) -> str:
    key = FIELD_LABELS.get(field)
    return t(key) if key in MESSAGES else field


@bp.context_processor
def _helpers() -> dict:
    lang = page_language()
    return {"flag_kinds": FLAG_KINDS, "fmt_value": _fmt_value, "fmt_answer": fmt_answer,
            "flag_details": flag_details, "history_details": history_details,
            "label": label, "field_label": field_label, "known_keys": MESSAGES,
            "local": lambda text, fallback="": report_service.localise(text, lang, fallback),
            "queue_page": _queue_page, "problem_detail": problem_detail,
            "field_messages": field_messages}


def _queue_page(number: int) -> str:
    return url_for("console.queue", **{**request.args.to_dict(), "page": number})


def _fmt_value(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return t("c_yes") if value else t("c_no")
    if isinstance(value, list):
        return ", ".join(_fmt_value(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_fmt_value(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _choice_label(question: dict | None, value) -> str:
    """A choice id as its label in the page's (localized) form; yes/no in the page language."""
    if question and question.get("type") == "yes_no" and value in ("yes", "no"):
        return t("c_yes") if value == "yes" else t("c_no")
    for choice in (question or {}).get("choices") or []:
        if choice.get("id") == value:
            return choice.get("label") or str(value)
    return _fmt_value(value)


def fmt_answer(value, question: dict | None = None) -> str:
    """An answer as the supervisor reads it: the choices' labels, not their ids."""
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(_choice_label(question, v) for v in value)
    if question and question.get("type") in ("yes_no", "single_choice"):
        return _choice_label(question, value)
    return _fmt_value(value)


def _question_name(qid, questions: dict) -> str:
    q = questions.get(qid)
    return f"{qid} · {q['label']}" if q and q.get("label") else str(qid)


def flag_details(flag: dict, questions: dict) -> list[tuple[str, str]]:
    """A flag's detail as (label, value) pairs in the page language, units and names included."""
    out = []
    detail = (flag.get("detail") if isinstance(flag, dict) else flag.detail) or {}
    for key, value in detail.items():
        name = t(f"fd_{key}") if f"fd_{key}" in MESSAGES else key
        if value is None:
            text = "—"
        elif key in METRES:
            text = f"{_fmt_value(value)} {t('c_metres')}"
        elif key in MINUTES:
            text = f"{_fmt_value(value)} {t('c_minutes')}"
        elif key == "position":
            text = label("c_", value)
        elif key == "kind":
            text = label("app_kind_", value)
        elif key == "question":
            text = _question_name(value, questions)
        elif key == "questions":
            text = ", ".join(_question_name(q, questions) for q in value)
        elif key == "rule":
            text = _rule(str(value), questions.get(detail.get("question")))
        elif key in ("started_at", "window_start", "window_end", "captured_at"):
            text = _when(value)
        else:
            text = _fmt_value(value)
        out.append((name, text))
    return out


def _rule(rule: str, question: dict | None) -> str:
    if rule == "required":
        return t("c_rule_required")
    if rule.startswith("required_when:"):
        return t("c_rule_when", value=fmt_answer(rule.split(":", 1)[1], question))
    return rule


def _when(value) -> str:
    """An ISO time as 'YYYY-MM-DD HH:MM' in UTC, as the rest of the page shows times."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M") + (" UTC" if moment.tzinfo else "")


HISTORY_KEYS = {"decision": "c_decision", "comment": "c_comment", "reason": "c_reason",
                "question": "c_question", "score": "c_score", "score_before": "c_score_before",
                "score_after": "c_score_after", "status": "col_status"}
DECISION_STATUS = {"approve": "approved", "reject": "rejected", "return": "returned"}


def history_details(detail: dict, questions: dict) -> list[tuple[str, str]]:
    """An audit event's payload as (label, value) pairs for the visit's history."""
    out = []
    for key, name in HISTORY_KEYS.items():
        value = detail.get(key)
        if value is None or value == "":
            continue
        if key == "decision":
            text = label("vstatus_", DECISION_STATUS.get(value, value))
        elif key == "status":
            text = label("vstatus_", value)
        elif key == "question":
            text = _question_name(value, questions)
        elif key.startswith("score") and isinstance(value, (int, float)):
            text = f"{value:.1f}"
        else:
            text = _fmt_value(value)
        out.append((t(name), text))
    return out


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
                           now=utcnow(), carry=_carry(filters))


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
    answers_by_section: dict[str, list] = {}
    for answer in view["answers"]:
        answers_by_section.setdefault(section_of.get(answer["question_id"], ""), []).append(answer)
    reviewable = visit.status in review_service.REVIEWABLE
    return render_template(
        "console/visit.html", visit=view, sections=sections, questions=questions,
        answers_by_section=answers_by_section, kinds=kinds,
        submissions=_revisions(visit, view, questions),
        reviewable=reviewable, own=visit.inspector_id == user.id, decisions=DECISIONS,
        office=visit.office, error=error, entered=entered or {},
        from_queue=bool(request.values.get("next_queue") or request.values.get("from_queue") or
                        request.args.get("from") == "queue"),
        carry=_carried(),
        back={k[len(CARRY):]: v for k, v in _carried().items()}), status


def _revisions(visit, view: dict, questions: dict) -> list[dict]:
    """Each revision the inspector sent with its answers as they were, the current one last.

    Uses the visit response's `revisions` when the visits service provides them; otherwise the
    stored bodies (visit_submissions). Answers that differ from the current ones are marked."""
    current = {a["question_id"]: (a["not_applicable"], a["value"]) for a in view["answers"]}
    rows = view.get("revisions")
    if rows is None:
        rows = [{"revision": s.revision, "received_at": s.received_at, "score": s.score,
                 "answers": (s.body or {}).get("answers") or []} for s in visit.submissions]
    out = []
    for row in sorted(rows, key=lambda r: r["revision"]):
        answers = []
        given = row.get("answers") or []
        if isinstance(given, dict):  # {question id: answer} is read the same way
            given = [{"question": k, **(v if isinstance(v, dict) else {"value": v})}
                     for k, v in given.items()]
        for item in given:
            if not isinstance(item, dict):
                continue
            qid = str(item.get("question") or item.get("question_id") or "")
            na = bool(item.get("not_applicable"))
            value = item.get("value")
            answers.append({"question": qid, "label": _question_name(qid, questions),
                            "text": t("c_na") if na else fmt_answer(value, questions.get(qid)),
                            "changed": current.get(qid) != (na, value)})
        received = row.get("received_at")
        if isinstance(received, str):
            try:
                received = datetime.fromisoformat(received)
            except ValueError:
                received = None
        out.append({"revision": row["revision"], "received_at": received,
                    "score": row.get("score"), "answers": answers,
                    "current": row["revision"] == visit.revision})
    return out


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
    return redirect(url_for("console.visit_page", visit_uuid=vid, done=decision,
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
                                **{k: v for k, v in filters.items() if v is not None}))
    focus = request.form.get("focus")
    return redirect(url_for("console.visit_page", visit_uuid=following.uuid, done=decision,
                            lang=lang, **{"from": "queue"}, **_carry(filters),
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
    raw = (request.form.get("value") or "")[:2000]
    reason = (request.form.get("reason") or "")[:2000]
    not_applicable = request.form.get("not_applicable") == "1"
    entered = {"question": qid, "value": raw, "reason": reason}
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


def _render_recommendations(user, code: str, *, error: AppError | None = None,
                            status: int = 200, entered: dict | None = None):
    office = rec_service.office_for_viewer(user=user, code=code[:32])
    everything = request.values.get("all") == "1"
    query = (rec_service.list_query(user=user, office=office.code) if everything
             else rec_service.office_query(office=office))
    rows = db.session.scalars(query).all()
    allowed = {r.id: rec_service.allowed_next(r) for r in rows}
    return render_template("console/recommendations.html", office=office,
                           recs=rec_service.views(rows), allowed=allowed, everything=everything,
                           statuses=[s.value for s in RecommendationStatus], error=error,
                           entered=entered or {},
                           period=half_year_of(utcnow(), current_app.config["TIMEZONE"])), status


@bp.get("/offices/<code>/recommendations")
def office_recommendations(code):
    """One office's recommendations with their status, due date and follow-up; forms to write
    one by hand and to move each along its statuses."""
    return _render_recommendations(staff(), code)


def _loaded(schema, raw: dict) -> dict:
    try:
        return schema.load(raw)
    except ma.ValidationError as exc:
        raise ValidationFailed(t("c_err_rec"), errors=exc.messages) from exc


@bp.post("/offices/<code>/recommendations")
def create_recommendation(code):
    """A recommendation to the office, by hand or from a visit's finding (visit, question)."""
    user = staff()
    form = request.form
    entered = {k: (form.get(k) or "").strip()[:4000] for k in
               ("text", "due_date", "visit", "question", "back")}
    raw = {"office": code[:32], "text": entered["text"],
           "due_date": entered["due_date"] or None, "visit": entered["visit"] or None,
           "question": entered["question"] or None}
    from_visit = entered["back"] == "visit" and entered["visit"]
    try:
        data = _loaded(RecommendationIn(), raw)
        with unit_of_work():
            rec = rec_service.create_recommendation(actor=user, **data)
            rec_id = rec.id
    except AppError as exc:
        if exc.status == 404:
            raise
        if from_visit:
            try:
                vid = uuid_module.UUID(entered["visit"])
            except ValueError:
                vid = None
            if vid is not None:
                return _render_visit(user, vid, error=exc, status=exc.status,
                                     entered={f"rec_{k}": v for k, v in entered.items()})
        return _render_recommendations(user, code, error=exc, status=exc.status,
                                       entered=entered)
    return redirect(url_for("console.office_recommendations", code=code[:32], made=rec_id,
                            lang=request.args.get("lang")) + f"#rec-{rec_id}", code=303)


@bp.post("/recommendations/<int:rec_id>/status")
def recommendation_status(rec_id):
    """Move a recommendation to one of its allowed next statuses (comment, verifying visit)."""
    user = staff()
    form = request.form
    if not 0 < rec_id <= rec_service.MAX_ID:
        raise NotFound(t("c_err_no_rec", value=rec_id))
    rec = rec_service.get_recommendation(user=user, recommendation_id=rec_id)
    code = rec.office.code
    entered = {"status": (form.get("status") or "")[:32], "comment": (form.get("comment") or "")[:4000],
               "verifying_visit": (form.get("verifying_visit") or "").strip()[:64], "rec": rec_id}
    raw = {"status": entered["status"], "comment": entered["comment"],
           "verifying_visit": entered["verifying_visit"] or None}
    try:
        data = _loaded(StatusIn(), raw)
        with unit_of_work():
            rec_service.change_status(actor=user, rec=rec_service.get_recommendation(
                user=user, recommendation_id=rec_id), **data)
    except AppError as exc:
        if exc.status == 404:
            raise
        return _render_recommendations(user, code, error=exc, status=exc.status,
                                       entered=entered)
    return redirect(url_for("console.office_recommendations", code=code, moved=rec_id,
                            all=request.args.get("all"), lang=request.args.get("lang"))
                    + f"#rec-{rec_id}", code=303)


bp.add_url_rule("/planning", view_func=console_planning.planning)
bp.add_url_rule("/planning/assignments", view_func=console_planning.create_assignment,
                methods=["POST"])
bp.add_url_rule("/planning/assignments.csv", view_func=console_planning.upload_assignments,
                methods=["POST"])
bp.add_url_rule("/planning/inspectors/<login>/conflicts",
                view_func=console_planning.update_conflicts, methods=["POST"])
bp.add_url_rule("/admin", view_func=console_admin.admin)
bp.add_url_rule("/admin/users", view_func=console_admin.create_user, methods=["POST"])
bp.add_url_rule("/admin/users/<login>/deactivate", view_func=console_admin.deactivate_user,
                methods=["POST"])
bp.add_url_rule("/admin/users/<login>/token", view_func=console_admin.new_token,
                methods=["POST"])
bp.add_url_rule("/admin/forms", view_func=console_admin.publish_form_file, methods=["POST"])
bp.add_url_rule("/admin/forms/publish", view_func=console_admin.publish_converted_form,
                methods=["POST"])
bp.add_url_rule("/map", view_func=console_map.office_map)
console_offices.register(bp)
console_visits.register(bp)
