"""Export fixtures: a committed World and readers for the files the API answers."""
from __future__ import annotations

import csv
import io
import json

import pytest
from openpyxl import load_workbook

from tests.exports.builders import World

URL = "/api/v1/exports/visits"


@pytest.fixture
def ew(commit) -> World:
    return commit(World)


def read_csv(resp) -> list[dict]:
    """The rows of a CSV answer as dicts; checks the BOM and UTF-8 first."""
    data = resp.get_data()
    assert data.startswith(b"\xef\xbb\xbf"), data[:20]
    return list(csv.DictReader(io.StringIO(data[3:].decode("utf-8"), newline="")))


def read_xlsx(resp) -> dict[str, list[dict]]:
    """{sheet title: rows as dicts} of an XLSX answer."""
    book = load_workbook(io.BytesIO(resp.get_data()))
    out = {}
    for sheet in book.worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        out[sheet.title] = [dict(zip(rows[0], row)) for row in rows[1:]]
    return out


def read_json(resp) -> list[dict]:
    return json.loads(resp.get_data())


@pytest.fixture
def export(client):
    """GET the export with `headers` and query arguments; returns the response."""
    def run(headers: dict, **query):
        return client.get(URL, headers=headers, query_string=query)
    return run
