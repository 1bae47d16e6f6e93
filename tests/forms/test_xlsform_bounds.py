"""XLSForm workbooks that are hostile or broken: huge blank sheets are read in bounded time and
memory; formulas, merged cells, 10,000-column rows, broken zips and files that are no workbook
get a clean report (FormInvalid through the CLI and the console's upload, which publishes
nothing)."""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from openpyxl.worksheet._reader import WorkSheetParser

from server.extensions import db
from server.forms import xlsform_read
from server.forms.models import FormVersion
from server.forms.definition import FormInvalid
from server.forms.xlsform import import_xlsform

from .test_xlsform import q, refusals, simple, text

SURVEY_PART = "xl/worksheets/sheet1.xml"


def rewritten(path: Path, change, name: str = "changed.xlsx") -> Path:
    """A copy of the workbook whose survey sheet XML went through `change` (bytes -> bytes)."""
    out = path.with_name(name)
    with zipfile.ZipFile(path) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            dst.writestr(info.filename, change(data) if info.filename == SURVEY_PART else data)
    return out


def claim_whole_sheet(xml: bytes) -> bytes:
    return re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', xml)


@pytest.fixture
def parsed_rows(monkeypatch) -> list[int]:
    """The row numbers openpyxl's parser parsed (blank ones too)."""
    seen: list[int] = []
    original = WorkSheetParser.parse_row

    def parse_row(self, element):
        number, cells = original(self, element)
        seen.append(number)
        return number, cells

    monkeypatch.setattr(WorkSheetParser, "parse_row", parse_row)
    return seen


def test_a_million_formatted_blank_rows_are_not_parsed(tmp_path, parsed_rows):
    """1,000,000 rows each with a formatted empty cell after the form (46 MB of XML, a 300 KB
    file), the sheet claiming A1:XFD1048576: the byte scan finds the last filled row and the
    parser stops there."""
    path = simple(tmp_path, q("text", "t"))
    blank = b'<row customFormat="1" ht="15"><c s="0"/></row>' * 1_000_000
    big = rewritten(path, lambda xml: claim_whole_sheet(xml).replace(
        b"</sheetData>", blank + b"</sheetData>"))
    assert big.stat().st_size < 1024 * 1024  # what an upload may be
    result = import_xlsform(big)
    assert [x["id"] for x in result.definition["sections"][0]["questions"]] == ["t"]
    # The survey's header, begin group, t, end group; then the choices sheet's three rows.
    assert parsed_rows == [1, 2, 3, 4, 1, 2, 3]


def test_blank_rows_between_filled_rows_keep_the_rows_after_them(tmp_path):
    """Stopping early never loses a filled row: one after 20,000 blank rows is read."""
    path = simple(tmp_path, q("text", "t"))
    blank = b"".join(b'<row r="%d"><c r="A%d" s="0"/></row>' % (n, n) for n in range(5, 20_005))
    row = b'<row r="20005"><c r="A20005" t="inlineStr"><is><t>start</t></is></c></row>'
    big = rewritten(path, lambda xml: xml.replace(b"</sheetData>", blank + row + b"</sheetData>"))
    assert ("survey!A20005: type 'start' was not imported: Adal records when each visit starts "
            "and ends") in import_xlsform(big).warnings


def test_a_value_past_the_last_row_read_refuses_the_form(tmp_path, parsed_rows):
    path = simple(tmp_path, q("text", "t"))
    far = xlsform_read.MAX_ROW_NUMBER + 1
    row = b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>text</t></is></c></row>' % (far, far)
    big = rewritten(path, lambda xml: xml.replace(b"</sheetData>", row + b"</sheetData>"))
    assert refusals(big) == [(f"survey!A{far}", "a value past row 100,000: a sheet is read up "
                                                "to row 100,000; delete the rows after the form")]
    assert [n for n in parsed_rows if n > 4] == [far]


