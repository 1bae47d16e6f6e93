"""Reading an XLSForm workbook in bounded time and memory (the translating is in xlsform.py).

A workbook is a zip of XML parts. Before openpyxl sees it, every part's unpacked size is checked
(a few hundred KB can unpack to GBs): a worksheet, which is streamed, may unpack to
MAX_SHEET_BYTES; any other part (shared strings, styles: openpyxl loads them whole) to
MAX_PART_BYTES. A part is a worksheet when [Content_Types].xml names it one.
Only the sheets an XLSForm has (survey, choices, settings) are read, each in two passes:

1. a byte scan of the sheet's XML (regular expressions, no parsing) finds where the row holding
   the last value ends, and the merged cells (listed after the rows in the XML);
2. openpyxl's streaming parser reads the rows up to there and stops: a sheet with a million
   blank (formatted) rows after its questions costs the byte scan, not a million parsed rows.
   Rows are never padded to the sheet's claimed dimension (`A1:XFD1048576`), and the parser's
   per-row formatting records are dropped as they come.

The parser is openpyxl's own (`openpyxl.worksheet._reader.WorkSheetParser`, with the read-only
workbook's `_archive`, `_shared_strings`, `_worksheet_path`, `_date_formats`): private names of
the pinned openpyxl 3.1.5, exercised by every test in tests/forms/test_xlsform*.py; an upgrade
that renames them fails those tests, never silently.

Headers are put in one spelling ("canonical"): `List Name` -> `list_name`, `label:english` and
`label::English (en)` -> `label::en`, `caption` -> `label`. Texts in a language other than kk, ru,
en and uz are left out with a warning naming the column.
"""
from __future__ import annotations

import re
import zipfile
from typing import Any
from xml.etree.ElementTree import ParseError

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._reader import WorkSheetParser

from ..config import LANGUAGES
from .definition import FormInvalid, Problem

SHEETS = ("survey", "choices", "settings")
MAX_SHEET_BYTES = 256 * 1024 * 1024  # a worksheet's XML, unpacked (streamed in 1 MiB chunks)
MAX_PART_BYTES = 16 * 1024 * 1024  # any other part, unpacked (loaded whole by openpyxl)
WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
MAX_ROWS = 10_000  # filled rows per sheet: a checklist has hundreds
MAX_ROW_NUMBER = 100_000  # rows are read up to this one: a value further down refuses the form
MAX_COLUMNS = 1_000  # a value past this column refuses the form (a sheet 16,384 wide is a mistake)

# Columns whose text is per language; the others with `::` are not split by language.
TEXT_COLUMNS = {"label", "hint", "constraint_message", "required_message", "form_title"}
# pyxform's header aliases (aliases.py: survey_header, list_header, settings_header) that name a
# column Adal reads, or reports by name.
HEADER_ALIASES = {"caption": "label", "relevance": "relevant", "constraining_message":
                  "constraint_message", "requiredmsg": "required_message",
                  "jr:constraintmsg": "constraint_message", "jr:requiredmsg": "required_message",
                  "calculate": "calculation", "set_form_title": "form_title",
                  "set_form_id": "form_id", "readonly": "read_only"}
CHOICE_ALIASES = {"value": "name"}  # only on the choices sheet (pyxform's list_header)

# Language names as XLSForms write them (pyxform takes any text after `::`), apostrophes as ',
# case folded; a code in brackets (`Kazakh (kk)`) always wins over the name.
LANGUAGE_NAMES = {
    "en": ("english", "английский", "ағылшын", "ағылшынша", "ingliz", "inglizcha", "eng"),
    "ru": ("russian", "русский", "русский язык", "орыс", "орысша", "rus", "ruscha", "rus tili"),
    "kk": ("kazakh", "қазақ", "қазақша", "қазақ тілі", "казахский", "казакский", "казакша",
           "qazaq", "qazaqsha", "qozoq", "qozoqcha", "kaz"),
    "uz": ("uzbek", "o'zbek", "o'zbekcha", "o'zbek tili", "uzbek (latin)", "узбекский",
           "uzb"),
}
_NAME_TO_CODE = {name: code for code, names in LANGUAGE_NAMES.items() for name in names}
_APOSTROPHES = str.maketrans({"\u02bb": "'", "\u02bc": "'", "\u2019": "'", "\u2018": "'",
                              "`": "'", "\u00b4": "'"})
