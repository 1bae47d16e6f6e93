"""Rankings as CSV and XLSX, and the open-data CSV: formats only, from the service's dicts.

CSV is UTF-8 with a byte-order mark, which Excel needs to read UTF-8 (Cyrillic names) instead of
the machine's legacy code page; every other CSV reader skips it. Text that a spreadsheet would run
as a formula (= + - @ at the start) is prefixed with an apostrophe; numbers stay numbers.
"""
from __future__ import annotations

import csv
import io
import re

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from ..offices.models import OFFICE_KINDS
from ..i18n import translate

BOM = "\ufeff"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def safe_text(value):
    """Text that a spreadsheet cannot mistake for a formula; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def kind_name(kind: str, lang: str) -> str:
    """The office kind in `lang`; an unknown kind as it is."""
    return translate(f"kind_{kind}", lang) if kind in OFFICE_KINDS else kind


def _label(text, lang: str) -> str:
    if isinstance(text, dict):
        return text.get(lang) or text.get("en") or next(iter(text.values()), "")
    return text or ""


def _critical_columns(report: dict, lang: str) -> list[tuple[str, str]]:
    """(question id, label) of every critical finding present in the report."""
    found: dict[str, str] = {}
    for item in report["items"]:
        for finding in item["critical"]:
            found.setdefault(finding["question"], _label(finding["label"], lang))
    return sorted(found.items())


def ranking_table(report: dict, lang: str) -> tuple[list[str], list[tuple[str, list]]]:
    """Localised header and (kind, row) for every office; one row per office."""
    header, rows = ranking_rows(report, lang)
    return header, list(rows)


def ranking_rows(report: dict, lang: str):
    """(header, an iterator of (kind, row)): the rows one at a time, for exports that stream
    (stream.py)."""
    return _header(report, lang), _rows(report, lang, *_columns(report, lang))


def _columns(report: dict, lang: str) -> tuple[list, list]:
    return ([(s["id"], _label(s["title"], lang)) for s in report["sections"]],
            _critical_columns(report, lang))


def _header(report: dict, lang: str) -> list[str]:
    t = lambda key: translate(key, lang)  # noqa: E731
    sections, critical = _columns(report, lang)
    header = [t("col_rank"), t("col_office_code"), t("col_office"), t("col_region"),
              t("col_kind"), t("col_status"), t("col_visits"), t("col_score"), t("col_ci_low"),
              t("col_ci_high"), t("col_band"), t("col_change"), t("col_previous_score"),
              *[title for _, title in sections]]
    for _, label in critical:
        header += [f"{label}: {t('col_visits_with')}", f"{label}: {t('col_rate')}"]
    header.append(t("col_recommendations_share"))
    return header


def _rows(report: dict, lang: str, sections: list, critical: list):
    """(kind, row) per office, one at a time; the few words they repeat translated once."""
    words: dict[str, str] = {}
    kinds: dict[str, str] = {}

    def t(key: str) -> str:
        if key not in words:
            words[key] = translate(key, lang)
        return words[key]
    for item in report["items"]:
        kind = item["kind"]
        if kind not in kinds:
            kinds[kind] = kind_name(kind, lang)
        found = {f["question"]: f for f in item["critical"]}
        row = [item["rank"], item["office"]["code"], _label(item["office"]["name"], lang),
               item["region"], kinds[kind], t(f"status_{item['status']}"), item["visits"], item["score"],
               item["ci_low"], item["ci_high"],
               t(f"band_{item['band']}") if item["band"] else None, item["change"],
               item["previous_score"],
               *[item["section_scores"].get(sid) for sid, _ in sections]]
        for question, _ in critical:
            finding = found.get(question)
            row += ([finding["visits_with"], finding["rate"]] if finding
                    else [0, 0.0 if item["visits"] else None])
        row.append(item["recommendations"]["share"])
        yield kind, row


def _csv(header: list[str], rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_text(h) for h in header])
    for row in rows:
        writer.writerow(["" if v is None else safe_text(v) for v in row])
    return (BOM + out.getvalue()).encode("utf-8")


def ranking_csv(report: dict, lang: str) -> bytes:
    """The ranking as CSV (UTF-8 with BOM, CRLF), one row per office, localised headers."""
    header, rows = ranking_table(report, lang)
    return _csv(header, [row for _, row in rows])


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


def ranking_xlsx(report: dict, lang: str) -> bytes:
    """The ranking as an XLSX workbook: a sheet per kind, bold header, numbers as numbers."""
    header, rows = ranking_table(report, lang)
    kinds: dict[str, list[list]] = {}
    for kind, row in rows:
        kinds.setdefault(kind, []).append(row)
    if not kinds:
        kinds[report.get("kind") or "other"] = []
    book = Workbook()
    book.remove(book.active)
    taken: set[str] = set()
    bold = Font(bold=True)
    for kind, kind_rows in kinds.items():
        sheet = book.create_sheet(sheet_title(kind_name(kind, lang), taken))
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = bold
            cell.data_type = "s"  # a header starting with "=" stays text
        for row in kind_rows:
            sheet.append(row)
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # never a formula, whatever the office is called
        sheet.freeze_panes = "A2"
        for index, title in enumerate(header, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = min(40, max(8, len(title)))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


OPENDATA_COLUMNS = ("office_code", "office_name", "kind", "region", "date", "score")


def opendata_csv(section_ids: list[str], rows: list[list]) -> bytes:
    """The open-data CSV: one row per approved visit, stable English column names."""
    header = [*OPENDATA_COLUMNS, *[f"section_{sid}" for sid in section_ids], "critical_findings"]
    return _csv(header, rows)
