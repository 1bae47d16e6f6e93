"""CSV and XLSX rankings: they open in the usual tools and carry the JSON's numbers."""
from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

RANKING = "/api/v1/reports/ranking"


@pytest.fixture
def ranked(commit, rw):
    def build():
        rw.visits(rw.office("A", name="Алматы ЦОН №1"), [80, 90, 100], findings=["D01"],
                  sections={"queue": 75, "integrity": 50})
        rw.visits(rw.office("B"), [70, 70, 70])
        rw.visits(rw.office("R1", kind="registry"), [60, 61, 62])
    commit(build)


def _csv_rows(resp) -> list[list[str]]:
    raw = resp.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def test_csv_is_an_attachment_with_one_row_per_office(client, admin_headers, ranked):
    resp = client.get(f"{RANKING}?period=2026H2&format=csv&lang=en", headers=admin_headers)
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="adal-ranking-')
    header, *rows = _csv_rows(resp)
    assert header[:3] == ["Rank", "Office code", "Office"]
    assert [row[1] for row in rows] == ["A", "B", "R1"]


def test_csv_numbers_are_the_json_numbers(client, admin_headers, ranked):
    body = client.get(f"{RANKING}?period=2026H2&lang=en", headers=admin_headers).get_json()
    header, *rows = _csv_rows(client.get(f"{RANKING}?period=2026H2&format=csv&lang=en",
                                         headers=admin_headers))
    col = {name: i for i, name in enumerate(header)}
    for item, row in zip(body["items"], rows):
        assert float(row[col["Mean score"]]) == item["score"]
        assert float(row[col["95% interval, low"]]) == item["ci_low"]
        assert int(row[col["Approved visits"]]) == item["visits"]
    assert rows[0][col["Office"]] == "Алматы ЦОН №1"
    assert float(rows[0][col["Queue"]]) == 75.0
    assert rows[0][col["Bribe asked: visits with it"]] == "3"


def test_csv_headers_follow_the_language(client, admin_headers, ranked):
    header, *_ = _csv_rows(client.get(f"{RANKING}?period=2026H2&format=csv&lang=ru",
                                      headers=admin_headers))
    assert header[:3] == ["Место", "Код офиса", "Офис"]


def test_xlsx_opens_with_a_sheet_per_kind_and_the_same_numbers(client, admin_headers, ranked):
    body = client.get(f"{RANKING}?period=2026H2&lang=en", headers=admin_headers).get_json()
    resp = client.get(f"{RANKING}?period=2026H2&format=xlsx&lang=en", headers=admin_headers)
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"].endswith('.xlsx"')
    book = load_workbook(io.BytesIO(resp.get_data()))
    assert book.sheetnames == ["Public service centre", "Registry office"]
    sheet = book["Public service centre"]
    header = [c.value for c in sheet[1]]
    assert all(c.font.bold for c in sheet[1])
    col = {name: i for i, name in enumerate(header)}
    a_row = [c.value for c in sheet[2]]
    a = body["items"][0]
    assert (a_row[col["Rank"]], a_row[col["Office code"]]) == (1, "A")
    assert a_row[col["Mean score"]] == a["score"]  # a number, not text
    assert isinstance(a_row[col["Mean score"]], (int, float))
    assert a_row[col["95% interval, low"]] == a["ci_low"]
    assert book["Registry office"].cell(row=2, column=col["Office code"] + 1).value == "R1"


def test_an_office_named_like_a_formula_stays_text(client, admin_headers, commit, rw):
    commit(lambda: rw.office("EVIL", name='=HYPERLINK("http://evil","x")'))
    _, row = _csv_rows(client.get(f"{RANKING}?period=2026H2&format=csv&lang=en",
                                  headers=admin_headers))
    assert row[2] == "'=HYPERLINK(\"http://evil\",\"x\")"
    book = load_workbook(io.BytesIO(client.get(f"{RANKING}?period=2026H2&format=xlsx&lang=en",
                                               headers=admin_headers).get_data()))
    cell = book.active.cell(row=2, column=3)
    assert (cell.value, cell.data_type) == ('=HYPERLINK("http://evil","x")', "s")


def test_an_empty_ranking_is_still_a_workbook_with_a_header(client, admin_headers):
    resp = client.get(f"{RANKING}?period=2026H2&kind=consulate&format=xlsx&lang=en",
                      headers=admin_headers)
    book = load_workbook(io.BytesIO(resp.get_data()))
    assert book.sheetnames == ["Consulate"]
    assert book.active["A1"].value == "Rank"
