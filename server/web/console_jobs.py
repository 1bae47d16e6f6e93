"""The console's Jobs page (admins): jobs waiting or retrying, failed ones with their error
and a "retry" button. Reads the outbox table (server/jobs), so it works with or without Redis."""
from __future__ import annotations

import sqlalchemy as sa
from flask import redirect, render_template, request, url_for

from ..db import unit_of_work
from ..errors import AppError
from ..extensions import db
from ..jobs import queue
from ..jobs.models import Job, JobState
from .console_admin import _admin

WAITING = (JobState.PENDING.value, JobState.QUEUED.value, JobState.RETRYING.value)
SHOWN = 100


def _render(*, error: AppError | None = None, status: int = 200):
    waiting = db.session.scalars(sa.select(Job).where(Job.state.in_(WAITING))
                                 .order_by(Job.id).limit(SHOWN)).all()
    failed = db.session.scalars(sa.select(Job).where(Job.state == JobState.FAILED.value)
                                .order_by(Job.id.desc()).limit(SHOWN)).all()
    return render_template("console/admin_jobs.html", waiting=waiting, failed=failed,
                           counts=queue.pending_counts(), error=error), status


def jobs_page():
    _admin()
    return _render()


def retry_job(job_id: int):
    _admin()
    try:
        with unit_of_work():
            queue.retry(job_id)
    except AppError as exc:
        return _render(error=exc, status=exc.status)
    return redirect(url_for("console.jobs_page", lang=request.args.get("lang")))
