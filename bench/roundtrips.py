"""Round trips to PostgreSQL, counted on the wire, and the count per visit of both intake paths.

`RoundTrips(engine)` traces every psycopg connection the engine opens while it is active
(libpq's protocol trace) and counts ReadyForQuery messages: the server sends exactly one at the
end of each simple query and each extended-protocol Sync, so the count is the number of times
the client waited for the server (BEGIN, COMMIT and pings included), not an estimate. psycopg
prepares a statement on the server at its fifth execution on a connection: one more round trip,
once per statement and connection, included in the figures.

    python -m bench.roundtrips [--visits 20]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import uuid
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import event


class RoundTrips:
    """Count wire round trips of every connection `engine` opens inside the `with` block."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.files: list = []
        self.traced: list = []

    def _connect(self, dbapi_connection, _record) -> None:
        trace = tempfile.TemporaryFile()
        dbapi_connection.pgconn.trace(trace.fileno())
        dbapi_connection.pgconn.set_trace_flags(_flags())
        self.files.append(trace)
        self.traced.append(dbapi_connection)

    def __enter__(self) -> RoundTrips:
        self.engine.dispose()  # every connection from now on is a new, traced one
        event.listen(self.engine, "connect", self._connect)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "connect", self._connect)
        self._flush(retrace=False)
        self.engine.dispose()

    def _flush(self, *, retrace: bool = True) -> None:
        """libpq writes its trace through a buffered FILE: untracing flushes it."""
        for connection, trace in zip(self.traced, self.files):
            if connection.closed or connection.pgconn.status != 0:
                continue
            connection.pgconn.untrace()
            if retrace:
                connection.pgconn.trace(trace.fileno())
                connection.pgconn.set_trace_flags(_flags())

    @property
    def count(self) -> int:
        if self.traced and not self.traced[0].closed:
            self._flush()
        total = 0
        for trace in self.files:
            trace.seek(0)
            total += sum(1 for line in trace if b"\tReadyForQuery\t" in line)
            trace.seek(0, os.SEEK_END)
        return total

    def statements(self) -> list[str]:
        """The frontend's Query/Parse lines, for a reader who wants to see them."""
        self._flush()
        found = []
        for trace in self.files:
            trace.seek(0)
            found += [line.decode(errors="replace").rstrip() for line in trace
                      if line.startswith(b"F") and (b"\tQuery\t" in line or b"\tParse\t" in line)]
            trace.seek(0, os.SEEK_END)
        return found


def _flags():
    from psycopg import pq
    return pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE


def per_visit(client, app, headers: dict, bodies: list[dict]) -> float:
    """Round trips per POST /api/v1/visits, averaged over `bodies` (each must answer 201)."""
    from server.extensions import db
    with app.app_context():
        engine = db.engine
    with RoundTrips(engine) as trips:
        opened = None  # the first request opens the pool's connection: its setup is not a visit's
        for body in bodies:
            response = client.post("/api/v1/visits", json=body, headers=headers)
            assert response.status_code == 201, response.get_json()
            opened = trips.count if opened is None else opened
        return (trips.count - opened) / (len(bodies) - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=20)
    args = parser.parse_args()
    from bench.intake import URL, _seed, _visit_body
    from bench.audit_append import _fresh_database
    from server import create_app

    _fresh_database(URL)
    secret, ids, template = _seed(URL, 2 * args.visits + 4)
    headers = {"Authorization": f"Bearer {secret}"}
    figures = {}
    for fast in (False, True):
        app = create_app({"DATABASE_URL": URL, "SECRET_KEY": "bench-secret-key-123",
                          "FAST_INTAKE": fast, "AUDIT_SEAL": "off"})
        client = app.test_client()
        warm = [_visit_body(ids.pop(), template) for _ in range(2)]  # receipt key, caches
        for body in warm:
            client.post("/api/v1/visits", json=body, headers=headers)
        bodies = [_visit_body(ids.pop(), template) for _ in range(args.visits)]
        figures[fast] = per_visit(client, app, headers, bodies)
    print(f"round trips per visit: ORM path {figures[False]:.2f}, fast path {figures[True]:.2f} "
          f"(ratio {figures[True] / figures[False]:.2f}); the sealer's trips, once per batch, "
          "are counted apart (tests/visits/test_intake.py)")


if __name__ == "__main__":
    main()
