"""One editor per draft: a visit open in two tabs of one browser is edited in one of them; the
other says it is open elsewhere, writes nothing, and can take over, reading the draft again so
that nothing typed in the other tab is lost (the race of issue 15: an answer typed in tab 2,
another changed in tab 1, tab 2 closed, tab 1 reloaded: tab 2's answer was gone)."""
from __future__ import annotations

from tests.web.app import flows

STORED = """(uuid) => new Promise((resolve, reject) => {
  const req = indexedDB.open("adal-inspector");
  req.onerror = () => reject(req.error);
  req.onsuccess = () => {
    const get = req.result.transaction("visits").objectStore("visits").get(uuid);
    get.onsuccess = () => { const a = get.result.answers; req.result.close();
      resolve(Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v.value ?? null]))); };
  };
})"""


def test_a_draft_open_in_two_tabs_has_one_editor_and_loses_no_answer(open_phone, world):
    tab1 = open_phone()
    flows.sign_in(tab1)
    uuid = flows.start_visit(tab1, world["assignment"])
    flows.answer(tab1, "A01", "yes")
    flows.wait_saved(tab1)
    assert tab1.locator("#visit-locked").count() == 0

    tab2 = tab1.context.new_page()
    tab2.goto(f"/app/visit/{uuid}")
    tab2.wait_for_selector("#visit-locked #take-over")  # open in tab 1: read-only here
    assert tab2.is_checked("#q-A01-yes") and tab2.is_disabled("#q-A01-no")
    assert tab2.is_disabled("#q-A02-input")

    tab2.click("#take-over")
    tab2.wait_for_selector("#visit-locked", state="detached")
    tab1.wait_for_selector("#visit-locked #take-over")  # tab 1 was told, and stopped writing
    assert tab1.is_disabled("#q-A01-no") and tab1.is_disabled("#q-A02-input")
    flows.answer(tab2, "A02", "4,5")
    flows.wait_saved(tab2)

    # Tab 1 cannot overwrite: its controls are disabled, and even an input forced from a script
    # (what a stale tab's timer or handler would do) is not written.
    tab1.evaluate("""() => { document.querySelector(".section-body").disabled = false;
      document.getElementById("q-A01-no").click(); dispatchEvent(new Event("pagehide")); }""")
    flows.wait_saved(tab1)  # "pagehide" writes at once whatever is pending: a write would land
    assert tab1.evaluate(STORED, uuid) == {"A01": "yes", "A02": "4,5"}

    tab1.reload()  # still open in tab 2: read-only, showing what tab 2 saved
    tab1.wait_for_selector("#visit-locked #take-over")
    assert tab1.input_value("#q-A02-input") == "4,5"
    tab2.close()  # the browser lets go of a closed (or crashed) tab's lock
    tab1.reload()
    tab1.wait_for_selector("#q-A02-input:not([disabled])")
    assert tab1.locator("#visit-locked").count() == 0
    assert tab1.input_value("#q-A02-input") == "4,5" and tab1.is_checked("#q-A01-yes")
    flows.answer(tab1, "A03", "no")  # and tab 1 edits again
    flows.wait_saved(tab1)
    assert tab1.evaluate(STORED, uuid) == {"A01": "yes", "A02": "4,5", "A03": "no"}