def test_a_10000_column_row_is_refused_with_its_cell(tmp_path):
    path = tmp_path / "wide.xlsx"
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("survey")
    sheet.append(["type", "name", "label", *(f"extra_{n}" for n in range(4, 10_001))])
    sheet.append(["text", "t", "T"])
    book.save(path)
    assert refusals(path) == [("survey!ALM1", "a value in column 1,001: a sheet is read up to "
                                              "column ALL (1,000 columns); delete the cells "
                                              "beyond it")]


def test_a_row_of_10000_formatted_empty_cells_is_read(tmp_path, parsed_rows):
    """Formatting across a whole row (no values) is not a wide row."""
    path = simple(tmp_path, q("text", "t"))
    cells = b"".join(b'<c r="%s3" s="0"/>' % openpyxl.utils.get_column_letter(n).encode()
                     for n in range(4, 10_001))
    wide = rewritten(path, lambda xml: claim_whole_sheet(
        re.sub(rb'(<row r="3"[^>]*>.*?)</row>', lambda m: m.group(1) + cells + b"</row>", xml,
               count=1, flags=re.S)))
    result = import_xlsform(wide)
    assert [x["id"] for x in result.definition["sections"][0]["questions"]] == ["t"]


def test_a_merged_cell_is_refused_with_its_range(tmp_path):
    path = simple(tmp_path, q("text", "a"), q("text", "b"))
    book = openpyxl.load_workbook(path)
    book["survey"].merge_cells("A3:A4")
    book.save(path)
    assert ("survey!A3:A4", "merged cells; unmerge them and type each row's value in its own "
                            "cell (a merged cell's value belongs to its first cell only)") in \
        refusals(path)


def test_a_merged_cell_after_a_million_blank_rows_is_still_found(tmp_path):
    path = simple(tmp_path, q("text", "a"))
    blank = b"<row/>" * 1_000_000
    big = rewritten(path, lambda xml: xml.replace(
        b"</sheetData>", blank + b"</sheetData>").replace(
        b"</worksheet>", b'<mergeCells count="1"><mergeCell ref="B2:C2"/></mergeCells>'
                         b"</worksheet>"))
    assert [where for where, _ in refusals(big)] == ["survey!B2:C2"]


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_a_truncated_workbook_is_a_clean_refusal(tmp_path, cut):
    path = simple(tmp_path, q("text", "t"))
    raw = path.read_bytes()
    path.write_bytes(raw[:int(len(raw) * cut)])
    [(where, reason)] = refusals(path)
    assert where == "" and reason.startswith("not a readable .xlsx workbook")


def test_a_sheet_with_broken_xml_is_a_clean_refusal(tmp_path):
    path = simple(tmp_path, q("text", "t"))
    broken = rewritten(path, lambda xml: xml.replace(b'<c r="A3"', b'<c r="A3"<', 1))
    [(where, reason)] = refusals(broken)
    assert where == "" and reason.startswith("not a readable .xlsx workbook")


def test_a_zip_that_is_no_workbook_is_a_clean_refusal(tmp_path):
    path = tmp_path / "photos.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("photo.jpg", b"\xff\xd8\xff")
    [(where, reason)] = refusals(path)
    assert where == "" and reason.startswith("not a readable .xlsx workbook")


def test_a_sheet_that_unpacks_too_large_is_refused_before_reading(tmp_path, monkeypatch,
                                                                  parsed_rows):
    monkeypatch.setattr(xlsform_read, "MAX_SHEET_BYTES", 1024 * 1024)
    path = simple(tmp_path, q("text", "t"))
    big = rewritten(path, lambda xml: xml.replace(
        b"</sheetData>", b"<row/>" * 200_000 + b"</sheetData>"))
    assert refusals(big) == [("", f"its worksheet {SURVEY_PART} unpacks to 1 MiB; at most 1 MiB")]
    assert parsed_rows == []


