"""XLSForm question types as pyxform (the reference converter of ODK and KoboToolbox) names them,
with its aliases (pyxform/question_type_dictionary.py and aliases.py), and what each is in Adal.

A type is matched case-insensitively with its words separated by any whitespace; a choice
list's name keeps its case.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# Types Adal has, under every name pyxform gives them.
SIMPLE_TYPES = {
    **dict.fromkeys(("integer", "int", "q int", "add integer prompt"), "integer"),
    **dict.fromkeys(("decimal", "q decimal", "add decimal prompt"), "decimal"),
    **dict.fromkeys(("text", "string", "q string", "add text prompt"), "text"),
    **dict.fromkeys(("note", "q note", "add note prompt"), "note"),
    **dict.fromkeys(("image", "photo", "q picture", "q image", "add image prompt",
                     "add photo prompt"), "photo"),
    **dict.fromkeys(("video", "q video", "add video prompt"), "video"),
    **dict.fromkeys(("audio", "q audio", "add audio prompt"), "audio"),
    **dict.fromkeys(("geopoint", "gps", "location", "q location", "q geopoint",
                     "add location prompt"), "geopoint"),
    "time": "time",
}

# Text-like types whose input or check Adal does not have: a text question, with this note.
_SCANNED = ("the app has no barcode scanner: the inspector types the code, and it is kept "
            "as text")
TEXT_TYPES = {
    "barcode": _SCANNED, "q barcode": _SCANNED, "add barcode prompt": _SCANNED,
    "phone number": "pyxform checks it is digits only (regex(., '^\\d*$'), hint 'Enter "
                    "numbers only.'); Adal has no regex(): it is a text question without that "
                    "check",
}

# Whole numbers with pyxform's range check: an integer with the same constraint.
RANGED_TYPES = {"percentage": 100, "number of days in last month": 31,
                "number of days in last six months": 183, "number of days in last year": 365}
RANGE_MESSAGE = {"en": "A whole number from 0 to {n}", "ru": "Целое число от 0 до {n}",
                 "kk": "0-ден {n}-ге дейінгі бүтін сан", "uz": "0 dan {n} gacha butun son"}

# Types without a question: what the device records by itself. Skipped with the reason.
_OWN = "Adal records when each visit starts and ends"
_ANONYMOUS = ("it would identify the inspector or their phone; Adal never records it "
              "(inspectors stay anonymous to the offices)")
META_TYPES = {
    **dict.fromkeys(("start", "end", "today", "start time", "end time", "get start time",
                     "get end time", "get today"), _OWN),
    **dict.fromkeys(("deviceid", "imei", "device id", "get device id", "uri:deviceid",
                     "phonenumber", "get phone number", "uri:phonenumber", "username",
                     "uri:username", "email", "uri:email", "simserial", "sim id", "get sim id",
                     "uri:simserial", "subscriberid", "subscriber id", "get subscriber id",
                     "uri:subscriberid"), _ANONYMOUS),
    "audit": "ODK's log of moves through the form; Adal keeps each visit's start and end",
    "start-geopoint": "Adal takes no location by itself; add a geopoint question if the "
                      "office's location is needed",
    "background-geopoint": "Adal records no background location",
    "background-audio": "Adal records no background audio",
}

# Types pyxform has and Adal has not, with what to do instead where there is something.
REFUSED_TYPES = {
    **dict.fromkeys(("date", "datetime", "date time", "q date", "q date time", "q datetime",
                     "add date prompt", "add date time prompt", "add datetime prompt"),
                    "Adal has no date question (each visit records its own date)"),
    **dict.fromkeys(("acknowledge", "q acknowledge", "add acknowledge prompt", "trigger"),
                    "use a select_one with yes/no choices"),
    **dict.fromkeys(("calculate", "q calculate", "add calculate prompt", "hidden"),
                    "Adal does not calculate values in a form"),
    **dict.fromkeys(("file", "add file prompt"), "Adal takes photos, videos and audio only"),
}

SELECT_ONE = ("select_one", "select one", "select1", "select one from",
              "add select one prompt using")
# pyxform spells it `select_multiple` or `select all that apply`; `select multiple`, which
# it refuses, is taken too: it cannot mean anything else.
SELECT_MULTIPLE = ("select_multiple", "select multiple", "select all that apply",
                   "select all that apply from", "add select multiple prompt using")
FROM_FILE = ("select_one_from_file", "select_multiple_from_file", "select one from file",
             "select multiple from file", "select_one_external", "select one external")
_COMMANDS = sorted((*SELECT_ONE, *SELECT_MULTIPLE, *FROM_FILE, "rank"), key=len, reverse=True)
_SELECT = re.compile(r"(?i:(?P<command>" + "|".join(re.escape(c) for c in _COMMANDS) + "))"
                     r" (?P<list>\S+)(?i: (?P<other>or specify other|or_other|or other))?")
_CONTROL = re.compile(r"(?i)(?P<edge>begin|end)[ _](?P<kind>group|repeat|looped group|lgroup"
                      r"|loop)(?: (?:over )?\S+)?")


@dataclass
class ParsedType:
    kind: str  # "begin", "end", "select", "simple", "text", "ranged", "meta", "refused", "unknown"
    name: str = ""  # the control (group, repeat), the Adal type, or the XLSForm type
    list_name: str = ""  # of a select
    multiple: bool = False
    other: bool = False  # `or_other`
    reason: str = ""  # for "text", "meta", "refused"


def parse_type(raw: object) -> ParsedType:
    text = " ".join(str(raw).split())
    lower = text.lower()
    control = _CONTROL.fullmatch(text)
    if control:
        kind = control.group("kind").lower()
        return ParsedType(control.group("edge").lower(), "group" if kind == "group" else "repeat")
    select = _SELECT.fullmatch(text)
    if select:
        command = select.group("command").lower()
        if command in FROM_FILE or command.replace("_", " ") in FROM_FILE:
            return ParsedType("refused", text, reason="choices from a file or an external "
                                                      "list are not supported; put them on "
                                                      "the 'choices' sheet")
        if command == "rank":
            return ParsedType("refused", "rank", reason="Adal has no ranking question")
        return ParsedType("select", text, list_name=select.group("list"),
                          multiple=command in SELECT_MULTIPLE, other=bool(select.group("other")))
    if lower in SELECT_ONE or lower in SELECT_MULTIPLE:
        return ParsedType("refused", lower, reason="the name of its choice list must follow, "
                                                   f"e.g. '{lower} colours'")
    if lower in SIMPLE_TYPES:
        return ParsedType("simple", SIMPLE_TYPES[lower])
    if lower in TEXT_TYPES:
        return ParsedType("text", "text", reason=TEXT_TYPES[lower])
    if lower in RANGED_TYPES:
        return ParsedType("ranged", "integer", reason=str(RANGED_TYPES[lower]))
    if lower in META_TYPES:
        return ParsedType("meta", lower, reason=META_TYPES[lower])
    if lower in REFUSED_TYPES:
        return ParsedType("refused", lower, reason=REFUSED_TYPES[lower])
    return ParsedType("unknown", text)
