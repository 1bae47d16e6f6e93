"""20,000 visits exported: every row, in batches (the answer streams), cells intact."""
from __future__ import annotations

import csv
import io
import time

import pytest

from tests.exports.builders import V2_ANSWERS, bulk_visits
from tests.exports.conftest import URL

VISITS = 20_000


@pytest.fixture
def many(ew, app):
    with app.app_context():
        bulk_visits(count=VISITS, office_id=ew.n1, inspector_id=ew.inspector,
                    version_id=ew.v2, answers=V2_ANSWERS)


def test_twenty_thousand_visits_stream_out_as_csv(ew, many, client):
    started = time.perf_counter()
    resp = client.get(URL, headers=ew.headers["admin"], buffered=False,
                      query_string={"format": "csv", "lang": "ru", "sort": "started_at",
                                    "order": "asc"})
    assert resp.status_code == 200
    chunks = list(resp.response)  # as the server hands them out
    elapsed = time.perf_counter() - started
    assert len(chunks) > 20, "the CSV came in one piece: not streamed"
    data = b"".join(chunks)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data[3:].decode("utf-8"), newline="")))
    assert len(rows) == VISITS
    first, last = rows[0], rows[-1]
    assert first["started_at"] < last["started_at"]
    assert (first["office_code"], first["A1"], first["B2_code"], last["C1_code"]) == \
        ("N-1", "Нет", "y", "51.1283 71.4304 12")
    assert len({row["visit_uuid"] for row in rows}) == VISITS
    assert elapsed < 60, f"{elapsed:.1f} s"