_CODE_IN_BRACKETS = re.compile(r"\(\s*([A-Za-z]{2,3})((?:[-_][A-Za-z0-9]+)*)\s*\)\s*$")
_BARE_CODE = re.compile(r"([a-z]{2,3})((?:[-_][a-z0-9]+)*)")
_ISO3 = {"eng": "en", "rus": "ru", "kaz": "kk", "uzb": "uz"}

# The byte scan: a cell value (<v>, inline <is>, formula <f>) or a merged range; the end of a row.
_MARKS = re.compile(rb"<(?:[\w.-]+:)?(?:(?:v|is|f)[\s>/]"
                    rb"|mergeCell\s[^>]{0,1024}?\bref=\"(?P<ref>[^\"]{0,64})\")")
_ROW_END = re.compile(rb"</(?:[\w.-]+:)?row\s*>")
_CHUNK = 1 << 20
_OVERLAP = 2048


def language_of(text: str) -> str | None:
    """'Kazakh (kk)', 'Қазақша', 'kk', 'kaz' -> 'kk'; None for any other language (or none
    recognisable). Uzbek in Cyrillic script (`uz-Cyrl`, 'Ўзбек') is not Adal's uz (Latin)."""
    text = str(text).translate(_APOSTROPHES).strip()
    match = _CODE_IN_BRACKETS.search(text)
    if match:
        code, subtags = match.group(1).lower(), match.group(2).lower()
    else:
        folded = " ".join(text.casefold().split())
        if folded in _NAME_TO_CODE:
            return _NAME_TO_CODE[folded]
        bare = _BARE_CODE.fullmatch(folded)
        if not bare:
            return None
        code, subtags = bare.group(1), bare.group(2)
    code = _ISO3.get(code, code)
    if code == "uz" and "cyrl" in subtags:
        return None
    return code if code in LANGUAGES else None


def snake(header: str) -> str:
    """pyxform's to_snake_case: `List Name` -> `list_name`."""
    return "_".join(header.split()).lower()


def split_header(header: str) -> tuple[str, str | None]:
    """'label::English (en)' -> ('label', 'English (en)'); the old single colon ('label:english')
    too, but not in `jr:count`-like names; ('type', None) without a suffix."""
    if "::" in header:
        base, _, suffix = header.partition("::")
    elif ":" in header and not header.strip().lower().startswith("jr:"):
        base, _, suffix = header.partition(":")
    else:
        return snake(header), None
    return snake(base), suffix.strip()


class Sheet:
    """A sheet's filled rows as {canonical column: value}, with spreadsheet coordinates."""

    def __init__(self, name: str, filled: list[tuple[int, list[tuple[int, Any, bool]]]],
                 problems: list[Problem], warnings: list[str]):
        self.name = name
        self.rows: list[tuple[int, dict[str, Any]]] = []
        self.columns: dict[str, str] = {}  # canonical column -> letter
        self.headers: dict[str, str] = {}  # canonical column -> the header as written
        self.formula_rows: set[int] = set()  # reported already: their cells were left out
        names: dict[int, str] = {}  # column number -> canonical column (the ones read)
        left_out: set[int] = set()  # columns in another language: reported at the header
        header = filled[0][1] if filled and filled[0][0] == 1 else []
        for index, value, formula in header:
            where = f"{name}!{get_column_letter(index)}1"
            if formula:
                problems.append(Problem(where, "a formula; type the value instead"))
                continue
            written = str(value).strip()
            column = self._canonical(written)
            if column is None:
                left_out.add(index)
                warnings.append(f"{where}: column {written!r} was left out: its language is "
                                f"not one of {', '.join(LANGUAGES)}")
                continue
            if column in self.columns:
                problems.append(Problem(where, f"columns {self.headers[column]!r} and "
                                               f"{written!r} are the same column; keep one"))
                continue
            names[index] = column
            self.columns[column] = get_column_letter(index)
            self.headers[column] = written
        for number, cells in filled[1:] if header else filled:
            values: dict[str, Any] = {}
            stray: list[str] = []
            for index, value, formula in cells:
                if formula:
                    problems.append(Problem(f"{name}!{get_column_letter(index)}{number}",
                                            "a formula; type the value instead"))
                    self.formula_rows.add(number)
                elif index in names:
                    values[names[index]] = value
                elif index not in left_out:
                    stray.append(f"{get_column_letter(index)}{number}")
            if stray:
                more = f" (and {len(stray) - 10} more, up to {stray[-1]})" if len(stray) > 10 else ""
                warnings.append(f"{name}!{', '.join(stray[:10])}{more}: "
                                f"{'a value' if len(stray) == 1 else 'values'} in a column "
                                "without a header; not imported")
            if values:
                self.rows.append((number, values))

    def _canonical(self, written: str) -> str | None:
        """The column's one spelling; None for a text column in a language Adal has not."""
        base, suffix = split_header(written)
        aliases = {**HEADER_ALIASES, **(CHOICE_ALIASES if self.name.lower() == "choices" else {})}
        base = aliases.get(base, base)
        if suffix is None:
            return base
        if base not in TEXT_COLUMNS:
            return f"{base}::{suffix.lower()}"
        code = language_of(suffix)
        return f"{base}::{code}" if code else None

    def where(self, row: int, column: str) -> str:
        return f"{self.name}!{self.columns.get(column, '?')}{row}"

    def header(self, column: str) -> str:
        return self.headers.get(column, column)


