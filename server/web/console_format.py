"""How the console writes stored values: answers by their labels, flags with their question and
units, distances in m or km, positions, audit details; and the widget a correction of each
question type is typed with. Nothing here decides anything: it only reads and formats.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from ..i18n import MESSAGES, page_language
from ..i18n.formatting import format_number
from .console_access import t

# Flag detail keys whose values are metres or minutes.
METRES = ("distance_m", "accuracy_m", "threshold_m")
MINUTES = ("minutes", "minimum")
# Flag detail keys that only say which question and file a flag is about: shown in its heading.
WHICH = ("question", "media")


def label(prefix: str, code) -> str:
    """The page-language name of a stored code (a role, a status, an action), else the code."""
    key = f"{prefix}{getattr(code, 'value', code)}"
    return t(key) if key in MESSAGES else str(getattr(code, "value", code))


def fmt_value(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return t("c_yes") if value else t("c_no")
    if isinstance(value, list):
        return ", ".join(fmt_value(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {fmt_value(v)}" for k, v in value.items())
    if isinstance(value, (int, float)):
        return format_number(value, page_language())
    return str(value)


def distance(metres) -> str:
    """A distance as people write it: whole metres below 1 km ("850 m"), km from 1 km, with
    one decimal below 10 km ("1,2 km") and whole km above ("4 444 km"), in the page language."""
    if metres is None:
        return "—"
    lang = page_language()
    metres = float(metres)
    if abs(round(metres)) < 1000:
        return f"{format_number(round(metres), lang, 0)} {t('c_metres')}"
    km = metres / 1000
    digits = 1 if abs(km) < 10 else 0
    return f"{format_number(km, lang, digits)} {t('cf_km')}"


def coordinate(value) -> str:
    """A latitude or longitude to 5 decimals (about a metre), without float noise."""
    return f"{float(value):.5f}"


def positions(visit: dict, office) -> list[tuple[str, str]]:
    """The visit's start and end positions and the office's, as (name, text); a position not
    recorded is said so."""
    out = []
    for name, key in (("c_start", "position_start"), ("c_end", "position_end")):
        p = visit.get(key)
        if p:
            text = f"{coordinate(p['lat'])}, {coordinate(p['lon'])}"
            if p.get("accuracy") is not None:
                text += f" (±{distance(p['accuracy'])})"
        else:
            text = t("cf_no_position")
        out.append((t(name), text))
    if office.lat is not None and office.lon is not None:
        out.append((t("col_office"), f"{coordinate(office.lat)}, {coordinate(office.lon)}"))
    else:
        out.append((t("col_office"), t("cf_no_position")))
    return out


def unit_label(unit: str | None) -> str | None:
    """A form's unit in the page language where it is a word ("cm" is "см" in ru and kk);
    symbols such as % and °C stay."""
    if not unit:
        return unit
    key = f"cf_unit_{unit}"
    return t(key) if key in MESSAGES else unit


def _choice_label(question: dict | None, value) -> str:
    """A choice id as its label in the page's (localized) form; yes/no in the page language."""
    if question and question.get("type") == "yes_no" and value in ("yes", "no"):
        return t("c_yes") if value == "yes" else t("c_no")
    for choice in (question or {}).get("choices") or []:
        if choice.get("id") == value:
            return choice.get("label") or str(value)
    return fmt_value(value)


def fmt_answer(value, question: dict | None = None) -> str:
    """An answer as the supervisor reads it: the choices' labels, not their ids; numbers with
    the question's unit."""
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(_choice_label(question, v) for v in value)
    if question and question.get("type") in ("yes_no", "single_choice"):
        return _choice_label(question, value)
    text = fmt_value(value)
    if question and isinstance(value, (int, float)) and not isinstance(value, bool):
        unit = unit_label(question.get("unit")) or (
            t("c_minutes") if question.get("type") == "duration_min" else None)
        if unit:
            text = f"{text} {unit}"
    return text


def question_name(qid, questions: dict) -> str:
    q = questions.get(qid)
    return f"{qid} · {q['label']}" if q and q.get("label") else str(qid)


