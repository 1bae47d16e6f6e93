"""A Redis of the test process's own: one database number per xdist worker and a queue name
of its own, so parallel test processes never share queues. Skipped when no Redis answers."""
from __future__ import annotations

import os
import uuid

import pytest

redis = pytest.importorskip("redis")

HOST = os.environ.get("ADAL_TEST_REDIS", "redis://127.0.0.1:6379")


def redis_db(config: pytest.Config) -> int:
    """1 + the xdist worker number (db 0 is the limiter tests'); 15 databases by default."""
    workerinput = getattr(config, "workerinput", None)
    number = int(workerinput["workerid"].removeprefix("gw")) if workerinput else 0
    return 1 + number % 15


@pytest.fixture
def redis_jobs(app, request):
    """The app's jobs on Redis: ADAL_REDIS_URL and a fresh queue name for this test."""
    url = f"{HOST}/{redis_db(request.config)}"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"no Redis at {HOST}: {exc}")
    queue = f"adal-test-{uuid.uuid4().hex[:8]}"
    app.config.update(REDIS_URL=url, JOB_QUEUE=queue, JOB_RETRY_DELAYS=[])
    yield client
    for key in client.scan_iter(f"*{queue}*"):
        client.delete(key)
    client.close()


def drain(app) -> None:
    """Run the app's queue empty in this process (RQ's SimpleWorker, burst mode), putting back
    the signal handlers RQ installs (else a later SIGTERM to the test process hits RQ's)."""
    import signal

    from rq import SimpleWorker

    from server.jobs import queue
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with app.app_context():
            conn = queue.redis_connection()
            SimpleWorker([queue.rq_queue(conn)], connection=conn).work(
                burst=True, logging_level="ERROR")
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