def read_sheets(path, problems: list[Problem], warnings: list[str]) -> dict[str, Sheet]:
    """The survey, choices and settings sheets of the workbook at `path`, by lower-case name;
    FormInvalid when the file is no workbook or unpacks too large."""
    name = getattr(path, "name", str(path))

    def unreadable(reason: str) -> FormInvalid:
        return FormInvalid(name, [Problem("", f"not a readable .xlsx workbook ({reason})")])

    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
            worksheets = _worksheet_parts(archive, parts)
    except Exception as exc:  # not a zip, a broken one (zlib, CRC), an encrypted one, ...
        raise unreadable(str(exc) or type(exc).__name__) from exc
    for part in parts:
        most = MAX_SHEET_BYTES if part.filename in worksheets else MAX_PART_BYTES
        if part.file_size > most:
            what = "worksheet" if part.filename in worksheets else "part"
            raise FormInvalid(name, [Problem("", f"its {what} {part.filename} unpacks to "
                                                 f"{part.file_size / 2**20:,.0f} MiB; at most "
                                                 f"{most // 2**20} MiB")])
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a broken or foreign file
        raise unreadable(str(exc) or type(exc).__name__) from exc
    sheets: dict[str, Sheet] = {}
    try:
        for ws in book.worksheets:
            key = ws.title.strip().lower()
            if key not in SHEETS:
                warnings.append(f"sheet {ws.title!r} was not read: an XLSForm's sheets are "
                                "survey, choices and settings")
                continue
            if key in sheets:
                problems.append(Problem("", f"two sheets are named {key!r} ("
                                            f"{sheets[key].name!r}, {ws.title!r}); keep one"))
                continue
            filled = _filled_rows(book, ws, problems)
            sheets[key] = Sheet(ws.title, filled, problems, warnings)
    except FormInvalid:
        raise
    except Exception as exc:  # a broken part found while reading (bad XML, a CRC error)
        raise unreadable(str(exc) or type(exc).__name__) from exc
    finally:
        book.close()
    return sheets


def _worksheet_parts(archive: zipfile.ZipFile, parts: list[zipfile.ZipInfo]) -> set[str]:
    """The parts [Content_Types].xml names worksheets (an Override each, as writers store it)."""
    types = next((p for p in parts if p.filename == "[Content_Types].xml"), None)
    if types is None or types.file_size > MAX_PART_BYTES:
        return set()
    text = archive.read(types).decode("utf-8", "replace")
    return {match.group(1).lstrip("/") for match in re.finditer(
        r'<(?:[\w.-]+:)?Override\s[^>]*?PartName="([^"]+)"[^>]*?ContentType="'
        + re.escape(WORKSHEET_TYPE) + '"', text)}


