"""The XPath subset of XLSForm expressions, and the `adal_score` column, in Adal's terms."""
from __future__ import annotations

import re
from typing import Any

from .expressions import parse

_TOKEN = re.compile(r"""\s*(?:(?P<ref>\$\{[A-Za-z_][A-Za-z0-9_]*\})|(?P<str>'[^']*'|"[^"]*")
    |(?P<num>\d+(?:\.\d+)?)|(?P<op>!=|<=|>=|=|<|>|\+|-|\*|\(|\)|,)|(?P<word>[A-Za-z_][A-Za-z0-9_-]*)
    |(?P<dot>\.))""", re.VERBOSE)
# Typed in a word processor or on a phone: pyxform reads them as plain quotes (sheet_headers.py).
SMART_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
_WORDS = {"and": "and", "or": "or", "not": "not", "div": "/", "selected": "selected",
          "count-selected": "count_selected", "true": "true", "false": "false"}




def translate_expression(text: str, multi: frozenset[str] | set[str] = frozenset(),
                         current_multi: bool = False, notes: list[str] | None = None) -> str:
    """The XPath subset of XLSForm to Adal's expressions; ValueError naming what cannot be.

    `multi` names the select_multiple questions (`current_multi`: `.` is one): in XPath, `=`
    compares a selection's whole value, so `${m} = 'a'` holds when 'a' alone is selected. It
    becomes `(selected(m, 'a') and count_selected(m) == 1)`, with a note for the reviewer
    appended to `notes`; any other comparison of a whole selection is refused.
    """
    out, kinds, pos = [], [], 0
    text = text.translate(SMART_QUOTES).strip()
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


def translate_score(spec: Any, qtype: str) -> dict:
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

