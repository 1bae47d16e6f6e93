"""Every screen fits every phone: at 320, 360 and 390 px, in kk, ru, en and uz, no screen of the
app scrolls sideways and the bottom bar (Back/Next) stays inside the viewport.

The width is compared with the width the test set, never with `innerWidth`: a mobile browser
zooms out to show content that is too wide, so `innerWidth` grows with the content and a check
against it cannot fail. One page is used for the whole walk: the language is switched and the
viewport resized in place, and the sections are walked with the app's own Next button.
"""
from __future__ import annotations

import json

from PIL import Image

from server.assignments.models import Assignment
from server.extensions import db
from tests.visits.builders import visit_payload
from tests.web.app import flows
from tests.web.app.checks import FITS

WIDTHS = (320, 360, 390)
HEIGHT = 740
LANGUAGES = ("kk", "ru", "en", "uz")


def _switch(page, lang: str) -> None:
    """Choose `lang` in the bar and wait until the screen is drawn again in it."""
    before = page.evaluate("Number(document.body.dataset.drawn || 0)")
    page.select_option("#lang", lang)
    page.wait_for_function("([lang, n]) => document.documentElement.lang === lang"
                           " && Number(document.body.dataset.drawn || 0) > n", arg=[lang, before])


def _second_assignment(app, world) -> int:
    """Another open assignment of the inspector (the first is left to start a visit on)."""
    with app.app_context():
        first = db.session.get(Assignment, world["assignment"])
        second = Assignment(office_id=first.office_id, inspector_id=first.inspector_id,
                            form_version_id=first.form_version_id, window_start=first.window_start,
                            window_end=first.window_end)
        db.session.add(second)
        db.session.commit()
        return second.id


def test_every_screen_fits_every_phone_in_every_language(open_phone, world, app, client,
                                                         default_form, tmp_path, shot):
    payload = visit_payload(default_form, assignment=_second_assignment(app, world),
                            overrides={"C06": "no"})
    assert client.post("/api/v1/visits", json=payload, headers=world["inspector"]).status_code == 201
    comment = ("Пожалуйста, перепроверьте вопрос о плате за услугу (C06): "
               "государственнаяпошлинавзимаетсятолькопоследующимоснованиям.")
    resp = client.post(f"/api/v1/visits/{payload['uuid']}/review", headers=world["supervisor"],
                       json={"decision": "return", "comment": comment, "revision": 1})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    photo = tmp_path / ("фотография_пандуса_у_главного_входа_центра_обслуживания_населения_"
                        "IMG_20261204_101530123456789.png")
    Image.new("RGB", (64, 48), (120, 140, 160)).save(photo)

    page = open_phone(service_workers="block", viewport={"width": WIDTHS[-1], "height": HEIGHT})
    problems: list[str] = []
    seen: list[str] = []

    def check(where: str) -> None:
        """Every language and width on the screen shown, starting with the language it is in (the
        walk goes on in the last one: the steps find their controls by id, not by text)."""
        seen.append(where)
        current = page.evaluate("document.documentElement.lang")
        for lang in sorted(LANGUAGES, key=lambda code: code != current):
            if lang != current:
                _switch(page, lang)
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": HEIGHT})
                got = page.evaluate(FITS, [width, HEIGHT])
                if got["scroll"] > width or got["bar"]:
                    problems.append(f"{where} {lang} {width}px: page {got['scroll']} px wide, "
                                    f"bar {got['bar']}, too wide: {got['wide']}")
                if where == "section 1" and width == 390 and lang in ("kk", "ru"):
                    shot(page, f"app-visit-{lang}")  # docs/screenshots with ADAL_SCREENSHOTS=1
        page.set_viewport_size({"width": WIDTHS[-1], "height": HEIGHT})

    page.goto("/app/")
    page.wait_for_selector("#login")
    check("sign in")
    flows.sign_in(page)
    page.wait_for_selector("[data-assignment]")
    check("assignments")
    uuid = flows.start_visit(page, world["assignment"])
    flows.answer(page, "A01", "no")  # the evidence warning and the note open
    page.set_input_files("#q-A01 .capture input[accept='image/*']:not([capture])", str(photo))
    page.wait_for_selector("#q-A01 .media-item")
    for step in range(6):
        page.wait_for_function("(n) => document.getElementById('jump')?.value === String(n)",
                               arg=step)
        check(f"section {step + 1}")
        flows.next_section(page)
    page.wait_for_selector("#finish")
    check("finish")

    page.click("#top a.back")
    page.wait_for_selector(f"[data-uuid='{uuid}'][data-status=draft]")
    check("my visits")
    returned = f"[data-uuid='{payload['uuid']}']"
    page.click(f"{returned} a.button")
    page.wait_for_selector(".banner.info:has-text('C06')")
    check("amend")

    def refuse(route, request):
        if request.method == "PUT":
            route.fulfill(status=422, content_type="application/problem+json", body=json.dumps({
                "type": "urn:adal:problem:validation_failed", "title": "Validation failed",
                "status": 422, "code": "validation_failed",
                "detail": "1 field did not validate; see errors.",
                "errors": {"answers": {"C06": ["Несоответствиеуказаннойсуммыофициальномупрейскуранту."]}}}))
            return
        route.continue_()
    page.route(f"**/api/v1/visits/{payload['uuid']}", refuse)
    page.context.set_offline(True)
    page.select_option("#jump", "6")
    page.click("#finish")
    page.wait_for_selector(f"{returned}[data-status=outbox]")
    check("waiting to send, offline")
    page.context.set_offline(False)
    page.wait_for_selector(f"{returned}[data-status=attention]")
    check("needs attention")
    page.click(f"{returned} a.button")
    page.wait_for_selector(".banner.warn")
    page.select_option("#jump", "6")
    page.wait_for_selector("#finish")
    check("needs attention: finish")
    assert len(seen) == 14
    assert problems == [], "\n".join(problems)