def when(value) -> str:
    """An ISO time as 'YYYY-MM-DD HH:MM' in UTC, as the rest of the page shows times."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M") + (" UTC" if moment.tzinfo else "")


def _rule(rule: str, question: dict | None) -> str:
    if rule == "required":
        return t("c_rule_required")
    if rule.startswith("required_when:"):
        return t("c_rule_when", value=fmt_answer(rule.split(":", 1)[1], question))
    return rule


def _detail(flag) -> dict:
    return (flag.get("detail") if isinstance(flag, dict) else flag.detail) or {}


def _field(flag, name: str):
    return flag.get(name) if isinstance(flag, dict) else getattr(flag, name)


def flag_details(flag, questions: dict, skip: tuple = ()) -> list[tuple[str, str]]:
    """A flag's detail as (label, value) pairs in the page language, units and names included;
    keys in `skip` are left out (the heading names them)."""
    out = []
    detail = _detail(flag)
    for key, value in detail.items():
        if key in skip:
            continue
        name = t(f"fd_{key}") if f"fd_{key}" in MESSAGES else key
        if value is None:
            text = "—"
        elif key in METRES:
            text = distance(value)
        elif key in MINUTES:
            text = f"{fmt_value(value)} {t('c_minutes')}"
        elif key == "position":
            text = label("c_", value)
        elif key == "kind":
            text = label("app_kind_", value)
        elif key == "question":
            text = question_name(value, questions)
        elif key == "questions":
            text = ", ".join(question_name(q, questions) for q in value)
        elif key == "rule":
            text = _rule(str(value), questions.get(detail.get("question")))
        elif key in ("started_at", "window_start", "window_end", "captured_at"):
            text = when(value)
        elif key == "other_visits" and isinstance(value, list):
            text = ", ".join(str(v)[:8] for v in value)
        else:
            text = fmt_value(value)
        out.append((name, text))
    return out


def flag_groups(flags, questions: dict) -> list[dict]:
    """The visit page's flags: one entry per kind and question, in the order they came, the
    question named in the heading; the same flag twice (two files of one question, say) is
    shown once with each file's details under it, and an exact repeat only once."""
    groups: dict[tuple, dict] = {}
    for flag in flags:
        detail = _detail(flag)
        kind, qid = _field(flag, "kind"), detail.get("question")
        group = groups.setdefault((kind, qid), {
            "kind": kind, "severity": _field(flag, "severity"),
            "question": question_name(qid, questions) if qid else None,
            "question_id": qid, "items": []})
        details = flag_details(flag, questions, skip=("question",))
        if details not in group["items"]:
            group["items"].append(details)
    return list(groups.values())


def queue_flags(flags, questions: dict) -> list[dict]:
    """A queue row's flags: each kind once, with the questions it is about (id and label)."""
    kinds: dict[str, dict] = {}
    for flag in flags:
        entry = kinds.setdefault(flag.kind, {"kind": flag.kind, "severity": flag.severity,
                                             "questions": []})
        detail = flag.detail or {}
        for qid in ([detail["question"]] if detail.get("question") else
                    list(detail.get("questions") or [])):
            name = question_name(qid, questions)
            if name not in entry["questions"]:
                entry["questions"].append(name)
    return list(kinds.values())


HISTORY_KEYS = {"decision": "c_decision", "comment": "c_comment", "reason": "c_reason",
                "question": "c_question", "score": "c_score", "score_before": "c_score_before",
                "score_after": "c_score_after", "status": "col_status"}
DECISION_STATUS = {"approve": "approved", "reject": "rejected", "return": "returned"}


def history_details(detail: dict, questions: dict) -> list[tuple[str, str]]:
    """An audit event's payload as (label, value) pairs for the visit's history."""
    out = []
    for key, name in HISTORY_KEYS.items():
        value = detail.get(key)
        if value is None or value == "":
            continue
        if key == "decision":
            text = label("vstatus_", DECISION_STATUS.get(value, value))
        elif key == "status":
            text = label("vstatus_", value)
        elif key == "question":
            text = question_name(value, questions)
        elif key.startswith("score") and isinstance(value, (int, float)):
            text = format_number(value, page_language(), 1)
        else:
            text = fmt_value(value)
        out.append((t(name), text))
    return out


