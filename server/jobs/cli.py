"""`adal worker` and `adal jobs relay|cron|list|retry`: the processes and tools of the queue."""
from __future__ import annotations

import click
import sqlalchemy as sa

from ..db import unit_of_work
from ..extensions import db
from . import queue
from .models import Job, JobState

RELAY_EVERY = 30          # seconds: the cron pushes outbox rows Redis missed
MEDIA_SWEEP_CRON = "17 * * * *"
PRUNE_CRON = "43 3 * * *"  # daily: done jobs older than 30 days are removed


def _redis_or_exit():
    conn = queue.redis_connection()
    if conn is None:
        raise click.ClickException("ADAL_REDIS_URL is not set: jobs run inline after commit, "
                                   "no worker is needed.")
    return conn


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty (tests, one-off runs).")
@click.option("--scheduler/--no-scheduler", default=True,
              help="Also move due retries back to the queue (RQ's scheduler).")
@click.option("--fork", is_flag=True,
              help="Run each job in a fork of the worker (RQ's default; ~6x slower per job).")
def worker(burst: bool, scheduler: bool, fork: bool) -> None:
    """Run an RQ worker on the app's queue; start as many as you like, on any machine.

    Jobs run in the worker process (RQ's SimpleWorker): decoding of untrusted media already
    happens in an isolated, resource-limited child (server/media/processing.py), and a fork per
    job cost 6x the alert latency under load (docs/benchmarks.md, "Alerts")."""
    from rq import SimpleWorker, Worker
    conn = _redis_or_exit()
    click.echo(f"Relayed {queue.relay()} job(s) from the outbox.")
    db.session.remove()
    db.engine.dispose()
    cls = Worker if fork else SimpleWorker
    cls([queue.rq_queue(conn)], connection=conn).work(burst=burst, with_scheduler=scheduler,
                                                      logging_level="WARNING")


@click.group("jobs")
def jobs() -> None:
    """Background jobs: the outbox, the schedule, failures."""


@jobs.command("relay")
def relay() -> None:
    """Push the jobs Redis missed (it was down when they were written); run them inline when
    there is no Redis."""
    click.echo(f"Relayed {queue.relay()} job(s).")


@jobs.command("cron")
def cron() -> None:
    """Run the schedule (one such process per installation): the outbox relay every 30 s, the
    media sweep hourly, old done jobs daily. Without Redis use the cron lines of docs/jobs.md instead."""
    from rq.cron import CronScheduler
    from .runner import media_sweep, prune_done, relay_task
    conn = _redis_or_exit()
    name = queue.rq_queue(conn).name
    scheduler = CronScheduler(connection=conn)
    scheduler.register(relay_task, name, interval=RELAY_EVERY)
    scheduler.register(media_sweep, name, cron=MEDIA_SWEEP_CRON)
    scheduler.register(prune_done, name, cron=PRUNE_CRON)
    scheduler.start()


@jobs.command("list")
@click.option("--state", type=click.Choice([s.value for s in JobState]), default=None)
@click.option("--limit", default=50, show_default=True)
def list_jobs(state: str | None, limit: int) -> None:
    """The latest jobs (all, or of one state), newest first."""
    query = sa.select(Job).order_by(Job.id.desc()).limit(limit)
    if state:
        query = query.where(Job.state == state)
    for job in db.session.scalars(query):
        error = f"  {job.error.splitlines()[-1][:100]}" if job.error else ""
        click.echo(f"{job.id:>8} {job.state:<9} {job.attempts:>2} {job.name:<18} "
                   f"{job.created_at:%Y-%m-%d %H:%M:%S}{error}")
    counts = queue.pending_counts()
    click.echo(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "No jobs.")


@jobs.command("retry")
@click.argument("job_id", type=int)
def retry(job_id: int) -> None:
    """Run a failed job again."""
    from ..errors import AppError
    try:
        with unit_of_work():
            queue.retry(job_id)
    except AppError as exc:
        raise click.ClickException(exc.detail) from exc
    click.echo(f"Job {job_id} queued again.")


@jobs.command("ping")
def ping() -> None:
    """Enqueue a job that does nothing: shows the queue and a worker are alive."""
    with unit_of_work():
        job = queue.enqueue("jobs.noop")
    click.echo(f"Job {job.id} enqueued.")
