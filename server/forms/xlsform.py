"""Import an XLSForm (the spreadsheet standard of ODK and KoBoToolbox) into an Adal form.

What cannot be translated is reported with its sheet, row and column — never silently dropped.
Metadata rows that Adal records by itself (start, end, deviceid, ...) are skipped with a warning.
The result is a normalised definition, ready to be written as YAML and reviewed before publishing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter

from ..config import LANGUAGES
from .expressions import ExpressionError, parse
from .loader import FormInvalid, Problem, check_definition

SIMPLE_TYPES = {"integer": "integer", "decimal": "decimal", "text": "text", "note": "note",
                "image": "photo", "photo": "photo", "video": "video", "audio": "audio",
                "geopoint": "geopoint", "time": "time"}
META_TYPES = {"start", "end", "today", "deviceid", "phonenumber", "username", "simserial",
              "subscriberid", "audit", "email"}
KNOWN_COLUMNS = {"type", "name", "label", "hint", "required", "relevant", "constraint",
                 "constraint_message", "adal_weight", "adal_score", "adal_critical", "adal_unit",
                 "required_message"}
TRUE = {"yes", "true", "true()", "1"}
LOCALIZED_COLUMNS = {"label", "hint", "constraint_message", "required_message", "form_title"}
# The columns a `begin group` row may carry: a section has an id, a title, a weight, and the
# group's relevance is ANDed into each of its questions'.
GROUP_COLUMNS = {"type", "name", "label", "adal_weight", "relevant"}
CHOICE_COLUMNS = {"list_name", "name", "label"}
CHOICE_DISPLAY_COLUMNS = {"media", "image", "audio", "video"}
SETTINGS_COLUMNS = {"form_id", "version", "form_title", "default_language"}
SETTINGS_REASONS = {
    "instance_name": "Adal names each visit itself",
    "submission_url": "visits are sent to the Adal server the app was opened from",
    "public_key": "Adal does not encrypt visits with a form's key (they travel over HTTPS and "
                  "are stored on the server)",
}
# The app's own words for the two answers of a yes_no question (server/i18n/strings/app.py app_yes,
# app_no; a test keeps them equal): choices labelled otherwise stay a single_choice, so that
# their labels are kept.
APP_YES_NO = {"yes": {"en": "Yes", "ru": "Да", "kk": "Иә", "uz": "Ha"},
              "no": {"en": "No", "ru": "Нет", "kk": "Жоқ", "uz": "Yoʻq"}}
LANG_RE = re.compile(r"\(([A-Za-z]{2,3})(?:[-_][A-Za-z]+)?\)\s*$|^([A-Za-z]{2,3})$")

_TOKEN = re.compile(r"""\s*(?:(?P<ref>\$\{[A-Za-z_][A-Za-z0-9_]*\})|(?P<str>'[^']*'|"[^"]*")
    |(?P<num>\d+(?:\.\d+)?)|(?P<op>!=|<=|>=|=|<|>|\+|-|\*|\(|\)|,)|(?P<word>[A-Za-z_][A-Za-z0-9_-]*)
    |(?P<dot>\.))""", re.VERBOSE)
_WORDS = {"and": "and", "or": "or", "not": "not", "div": "/", "selected": "selected",
          "count-selected": "count_selected", "true": "true", "false": "false"}


@dataclass
class ImportResult:
    definition: dict
    warnings: list[str] = field(default_factory=list)


class _Sheet:
    """Rows of a sheet as {column name: value} with their spreadsheet coordinates."""

    def __init__(self, ws, problems: list[Problem], warnings: list[str]):
        self.name = ws.title
        self.rows: list[tuple[int, dict[str, Any]]] = []
        self.columns: dict[str, str] = {}  # lower-cased header -> column letter
        self.formula_rows: set[int] = set()  # reported already: their cells were left out
        # Read-only sheets give cells without coordinates (EmptyCell) for gaps, and give every
        # row from the first on: count rows and columns here instead of asking the cells.
        rows = ws.iter_rows()
        header = next(rows, ())
        names = []
        for index, cell in enumerate(header, start=1):
            if cell.data_type == "f":
                problems.append(Problem(f"{self.name}!{get_column_letter(index)}1",
                                        "a formula; type the value instead"))
                names.append("")
                continue
            name = str(cell.value).strip() if cell.value is not None else ""
            names.append(name)
            if name:
                self.columns[name.lower()] = get_column_letter(index)
        for number, row in enumerate(rows, start=2):
            values = {}
            for index, (name, cell) in enumerate(zip(names, row), start=1):
                if cell.data_type == "f":
                    problems.append(Problem(f"{self.name}!{get_column_letter(index)}{number}",
                                            "a formula; type the value instead"))
                    self.formula_rows.add(number)
                    continue
                if cell.value is None or str(cell.value).strip() == "":
                    continue
                if name:
                    values[name.lower()] = cell.value
                else:
                    warnings.append(f"{self.name}!{get_column_letter(index)}{number}: a value in "
                                    "a column without a header was not imported")
            if values:
                self.rows.append((number, values))

    def where(self, row: int, column: str) -> str:
        return f"{self.name}!{self.columns.get(column, '?')}{row}"


def _language(column: str) -> str | None:
    """'label::Kazakh (kk)' -> 'kk'; 'label::en' -> 'en'; None if no code is recognisable."""
    _, _, suffix = column.partition("::")
    match = LANG_RE.search(suffix.strip())
    if not match:
        return None
    code = (match.group(1) or match.group(2)).lower()
    return code if code in LANGUAGES else None


def translate_expression(text: str, multi: frozenset[str] | set[str] = frozenset(),
                         current_multi: bool = False, notes: list[str] | None = None) -> str:
    """The XPath subset of XLSForm to Adal's expressions; ValueError naming what cannot be.

    `multi` names the select_multiple questions (`current_multi`: `.` is one): in XPath, `=`
    compares a selection's whole value, so `${m} = 'a'` holds when 'a' alone is selected. It
    becomes `(selected(m, 'a') and count_selected(m) == 1)`, with a note for the reviewer
    appended to `notes`; any other comparison of a whole selection is refused.
    """
    out, kinds, pos = [], [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ValueError(f"cannot translate {text[pos:pos + 20]!r}")
        pos = match.end()
        kind, value = match.lastgroup, match.group(match.lastgroup)
        kinds.append(kind)
        if kind == "ref":
            out.append(value[2:-1])
        elif kind == "op":
            out.append("==" if value == "=" else value)
        elif kind == "word":
            if value.lower() not in _WORDS:
                raise ValueError(f"the function or name {value!r} has no Adal equivalent")
            word = _WORDS[value.lower()]
            if word in ("true", "false") and text[pos:].lstrip().startswith("("):
                pos = text.index(")", pos) + 1  # true() / false()
            out.append(word)
        else:
            out.append(value)
    out, kinds = _rewrite_empty_tests(out, kinds)
    out = _rewrite_multi_tests(out, kinds, multi, current_multi, notes)
    result = " ".join(out).replace("( ", "(").replace(" )", ")").replace(" ,", ",")
    for name in ("selected", "count_selected", "answered"):
        result = result.replace(f"{name} (", f"{name}(")
    parse(result)  # raises ExpressionError for anything our language refuses
    return result


_BOUNDARY = {None, "(", ",", "and", "or", "not", ")"}


def _rewrite_empty_tests(out: list[str], kinds: list[str]) -> tuple[list[str], list[str]]:
    """`${q} = ''` and `${q} != ''`: XPath's tests of an unanswered question. An unanswered
    question is null in Adal, which never equals '': they become `not answered(q)` and
    `answered(q)`. Only a comparison standing on its own is rewritten; anything else is left
    for the parser to refuse rather than be translated wrong."""
    result, result_kinds, i = [], [], 0
    while i < len(out):
        window = out[i:i + 3]
        if len(window) == 3 and window[1] in ("==", "!="):
            subject = next((x for x, k in ((window[0], kinds[i]), (window[2], kinds[i + 2]))
                            if k in ("ref", "dot")), None)
            empty = next((x for x, k in ((window[0], kinds[i]), (window[2], kinds[i + 2]))
                          if k == "str" and x in ("''", '""')), None)
            before = result[-1] if result else None
            after = out[i + 3] if i + 3 < len(out) else None
            if subject and empty and before in _BOUNDARY and after in _BOUNDARY:
                tokens = (["answered", "(", subject, ")"] if window[1] == "!="
                          else ["not", "answered", "(", subject, ")"])
                result += tokens
                result_kinds += ["word", "op", "call", "op"] if len(tokens) == 4 \
                    else ["word", "word", "op", "call", "op"]
                i += 3
                continue
        result.append(out[i])
        result_kinds.append(kinds[i])
        i += 1
    return result, result_kinds


_COMPARE = {"==", "!=", "<", "<=", ">", ">="}


def _rewrite_multi_tests(out: list[str], kinds: list[str], multi, current_multi: bool,
                         notes: list[str] | None) -> list[str]:
    """`${m} = 'a'` on a select_multiple m: 'a' and nothing else is selected (XPath compares
    the selection's space-separated value). Other comparisons of a whole selection: refused."""
    def is_multi(i: int) -> bool:
        return (kinds[i] == "ref" and out[i] in multi) or (kinds[i] == "dot" and current_multi)

    result, i = [], 0
    while i < len(out):
        window = out[i:i + 3]
        if len(window) == 3 and window[1] in ("==", "!="):
            pair = [(x, k, j) for x, k, j in ((window[0], kinds[i], i),
                                               (window[2], kinds[i + 2], i + 2))]
            subject = next((x for x, k, j in pair if is_multi(j)), None)
            literal = next((x for x, k, j in pair if k == "str"), None)
            before = result[-1] if result else None
            after = out[i + 3] if i + 3 < len(out) else None
            if subject and literal and before in _BOUNDARY and after in _BOUNDARY:
                value = literal[1:-1]
                if len(value.split()) != 1 or value != value.strip():
                    raise ValueError(f"{literal} compares the whole selection of the "
                                     f"select_multiple {subject!r}; use selected() for each "
                                     "choice and count-selected()")
                test = ["(", "selected", "(", subject, ",", literal, ")", "and",
                        "count_selected", "(", subject, ")", "==", "1", ")"]
                result += test if window[1] == "==" else ["not", *test]
                if notes is not None:
                    notes.append(f"{subject!r} is a select_multiple: '=' holds when {literal} "
                                 "alone is selected, and was translated so; write "
                                 f"selected(${{{subject}}}, {literal}) if any selection "
                                 "including it was meant")
                i += 3
                continue
        if is_multi(i) and ((i > 0 and out[i - 1] in _COMPARE)
                            or (i + 1 < len(out) and out[i + 1] in _COMPARE)):
            raise ValueError(f"{out[i]!r} is a select_multiple: only `= 'choice'` can be "
                             "translated; use selected() and count-selected()")
        result.append(out[i])
        i += 1
    return result


def _score(spec: Any, qtype: str) -> dict:
    """adal_score: 'yes:1, no:0' for answers; '<=15:1, <=30:0.5, else:0' or '18..26:1' for numbers."""
    parts = [p.strip() for p in str(spec).replace(";", ",").split(",") if p.strip()]
    if qtype in ("integer", "decimal", "duration_min"):
        bands = []
        for part in parts:
            cond, _, value = part.rpartition(":")
            cond, band = cond.strip(), {"min": None, "max": None, "score": float(value)}
            if cond.startswith("<="):
                band["max"] = float(cond[2:])
            elif cond.startswith(">="):
                band["min"] = float(cond[2:])
            elif ".." in cond:
                low, high = cond.split("..")
                band["min"], band["max"] = float(low), float(high)
            elif cond != "else":
                raise ValueError(f"unknown band {part!r}; use <=N:s, >=N:s, A..B:s or else:s")
            bands.append(band)
        return {"bands": bands}
    score = {}
    for part in parts:
        answer, colon, value = part.rpartition(":")
        answer = answer.strip()
        if not colon or not answer:
            raise ValueError(f"{part!r}: write answer:score, e.g. 'yes:1, no:0'")
        if answer in score:
            raise ValueError(f"{answer!r} is scored twice")
        score[answer] = float(value)
    return score


COSMETIC_COLUMNS = {"appearance", "guidance_hint", "media::image", "image"}


def _localized(values: dict, base: str, languages: list[str], default: str | None) -> dict | None:
    out = {}
    for column, value in values.items():
        name = column.split("::")[0]
        if name != base:
            continue
        lang = _language(column) if "::" in column else default
        if lang:
            out[lang] = str(value).strip()
    return {lang: out[lang] for lang in languages if lang in out} or None


def import_xlsform(path: str | Path) -> ImportResult:
    """Read an XLSForm workbook; the normalised definition and warnings, or FormInvalid."""
    path = Path(path)
    problems: list[Problem] = []
    warnings: list[str] = []
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a broken or foreign file
        raise FormInvalid(path.name, [Problem("", f"not a readable .xlsx workbook ({exc})")]) from exc
    sheets = {ws.title.lower(): _Sheet(ws, problems, warnings) for ws in book.worksheets}
    book.close()
    survey = sheets.get("survey")
    if survey is None:
        raise FormInvalid(path.name, [Problem("", "there is no 'survey' sheet")])
    settings_sheet = sheets.get("settings")
    settings = dict(settings_sheet.rows[0][1]) if settings_sheet and settings_sheet.rows else {}
    if settings_sheet:
        _check_settings(settings_sheet, warnings)

    default = settings.get("default_language")
    if default is not None and _language(f"x::{default}") is None:
        problems.append(Problem(settings_sheet.where(settings_sheet.rows[0][0], "default_language"),
                                f"default_language {default!r}: not one of "
                                f"{', '.join(LANGUAGES)}"))
    default = _language(f"x::{default}") if default else None
    languages = sorted({lang for sheet in sheets.values() for col in sheet.columns
                        if "::" in col and (lang := _language(col))}
                       | ({default} if default else set()), key=LANGUAGES.index)
    plain = _plain_columns(sheets, default, problems)
    if not languages:
        if not plain:
            problems.append(Problem("survey!1", "no label language found; name label columns "
                                                "like 'label::English (en)' or set "
                                                "settings.default_language"))
        languages = ["en"]
    for sheet in sheets.values():
        for col in sheet.columns:
            if "::" in col and _language(col) is None and col.split("::")[0] != "media":
                problems.append(Problem(f"{sheet.name}!{sheet.columns[col]}1",
                                        f"column {col!r}: language code not one of "
                                        f"{', '.join(LANGUAGES)}"))

    lists: dict[str, list[dict]] = {}
    choices = sheets.get("choices")
    if choices:
        _check_choice_columns(choices, warnings)
    for row, values in (choices.rows if choices else []):
        list_name, name = values.get("list_name"), values.get("name")
        if list_name is None or name is None:
            if row in choices.formula_rows:
                continue
            missing = "list_name" if list_name is None else "name"
            problems.append(Problem(choices.where(row, missing), f"no {missing} in this row"))
            continue
        lists.setdefault(str(list_name).strip(), []).append(
            {"id": str(name).strip(),
             "label": _localized(values, "label", languages, default)})

    for column, letter in survey.columns.items():
        base = column.split("::")[0]
        if base in KNOWN_COLUMNS:
            continue
        used = [row for row, values in survey.rows if column in values]
        if not used:
            continue
        if base in COSMETIC_COLUMNS:
            warnings.append(f"survey!{letter}{used[0]}: column {column!r} (display only) "
                            "was not imported")
        else:
            problems.append(Problem(f"survey!{letter}{used[0]}",
                                    f"column {column!r} has no Adal equivalent"))

    multi = {str(values.get("name", "")).strip() for _, values in survey.rows
             if str(values.get("type", "")).split()[:1] == ["select_multiple"]}
    sections: list[dict] = []
    rows: list[tuple[int, list[int]]] = []  # per section: its begin-group row, its questions' rows
    current: dict | None = None
    group_relevant: str | None = None  # the current group's relevance, translated
    open_groups: list[int] = []  # rows of the groups begun and not yet ended
    for row, values in survey.rows:
        raw_type = str(values.get("type", "")).strip()
        words = raw_type.replace("_", " ", 1).split() if raw_type.startswith(("begin_", "end_")) \
            else raw_type.split()
        name = str(values.get("name", "")).strip()
        where = survey.where(row, "type")
        if not words:
            if row not in survey.formula_rows:
                problems.append(Problem(where, "no type"))
            continue
        if words[0] == "begin" and words[1:2] == ["group"]:
            open_groups.append(row)
            if len(open_groups) > 1:
                problems.append(Problem(where, "groups inside groups are not supported; "
                                               "a group becomes one section"))
                continue
            current = {"id": name, "title": _localized(values, "label", languages, default),
                       "weight": _number(values.get("adal_weight", 1),
                                         survey.where(row, "adal_weight"), problems),
                       "questions": []}
            sections.append(current)
            rows.append((row, []))
            group_relevant = _group_row(values, row, survey, multi, problems, warnings)
            continue
        if words[0] == "end" and words[1:2] == ["group"]:
            if not open_groups:
                problems.append(Problem(where, "'end group' without a 'begin group' before it"))
                continue
            open_groups.pop()
            if not open_groups:
                current, group_relevant = None, None
            continue
        if words[0] in ("begin", "end") and words[1:2] == ["repeat"]:
            problems.append(Problem(where, "repeat groups are not supported"))
            continue
        if words[0] in META_TYPES:
            warnings.append(f"{where}: '{words[0]}' is recorded by Adal itself; row skipped")
            continue
        question = _question(words, name, values, row, survey, lists, languages, default,
                             problems, warnings, multi)
        if question is None:
            continue
        if group_relevant is not None:  # asked only where the group is shown, as in ODK
            own = question.get("relevant")
            question["relevant"] = f"({group_relevant}) and ({own})" if own else group_relevant
        if current is None:
            taken = {section["id"] for section in sections}
            sid = next(sid for n in range(1, len(sections) + 2)
                       if (sid := "main" if n == 1 else f"main_{n}") not in taken)
            current = {"id": sid, "title": {lang: "Questions" for lang in languages},
                       "weight": 1, "questions": []}
            sections.append(current)
            rows.append((row, []))
            warnings.append(f"{where}: questions outside a group were put in a section {sid!r}")
        current["questions"].append(question)
        rows[-1][1].append(row)
    for row in open_groups:
        problems.append(Problem(survey.where(row, "type"), "this group has no 'end group'"))
    key = str(settings.get("form_id") or path.stem).strip().lower().replace("_", "-")
    version = settings.get("version", 1)
    try:
        version = int(str(version).strip())
    except ValueError:
        problems.append(Problem(sheets["settings"].where(sheets["settings"].rows[0][0],
                                                         "version"),
                                f"{version!r} is not a whole number"))
        version = 1
    title = _localized(settings, "form_title", languages, default)
    if title is None and settings.get("form_title"):
        title = {lang: str(settings["form_title"]) for lang in languages}
        warnings.append("settings: one form_title for every language; translate it in the YAML")
    raw = {"key": key, "version": version, "languages": languages,
           "title": title or {lang: key for lang in languages}, "sections": sections}
    if problems:
        raise FormInvalid(path.name, problems)
    try:
        return ImportResult(check_definition(raw, path.name), warnings)
    except FormInvalid as exc:
        raise FormInvalid(path.name, _located(exc.problems, sections, rows, survey)) from exc


def _number(value: Any, where: str, problems: list[Problem]) -> float | int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        problems.append(Problem(where, f"{value!r} is not a number"))
        return 1
    return int(number) if number.is_integer() else number


def _question(words, name, values, row, survey, lists, languages, default, problems,
              warnings, multi):
    qtype = words[0]
    where = survey.where(row, "type")
    q: dict[str, Any] = {"id": name,
                         "label": _localized(values, "label", languages, default)}
    if qtype in ("select_one", "select_multiple"):
        if len(words) != 2 or words[1] not in lists:
            problems.append(Problem(where, f"choice list {' '.join(words[1:])!r} is not on the "
                                           "'choices' sheet"))
            return None
        options = lists[words[1]]
        if (qtype == "select_one" and sorted(o["id"] for o in options) == ["no", "yes"]
                and all(_app_words(o, languages) for o in options)):
            q["type"] = "yes_no"
        else:
            q["type"] = "single_choice" if qtype == "select_one" else "multi_choice"
            q["choices"] = options
    elif qtype in SIMPLE_TYPES:
        q["type"] = SIMPLE_TYPES[qtype]
        if len(words) > 1:
            problems.append(Problem(where, f"unexpected {' '.join(words[1:])!r} after the type"))
    else:
        problems.append(Problem(where, f"type {qtype!r} has no Adal equivalent"))
        return None
    hint = _localized(values, "hint", languages, default)
    if hint:
        q["hint"] = hint
    if "required" in values:
        q["required"] = str(values["required"]).strip().lower() in TRUE
    for column in values:
        if column.split("::")[0] == "required_message":
            warnings.append(f"{survey.where(row, column)}: column {column!r} was not imported: "
                            "the app shows its own message for an unanswered required question")
        elif column.split("::")[0] == "constraint_message" and "constraint" not in values:
            warnings.append(f"{survey.where(row, column)}: column {column!r} was not imported: "
                            "this row has no constraint")
    for column in ("relevant", "constraint", "adal_critical"):
        if column not in values:
            continue
        text = str(values[column]).strip()
        if column == "adal_critical" and text.lower() in TRUE:
            q["critical"] = True
            continue
        notes: list[str] = []
        try:
            translated = translate_expression(text, multi, qtype == "select_multiple", notes)
        except (ValueError, ExpressionError) as exc:
            problems.append(Problem(survey.where(row, column), f"cannot translate {text!r}: {exc}"))
            continue
        warnings += [f"{survey.where(row, column)}: {note}" for note in notes]
        if column == "constraint":
            message = _localized(values, "constraint_message", languages, default)
            q["constraint"] = {"expr": translated,
                               "message": message or {lang: "Invalid answer" for lang in languages}}
        elif column == "relevant":
            q["relevant"] = translated
        else:
            q["critical"] = translated
    if "adal_weight" in values:
        q["weight"] = _number(values["adal_weight"], survey.where(row, "adal_weight"), problems)
    if "adal_unit" in values:
        q["unit"] = str(values["adal_unit"]).strip()
    if "adal_score" in values:
        try:
            q["score"] = _score(values["adal_score"], q["type"])
        except ValueError as exc:
            problems.append(Problem(survey.where(row, "adal_score"), str(exc)))
    return q


def _app_words(option: dict, languages: list[str]) -> bool:
    """Whether a yes/no choice's labels are the app's own words for it (or absent): then a
    yes_no question loses nothing of them."""
    label = option.get("label") or {}
    words = APP_YES_NO[option["id"]]
    return all(label[lang].strip().casefold() == words[lang].casefold()
               for lang in languages if lang in label)


def _group_row(values: dict, row: int, survey: _Sheet, multi, problems: list[Problem],
               warnings: list[str]) -> str | None:
    """A `begin group` row: its relevance, translated (ANDed into each of its questions'
    relevance by the caller); what else it carries is reported, never dropped."""
    for column in values:
        base = column.split("::")[0]
        if base in GROUP_COLUMNS or base not in KNOWN_COLUMNS:  # unknown: reported per column
            continue
        where = survey.where(row, column)
        if base in ("hint", "required_message"):
            warnings.append(f"{where}: column {column!r} on a group row was not imported: "
                            f"a section has no {base}")
        else:
            problems.append(Problem(where, f"column {column!r} on a group row has no Adal "
                                           "equivalent; put it on the group's questions"))
    if "relevant" not in values:
        return None
    text = str(values["relevant"]).strip()
    notes: list[str] = []
    try:
        translated = translate_expression(text, multi, False, notes)
    except (ValueError, ExpressionError) as exc:
        problems.append(Problem(survey.where(row, "relevant"), f"cannot translate {text!r}: {exc}"))
        return None
    warnings += [f"{survey.where(row, 'relevant')}: {note}" for note in notes]
    return translated


def _plain_columns(sheets: dict[str, _Sheet], default: str | None,
                   problems: list[Problem]) -> bool:
    """A `label` (`hint`, ...) column without a language: the default language's text. Without
    a default_language it would be lost; with one, `label` and `label::<default>` would clash.
    Each case is a problem at the header cell; True if a column without a language is used."""
    used = False
    for sheet in sheets.values():
        for column, letter in sheet.columns.items():
            if (column not in LOCALIZED_COLUMNS or column == "required_message"  # not imported
                    or not any(column in v for _, v in sheet.rows)):
                continue
            used = True
            where = f"{sheet.name}!{letter}1"
            if default is None:
                problems.append(Problem(where, f"column {column!r} has no language: name it "
                                               f"like '{column}::English (en)', or set "
                                               "default_language on the settings sheet"))
                continue
            twin = next((c for c in sheet.columns if c.split("::")[0] == column and "::" in c
                         and _language(c) == default), None)
            if twin:
                problems.append(Problem(where, f"columns {column!r} and {twin!r} both give the "
                                               f"{default} text; keep one"))
    return used


def _check_choice_columns(choices: _Sheet, warnings: list[str]) -> None:
    """Columns of the choices sheet Adal has no use for, reported cell by cell."""
    for row, values in choices.rows:
        for column in values:
            base = column.split("::")[0]
            if base in CHOICE_COLUMNS:
                continue
            reason = ("display only" if base in CHOICE_DISPLAY_COLUMNS else
                      "Adal has no choice_filter" if base == "filter" else
                      "no Adal equivalent")
            warnings.append(f"{choices.where(row, column)}: column {column!r} ({reason}) was "
                            "not imported")


def _check_settings(settings: _Sheet, warnings: list[str]) -> None:
    """Settings Adal does not use, and settings rows after the first, reported cell by cell."""
    for index, (row, values) in enumerate(settings.rows):
        for column in values:
            where = settings.where(row, column)
            if index:
                warnings.append(f"{where}: only the first row of settings is read; "
                                "this value was not imported")
            elif column.split("::")[0] not in SETTINGS_COLUMNS:
                reason = SETTINGS_REASONS.get(column, "no Adal equivalent")
                warnings.append(f"{where}: setting {column!r} was not imported ({reason})")


_FIELD_COLUMNS = {"id": "name", "type": "type", "required": "required", "relevant": "relevant",
                  "constraint": "constraint", "critical": "adal_critical", "score": "adal_score",
                  "weight": "adal_weight", "unit": "adal_unit", "title": "label"}


def _located(problems: list[Problem], sections: list[dict], rows: list[tuple[int, list[int]]],
             survey: _Sheet) -> list[Problem]:
    """Point form-level problems (sections[0].questions[2].label.kk) at the survey's cell."""
    out = []
    for problem in problems:
        match = re.match(r"sections\[(\d+)\](?:\.questions\[(\d+)\])?(.*)", problem.path)
        if not match:
            out.append(problem)
            continue
        s = int(match.group(1))
        rest = match.group(3)
        if match.group(2) is None:
            row, name = rows[s][0], sections[s].get("id")
        else:
            q = int(match.group(2))
            row, name = rows[s][1][q], sections[s]["questions"][q].get("id")
        out.append(Problem(f"{survey.where(row, _column(rest, survey))} ({name}{rest})",
                           problem.reason))
    return out


def _column(rest: str, survey: _Sheet) -> str:
    """The survey column a problem's path (`.label.kk`, `.constraint.message.ru`) is about."""
    parts = rest.lstrip(".").split(".")
    field = re.sub(r"\[\d+\]$", "", parts[0])
    if field in ("label", "hint", "title") or parts[:2] == ["constraint", "message"]:
        base = "constraint_message" if field == "constraint" else (
            "label" if field == "title" else field)
        lang = parts[-1]
        for column in survey.columns:
            if column.split("::")[0] == base and (_language(column) == lang):
                return column
    column = _FIELD_COLUMNS.get(field, "type")
    return column if column in survey.columns else "type"
