"""Chromium's own verdict on the installable app: Page.getInstallabilityErrors over the DevTools
protocol on the live app, with the service worker running; then the manifest and the icons
answered offline from the service worker's cache.

Playwright's browser.new_context() is an incognito profile, where Chromium installs nothing
(its verdict is "in-incognito" whatever the page), so the check runs in a persistent context: a
second Chromium on a throwaway profile, started only for it, with the shared browser's arguments.
"""
from __future__ import annotations

import json

import pytest

from tests.web.app.conftest import PHONE, TIMEOUT_MS
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

MANIFEST = "/app/manifest.webmanifest"
ICONS = ["/app/static/icons/icon-192.png", "/app/static/icons/icon-512.png",
         "/app/static/icons/icon-maskable-192.png", "/app/static/icons/icon-maskable-512.png"]
FETCH_ALL = """async (urls) => Promise.all(urls.map(async (url) => {
  const r = await fetch(url);
  return [url, r.status, r.headers.get('content-type'), (await r.arrayBuffer()).byteLength];
}))"""


@pytest.fixture
def profile_phone(playwright_driver, live, tmp_path):
    """A phone on a real (not incognito) Chromium profile; uncaught page errors fail the test."""
    try:
        context = playwright_driver.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS,
            headless=True, base_url=live, viewport=PHONE, is_mobile=True, has_touch=True,
            locale="en-GB", service_workers="allow")
    except Exception as exc:  # noqa: BLE001 - a broken browser install is a skip, as elsewhere
        pytest.skip(f"Chromium does not start: {exc}")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.pages[0] if context.pages else context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def test_chromium_finds_the_app_installable_and_keeps_manifest_and_icons_offline(profile_phone,
                                                                                 live):
    page = profile_phone
    page.goto("/app/")
    page.wait_for_selector("#login")
    # The service worker controls the page once it has cached the shell, manifest and icons.
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    # A function, not a bare expression: Playwright polls a bare expression with eval, which the
    # app's CSP (no 'unsafe-eval') refuses once the first check was false.
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    cdp = page.context.new_cdp_session(page)
    app_manifest = cdp.send("Page.getAppManifest")
    assert app_manifest["url"] == live + MANIFEST
    assert app_manifest["errors"] == [], app_manifest["errors"]
    assert json.loads(app_manifest["data"])["start_url"] == "/app/"
    verdict = cdp.send("Page.getInstallabilityErrors")
    assert verdict["installabilityErrors"] == []
    # The check can fail: a page of the site that links no manifest is not installable.
    other = page.context.new_page()
    other.goto("/login")
    refused = page.context.new_cdp_session(other).send("Page.getInstallabilityErrors")
    assert "no-manifest" in {e["errorId"] for e in refused["installabilityErrors"]}
    other.close()

    page.context.set_offline(True)
    got = page.evaluate(FETCH_ALL, [MANIFEST, *ICONS])
    assert [(url, status) for url, status, _, _ in got] == [(u, 200) for u in [MANIFEST, *ICONS]]
    assert got[0][2] == "application/manifest+json"
    assert all(kind == "image/png" and size > 1000 for _, _, kind, size in got[1:])
    page.context.set_offline(False)


def test_the_installed_name_follows_the_browser_language(open_phone, live):
    """A phone whose browser speaks Russian gets the Russian name, the other three inside."""
    page = open_phone(service_workers="block")
    page.context.set_extra_http_headers({"Accept-Language": "ru-RU,ru;q=0.9"})
    page.goto("/app/")
    page.wait_for_selector("#login")
    cdp = page.context.new_cdp_session(page)
    app_manifest = cdp.send("Page.getAppManifest")
    data = json.loads(app_manifest["data"])
    assert (data["lang"], data["name"]) == ("ru", "Заметки")
    assert set(data["translations"]) == {"kk", "en", "uz"}
