"""The app's own logic run in Chromium against the server's: the expression vectors, skip logic
and answer checks on the default checklist, and the SHA-256 of evidence."""
from __future__ import annotations

import base64
import hashlib
import json
import random
from pathlib import Path

from server.config import PROJECT_ROOT
from server.scoring.rules import Answer
from server.visits.validation import check_answers

VECTORS = json.loads((Path(PROJECT_ROOT) / "survey_forms" / "expression_vectors.json").read_text("utf-8"))

RUN_VECTORS = """async (data) => {
  const { parse, ExpressionError } = await import("/app/static/expressions.js");
  const wrong = [];
  for (const v of data.vectors) {
    let got;
    try { got = parse(v.expression).evaluate(v.answers, v.current ?? null); }
    catch (e) { got = `error: ${e.message}`; }
    if (JSON.stringify(got) !== JSON.stringify(v.expected)) wrong.push({ expression: v.expression, got, expected: v.expected });
  }
  for (const v of data.errors) {
    try { parse(v.expression); wrong.push({ expression: v.expression, got: "parsed", expected: v.position }); }
    catch (e) {
      if (!(e instanceof ExpressionError) || e.position !== v.position) wrong.push({ expression: v.expression, got: e.position, expected: v.position });
    }
  }
  return wrong;
}"""


def _open(page):
    page.goto("/app/signin")
    page.wait_for_selector("#login")


def test_the_expression_vectors_give_the_same_results_in_the_browser(phone):
    _open(phone)
    assert phone.evaluate(RUN_VECTORS, VECTORS) == []


def _random_answers(form, rng: random.Random) -> dict:
    """Answers of every kind, valid or not, for a random subset of the questions."""
    out = {}
    for qid, q in form.questions.items():
        roll = rng.random()
        if roll < 0.25:
            continue
        if q.get("not_applicable") and roll > 0.93:
            out[qid] = {"value": None, "not_applicable": True}
        elif q["type"] == "yes_no":
            out[qid] = {"value": rng.choice(["yes", "no"])}
        elif q["type"] == "single_choice":
            out[qid] = {"value": rng.choice([c["id"] for c in q["choices"]])}
        elif q["type"] == "multi_choice":
            ids = [c["id"] for c in q["choices"]]
            out[qid] = {"value": rng.sample(ids, rng.randint(1, len(ids)))}
        elif q["type"] in ("integer", "decimal", "duration_min"):
            out[qid] = {"value": rng.choice([0, 1, 5, 12, 35, 150, 301, 1000, -40, 2.5, 22])}
        elif q["type"] == "text":
            out[qid] = {"value": rng.choice(["", "fine", "x" * 10])}
    return out


CHECK_IN_BROWSER = """async ({ definition, drafts }) => {
  const { compile, check } = await import("/app/static/form.js");
  const form = compile(definition);
  return drafts.map((answers) => {
    const { errors, asked } = check(form, { answers, evidence: {} });
    return { asked: Object.fromEntries(asked), errors: Object.keys(errors).sort() };
  });
}"""


def test_skip_logic_and_answer_checks_agree_with_the_server(phone, default_form):
    """200 random answer sets: the same questions asked, the same questions refused."""
    _open(phone)
    rng = random.Random(20261123)
    drafts = [_random_answers(default_form, rng) for _ in range(200)]
    got = phone.evaluate(CHECK_IN_BROWSER, {"definition": default_form.definition, "drafts": drafts})
    for answers, browser in zip(drafts, got):
        valid = {qid: Answer(a["value"], a.get("not_applicable", False)) for qid, a in answers.items()}
        asked = default_form.relevance(valid)
        assert browser["asked"] == asked
        # What the app would send: asked questions only (it leaves out what is not asked).
        sent = [{"question": qid, "value": a["value"], "not_applicable": a.get("not_applicable", False)}
                for qid, a in answers.items() if asked[qid] and (a["value"] not in (None, "") or a.get("not_applicable"))]
        _, errors = check_answers(default_form, sent, lang="en")
        assert browser["errors"] == sorted(errors), answers


def test_the_sha256_of_evidence_matches_python_both_ways(phone):
    """crypto.subtle for ordinary files, the incremental implementation for very large ones."""
    _open(phone)
    data = random.Random(5).randbytes(3 * 1024 * 1024 + 17)
    got = phone.evaluate("""async (text) => {
      const { sha256OfBlob } = await import("/app/static/sha256.js");
      const blob = new Blob([Uint8Array.from(atob(text), (c) => c.charCodeAt(0))]);
      return [await sha256OfBlob(blob), await sha256OfBlob(blob, () => {}, { subtleMax: 0 })];
    }""", base64.b64encode(data).decode())
    assert got == [hashlib.sha256(data).hexdigest()] * 2


RUN_FORMATS = """async (langs) => {
  const i18n = await import("/app/static/i18n.js");
  const out = {};
  for (const code of langs) {
    await i18n.setLang(code, { remember: false });
    const counts = [];
    for (let n = 0; n <= 200; n++) counts.push(i18n.pluralIndex(code, n));
    out[code] = {
      counts,
      date: i18n.formatDate("2026-12-02T09:05:00"),
      time: i18n.formatTime("2026-12-02T09:05:00"),
      number: i18n.formatNumber(1234.5, 1),
      unsent: [1, 2, 5].map((n) => i18n.tn("n_unsent", n)),
    };
  }
  return out;
}"""


def test_plurals_dates_and_numbers_in_the_browser_follow_the_catalogs_and_cldr(phone):
    """The app's plural rule is the catalogs' Plural-Forms for 0-200, and dates/numbers come
    from CLDR even where Chromium has no Kazakh or Uzbek data (no "M12 2")."""
    from datetime import datetime

    from server.i18n import translate_plural
    from server.i18n.formatting import format_date, format_number, plural_index

    _open(phone)
    got = phone.evaluate(RUN_FORMATS, ["kk", "ru", "en", "uz"])
    moment = datetime(2026, 12, 2, 9, 5)
    for lang, result in got.items():
        assert result["counts"] == [plural_index(lang, n) for n in range(201)], lang
        assert result["date"] == format_date(moment, lang, "MMMd"), lang
        assert result["time"] == "09:05"
        assert result["number"] == format_number(1234.5, lang, 1), lang
        assert result["unsent"] == [translate_plural("app_n_unsent", n, lang)
                                    for n in (1, 2, 5)], lang
    assert got["kk"]["date"] == "2 жел." and got["uz"]["date"] == "2-dek"