def test_another_part_is_held_to_a_smaller_size(tmp_path, monkeypatch):
    """Shared strings and styles are loaded whole by openpyxl: 16 MiB at most, unpacked."""
    path = simple(tmp_path, q("text", "t"))
    big = path.with_name("styles.xlsx")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/styles.xml":
                data = data.replace(b"</styleSheet>", b" " * (17 * 2**20) + b"</styleSheet>")
            dst.writestr(info.filename, data)
    assert big.stat().st_size < 1024 * 1024
    assert refusals(big) == [("", "its part xl/styles.xml unpacks to 17 MiB; at most 16 MiB")]


def test_too_many_filled_rows_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(xlsform_read, "MAX_ROWS", 3)
    path = simple(tmp_path, q("text", "a"), q("text", "b"), q("text", "c"))
    assert ("survey!A4", "more than 3 filled rows; the rest of this sheet was not read") in \
        refusals(path)


def test_other_sheets_are_not_read_but_named(tmp_path):
    path = simple(tmp_path, q("text", "t"))
    book = openpyxl.load_workbook(path)
    book.create_sheet("notes")["A1"] = "=SUM(1, 2)"  # never read, so never a formula problem
    book.save(path)
    assert "sheet 'notes' was not read: an XLSForm's sheets are survey, choices and settings" \
        in import_xlsform(path).warnings


# --- the console's upload: the same report, nothing published ---------------------------------

def _formula(tmp_path) -> bytes:
    return simple(tmp_path, q("integer", "n", adal_weight="=1+1")).read_bytes()


def _merged(tmp_path) -> bytes:
    path = simple(tmp_path, q("text", "a"), q("text", "b"))
    book = openpyxl.load_workbook(path)
    book["survey"].merge_cells("A3:A4")
    book.save(path)
    return path.read_bytes()


def _wide(tmp_path) -> bytes:
    stream = io.BytesIO()
    book = openpyxl.Workbook(write_only=True)
    book.create_sheet("survey").append(["type", "name", *(f"x{n}" for n in range(3, 10_001))])
    book.save(stream)
    return stream.getvalue()


def _broken_zip(tmp_path) -> bytes:
    raw = simple(tmp_path, q("text", "t")).read_bytes()
    return raw[:len(raw) // 2]


@pytest.mark.parametrize("make, shown", [
    (_formula, "a formula; type the value instead"),
    (_merged, "survey!A3:A4: merged cells"),
    (_wide, "a value in column 1,001"),
    (_broken_zip, "not a readable .xlsx workbook"),
    (lambda tmp_path: b"type,name,label\ntext,t,T\n", "not a readable .xlsx workbook"),
])
def test_a_bad_workbook_uploaded_in_the_console_is_listed_and_nothing_is_published(
        client, world, app, tmp_path, make, shown):
    from tests.web.console.helpers import page_token, sign_in

    sign_in(client, "adm")
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count(FormVersion.id)))
    resp = client.post("/console/admin/forms?lang=en", content_type="multipart/form-data",
                       data={"csrf_token": page_token(client, "/console/admin"),
                             "file": (io.BytesIO(make(tmp_path)), "form.xlsx")})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422, html[:2000]
    assert 'id="form-problems"' in html and 'id="form-preview"' not in html
    assert shown in html.replace("&#39;", "'")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(FormVersion.id))) == before


def test_a_bad_workbook_through_the_cli_is_a_clear_message(runner, tmp_path):
    source = tmp_path / "merged.xlsx"
    source.write_bytes(_merged(tmp_path))
    output = tmp_path / "out.yaml"
    result = runner.invoke(args=["adal", "forms", "import-xlsform", str(source), "-o", str(output)])
    assert result.exit_code == 1
    assert "survey!A3:A4: merged cells; unmerge them" in result.stderr
    assert not output.exists()


def test_the_text_of_a_label_is_kept_exactly(tmp_path):
    """Reading through the parser keeps what openpyxl would give: text, numbers, booleans."""
    path = simple(tmp_path, q("integer", "n", adal_weight=2.5, label=text("Wait, min?")))
    question = import_xlsform(path).definition["sections"][0]["questions"][0]
    assert (question["weight"], question["label"]["ru"]) == (2.5, "Wait, min? (ru)")


