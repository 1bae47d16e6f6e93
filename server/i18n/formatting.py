"""Numbers, percentages, dates and times as each interface language writes them (CLDR via Babel).

Pages use these as Jinja filters; the inspector app gets the same CLDR data in its per-language
JSON (`app_catalog`) so that a phone whose browser has no Kazakh or Uzbek locale data still
shows "2 жел." rather than "M12 2".
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from gettext import c2py

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.catalog import Catalog

from . import LOCALES, MESSAGES, PLURALS, catalog
from .strings.app import APP_SHARED_KEYS


def _locale(lang: str) -> str:
    return LOCALES.get(lang, LOCALES["en"])


def format_number(value, lang: str, digits: int | None = None) -> str:
    """A number with the language's decimal sign and grouping; `digits` fixes the decimals."""
    if value is None:
        return "—"
    if digits is None:
        return babel_numbers.format_decimal(value, locale=_locale(lang))
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return babel_numbers.format_decimal(value, format=pattern, locale=_locale(lang))


def format_percent(value, lang: str, digits: int = 0) -> str:
    """A share in [0, 1] as a percentage ("12 %" in ru, "12%" in en)."""
    if value is None:
        return "—"
    pattern = None
    if digits:
        base = Locale.parse(_locale(lang)).percent_formats[None].pattern
        pattern = base.replace("0", "0." + "0" * digits, 1) if "0.0" not in base else base
    return babel_numbers.format_percent(value, format=pattern, locale=_locale(lang))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def format_date(value: date | datetime | None, lang: str, skeleton: str = "yMMMd") -> str:
    """A date in the language's own pattern for `skeleton` (CLDR), e.g. "2 дек. 2026 г."."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = _aware(value).astimezone(timezone.utc)
    return babel_dates.format_skeleton(skeleton, value, locale=_locale(lang))


def format_datetime(value: datetime | None, lang: str, skeleton: str = "yMMMd") -> str:
    """A moment in UTC: the date in the language's pattern for `skeleton`, then HH:mm UTC."""
    if value is None:
        return "—"
    moment = _aware(value).astimezone(timezone.utc)
    day = babel_dates.format_skeleton(skeleton, moment, locale=_locale(lang))
    return f"{day} {format_time(moment, lang)} UTC"


def format_time(value: datetime | None, lang: str) -> str:
    """The time of day in 24 hours as the language writes it (09:05)."""
    if value is None:
        return "—"
    return babel_dates.format_skeleton("Hm", _aware(value).astimezone(timezone.utc),
                                       locale=_locale(lang))


def app_catalog(lang: str) -> dict:
    """What the inspector app needs in `lang`: its strings (key without "app_"), its plural
    strings with every gettext plural form in order, and CLDR data to write dates and numbers."""
    translations = catalog(lang)
    strings = {}
    for key, english in MESSAGES.items():
        if key.startswith("app_") or key in APP_SHARED_KEYS:
            strings[key.removeprefix("app_")] = translations.pgettext(key, english)
    rule = Catalog(locale=_locale(lang))
    plurals = {key.removeprefix("app_"): [translations.npgettext(key, *forms, _count_for(rule, i))
                                          for i in range(rule.num_plurals)]
               for key, forms in PLURALS.items() if key.startswith("app_")}
    locale = Locale.parse(_locale(lang))
    return {
        "lang": lang,
        "strings": strings,
        "plurals": plurals,
        "months": {"abbr": [locale.months["format"]["abbreviated"][m] for m in range(1, 13)],
                   "wide": [locale.months["format"]["wide"][m] for m in range(1, 13)]},
        "patterns": {"date": locale.datetime_skeletons["MMMd"].pattern,
                     "date_year": locale.datetime_skeletons["yMMMd"].pattern,
                     "time": locale.datetime_skeletons["Hm"].pattern},
        "number": {"decimal": babel_numbers.get_decimal_symbol(locale),
                   "group": babel_numbers.get_group_symbol(locale)},
    }


def plural_index(lang: str, n: int) -> int:
    """The gettext plural form that `n` takes in `lang` (the catalog header's rule)."""
    return int(c2py(Catalog(locale=_locale(lang)).plural_expr)(n))


def _count_for(rule: Catalog, index: int) -> int:
    """A count that selects plural form `index` under `rule`."""
    select = c2py(rule.plural_expr)
    return next(n for n in range(200) if select(n) == index)