def _filled_rows(book, ws, problems: list[Problem]) -> list[tuple[int, list[tuple[int, Any, bool]]]]:
    """(row number, [(column number, value, is a formula)]) for each row with a value."""
    archive, part = book._archive, ws._worksheet_path
    limit, merged = _scan(archive, part)
    for ref in merged:
        problems.append(Problem(f"{ws.title}!{ref}", "merged cells; unmerge them and type each "
                                                     "row's value in its own cell (a merged "
                                                     "cell's value belongs to its first cell only)"))
    if limit == 0:
        return []
    rows: list[tuple[int, list[tuple[int, Any, bool]]]] = []
    wide = False
    with archive.open(part) as raw:
        source = _Capped(raw, limit)
        parser = WorkSheetParser(source, ws._shared_strings, data_only=False, epoch=book.epoch,
                                 date_formats=book._date_formats,
                                 timedelta_formats=book._timedelta_formats)
        parser.row_dimensions = _Discard()  # formatting of each row: not needed, not kept
        try:
            for number, cells in parser.parse():
                if number > MAX_ROW_NUMBER:  # read up to the last filled row: one is past it
                    problems.append(Problem(f"{ws.title}!A{number}",
                                            f"a value past row {MAX_ROW_NUMBER:,}: a sheet is "
                                            f"read up to row {MAX_ROW_NUMBER:,}; delete the "
                                            "rows after the form"))
                    break
                kept = []
                for cell in cells:
                    value, formula = cell["value"], cell["data_type"] == "f"
                    if value is None or (not formula and str(value).strip() == ""):
                        continue
                    if cell["column"] > MAX_COLUMNS:
                        if not wide:
                            wide = True
                            problems.append(Problem(
                                f"{ws.title}!{get_column_letter(cell['column'])}{number}",
                                f"a value in column {cell['column']:,}: a sheet is read up to "
                                f"column {get_column_letter(MAX_COLUMNS)} ({MAX_COLUMNS:,} "
                                "columns); delete the cells beyond it"))
                        continue
                    kept.append((cell["column"], value, formula))
                if kept:
                    if len(rows) == MAX_ROWS:
                        problems.append(Problem(f"{ws.title}!A{number}",
                                                f"more than {MAX_ROWS:,} filled rows; the rest "
                                                "of this sheet was not read"))
                        break
                    rows.append((number, kept))
        except ParseError:
            if not source.capped:  # the XML itself is broken, not cut short by us
                raise
    rows.sort(key=lambda item: item[0])
    return rows


def _scan(archive: zipfile.ZipFile, part: str) -> tuple[int | None, list[str]]:
    """Where to stop reading a sheet's XML (the end of the row holding its last value: 0 when
    it has none, None when that cannot be told) and its merged ranges, from one pass over the
    bytes."""
    limit: int | None = 0
    pending = False  # a value seen whose row has not ended yet
    merged: list[str] = []
    offset, buffer = 0, b""  # buffer starts at this offset of the XML
    with archive.open(part) as source:
        while True:
            chunk = source.read(_CHUNK)
            final = not chunk
            buffer += chunk
            stop = len(buffer) if final else max(0, len(buffer) - _OVERLAP)
            done, last = 0, None
            for match in _MARKS.finditer(buffer):  # few: blank rows hold none
                if match.start() >= stop:
                    break
                done = match.end()
                if match.group("ref") is not None:
                    merged.append(match.group("ref").decode("ascii", "replace"))
                else:
                    last = match.end()
            if last is not None or pending:
                end = _ROW_END.search(buffer, last if last is not None else 0)
                pending = end is None
                if end:
                    limit = offset + end.end()
            keep = max(done, stop)
            offset += keep
            buffer = buffer[keep:]
            if final:
                break
    return (None if pending else limit), merged


class _Capped:
    """A file object that ends after `limit` bytes (None: never)."""

    def __init__(self, raw, limit: int | None):
        self.raw, self.left, self.capped = raw, limit, False

    def read(self, size: int = -1) -> bytes:
        if self.left is None:
            return self.raw.read(size)
        if self.left <= 0:
            self.capped = True
            return b""
        data = self.raw.read(self.left if size is None or size < 0 else min(size, self.left))
        self.left -= len(data)
        return data


class _Discard(dict):
    def __setitem__(self, key, value) -> None:
        pass
