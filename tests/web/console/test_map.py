"""The console map (/console/map): who may see it, the JSON the page hands its script (bands,
scope, offices without coordinates), the period parameters, the CSP and the tile settings.
The browser test: test_map_browser.py."""
from __future__ import annotations

import pytest

from server.config import ConfigError
from tests.reports.conftest import rw  # noqa: F401
from tests.reports.test_map import TILE_ORIGIN, bands, map_data  # noqa: F401


def test_signed_out_goes_to_sign_in_and_inspectors_are_refused(client, sign_in):
    resp = client.get("/console/map")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    sign_in("inspector")
    resp = client.get("/console/map")
    assert resp.status_code == 403 and resp.mimetype == "text/html"


def test_an_admin_sees_every_office_by_band(client, sign_in, bands):
    sign_in("admin")
    resp = client.get("/console/map?period=2026H2&lang=en")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    data = map_data(html)
    assert {o["code"]: o["band"] for o in data["offices"]} == \
        {code: band for code, band in bands.items() if code != "U"}
    assert [o["code"] for o in data["unplaced"]] == ["U"]
    assert data["offices"][0]["link"].startswith("/reports/offices/")
    assert 'id="map-table"' in html and "Office U" in html  # the same figures in a table
    assert 'aria-current="page">Map<' in html


def test_a_supervisor_never_sees_offices_outside_their_regions(client, sign_in, rw, bands):
    sign_in("supervisor", regions=[rw.region])
    html = client.get("/console/map?period=2026H2&lang=en").get_data(as_text=True)
    data = map_data(html)
    codes = {o["code"] for o in data["offices"] + data["unplaced"]}
    assert codes == {"G", "Y", "R", "N", "U"}
    assert "Office O" not in html
    resp = client.get("/console/map?period=2026H2&region=FAR")
    assert resp.status_code == 403


def test_the_period_follows_from_and_to(client, sign_in, bands):
    sign_in("admin")
    data = map_data(client.get("/console/map?from=2026-07-01&to=2026-12-31&lang=en")
                    .get_data(as_text=True))
    assert {o["code"]: o["visits"] for o in data["offices"]}["G"] == 3
    # a period with no approved visits: every office is there, none with a band
    data = map_data(client.get("/console/map?period=2026H1").get_data(as_text=True))
    assert {o["band"] for o in data["offices"]} == {None}


@pytest.mark.parametrize("query, field", [
    ("period=2026H9", "period"), ("from=2026-07-01", "to"), ("to=2026-07-01", "from"),
    ("kind=castle", "kind")])
def test_a_bad_period_or_kind_is_a_422_page(client, sign_in, bands, query, field):
    sign_in("admin")
    resp = client.get(f"/console/map?{query}&lang=en")
    assert resp.status_code == 422
    assert resp.mimetype == "text/html"


def test_the_csp_allows_the_tile_origin_for_images_only(client, sign_in, bands):
    sign_in("admin")
    csp = client.get("/console/map").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["img-src"] == f"'self' data: blob: {TILE_ORIGIN}"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert csp.count(TILE_ORIGIN) == 1
    # other console pages keep the strict policy
    assert TILE_ORIGIN not in client.get("/console/rankings").headers["Content-Security-Policy"]


def test_a_subdomain_tile_url_is_allowed_as_a_wildcard(app, client, sign_in, bands):
    app.config["MAP_TILE_URL"] = "https://{s}.tiles.example.org/{z}/{x}/{y}.png"
    sign_in("admin")
    csp = client.get("/console/map").headers["Content-Security-Policy"]
    assert "img-src 'self' data: blob: https://*.tiles.example.org;" in csp


def test_tiles_turned_off(app, client, sign_in, bands):
    app.config["MAP_TILE_URL"] = ""
    sign_in("admin")
    resp = client.get("/console/map?period=2026H2")
    assert map_data(resp.get_data(as_text=True))["tiles"]["url"] is None
    assert "img-src 'self' data: blob:;" in resp.headers["Content-Security-Policy"]


@pytest.mark.parametrize("settings", [
    {"MAP_TILE_URL": "https://tiles.example.org/tile.png"},
    {"MAP_TILE_URL": "ftp://tiles.example.org/{z}/{x}/{y}.png"},
    {"MAP_TILE_URL": "https://evil.org; script-src *;/{z}/{x}/{y}"},
    {"MAP_TILE_URL": "https://a.{s}.example.org/{z}/{x}/{y}.png"},
    {"MAP_TILE_ATTRIBUTION": '<img src=x onerror="alert(1)">'},
    {"MAP_TILE_ATTRIBUTION": '<a href="javascript:alert(1)">x</a>'},
])
def test_unworkable_map_settings_refuse_to_start(tmp_path, settings):
    from server import create_app

    with pytest.raises(ConfigError, match="ADAL_MAP_TILE"):
        create_app({"TESTING": True, "SECRET_KEY": "test-secret-key-0123456789",
                    "DATABASE_URL": "sqlite://", **settings},
                   instance_path=str(tmp_path / "instance"))


def test_the_tile_url_comes_from_the_environment(tmp_path, monkeypatch):
    from server import create_app

    monkeypatch.setenv("ADAL_MAP_TILE_URL", "")
    monkeypatch.setenv("ADAL_MAP_TILE_ATTRIBUTION", "Tiles © Example")
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret-key-0123456789",
                      "DATABASE_URL": "sqlite://"}, instance_path=str(tmp_path / "instance"))
    assert app.config["MAP_TILE_URL"] == ""
    assert app.config["MAP_TILE_ATTRIBUTION"] == "Tiles © Example"
