"""The office map's data: a ranking's offices as markers (aggregates only) and the offices
without coordinates, listed under the map. Pages embed it as JSON; docs/reports.md "Map"."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app

from ..config import tile_origin
from ..extensions import db
from ..offices.models import Office

# What a marker carries, and nothing else: a ranking item's aggregates. No inspector, no visit,
# no time: the public page shows the same figures as its table.
FIELDS = ("code", "name", "region", "kind", "rank", "status", "visits", "score", "ci_low",
          "ci_high", "band")


def _coordinates(codes: list[str]) -> dict[str, tuple[float, float]]:
    """{office code: (lat, lon)} of those of these offices that have coordinates."""
    found: dict[str, tuple[float, float]] = {}
    for start in range(0, len(codes), 500):  # bounded IN lists whatever the office count
        chunk = codes[start:start + 500]
        found.update((code, (lat, lon)) for code, lat, lon in db.session.execute(
            sa.select(Office.code, Office.lat, Office.lon)
            .where(Office.code.in_(chunk), Office.lat.is_not(None), Office.lon.is_not(None))))
    return found


def _entry(item: dict) -> dict:
    entry = {"code": item["office"]["code"], "name": item["office"]["name"],
             "region": item.get("region"), "kind": item.get("kind"), "rank": item.get("rank"),
             "status": item.get("status"), "visits": item.get("visits"),
             "score": item.get("score"), "ci_low": item.get("ci_low"),
             "ci_high": item.get("ci_high"), "band": item.get("band")}
    region = entry["region"]
    if not isinstance(region, (str, type(None))):  # a Region row: its code
        entry["region"] = getattr(region, "code", str(region))
    return entry


def office_markers(items: list[dict], link) -> dict:
    """{"offices": [marker...], "unplaced": [entry...]} for ranking items (names already in
    the page's language). Each marker is the item's aggregates (FIELDS) with lat, lon and
    `link(code)`; an office without coordinates goes to `unplaced`, never silently away."""
    where = _coordinates([item["office"]["code"] for item in items])
    offices, unplaced = [], []
    for item in items:
        entry = _entry(item)
        entry["link"] = link(entry["code"])
        if entry["code"] in where:
            entry["lat"], entry["lon"] = where[entry["code"]]
            offices.append(entry)
        else:
            unplaced.append(entry)
    return {"offices": offices, "unplaced": unplaced}


def tiles() -> dict:
    """The tile layer the map shows: {"url", "attribution"}; url None when tiles are off."""
    config = current_app.config
    url = config.get("MAP_TILE_URL") or None
    if url is not None and tile_origin(url) is None:
        url = None
    return {"url": url, "attribution": config.get("MAP_TILE_ATTRIBUTION") or "" if url else ""}


def popup_strings(t, link_label: str) -> dict:
    """The popup's words in the page's language (`t(key)` translates); the script builds the
    popup from them."""
    return {"score": t("col_score"), "interval": t("col_interval"), "visits": t("col_visits"),
            "link": link_label, "not_ranked": t("status_not_enough_visits"),
            "bands": {band: t(f"band_{band}") for band in ("green", "yellow", "red")},
            "no_band": t("map_band_none")}
