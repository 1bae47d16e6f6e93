"""Import an XLSForm (the spreadsheet standard of ODK and KoboToolbox) into an Adal form.

What pyxform (the reference XLSForm converter) accepts is accepted for the features Adal has;
what cannot be translated is reported with its sheet, row and column, never silently dropped.
Reading the workbook (bounded in time and memory, headers in one spelling) is xlsform_read.py;
question types and their aliases are xlsform_types.py; expressions and scores xlsform_expr.py.
The result is a normalised definition, ready to be written as YAML and reviewed before
publishing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import LANGUAGES
from .definition import FormInvalid, Problem, check_definition
from .expressions import ExpressionError
from .xlsform_expr import translate_expression, translate_score
from .xlsform_read import TEXT_COLUMNS, Sheet, language_of, read_sheets
from .xlsform_types import RANGE_MESSAGE, ParsedType, parse_type

__all__ = ["APP_YES_NO", "ImportResult", "import_xlsform", "translate_expression"]

KNOWN_COLUMNS = {"type", "name", "label", "hint", "required", "relevant", "constraint",
                 "constraint_message", "adal_weight", "adal_score", "adal_critical", "adal_unit",
                 "required_message"}
TRUE = {"yes", "true", "true()", "1"}
# The columns a `begin group` row may carry: a section has an id, a title, a weight, and the
# group's relevance is ANDed into each of its questions'.
GROUP_COLUMNS = {"type", "name", "label", "adal_weight", "relevant"}
CHOICE_COLUMNS = {"list_name", "name", "label"}
CHOICE_DISPLAY_COLUMNS = {"media", "image", "big-image", "audio", "video"}
COSMETIC_COLUMNS = {"appearance", "guidance_hint", "media", "image", "big-image", "audio",
                    "video", "autoplay", "rows"}
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
# `select_one L or_other`: pyxform adds a choice `other` ("Other") and a text question
# `<name>_other` ("Specify other.") asked when it is selected; the same here, in four languages.
OTHER_LABEL = {"en": "Other", "ru": "Другое", "kk": "Басқа", "uz": "Boshqa"}
SPECIFY_OTHER = {"en": "Specify other.", "ru": "Укажите другое.", "kk": "Басқасын көрсетіңіз.",
                 "uz": "Boshqasini koʻrsating."}


@dataclass
class ImportResult:
    definition: dict
    warnings: list[str] = field(default_factory=list)


def _localized(values: dict, base: str, languages: list[str], default: str | None) -> dict | None:
    """{lang: text} of a text column (`label::kk` ...; `label` is the default language's)."""
    out = {}
    for column, value in values.items():
        name, _, lang = column.partition("::")
        if name != base:
            continue
        lang = lang or default
        if lang:
            out[lang] = str(value).strip()
    return {lang: out[lang] for lang in languages if lang in out} or None


def import_xlsform(path: str | Path) -> ImportResult:
    """Read an XLSForm workbook; the normalised definition and warnings, or FormInvalid."""
    path = Path(path)
    problems: list[Problem] = []
    warnings: list[str] = []
    sheets = read_sheets(path, problems, warnings)
    survey = sheets.get("survey")
    if survey is None:
        raise FormInvalid(path.name, [*problems, Problem("", "there is no 'survey' sheet")])
    settings_sheet = sheets.get("settings")
    settings = dict(settings_sheet.rows[0][1]) if settings_sheet and settings_sheet.rows else {}
    if settings_sheet:
        _check_settings(settings_sheet, warnings)
    default, languages = _languages(sheets, settings, problems, warnings)

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
        header = survey.header(column)
        if base in COSMETIC_COLUMNS:
            warnings.append(f"{survey.name}!{letter}{used[0]}: column {header!r} (display "
                            "only) was not imported")
        else:
            problems.append(Problem(f"{survey.name}!{letter}{used[0]}",
                                    f"column {header!r} has no Adal equivalent"))

    types = {row: parse_type(values["type"]) for row, values in survey.rows if "type" in values}
    multi = {str(values.get("name", "")).strip() for row, values in survey.rows
             if row in types and types[row].kind == "select" and types[row].multiple}
    sections: list[dict] = []
    rows: list[tuple[int, list[int]]] = []  # per section: its begin-group row, its questions' rows
    current: dict | None = None
    group_relevant: str | None = None  # the current group's relevance, translated
    open_groups: list[int] = []  # rows of the groups begun and not yet ended
    for row, values in survey.rows:
        name = str(values.get("name", "")).strip()
        where = survey.where(row, "type")
        parsed = types.get(row)
        if parsed is None:
            if row not in survey.formula_rows:
                problems.append(Problem(where, "no type"))
            continue
        if parsed.kind == "begin" and parsed.name == "group":
            open_groups.append(row)
            if len(open_groups) > 1:
                problems.append(Problem(where, "groups inside groups are not supported; "
                                               "a group becomes one section"))
                continue
            title = _localized(values, "label", languages, default)
            if title is None and name and not any(c.startswith("label") for c in values):
                title = {lang: name for lang in languages}  # pyxform allows a group unlabelled
                warnings.append(f"{where}: group {name!r} has no label; its name is the "
                                "section's title: write one in the YAML")
            current = {"id": name, "title": title,
                       "weight": _number(values.get("adal_weight", 1),
                                         survey.where(row, "adal_weight"), problems),
                       "questions": []}
            sections.append(current)
            rows.append((row, []))
            group_relevant = _group_row(values, row, survey, multi, problems, warnings)
            continue
        if parsed.kind == "end" and parsed.name == "group":
            if not open_groups:
                problems.append(Problem(where, "'end group' without a 'begin group' before it"))
                continue
            open_groups.pop()
            if not open_groups:
                current, group_relevant = None, None
            continue
        if parsed.kind in ("begin", "end"):
            problems.append(Problem(where, "repeat groups are not supported"))
            continue
        if parsed.kind == "meta":
            warnings.append(f"{where}: type {parsed.name!r} was not imported: {parsed.reason}")
            continue
        questions = _question(parsed, name, values, row, survey, lists, languages, default,
                              problems, warnings, multi)
        if not questions:
            continue
        if current is None:
            taken = {section["id"] for section in sections}
            sid = next(sid for n in range(1, len(sections) + 2)
                       if (sid := "main" if n == 1 else f"main_{n}") not in taken)
            current = {"id": sid, "title": {lang: "Questions" for lang in languages},
                       "weight": 1, "questions": []}
            sections.append(current)
            rows.append((row, []))
            warnings.append(f"{where}: questions outside a group were put in a section {sid!r}")
        for question in questions:
            if group_relevant is not None:  # asked only where the group is shown, as in ODK
                own = question.get("relevant")
                question["relevant"] = (f"({group_relevant}) and ({own})" if own
                                        else group_relevant)
            current["questions"].append(question)
            rows[-1][1].append(row)
    for row in open_groups:
        problems.append(Problem(survey.where(row, "type"), "this group has no 'end group'"))
    key = str(settings.get("form_id") or path.stem).strip().lower().replace("_", "-")
    version = settings.get("version", 1)
    try:
        version = int(str(version).strip())
    except ValueError:
        problems.append(Problem(settings_sheet.where(settings_sheet.rows[0][0], "version"),
                                f"{version!r} is not a whole number"))
        version = 1
    title = _title(settings, settings_sheet, languages, default, warnings)
    raw = {"key": key, "version": version, "languages": languages,
           "title": title or {lang: key for lang in languages}, "sections": sections}
    if problems:
        raise FormInvalid(path.name, problems)
    try:
        return ImportResult(check_definition(raw, path.name), warnings)
    except FormInvalid as exc:
        raise FormInvalid(path.name, _located(exc.problems, sections, rows, survey,
                                              default)) from exc


def _languages(sheets: dict[str, Sheet], settings: dict, problems: list[Problem],
               warnings: list[str]) -> tuple[str | None, list[str]]:
    """The default language (of `label`, `hint`, ... without a language: settings'
    default_language, else English, as pyxform writes them) and the form's languages: those
    of kk, ru, en, uz with a label, hint or message in the survey or choices sheets."""
    raw = settings.get("default_language")
    default = "en" if raw is None else language_of(raw)
    settings_sheet = sheets.get("settings")
    if default is None:
        warnings.append(f"{settings_sheet.where(settings_sheet.rows[0][0], 'default_language')}: "
                        f"default_language {str(raw)!r} is not one of {', '.join(LANGUAGES)}: "
                        "the texts of columns without a language were left out")
    used: set[str] = set()
    for sheet in (sheets.get("survey"), sheets.get("choices")):
        for column, letter in (sheet.columns.items() if sheet else ()):
            base, _, lang = column.partition("::")
            if (base not in TEXT_COLUMNS or base == "required_message"  # not imported
                    or not any(column in values for _, values in sheet.rows)):
                continue
            if lang:
                used.add(lang)
                continue
            twin = f"{base}::{default}"
            if default and any(twin in values for _, values in sheet.rows):
                problems.append(Problem(f"{sheet.name}!{letter}1", f"columns {column!r} and "
                                        f"{sheet.header(twin)!r} both give the {default} text "
                                        "(a column without a language is the default_language, "
                                        "else English); keep one"))
            elif default:
                used.add(default)
    languages = sorted(used, key=LANGUAGES.index)
    if not languages:
        problems.append(Problem("survey!1", "no label in kk, ru, en or uz: name label columns "
                                            "like 'label::English (en)' or 'label::Русский (ru)', "
                                            "or set default_language on the settings sheet"))
        languages = [default or "en"]
    return default, languages


def _title(settings: dict, sheet: Sheet | None, languages: list[str], default: str | None,
           warnings: list[str]) -> dict | None:
    """The form's title in each language; a language it lacks gets one it has, with a note."""
    title = _localized(settings, "form_title", languages, default) or {}
    given = [(c, str(v).strip()) for c, v in settings.items()
             if c.partition("::")[0] == "form_title"]
    missing = [lang for lang in languages if lang not in title]
    if not given or not missing:
        return title or None
    text = next(iter(title.values()), given[0][1])
    warnings.append(f"{sheet.where(sheet.rows[0][0], given[0][0])}: form_title has no "
                    f"{', '.join(missing)} text; {text!r} is used there: translate it in the YAML")
    return {lang: title.get(lang, text) for lang in languages}


def _number(value: Any, where: str, problems: list[Problem]) -> float | int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        problems.append(Problem(where, f"{value!r} is not a number"))
        return 1
    return int(number) if number.is_integer() else number


def _question(parsed: ParsedType, name, values, row, survey, lists, languages, default,
              problems, warnings, multi) -> list[dict]:
    """The question of a survey row (two for `or_other`), or none with the problem reported."""
    where = survey.where(row, "type")
    written = " ".join(str(values["type"]).split())
    q: dict[str, Any] = {"id": name,
                         "label": _localized(values, "label", languages, default)}
    extra: dict | None = None
    if parsed.kind == "select":
        if parsed.list_name not in lists:
            problems.append(Problem(where, f"choice list {parsed.list_name!r} is not on the "
                                           "'choices' sheet"))
            return []
        options = [dict(option) for option in lists[parsed.list_name]]
        if parsed.other:
            if all(option["id"] != "other" for option in options):
                options.append({"id": "other",
                                "label": {lang: OTHER_LABEL[lang] for lang in languages}})
            extra = {"id": f"{name}_other", "type": "text",
                     "label": {lang: SPECIFY_OTHER[lang] for lang in languages},
                     "relevant": f"selected({name}, 'other')"}
            warnings.append(f"{where}: {written!r}: the choice 'other' and a text question "
                            f"{name + '_other'!r} asked when it is selected were added, as "
                            "pyxform does; review their labels")
        if (not parsed.multiple and sorted(o["id"] for o in options) == ["no", "yes"]
                and all(_app_words(o, languages) for o in options)):
            q["type"] = "yes_no"
        else:
            q["type"] = "multi_choice" if parsed.multiple else "single_choice"
            q["choices"] = options
    elif parsed.kind in ("simple", "text", "ranged"):
        q["type"] = parsed.name
        if parsed.kind == "text":
            warnings.append(f"{where}: type {written!r} became a text question: "
                            f"{parsed.reason}")
        elif parsed.kind == "ranged":
            limit = int(parsed.reason)
            if "constraint" in values:
                warnings.append(f"{where}: type {written!r} became an integer question; its own "
                                f"constraint replaces pyxform's check 0 to {limit}, as in ODK")
            else:
                q["constraint"] = {"expr": f". >= 0 and . <= {limit}",
                                   "message": {lang: RANGE_MESSAGE[lang].format(n=limit)
                                               for lang in languages}}
                warnings.append(f"{where}: type {written!r} became an integer question from 0 "
                                f"to {limit}, as pyxform checks it")
    else:
        reason = f": {parsed.reason}" if parsed.kind == "refused" else ""
        problems.append(Problem(where, f"type {parsed.name!r} has no Adal equivalent{reason}"))
        return []
    hint = _localized(values, "hint", languages, default)
    if hint:
        q["hint"] = hint
    if "required" in values:
        q["required"] = str(values["required"]).strip().lower() in TRUE
    for column in values:
        header = survey.header(column)
        if column.split("::")[0] == "required_message":
            warnings.append(f"{survey.where(row, column)}: column {header!r} was not imported: "
                            "the app shows its own message for an unanswered required question")
        elif column.split("::")[0] == "constraint_message" and "constraint" not in values:
            warnings.append(f"{survey.where(row, column)}: column {header!r} was not imported: "
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
            translated = translate_expression(
                text, multi, parsed.kind == "select" and parsed.multiple, notes)
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
            q["score"] = translate_score(values["adal_score"], q["type"])
        except ValueError as exc:
            problems.append(Problem(survey.where(row, "adal_score"), str(exc)))
    if extra is None:
        return [q]
    if q.get("relevant"):
        extra["relevant"] = f"({q['relevant']}) and {extra['relevant']}"
    return [q, extra]
def _app_words(option: dict, languages: list[str]) -> bool:
    """Whether a yes/no choice's labels are the app's own words for it (or absent): then a
    yes_no question loses nothing of them."""
    label = option.get("label") or {}
    words = APP_YES_NO[option["id"]]
    return all(label[lang].strip().casefold() == words[lang].casefold()
               for lang in languages if lang in label)


def _group_row(values: dict, row: int, survey: Sheet, multi, problems: list[Problem],
               warnings: list[str]) -> str | None:
    """A `begin group` row: its relevance, translated (ANDed into each of its questions'
    relevance by the caller); what else it carries is reported, never dropped."""
    for column in values:
        base = column.split("::")[0]
        if base in GROUP_COLUMNS or base not in KNOWN_COLUMNS:  # unknown: reported per column
            continue
        where = survey.where(row, column)
        if base in ("hint", "required_message"):
            warnings.append(f"{where}: column {survey.header(column)!r} on a group row was not "
                            f"imported: a section has no {base}")
        else:
            problems.append(Problem(where, f"column {survey.header(column)!r} on a group row has "
                                           "no Adal equivalent; put it on the group's questions"))
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


def _check_choice_columns(choices: Sheet, warnings: list[str]) -> None:
    """Columns of the choices sheet Adal has no use for, reported cell by cell."""
    for row, values in choices.rows:
        for column in values:
            base = column.split("::")[0]
            if base in CHOICE_COLUMNS:
                continue
            reason = ("display only" if base in CHOICE_DISPLAY_COLUMNS else
                      "Adal has no choice_filter" if base == "filter" else
                      "no Adal equivalent")
            warnings.append(f"{choices.where(row, column)}: column "
                            f"{choices.header(column)!r} ({reason}) was not imported")


def _check_settings(settings: Sheet, warnings: list[str]) -> None:
    """Settings Adal does not use, and settings rows after the first, reported cell by cell."""
    for index, (row, values) in enumerate(settings.rows):
        for column in values:
            where = settings.where(row, column)
            if index:
                warnings.append(f"{where}: only the first row of settings is read; "
                                "this value was not imported")
            elif column.split("::")[0] not in SETTINGS_COLUMNS:
                reason = SETTINGS_REASONS.get(column, "no Adal equivalent")
                warnings.append(f"{where}: setting {settings.header(column)!r} was not "
                                f"imported ({reason})")


_FIELD_COLUMNS = {"id": "name", "type": "type", "required": "required", "relevant": "relevant",
                  "constraint": "constraint", "critical": "adal_critical", "score": "adal_score",
                  "weight": "adal_weight", "unit": "adal_unit", "title": "label"}


def _located(problems: list[Problem], sections: list[dict], rows: list[tuple[int, list[int]]],
             survey: Sheet, default: str | None) -> list[Problem]:
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
        out.append(Problem(f"{survey.where(row, _column(rest, survey, default))} ({name}{rest})",
                           problem.reason))
    return out


def _column(rest: str, survey: Sheet, default: str | None) -> str:
    """The survey column a problem's path (`.label.kk`, `.constraint.message.ru`) is about."""
    parts = rest.lstrip(".").split(".")
    field = re.sub(r"\[\d+\]$", "", parts[0])
    if field in ("label", "hint", "title") or parts[:2] == ["constraint", "message"]:
        base = "constraint_message" if field == "constraint" else (
            "label" if field == "title" else field)
        lang = parts[-1]
        for column in survey.columns:
            name, _, written = column.partition("::")
            if name == base and (written or default) == lang:
                return column
    column = _FIELD_COLUMNS.get(field, "type")
    return column if column in survey.columns else "type"