def revisions(visit, view: dict, questions: dict) -> list[dict]:
    """Each revision the inspector sent with its answers as they were, the current one last.

    Uses the visit response's `revisions` when the visits service provides them; otherwise the
    stored bodies (visit_submissions). Answers that differ from the current ones are marked."""
    current = {a["question_id"]: (a["not_applicable"], a["value"]) for a in view["answers"]}
    rows = view.get("revisions")
    if rows is None:
        rows = [{"revision": s.revision, "received_at": s.received_at, "score": s.score,
                 "answers": (s.body or {}).get("answers") or []} for s in visit.submissions]
    out = []
    for row in sorted(rows, key=lambda r: r["revision"]):
        answers = []
        given = row.get("answers") or []
        if isinstance(given, dict):  # {question id: answer} is read the same way
            given = [{"question": k, **(v if isinstance(v, dict) else {"value": v})}
                     for k, v in given.items()]
        for item in given:
            if not isinstance(item, dict):
                continue
            qid = str(item.get("question") or item.get("question_id") or "")
            na = bool(item.get("not_applicable"))
            value = item.get("value")
            answers.append({"question": qid, "label": question_name(qid, questions),
                            "text": t("c_na") if na else fmt_answer(value, questions.get(qid)),
                            "changed": current.get(qid) != (na, value)})
        received = row.get("received_at")
        if isinstance(received, str):
            try:
                received = datetime.fromisoformat(received)
            except ValueError:
                received = None
        out.append({"revision": row["revision"], "received_at": received,
                    "score": row.get("score"), "answers": answers,
                    "current": row["revision"] == visit.revision})
    return out


# The correction widgets: what each question type is typed with.
NUMBER = r"(-?\d+(?:\.\d+)?)"
_MIN = re.compile(r"\.\s*>=\s*" + NUMBER)
_MAX = re.compile(r"\.\s*<=\s*" + NUMBER)
_MIN_BACK = re.compile(NUMBER + r"\s*<=\s*\.")
_MAX_BACK = re.compile(NUMBER + r"\s*>=\s*\.")
CORRECTABLE = ("yes_no", "single_choice", "multi_choice", "integer", "decimal", "duration_min",
               "time", "text")


def _bound(pattern, back, expr: str):
    found = pattern.search(expr) or back.search(expr)
    if not found:
        return None
    number = float(found.group(1))
    return int(number) if number.is_integer() else number


def widget(question: dict) -> dict | None:
    """How a correction of `question` is typed: the input kind, its choices (id, label), the
    number's unit, step and bounds (from a simple `constraint` such as ". >= 0 and . <= 100";
    the server still checks the whole constraint), the constraint's message as a hint; None for
    types that are not corrected here (notes, media)."""
    qtype = question.get("type")
    if qtype not in CORRECTABLE:
        return None
    out = {"type": qtype, "choices": [], "unit": None, "min": None, "max": None, "step": None,
           "hint": None}
    if qtype == "yes_no":
        out["choices"] = [("yes", t("c_yes")), ("no", t("c_no"))]
    elif qtype in ("single_choice", "multi_choice"):
        out["choices"] = [(c["id"], c.get("label") or c["id"])
                          for c in question.get("choices") or []]
    elif qtype in ("integer", "decimal", "duration_min"):
        out["unit"] = unit_label(question.get("unit")) or (
            t("c_minutes") if qtype == "duration_min" else None)
        out["step"] = "any" if qtype == "decimal" else "1"
        if qtype == "duration_min":
            out["min"] = 0
        constraint = question.get("constraint") or {}
        expr = str(constraint.get("expr") or "")
        low, high = _bound(_MIN, _MIN_BACK, expr), _bound(_MAX, _MAX_BACK, expr)
        if low is not None:
            out["min"] = low if out["min"] is None else max(out["min"], low)
        if high is not None:
            out["max"] = high
    constraint = question.get("constraint") or {}
    message = constraint.get("message")
    if isinstance(message, str) and message:
        out["hint"] = message
    return out


def widget_value(value) -> str:
    """A stored value as the text an input shows (numbers without float noise)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
