"""The outbox, after-commit enqueueing, inline runs without Redis, RQ workers with it."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from server.config import PROJECT_ROOT
from server.db import unit_of_work
from server.extensions import db
from server.jobs import queue
from server.jobs.models import Job, JobState

from .redis_fixture import drain, redis_jobs  # noqa: F401  (fixture)


def _jobs(app) -> list[tuple[str, str, int]]:
    with app.app_context():
        return [(j.name, j.state, j.attempts) for j in db.session.scalars(
            sa.select(Job).order_by(Job.id))]


def _burst(app, conn) -> None:
    """Drain the queue in this process (RQ's SimpleWorker, burst mode)."""
    drain(app)


def test_without_redis_a_job_runs_inline_after_commit(app):
    with app.app_context():
        with unit_of_work():
            job = queue.enqueue("jobs.noop")
            assert job.state == JobState.PENDING.value  # not before the commit
    assert _jobs(app) == [("jobs.noop", "done", 1)]


def test_a_rolled_back_transaction_enqueues_nothing(app):
    with app.app_context(), pytest.raises(RuntimeError):
        with unit_of_work():
            queue.enqueue("jobs.noop")
            raise RuntimeError("the request failed")
    assert _jobs(app) == []


def test_a_failing_inline_job_is_failed_with_its_error_and_can_be_retried(app, runner):
    with app.app_context():
        with unit_of_work():
            job_id = queue.enqueue("jobs.fail").id
        job = db.session.get(Job, job_id)
        assert (job.state, job.attempts) == ("failed", 1)
        assert "this job always fails" in job.error
    result = runner.invoke(args=["adal", "jobs", "list", "--state", "failed"])
    assert "jobs.fail" in result.output and "this job always fails" in result.output
    result = runner.invoke(args=["adal", "jobs", "retry", str(job_id)])
    assert result.exit_code == 0, result.output
    assert _jobs(app) == [("jobs.fail", "failed", 2)]
    result = runner.invoke(args=["adal", "jobs", "retry", "999"])
    assert result.exit_code == 1 and "Only a failed job" in result.output


def test_with_redis_the_job_waits_on_the_queue_for_a_worker(app, redis_jobs):
    with app.app_context():
        with unit_of_work():
            queue.enqueue("jobs.noop")
        assert _jobs(app) == [("jobs.noop", "queued", 0)]
        conn = queue.redis_connection()
        assert queue.rq_queue(conn).count == 1
    _burst(app, conn)
    assert _jobs(app) == [("jobs.noop", "done", 1)]


def test_redis_down_keeps_the_job_in_the_outbox_until_the_relay(app, redis_jobs, runner):
    good = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    with app.app_context():
        with unit_of_work():
            queue.enqueue("jobs.noop")
    assert _jobs(app) == [("jobs.noop", "pending", 0)]  # committed: nothing is lost
    app.config["REDIS_URL"] = good
    queue._down_until = 0.0
    with app.app_context():
        assert queue.relay(grace=queue.timedelta(0)) == 1
        conn = queue.redis_connection()
    assert _jobs(app) == [("jobs.noop", "queued", 0)]
    _burst(app, conn)
    assert _jobs(app) == [("jobs.noop", "done", 1)]


def test_a_failing_job_is_retried_by_rq_then_failed(app, redis_jobs):
    app.config["JOB_RETRY_DELAYS"] = [0, 0]
    with app.app_context():
        with unit_of_work():
            queue.enqueue("jobs.fail")
        conn = queue.redis_connection()
    _burst(app, conn)
    assert _jobs(app) == [("jobs.fail", "failed", 3)]


def test_two_worker_processes_run_each_job_exactly_once(app, redis_jobs):
    n = 24
    with app.app_context():
        with unit_of_work():
            for i in range(n):
                queue.enqueue("jobs.noop", mark=f"j{i}")
    env = {**os.environ, "ADAL_DATABASE_URL": app.config["DATABASE_URL"],
           "ADAL_SECRET_KEY": app.config["SECRET_KEY"], "ADAL_REDIS_URL": app.config["REDIS_URL"],
           "ADAL_JOB_QUEUE": app.config["JOB_QUEUE"], "ADAL_MEDIA_ROOT": app.config["MEDIA_ROOT"]}
    workers = [subprocess.Popen(  # one runs jobs in its process, the other a fork per job
        [sys.executable, "-m", "flask", "--app", "wsgi", "adal", "worker", "--burst",
         "--no-scheduler", *extra], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True) for extra in ([], ["--fork"])]
    outputs = [w.communicate(timeout=60)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    prefix = f"adal-test:{app.config['JOB_QUEUE']}:"
    runs = [int(redis_jobs.get(f"{prefix}j{i}") or 0) for i in range(n)]
    assert runs == [1] * n
    assert _jobs(app) == [("jobs.noop", "done", 1)] * n


def test_done_jobs_are_pruned_after_30_days_and_failed_ones_kept(app):
    from datetime import timedelta

    from server.db import utcnow
    from server.jobs.runner import prune_done
    with app.app_context():
        with unit_of_work():
            queue.enqueue("jobs.noop")
            queue.enqueue("jobs.fail")
        db.session.execute(sa.update(Job).values(finished_at=utcnow() - timedelta(days=31)))
        db.session.commit()
        assert prune_done() == 1
    assert _jobs(app) == [("jobs.fail", "failed", 1)]
