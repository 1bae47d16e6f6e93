"""CSV, JSON and XLSX out of an Export, a batch at a time: memory stays flat.

CSV: UTF-8 with a byte-order mark (Excel reads Cyrillic and Uzbek Latin right), CRLF, text
that a spreadsheet would run as a formula (= + - @ tab CR at the start) prefixed with an
apostrophe; numbers stay numbers. XLSX: openpyxl's write-only mode (each sheet streamed to its
own temporary file, strings inline, no shared-string table), every text cell stored as text
(never a formula), then the workbook file is sent from disk. JSON: an array of objects.
"""
from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterator

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from ..reports.export import BOM, FORMULA_START, safe_text, sheet_title
from .service import BASE_COLUMNS, LONG_COLUMNS, OTHER_QUESTIONS, Export

CHUNK = 64 * 1024


_FORMULA = frozenset(FORMULA_START)


def _csv_cells(row: list) -> list:
    """A row's cells for csv.writer: None empty, booleans true/false, text that could start a
    formula prefixed with an apostrophe (as reports.export.safe_text); numbers unchanged."""
    out = []
    for value in row:
        if value is None:
            out.append("")
        elif value.__class__ is str:
            out.append("'" + value if value and value[0] in _FORMULA else value)
        elif value is True or value is False:
            out.append("true" if value else "false")
        else:
            out.append(value)
    return out


class _Buffer:
    """csv.writer's file: collects text until it is taken as UTF-8 bytes."""

    def __init__(self):
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def take(self) -> bytes:
        data = "".join(self.parts).encode("utf-8")
        self.parts.clear()
        return data


def _rows(export: Export, shape: str) -> Iterator[tuple[str, list]]:
    """The CSV's rows: wide in the newest version's columns, or long."""
    layout = export.newest
    for record in export.records():
        if shape == "long":
            for row in export.long_rows(record):
                yield row
        else:
            yield export.wide_row(record, layout, other_questions=True)


def csv_header(export: Export, shape: str) -> list[str]:
    if shape == "long":
        return list(LONG_COLUMNS)
    if export.newest is None:
        return [*BASE_COLUMNS, OTHER_QUESTIONS]
    return export.newest.wide_header(other_questions=True)


def csv_stream(export: Export, shape: str) -> Iterator[bytes]:
    """The CSV, a batch of rows per chunk. Wide: the newest form version's question columns;
    visits of other versions fill the columns of the questions they share, name their
    version in form_key/form_version and list the rest in other_questions."""
    buffer = _Buffer()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow([safe_text(h) for h in csv_header(export, shape)])
    for row in _rows(export, shape):
        writer.writerow(_csv_cells(row))
        if len(buffer.parts) >= 200:
            yield buffer.take()
    yield buffer.take()


def json_stream(export: Export, shape: str) -> Iterator[bytes]:
    """A JSON array, one object per visit (wide: its own version's columns) or per answer."""
    yield b"["
    first = True
    parts: list[str] = []
    headers = {vid: layout.wide_header() for vid, layout in export.layouts.items()}
    for record in export.records():
        if shape == "long":
            objects = (dict(zip(LONG_COLUMNS, row)) for row in export.long_rows(record))
        else:
            layout = export.layouts[record.row.form_version_id]
            objects = (dict(zip(headers[layout.version_id], export.wide_row(record, layout))),)
        for obj in objects:
            parts.append(("\n" if first else ",\n") + json.dumps(obj, ensure_ascii=False))
            first = False
        if len(parts) >= 200:
            yield "".join(parts).encode("utf-8")
            parts.clear()
    parts.append("\n]\n" if not first else "]\n")
    yield "".join(parts).encode("utf-8")


def _xlsx_cells(sheet, row: list) -> list:
    """Cells for a write-only sheet: text always a text cell (a value starting with '=' would
    otherwise become a formula), characters XML cannot hold removed; numbers stay numbers."""
    cells = []
    for value in row:
        if isinstance(value, str):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
            if value.startswith("="):
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"
                value = cell
        cells.append(value)
    return cells


MAX_SHEET_ROWS = 1_048_576  # Excel's limit, the header row included


class _Sheets:
    """Write-only sheets by key, each with its header; a sheet that reaches Excel's row limit
    continues in a new one ("answers (2)") with the same header."""

    def __init__(self, book: Workbook, max_rows: int):
        self.book, self.max_rows = book, max_rows
        self.taken: set[str] = set()
        self.open: dict[object, list] = {}  # key: [sheet, rows written, name, header]

    def add(self, key, name: str, header: list[str]) -> None:
        sheet = self.book.create_sheet(sheet_title(name, self.taken))
        sheet.append(_xlsx_cells(sheet, header))
        self.open[key] = [sheet, 1, name, header]

    def append(self, key, row: list) -> None:
        entry = self.open[key]
        if entry[1] >= self.max_rows:
            self.add(key, entry[2], entry[3])
            entry = self.open[key]
        entry[0].append(_xlsx_cells(entry[0], row))
        entry[1] += 1


def xlsx_file(export: Export, shape: str, directory: str | None = None) -> str:
    """Write the workbook to a temporary file and return its path (the caller deletes it).
    Wide: a sheet per form version, each with its own question columns; long: one sheet.
    Past Excel's 1,048,576 rows a sheet continues in another, "answers (2)"."""
    book = Workbook(write_only=True)
    sheets = _Sheets(book, MAX_SHEET_ROWS)
    if shape == "long":
        sheets.add("long", "answers", list(LONG_COLUMNS))
    else:
        for layout in export.layouts.values():
            sheets.add(layout.version_id, f"{layout.form_key} v{layout.version}",
                       layout.wide_header())
        if not export.layouts:
            sheets.add(None, "visits", list(BASE_COLUMNS))
    for record in export.records():
        if shape == "long":
            for row in export.long_rows(record):
                sheets.append("long", row)
        else:
            layout = export.layouts[record.row.form_version_id]
            sheets.append(layout.version_id, export.wide_row(record, layout))
    handle, path = tempfile.mkstemp(prefix="adal-export-", suffix=".xlsx", dir=directory)
    os.close(handle)
    try:
        book.save(path)
    except BaseException:
        os.unlink(path)
        raise
    return path


def file_chunks(path: str) -> Iterator[bytes]:
    """The file's bytes a chunk at a time; the file is deleted when done (or abandoned)."""
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk
    finally:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

