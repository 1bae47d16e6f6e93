"""enqueue(): a job row now, on Redis after commit; the relay pushes what Redis missed.

Handlers are named "module:function" in HANDLERS and take the job's keyword arguments; each
runs in a unit of work of its own (server/jobs/runner.py) and must be idempotent: a job pushed
twice (the relay racing a slow push) finds its row done and does nothing.
"""
from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from datetime import timedelta

import redis
import sqlalchemy as sa
from flask import current_app
from rq import Queue, Retry

from ..db import current_unit_of_work, unit_of_work, utcnow
from ..extensions import db
from .models import Job, JobState

log = logging.getLogger(__name__)

HANDLERS = {
    "alerts.raise": "server.alerts.service:raise_alerts",
    "alerts.deliver": "server.alerts.delivery:deliver",
    "media.derivatives": "server.media.jobs:make_derivatives",
    "jobs.noop": "server.jobs.runner:noop",        # tests and `adal jobs ping`
    "jobs.fail": "server.jobs.runner:fail",        # tests: a job that always fails
}
RUNNER = "server.jobs.runner.run"
URGENT = frozenset({"alerts.deliver"})  # ahead of the queue: an alert raised waits for nothing
REDIS_DOWN_PAUSE = 5.0    # seconds without push attempts after Redis refused one
RELAY_GRACE = timedelta(seconds=5)  # a pending row younger than this is being pushed right now

_down_until = 0.0


def handler(name: str) -> Callable[..., object]:
    module, _, function = HANDLERS[name].partition(":")
    return getattr(importlib.import_module(module), function)


def enqueue(name: str, **kwargs) -> Job:
    """Write the job in the open unit of work; it is pushed (or run inline) once that commits,
    and never if it rolls back. kwargs must be JSON. Outside a unit of work the row waits for
    the relay (`adal jobs relay`, every 30 s under `adal jobs cron`)."""
    if name not in HANDLERS:
        raise ValueError(f"unknown job {name!r}")
    job = Job(name=name, args=kwargs, state=JobState.PENDING.value)
    db.session.add(job)
    db.session.flush()
    job_id = job.id
    uow = current_unit_of_work()
    if uow is not None:
        uow.after_commit(lambda: dispatch(job_id))
    # else: a caller that commits by itself (a script); the relay pushes the row later
    return job


def redis_connection() -> redis.Redis | None:
    """The app's Redis client, or None when ADAL_REDIS_URL is empty (jobs run inline)."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    conn = current_app.extensions.get("adal_redis")
    if conn is None or conn.adal_url != url:
        conn = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=5)
        conn.adal_url = url
        current_app.extensions["adal_redis"] = conn
    return conn


def rq_queue(conn: redis.Redis) -> Queue:
    return Queue(current_app.config["JOB_QUEUE"], connection=conn,
                 default_timeout=current_app.config["JOB_TIMEOUT"])


def retry_delays(name: str) -> list[int]:
    if name == "alerts.deliver":
        from ..alerts.delivery import retry_delays as alert_delays
        return alert_delays(current_app.config["ALERT_RETRY_HOURS"])
    return [int(d) for d in current_app.config["JOB_RETRY_DELAYS"]]


def dispatch(job_id: int) -> None:
    """After commit: push the job to Redis, or run it here when there is no Redis."""
    conn = redis_connection()
    if conn is None:
        from .runner import execute
        execute(job_id, will_retry=False)
        return
    push(conn, job_id)


def push(conn: redis.Redis, job_id: int, *, name: str | None = None) -> bool:
    """Put one job on Redis and mark it queued; False (row left pending) if Redis is down."""
    global _down_until
    if time.monotonic() < _down_until:
        return False
    if name is None:
        name = db.session.scalar(sa.select(Job.name).where(Job.id == job_id))
        if name is None:
            return False
    delays = retry_delays(name)
    try:
        rq_queue(conn).enqueue_call(RUNNER, args=(job_id,), description=f"{name} #{job_id}",
                                    retry=Retry(max=len(delays), interval=delays) if delays
                                    else None, failure_ttl=30 * 86400,
                                    at_front=name in URGENT)
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        _down_until = time.monotonic() + REDIS_DOWN_PAUSE
        log.warning("Redis unavailable, job %s left in the outbox: %s", job_id, exc)
        return False
    with unit_of_work():
        db.session.execute(sa.update(Job).where(Job.id == job_id,
                                                Job.state == JobState.PENDING.value)
                           .values(state=JobState.QUEUED.value, queued_at=utcnow()))
    return True


def relay(*, grace: timedelta = RELAY_GRACE, limit: int = 1000) -> int:
    """Push (or, without Redis, run) the pending jobs Redis missed; the number handled."""
    global _down_until
    _down_until = 0.0
    rows = db.session.execute(sa.select(Job.id, Job.name).where(
        Job.state == JobState.PENDING.value, Job.created_at <= utcnow() - grace)
        .order_by(Job.id).limit(limit)).all()
    db.session.commit()
    conn = redis_connection()
    done = 0
    for job_id, name in rows:
        if conn is None:
            from .runner import execute
            execute(job_id, will_retry=False)
        elif not push(conn, job_id, name=name):
            break
        done += 1
    return done


def retry(job_id: int) -> Job:
    """An admin's "retry" of a failed job: back to pending, pushed after commit."""
    job = db.session.get(Job, job_id)
    if job is None or job.state != JobState.FAILED.value:
        from ..errors import Conflict
        raise Conflict("Only a failed job can be retried.", code="job_not_failed")
    job.state = JobState.PENDING.value
    current_unit_of_work().after_commit(lambda: dispatch(job_id))
    return job


def pending_counts() -> dict[str, int]:
    rows = db.session.execute(sa.select(Job.state, sa.func.count()).group_by(Job.state)).all()
    return {state: n for state, n in rows}
