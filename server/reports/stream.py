"""Ranking exports that stream: CSV and XLSX built row by row, never the whole file in memory.

CSV: each row is encoded and sent as it is made (chunks of ~64 KiB). XLSX: openpyxl's
write-only mode writes each row to the sheet's temporary XML file as it is appended; the
workbook is then zipped into a spooled temporary file (in memory up to 1 MiB, on disk beyond)
and sent in 64 KiB chunks. Same content as export.ranking_csv / ranking_xlsx: header in `lang`,
formula-looking text kept as text, a sheet per kind with a bold, frozen header.
"""
from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from .export import BOM, kind_name, ranking_rows, safe_text, sheet_title

CHUNK = 64 * 1024


def ranking_csv(report: dict, lang: str) -> Iterator[bytes]:
    """The ranking CSV (UTF-8 with BOM, CRLF), in chunks."""
    header, rows = ranking_rows(report, lang)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    out.write(BOM)
    writer.writerow([safe_text(h) for h in header])
    for _, row in rows:
        writer.writerow(["" if v is None else safe_text(v) for v in row])
        if out.tell() >= CHUNK:
            yield out.getvalue().encode("utf-8")
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode("utf-8")


def _text_cell(sheet, value, font=None):
    cell = WriteOnlyCell(sheet, value)
    cell.data_type = "s"  # never a formula, whatever the office is called
    if font is not None:
        cell.font = font
    return cell


def ranking_xlsx(report: dict, lang: str) -> Iterator[bytes]:
    """The ranking XLSX (a sheet per kind), written row by row, then sent in chunks."""
    header, rows = ranking_rows(report, lang)
    book = Workbook(write_only=True)
    sheets: dict = {}
    taken: set[str] = set()
    bold = Font(bold=True)

    def sheet_of(kind: str):
        if kind not in sheets:
            sheet = book.create_sheet(sheet_title(kind_name(kind, lang), taken))
            sheet.freeze_panes = "A2"
            for index, title in enumerate(header, start=1):
                sheet.column_dimensions[get_column_letter(index)].width = min(
                    40, max(8, len(title)))
            sheet.append([_text_cell(sheet, h, bold) for h in header])
            sheets[kind] = sheet
        return sheets[kind]
    for kind, row in rows:
        sheet = sheet_of(kind)
        sheet.append([_text_cell(sheet, v) if isinstance(v, str) else v for v in row])
    if not sheets:
        sheet_of(report.get("kind") or "other")
    with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as out:
        book.save(out)
        out.seek(0)
        while chunk := out.read(CHUNK):
            yield chunk
