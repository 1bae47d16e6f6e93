"""What an inspector does in the app, step by step, for the browser tests."""
from __future__ import annotations

from tests import factories

NA = object()  # answer "not applicable"

# A whole visit of the default checklist (survey_forms/service_centre_visit.v1.yaml): A06 "absent"
# hides A07 (skip logic); A02 is typed with a decimal comma as phones in kk/ru/uz do.
ANSWERS = {
    "accessibility": {"A01": "yes", "A02": "4,5", "A03": "yes", "A04": "95", "A05": "10",
                      "A06": "absent", "A08": "yes", "A09": "no", "A10": "yes", "A11": "yes",
                      "A12": NA, "A13": "no", "A14": "yes"},
    "queue": {"B01": "working", "B02": "3", "B03": "12", "B04": "8", "B05": "yes",
              "B06_seats": "20", "B06_waiting": "5", "B07_total": "6", "B07_open": "4"},
    "service": {"C01": "s4", "C02": "yes", "C03": "yes", "C04": "no", "C05": "no", "C06": "yes",
                "C07": "no", "C08": "yes"},
    "integrity": {"D01": "no", "D02": "no", "D03": "none", "D04": "no", "D05": "yes", "D06": "no",
                  "narrative": "Calm visit; the queue moved quickly."},
    "information": {"E01": ["hours", "rating"], "E02": "yes", "E03": "all", "E04": "no"},
    "comfort": {"F01": "22", "F02": "s4", "F03": ["water", "desk"]},
}


def sign_in(page, login: str = "insp", password: str = factories.PASSWORD) -> None:
    """Open the app, sign in, land on the assignments."""
    page.goto("/app/")
    page.wait_for_url("**/app/signin")
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("form button[type=submit]")
    page.wait_for_selector("h1:has-text('Assignments'), [data-assignment]")


def start_visit(page, assignment: int) -> str:
    """Start (or continue) the visit of an assignment; its UUID."""
    page.click(f"[data-assignment='{assignment}'] button")
    page.wait_for_url("**/app/visit/*")
    page.wait_for_selector(".section-body h2")
    return page.url.rsplit("/", 1)[1]


def answer(page, qid: str, value) -> None:
    """Answer one question through its controls."""
    kind = page.get_attribute(f"#q-{qid}", "data-type")
    if value is NA:
        page.check(f"#q-{qid}-na")
    elif kind in ("yes_no", "single_choice"):
        page.check(f"#q-{qid}-{value}")
    elif kind == "multi_choice":
        for choice in value:
            page.check(f"#q-{qid}-{choice}")
    else:
        page.fill(f"#q-{qid}-input", value)


# Answers a whole section in one call: the same clicks on the same controls and the same input
# and change events as answer(), without a browser round trip and actionability wait per control
# (~40 ms each, 45 per checklist). test_a_visit_finished_offline_arrives_once_with_its_photo
# answers by hand, so the controls are still driven as a person does at least once.
_ANSWER_ALL = """(answers) => {
  for (const [qid, value] of answers) {
    const box = document.getElementById(`q-${qid}`);
    if (!box) { throw new Error(`question ${qid} is not on the screen`); }
    const control = (suffix) => {
      const found = document.getElementById(`q-${qid}-${suffix}`);
      if (!found) { throw new Error(`question ${qid} has no control ${suffix}`); }
      return found;
    };
    const kind = box.dataset.type;
    if (value === null) {
      control("na").click();
    } else if (kind === "yes_no" || kind === "single_choice") {
      control(value).click();
    } else if (kind === "multi_choice") {
      for (const choice of value) { control(choice).click(); }
    } else {
      const input = control("input");
      input.focus();
      input.value = value;
      input.dispatchEvent(new Event("input", {bubbles: true}));
      input.dispatchEvent(new Event("change", {bubbles: true}));
      input.blur();
    }
  }
}"""


def answer_section(page, answers: dict, *, by_hand: bool = False) -> None:
    if by_hand:
        for qid, value in answers.items():
            answer(page, qid, value)
        return
    page.evaluate(_ANSWER_ALL, [[qid, None if value is NA else value]
                                for qid, value in answers.items()])


def next_section(page) -> None:
    page.click("#next")


def wait_saved(page) -> None:
    """Until everything typed is written to IndexedDB."""
    page.wait_for_selector("body[data-save=saved]", state="attached")


def fill_checklist(page, answers: dict = ANSWERS, *, on_section=None,
                   by_hand: bool = False) -> None:
    """Answer every section, pressing Next after each; stops on the finish step."""
    for section, section_answers in answers.items():
        page.wait_for_selector(f"#q-{next(iter(section_answers))}")
        answer_section(page, section_answers, by_hand=by_hand)
        if on_section:
            on_section(section)
        next_section(page)
    page.wait_for_selector("#finish")
