"""Interface strings in kk, ru, en and uz on gettext catalogs, and how a page picks its language.

The strings are declared with their English text in `strings/` (the registry); translators work on
`server/translations/<lang>/LC_MESSAGES/messages.po`; `make translations` extracts, merges and
compiles them (docs/i18n.md). A string is looked up by its key, which is its gettext context.
Numbers, dates and plural forms follow CLDR through Babel (`formatting.py`), so nothing depends on
the browser knowing Kazakh or Uzbek.
"""
from __future__ import annotations

import importlib
import logging
import pkgutil
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask import current_app, has_request_context, request

from ..config import LANGUAGES
from . import strings
from .registry import MESSAGES, PLURALS

# Every module in strings/ declares strings of one area; importing them fills the registry.
for _module in pkgutil.iter_modules(strings.__path__):
    importlib.import_module(f"{strings.__name__}.{_module.name}")

log = logging.getLogger(__name__)

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
SOURCE_LANGUAGE = "en"
# The Babel locale of each interface language (Uzbek in Latin script).
LOCALES = {"kk": "kk_KZ", "ru": "ru_RU", "en": "en_GB", "uz": "uz_Latn_UZ"}

__all__ = ["LANGUAGES", "MESSAGES", "PLURALS", "catalog", "known", "page_language", "translate",
           "translate_plural"]


@lru_cache(maxsize=None)
def catalog(lang: str) -> NullTranslations:
    """The compiled catalog of `lang`: the .mo that `make` builds, or the .po when no current .mo
    exists (a fresh checkout run without make); English needs none."""
    if lang == SOURCE_LANGUAGE or lang not in LANGUAGES:
        return NullTranslations()
    folder = TRANSLATIONS_DIR / lang / "LC_MESSAGES"
    mo, po = folder / "messages.mo", folder / "messages.po"
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as fh:
            return Translations(fh, domain="messages")
    log.warning("%s is missing or older than its .po; compiling the catalog in memory "
                "(run `make translations`)", mo)
    with po.open("rb") as fh:
        parsed = read_po(fh, locale=lang)
    buffer = BytesIO()
    write_mo(buffer, parsed)
    buffer.seek(0)
    return Translations(buffer, domain="messages")


def known(key: str) -> bool:
    """Whether `key` names an interface string (stored codes are shown by name when not)."""
    return key in MESSAGES


def translate(key: str, lang: str, **values) -> str:
    """The string `key` in `lang` (English when a translation is missing), {placeholders} filled."""
    text = catalog(lang).pgettext(key, MESSAGES[key])
    return text.format(**values) if values else text


def translate_plural(key: str, n: int, lang: str, **values) -> str:
    """The plural string `key` for the count `n` in `lang`; `{n}` is the count as the language
    writes numbers."""
    from .formatting import format_number

    singular, plural = PLURALS[key]
    text = catalog(lang).npgettext(key, singular, plural, n)
    return text.format(n=format_number(n, lang), **values)


def page_language() -> str:
    """?lang= first, then the browser's preference, then ADAL_DEFAULT_LANGUAGE."""
    if not has_request_context():
        return current_app.config["DEFAULT_LANGUAGE"]
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked
    return request.accept_languages.best_match(LANGUAGES) or current_app.config["DEFAULT_LANGUAGE"]
