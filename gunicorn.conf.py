"""Production gunicorn settings: `gunicorn -c gunicorn.conf.py wsgi:app` (docs/deployment.md).

Adal's requests are short and mostly Python CPU with a few database round trips, so the worker
count follows the cores and a few threads per worker cover the time spent waiting on
PostgreSQL. Chosen from the runs in docs/benchmarks.md ("Intake"); override with
WEB_CONCURRENCY / ADAL_WEB_THREADS when a machine differs.
"""
import multiprocessing
import os

bind = os.environ.get("ADAL_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("ADAL_WEB_THREADS", 4))
keepalive = 5  # seconds: clients (the app, the load balancer) reuse connections
timeout = 60
graceful_timeout = 30
max_requests = 20000  # recycle workers now and then (slow leaks), jittered so not all at once
max_requests_jitter = 2000
accesslog = os.environ.get("ADAL_ACCESS_LOG")  # None: off (a line per request costs CPU)
loglevel = os.environ.get("ADAL_LOG_LEVEL", "warning")
# Not preloaded: each worker builds its app (and its database pool) after the fork.
preload_app = False
