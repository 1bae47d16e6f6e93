"""The console's recommendation pages: one office's recommendations with their status, due date
and follow-up; forms to write one by hand or from a visit's finding and to move each along its
statuses. Pages call recommendations.service; no rules live here."""
from __future__ import annotations

import uuid as uuid_module

import marshmallow as ma
from flask import current_app, redirect, render_template, request, url_for

from ..db import unit_of_work, utcnow
from ..errors import AppError, NotFound, ValidationFailed
from ..extensions import db
from ..periods import half_year_of
from ..recommendations import service as rec_service
from ..recommendations.models import RecommendationStatus
from ..recommendations.schemas import RecommendationIn, StatusIn
from .console_access import staff, t


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


def office_recommendations(code):
    """One office's recommendations with their status, due date and follow-up; forms to write
    one by hand and to move each along its statuses."""
    return _render_recommendations(staff(), code)


def _loaded(schema, raw: dict) -> dict:
    try:
        return schema.load(raw)
    except ma.ValidationError as exc:
        raise ValidationFailed(t("c_err_rec"), errors=exc.messages) from exc


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
                from .console import _render_visit  # the visit page shows the refusal

                return _render_visit(user, vid, error=exc, status=exc.status,
                                     entered={f"rec_{k}": v for k, v in entered.items()})
        return _render_recommendations(user, code, error=exc, status=exc.status,
                                       entered=entered)
    return redirect(url_for("console.office_recommendations", code=code[:32], made=rec_id,
                            lang=request.args.get("lang")) + f"#rec-{rec_id}", code=303)


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
