"""CSV, JSON and XLSX out of an Export, a batch at a time: memory stays flat.

CSV: UTF-8 with a byte-order mark (Excel reads Cyrillic and Uzbek Latin right), CRLF, text
that a spreadsheet would run as a formula (= + - @ tab CR at the start) prefixed with an
apostrophe; numbers stay numbers. XLSX: openpyxl's write-only mode (each sheet streamed to its
own temporary file, strings inline, no shared-string table), every text cell stored as text
(never a formula), then the workbook file is sent from disk. JSON: an array of objects.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from collections.abc import Iterator

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from ..reports.export import BOM, safe_text
from .service import LONG_COLUMNS, Export

CHUNK = 64 * 1024


def _csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return safe_text(value)


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
    """(header-or-row marker, cells); the CSV and JSON shapes: one table."""
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
        return [*export_base_header()]
    return export.newest.wide_header(other_questions=True)


def export_base_header() -> list[str]:
    from .service import BASE_COLUMNS, OTHER_QUESTIONS
    return [*BASE_COLUMNS, OTHER_QUESTIONS]


def csv_stream(export: Export, shape: str) -> Iterator[bytes]:
    """The CSV, a batch of rows per chunk. Wide: the newest form version's question columns;
    visits of other versions fill the columns of the questions they share, name their
    version in form_key/form_version and list the rest in other_questions."""
    buffer = _Buffer()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow([safe_text(h) for h in csv_header(export, shape)])
    for row in _rows(export, shape):
        writer.writerow([_csv_cell(v) for v in row])
        if len(buffer.parts) >= 200:
            yield buffer.take()
    yield buffer.take()


def json_stream(export: Export, shape: str) -> Iterator[bytes]:
    """A JSON array, one object per visit (wide: its own version's columns) or per answer."""
    yield b"["
    first = True
    parts: list[str] = []
    for record in export.records():
        if shape == "long":
            objects = (dict(zip(LONG_COLUMNS, row)) for row in export.long_rows(record))
        else:
            layout = export.layouts[record.row.form_version_id]
            header = _header_cache(export, layout)
            objects = (dict(zip(header, export.wide_row(record, layout))),)
        for obj in objects:
            parts.append(("\n" if first else ",\n") + json.dumps(obj, ensure_ascii=False))
            first = False
        if len(parts) >= 200:
            yield "".join(parts).encode("utf-8")
            parts.clear()
    parts.append("\n]\n" if not first else "]\n")
    yield "".join(parts).encode("utf-8")


def _header_cache(export: Export, layout) -> list[str]:
    cache = export.__dict__.setdefault("_wide_headers", {})
    if layout.version_id not in cache:
        cache[layout.version_id] = layout.wide_header()
    return cache[layout.version_id]


_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def sheet_title(name: str, taken: set[str]) -> str:
    """A valid, unique worksheet name (31 characters, none of []:*?/\\)."""
    base = _SHEET_FORBIDDEN.sub(" ", name).strip("' ")[:31] or "Sheet"
    title, n = base, 2
    while title.lower() in taken:
        suffix = f" ({n})"
        title, n = base[:31 - len(suffix)] + suffix, n + 1
    taken.add(title.lower())
    return title


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


def xlsx_file(export: Export, shape: str, directory: str | None = None) -> str:
    """Write the workbook to a temporary file and return its path (the caller deletes it).
    Wide: a sheet per form version, each with its own question columns; long: one sheet."""
    book = Workbook(write_only=True)
    taken: set[str] = set()
    sheets: dict[int, object] = {}
    if shape == "long":
        sheet = book.create_sheet(sheet_title("answers", taken))
        sheet.append(_xlsx_cells(sheet, list(LONG_COLUMNS)))
    else:
        for layout in export.layouts.values():
            sheet = book.create_sheet(sheet_title(f"{layout.form_key} v{layout.version}", taken))
            sheet.append(_xlsx_cells(sheet, layout.wide_header()))
            sheets[layout.version_id] = sheet
        if not sheets:
            sheet = book.create_sheet("visits")
            sheet.append(_xlsx_cells(sheet, export_base_header()[:-1]))
    for record in export.records():
        if shape == "long":
            for row in export.long_rows(record):
                sheet.append(_xlsx_cells(sheet, row))
        else:
            layout = export.layouts[record.row.form_version_id]
            target = sheets[layout.version_id]
            target.append(_xlsx_cells(target, export.wide_row(record, layout)))
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


__all__ = ["csv_stream", "json_stream", "xlsx_file", "file_chunks", "sheet_title", "io"]
