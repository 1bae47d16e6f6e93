"""The office map on the report pages: the ranking page (staff) and a published report's page
(anyone). Markers carry a ranking item's aggregates and where the office is, nothing about
inspectors or visits; offices without coordinates are listed under the map. The console's map
page: tests/web/console/test_map.py; the browser test: tests/web/console/test_map_browser.py."""
from __future__ import annotations

import json
import re

import pytest

from server.extensions import db
from server.periods import parse_period
from server.reports import published, service
from tests import factories

MAP_DATA = re.compile(r'<script type="application/json" id="map-data">(.*?)</script>', re.S)
TILE_ORIGIN = "https://tile.openstreetmap.org"
PLACES = {"G": (49.8, 73.1), "Y": (43.24, 76.95), "R": (41.3, 69.24), "N": (47.1, 51.9),
          "O": (42.3, 69.6)}


def map_data(html: str) -> dict:
    """The JSON a map page hands its script."""
    found = MAP_DATA.search(html)
    assert found, "no map data on the page"
    return json.loads(found.group(1))


def build_offices(rw) -> dict:
    """Offices of every band in the home region, one without visits, one without coordinates
    and one in another region: {code: expected band}."""
    offices = {code: rw.office(code) for code in "GYRNU"}
    offices["O"] = rw.office("O", region="FAR")
    for code, (lat, lon) in PLACES.items():  # apart, so that each marker can be clicked
        offices[code].lat, offices[code].lon = lat, lon
    offices["U"].lat = offices["U"].lon = None
    db.session.flush()
    rw.visits(offices["G"], [80, 90, 100])
    rw.visits(offices["Y"], [60, 60, 60])
    rw.visits(offices["R"], [40, 45, 50])
    rw.visits(offices["U"], [70, 75, 80])
    rw.visits(offices["O"], [90, 95, 99])
    return {"G": "green", "Y": "yellow", "R": "red", "N": None, "U": "green", "O": "green"}


@pytest.fixture
def bands(commit, rw) -> dict:
    return commit(lambda: build_offices(rw))


def test_the_ranking_page_maps_every_office_by_its_band(client, sign_in, bands):
    sign_in("admin")
    resp = client.get("/reports/ranking?period=2026H2&lang=ru")
    assert resp.status_code == 200
    data = map_data(resp.get_data(as_text=True))
    placed = {o["code"]: o for o in data["offices"]}
    assert {code: o["band"] for code, o in placed.items()} == \
        {code: band for code, band in bands.items() if code != "U"}
    assert [o["code"] for o in data["unplaced"]] == ["U"]
    green = placed["G"]
    assert (green["score"], green["visits"], green["lat"], green["lon"]) == (90.0, 3, 49.8, 73.1)
    assert green["ci_low"] < 90 < green["ci_high"]
    assert green["name"] == "Office G (ru)"  # the page's language
    assert green["link"] == "/reports/offices/G?period=2026H2&lang=ru"
    assert data["strings"]["score"] == "Средний балл"
    assert data["bands"] == {"green_min": 71, "yellow_min": 55}


def test_offices_without_coordinates_are_listed_under_the_map(client, sign_in, bands):
    sign_in("admin")
    html = client.get("/reports/ranking?period=2026H2&lang=en").get_data(as_text=True)
    start = html.index('id="map-unplaced"')
    listed = html[start:html.index("</ul>", start)]
    assert "Office U" in listed and "Office G" not in listed
    assert "Not on the map (no coordinates)" in html


def test_the_ranking_page_allows_only_the_tile_origin_for_images(client, sign_in, bands):
    sign_in("admin")
    csp = client.get("/reports/ranking?period=2026H2").headers["Content-Security-Policy"]
    assert f"img-src 'self' data: blob: {TILE_ORIGIN};" in csp
    assert csp.count(TILE_ORIGIN) == 1 and "script-src 'self';" in csp
    assert "unsafe-inline" not in csp
    # a page without the map keeps the strict policy
    assert TILE_ORIGIN not in client.get(
        "/reports/offices/G?period=2026H2").headers["Content-Security-Policy"]


def test_the_published_page_maps_the_snapshot_without_inspector_data(client, commit, bands):
    def publish():
        return published.publish_report(period=parse_period("2026H2", "Asia/Almaty"), kind=None,
                                      scope=service.Scope(),
                                      actor=factories.user(role="admin")).slug
    slug = commit(publish)
    page = client.get(f"/public/reports/{slug}?lang=en")  # signed out: the public
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    data = map_data(html)
    assert {o["code"]: o["band"] for o in data["offices"]} == \
        {code: band for code, band in bands.items() if code != "U"}
    assert [o["code"] for o in data["unplaced"]] == ["U"]
    for office in data["offices"] + data["unplaced"]:
        assert set(office) <= {"code", "name", "region", "kind", "rank", "status", "visits",
                               "score", "ci_low", "ci_high", "band", "link", "lat", "lon"}
        assert office["link"] == f"#office-{office['code']}"  # the row of the table
        assert f'id="office-{office["code"]}"' in html
    block = MAP_DATA.search(html).group(1)
    assert "report-insp" not in block and "inspector" not in block
    csp = page.headers["Content-Security-Policy"]
    assert f"img-src 'self' data: blob: {TILE_ORIGIN};" in csp
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp
    scripts = re.findall(r"<script[^>]*>", html)
    assert all(' src="/static/' in tag or 'type="application/json"' in tag for tag in scripts)


def test_tiles_turned_off_leave_the_strict_csp(app, client, sign_in, bands):
    app.config["MAP_TILE_URL"] = ""
    sign_in("admin")
    resp = client.get("/reports/ranking?period=2026H2&lang=en")
    data = map_data(resp.get_data(as_text=True))
    assert data["tiles"] == {"url": None, "attribution": ""}
    assert "Map tiles are turned off" in resp.get_data(as_text=True)
    assert "img-src 'self' data: blob:;" in resp.headers["Content-Security-Policy"]
    assert len(data["offices"]) == 5  # the markers still draw, over the outlines


def test_the_outlines_are_served_with_the_page(client, sign_in, bands):
    sign_in("admin")
    data = map_data(client.get("/reports/ranking?period=2026H2").get_data(as_text=True))
    resp = client.get(data["outlines"])
    assert resp.status_code == 200
    outlines = json.loads(resp.get_data())
    isos = {f["properties"]["iso_3166_2"] for f in outlines["features"]}
    assert {"KZ-71", "KZ-75", "UZ-TK", "UZ-QR"} <= isos and len(isos) == 30
    assert all(f["properties"]["name"] and f["properties"]["name_ru"]
               for f in outlines["features"])
    assert len(resp.get_data()) < 400_000


def test_map_strings_in_uzbek_use_the_okina():
    """(Every language has every string: tests/test_catalogs.py.)"""
    from server.i18n import MESSAGES, translate

    keys = [key for key in MESSAGES if key.startswith("map_")]
    assert len(keys) >= 10
    for key in keys:
        assert not re.search(r"[a-zA-Z]['‘’`][a-zA-Z]", translate(key, "uz")), key