def as_excel_writes_it(path: Path) -> Path:
    """The workbook with its texts in a shared-strings part, prefixed tags (`x:c`) on the
    survey sheet, as Excel and other writers store them (openpyxl writes inline strings)."""
    strings: list[str] = []

    def share(match: re.Match) -> bytes:
        strings.append(match.group(2).decode())  # XML-escaped already
        return b'<c r="%s" t="s"><v>%d</v></c>' % (match.group(1), len(strings) - 1)

    out = path.with_name("excel.xlsx")
    ns = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.startswith("xl/worksheets/"):
                data = re.sub(rb'<c r="([A-Z]+\d+)" t="inlineStr"><is><t>(.*?)</t></is></c>',
                              share, data, flags=re.S)
                if info.filename == SURVEY_PART:  # the same sheet with a namespace prefix
                    data = re.sub(rb"<(/?)(?!\?)", rb"<\1x:", data).replace(
                        b'xmlns="' + ns, b'xmlns:x="' + ns)
            elif info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" '
                                    b'ContentType="application/vnd.openxmlformats-officedocument.'
                                    b'spreadsheetml.sharedStrings+xml"/></Types>')
            elif info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Type="http://schemas.'
                                    b'openxmlformats.org/officeDocument/2006/relationships/'
                                    b'sharedStrings" Target="sharedStrings.xml" Id="rId99"/>'
                                    b"</Relationships>")
            dst.writestr(info.filename, data)
        items = "".join(f"<si><t>{text}</t></si>" for text in strings)
        dst.writestr("xl/sharedStrings.xml",
                     f'<sst xmlns="{ns.decode()}" count="{len(strings)}" '
                     f'uniqueCount="{len(strings)}">{items}</sst>')
    assert strings
    return out


def test_a_workbook_with_shared_strings_and_prefixed_tags_reads_the_same(tmp_path):
    from .test_xlsform import FULL_CHOICES, FULL_SETTINGS, FULL_SURVEY, workbook

    path = workbook(tmp_path / "visit_check.xlsx", FULL_SURVEY, FULL_CHOICES, FULL_SETTINGS)
    expected = import_xlsform(path)
    excel = as_excel_writes_it(path)
    with zipfile.ZipFile(excel) as archive:
        assert b"<x:c " in archive.read(SURVEY_PART)
    assert import_xlsform(excel) == expected


def test_a_merged_cell_on_a_prefixed_sheet_is_found(tmp_path):
    path = simple(tmp_path, q("text", "a"), q("text", "b"))
    book = openpyxl.load_workbook(path)
    book["survey"].merge_cells("A3:A4")
    book.save(path)
    assert "survey!A3:A4" in [where for where, _ in refusals(as_excel_writes_it(path))]


def test_a_workbook_damaged_anywhere_is_read_or_reported(tmp_path):
    """A byte changed at 40 places across the file (headers, compressed data, the directory):
    each gives a definition or FormInvalid, never another exception."""
    raw = bytearray(simple(tmp_path, q("text", "t"), q("integer", "n")).read_bytes())
    damaged = tmp_path / "damaged.xlsx"
    for place in range(40):
        copy = bytearray(raw)
        copy[place * len(raw) // 40] ^= 0x5A
        damaged.write_bytes(bytes(copy))
        try:
            import_xlsform(damaged)
        except FormInvalid as exc:
            assert exc.problems


def test_two_sheets_named_survey_are_refused(tmp_path):
    path = simple(tmp_path, q("text", "t"))
    book = openpyxl.load_workbook(path)
    book.create_sheet("Survey ")["A1"] = "type"
    book.save(path)
    assert ("", "two sheets are named 'survey' ('survey', 'Survey '); keep one") in refusals(path)
