"""Running one job: in an RQ worker (run) or inline after a commit (execute)."""
from __future__ import annotations

import logging
import os
import traceback
from contextvars import ContextVar

import sqlalchemy as sa

from ..db import unit_of_work, utcnow
from ..extensions import db
from .models import Job, JobState
from .queue import handler, relay

log = logging.getLogger(__name__)
_engine_pid: int | None = None
_WILL_RETRY: ContextVar[bool] = ContextVar("adal_job_will_retry", default=False)


class RetryLater(Exception):
    """Raised by a handler that recorded its own failure: what it flushed is committed, then
    the job fails (and RQ retries it if it has retries left)."""


def will_retry() -> bool:
    """Whether the running job is tried again if it fails now."""
    return _WILL_RETRY.get()


def _fresh_connections() -> None:
    """A forked work-horse must not use its parent's database connections."""
    global _engine_pid
    if _engine_pid != os.getpid():
        db.engine.dispose(close=False)
        _engine_pid = os.getpid()


def run(job_id: int) -> str:
    """RQ's entry point: run the job, tell the row whether RQ will try it again."""
    from rq import get_current_job
    _fresh_connections()
    current = get_current_job()
    will_retry = bool(current is not None and current.retries_left)
    try:
        return execute(job_id, will_retry=will_retry, raise_errors=True)
    finally:
        db.session.remove()


def execute(job_id: int, *, will_retry: bool, raise_errors: bool = False) -> str:
    """Run the job once in a unit of work of its own; a job already done is not run again."""
    token = _WILL_RETRY.set(will_retry)
    retry_later: RetryLater | None = None
    try:
        with unit_of_work():
            job = db.session.scalar(sa.select(Job).where(Job.id == job_id).with_for_update())
            if job is None:
                return "missing"
            if job.state == JobState.DONE.value:
                return "already done"
            job.attempts += 1
            job.finished_at = utcnow()
            try:
                handler(job.name)(**job.args)
            except RetryLater as exc:  # the handler's record of the failure is kept
                retry_later = exc
                job.error = str(exc)[:2000]
                job.state = (JobState.RETRYING if will_retry else JobState.FAILED).value
            else:
                job.state, job.error = JobState.DONE.value, None
        if retry_later is None:
            return "done"
        if raise_errors:
            raise retry_later
        return "failed"
    except RetryLater:
        raise
    except Exception as exc:
        detail = "".join(traceback.format_exception_only(exc)).strip()[:2000]
        log.warning("job %s failed (%s): %s", job_id, "retrying" if will_retry else "failed",
                    detail)
        with unit_of_work():
            db.session.execute(sa.update(Job).where(Job.id == job_id).values(
                attempts=Job.attempts + 1, error=detail, finished_at=utcnow(),
                state=(JobState.RETRYING if will_retry else JobState.FAILED).value))
        if raise_errors:
            raise
        return "failed"
    finally:
        _WILL_RETRY.reset(token)


def noop(**_kwargs) -> None:
    """Does nothing: tests and `adal jobs ping` count runs with it."""
    key = _kwargs.get("mark")
    if key:
        from flask import current_app
        from .queue import redis_connection
        conn = redis_connection()
        if conn is not None:
            conn.incr(f"adal-test:{current_app.config['JOB_QUEUE']}:{key}")


def fail(**_kwargs) -> None:
    raise RuntimeError("this job always fails")


def relay_task() -> int:
    """Scheduled (adal jobs cron): push the outbox rows Redis missed."""
    _fresh_connections()
    try:
        return relay()
    finally:
        db.session.remove()


def media_sweep() -> int:
    """Scheduled (adal jobs cron): expire abandoned uploads and remove their spool files."""
    from ..media.cli import _remove_if_idle
    from ..media.service import expire_uploads, stray_spool_files
    _fresh_connections()
    try:
        with unit_of_work():
            expired = expire_uploads()
        with unit_of_work():
            stray = stray_spool_files()
        for path in stray:
            _remove_if_idle(path)
        return len(expired)
    finally:
        db.session.remove()


KEEP_DONE_DAYS = 30


def prune_done(*, days: int = KEEP_DONE_DAYS) -> int:
    """Scheduled (adal jobs cron, daily): forget jobs done more than `days` ago; failed ones
    stay until an admin retries them."""
    from datetime import timedelta
    _fresh_connections()
    try:
        with unit_of_work():
            return db.session.execute(sa.delete(Job).where(
                Job.state == JobState.DONE.value,
                Job.finished_at < utcnow() - timedelta(days=days))).rowcount
    finally:
        db.session.remove()
