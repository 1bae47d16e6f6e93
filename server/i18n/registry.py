"""The registry of interface strings: a key (the gettext context) and its English text (the msgid).

The strings themselves are declared in `server/i18n/strings/` by area; `pybabel extract` reads
those files (keywords `_m:1c,2` and `_mp:1c,2,3`, see babel.cfg). `_m(key, text)` is one message;
`_mp(key, singular, plural)` one with plural forms, chosen by the language's CLDR rule.
"""
from __future__ import annotations

MESSAGES: dict[str, str] = {}
PLURALS: dict[str, tuple[str, str]] = {}


def _m(key: str, text: str) -> None:
    if key in MESSAGES or key in PLURALS:
        raise ValueError(f"interface string {key!r} is declared twice")
    MESSAGES[key] = text


def _mp(key: str, singular: str, plural: str) -> None:
    if key in MESSAGES or key in PLURALS:
        raise ValueError(f"interface string {key!r} is declared twice")
    PLURALS[key] = (singular, plural)
