"""The gettext catalogs stay whole: every interface string is extracted, translated into kk, ru and
uz, not fuzzy, with the same {placeholders} as the English and one form per plural category.

A string added to server/i18n/strings/ without `make translations` and a translation fails here,
as does a translation that drops or renames a placeholder or has the wrong number of plural forms.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from server.i18n import MESSAGES, PLURALS, TRANSLATIONS_DIR, translate, translate_plural
from server.i18n.formatting import plural_index

LANGS = ("kk", "ru", "uz")
PLACEHOLDER = re.compile(r"\{(\w*)\}")
ROOT = Path(__file__).resolve().parent.parent


def _catalog(lang: str, path: Path | None = None) -> Catalog:
    path = path or TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        return read_po(fh, locale=lang)


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def catalog_problems(catalog: Catalog) -> list[str]:
    """Everything wrong with one language's catalog against the registry, each named."""
    problems = []
    entries = {m.context: m for m in catalog if m.id}
    for key in sorted(set(MESSAGES) | set(PLURALS)):
        message = entries.get(key)
        if message is None:
            problems.append(f"{key}: not in the catalog (run make translations)")
            continue
        if message.fuzzy:
            problems.append(f"{key}: fuzzy")
        if key in PLURALS:
            forms = message.string if isinstance(message.string, (list, tuple)) else ()
            if len(forms) != catalog.num_plurals:
                problems.append(f"{key}: {len(forms)} plural forms, the language has "
                                f"{catalog.num_plurals}")
            expected = placeholders(PLURALS[key][1])
            for i, form in enumerate(forms):
                if not form:
                    problems.append(f"{key}: plural form {i} untranslated")
                elif placeholders(form) != expected:
                    problems.append(f"{key}: plural form {i} has {placeholders(form)}, "
                                    f"English has {expected}")
        else:
            if message.id != MESSAGES[key]:
                problems.append(f"{key}: the catalog's English differs from the source")
            if not message.string or isinstance(message.string, (list, tuple)):
                problems.append(f"{key}: untranslated")
            elif placeholders(message.string) != placeholders(MESSAGES[key]):
                problems.append(f"{key}: placeholders {placeholders(message.string)}, English "
                                f"has {placeholders(MESSAGES[key])}")
    for key in sorted(set(entries) - set(MESSAGES) - set(PLURALS)):
        problems.append(f"{key}: in the catalog but no longer in the source")
    return problems


@pytest.mark.parametrize("lang", LANGS)
def test_every_string_is_translated_with_the_same_placeholders(lang):
    assert catalog_problems(_catalog(lang)) == []


def test_the_template_is_what_pybabel_extracts_from_the_source(tmp_path):
    """messages.pot is current: a string declared but never extracted fails the suite."""
    out = tmp_path / "messages.pot"
    CommandLineInterface().run(["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"),
                                "-k", "_m:1c,2", "-k", "_mp:1c,2,3", "--no-default-keywords",
                                "--no-location", "-o", str(out), str(ROOT)])
    with out.open("rb") as fh:
        extracted = {(m.context, m.id if isinstance(m.id, str) else tuple(m.id))
                     for m in read_po(fh) if m.id}
    with (TRANSLATIONS_DIR / "messages.pot").open("rb") as fh:
        kept = {(m.context, m.id if isinstance(m.id, str) else tuple(m.id))
                for m in read_po(fh) if m.id}
    assert extracted == kept
    assert {c for c, _ in extracted} == set(MESSAGES) | set(PLURALS)


def _broken_copy(tmp_path: Path, lang: str, edit) -> Catalog:
    source = (TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    path = tmp_path / "messages.po"
    path.write_text(edit(source), encoding="utf-8")
    return _catalog(lang, path)


def test_a_missing_placeholder_is_caught(tmp_path):
    broken = _broken_copy(tmp_path, "ru", lambda s: s.replace(
        'msgstr "Раздел {n} из {total}"', 'msgstr "Раздел {n} из всех"'))
    assert catalog_problems(broken) == ["app_section_of: placeholders ['n'], English has "
                                        "['n', 'total']"]


BLOCK = ('msgctxt "c_n_visits"\nmsgid "{n} visit"\nmsgid_plural "{n} visits"\n'
         'msgstr[0] "{n} проверка"\nmsgstr[1] "{n} проверки"\nmsgstr[2] "{n} проверок"\n')


def test_a_broken_plural_is_caught(tmp_path):
    def edit(old, new):
        return lambda s: s.replace(BLOCK, BLOCK.replace(old, new))
    assert BLOCK in (TRANSLATIONS_DIR / "ru" / "LC_MESSAGES" / "messages.po").read_text("utf-8")
    missing = _broken_copy(tmp_path, "ru", edit('msgstr[2] "{n} проверок"\n', ""))
    assert catalog_problems(missing) == ["c_n_visits: plural form 2 untranslated"]
    renamed = _broken_copy(tmp_path, "ru", edit("msgstr[1] \"{n}", "msgstr[1] \"{count}"))
    assert catalog_problems(renamed) == ["c_n_visits: plural form 1 has ['count'], English has "
                                         "['n']"]


def test_an_untranslated_or_fuzzy_string_is_caught(tmp_path):
    broken = _broken_copy(tmp_path, "kk", lambda s: s.replace(
        'msgid "Sign in"\nmsgstr "Кіру"', 'msgid "Sign in"\nmsgstr ""').replace(
        'msgctxt "sign_out"', '#, fuzzy\nmsgctxt "sign_out"'))
    assert catalog_problems(broken) == ["sign_in: untranslated", "sign_out: fuzzy"]


def test_a_new_string_without_a_translation_is_caught(monkeypatch):
    monkeypatch.setitem(MESSAGES, "zz_new", "A new string")
    assert catalog_problems(_catalog("uz")) == ["zz_new: not in the catalog (run make translations)"]


@pytest.mark.parametrize("lang, counts", [
    ("ru", {1: "1 проверка", 2: "2 проверки", 5: "5 проверок", 11: "11 проверок",
            21: "21 проверка", 22: "22 проверки", 1000: "1 000 проверок"}),
    ("en", {1: "1 visit", 2: "2 visits", 0: "0 visits"}),
    ("kk", {1: "1 тексеру", 5: "5 тексеру"}),
    ("uz", {1: "1 ta tekshiruv", 5: "5 ta tekshiruv"}),
])
def test_plurals_follow_the_languages_rules(lang, counts):
    for n, text in counts.items():
        assert translate_plural("c_n_visits", n, lang).replace("\xa0", " ") == text


def test_the_catalog_plural_rule_matches_cldr_for_russian():
    """The Plural-Forms header (gettext) agrees with CLDR's one/few/many for whole numbers."""
    expected = {1: 0, 2: 1, 4: 1, 5: 2, 11: 2, 12: 2, 14: 2, 21: 0, 22: 1, 25: 2, 101: 0, 111: 2}
    assert {n: plural_index("ru", n) for n in expected} == expected


def test_a_translation_falls_back_to_english_only_for_english():
    assert translate("sign_in", "en") == "Sign in"
    assert translate("sign_in", "ru") == "Вход"
    assert translate("sign_in", "de") == "Sign in"  # an unknown language: the source text
