"""The offices page (/console/offices, admins): list, search, paging, edit, CSV import."""
from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa

from server.audit.models import AuditEvent
from server.extensions import db
from server.offices.models import Office
from tests import factories

from .helpers import page_token, sign_in

OFFICES = "/console/offices"
HEADER = "code,name_kk,name_ru,name_en,name_uz,region,kind,address,lat,lon,active\n"


@pytest.fixture
def adm(client, world):
    sign_in(client, "adm")
    return client


def _office(app, code: str) -> dict | None:
    with app.app_context():
        row = db.session.scalar(sa.select(Office).where(Office.code == code))
        return None if row is None else {"name": dict(row.name), "lat": row.lat, "lon": row.lon,
                                         "address": row.address, "kind": row.kind,
                                         "active": row.active, "region": row.region.code}


def _events(app, action: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == action))


def _form(app, code: str, **changes) -> dict:
    office = _office(app, code)
    form = {f"name_{lang}": office["name"][lang] for lang in ("kk", "ru", "en", "uz")}
    form.update(region=office["region"], kind=office["kind"], address=office["address"],
                lat="" if office["lat"] is None else str(office["lat"]),
                lon="" if office["lon"] is None else str(office["lon"]),
                active="1" if office["active"] else "")
    form.update(changes)
    return form


def _region_of(app, code: str) -> str:
    return _office(app, code)["region"]


# --- access --------------------------------------------------------------------------------

def test_supervisors_and_inspectors_get_403_signed_out_users_go_to_sign_in(client, world, app):
    assert client.get(OFFICES).status_code == 302
    sign_in(client, "sup")
    assert client.get(OFFICES, headers={"Accept": "text/html"}).status_code == 403
    assert client.get(f"{OFFICES}/{world['office']}").status_code == 403
    before = _office(app, world["office"])
    resp = client.post(f"{OFFICES}/{world['office']}", data={
        "csrf_token": page_token(client, "/console/queue"),
        **_form(app, world["office"], name_en="Taken over")})
    assert resp.status_code == 403
    assert _office(app, world["office"]) == before
    sign_in(client, "insp")
    assert client.get(OFFICES).status_code == 403


def test_the_nav_links_the_page_for_admins_only(client, world):
    sign_in(client, "adm")
    assert f'href="{OFFICES}' in client.get("/console/queue?lang=en").get_data(as_text=True)
    sign_in(client, "sup")
    assert f'href="{OFFICES}' not in client.get("/console/queue?lang=en").get_data(as_text=True)


# --- list, search, paging ------------------------------------------------------------------

def test_list_shows_offices_with_names_in_the_page_language(adm, world):
    html = adm.get(OFFICES + "?lang=ru").get_data(as_text=True)
    assert 'id="offices-table"' in html and 'id="office-AST-1"' in html
    assert "(ru)" in html  # factories name offices "Office n (ru)" in Russian
    assert "1–2 из 2 офисов" in html


def test_search_by_code_name_in_any_language_and_region(adm, world, commit, app):
    def build():
        region = factories.region(code="TSH")
        factories.office(code="TSH-0", region=region, active=False)
        factories.office(code="TSH-9", region=region,
                         name={"kk": "Ташкент орталығы", "ru": "Ташкентский центр",
                               "en": "Tashkent centre", "uz": "Toshkent markazi"})
    commit(build)
    found = adm.get(OFFICES + "?q=%D1%82%D0%B0%D1%88%D0%BA%D0%B5%D0%BD%D1%82").get_data(
        as_text=True)  # "ташкент" in lower case finds "Ташкентский центр"
    assert 'id="office-TSH-9"' in found and 'id="office-AST-1"' not in found
    assert 'id="office-TSH-9"' in adm.get(OFFICES + "?q=toshkent").get_data(as_text=True)
    by_code = adm.get(OFFICES + "?q=ast-2").get_data(as_text=True)
    assert 'id="office-AST-2"' in by_code and 'id="office-AST-1"' not in by_code
    by_region = adm.get(OFFICES + "?region=TSH").get_data(as_text=True)
    assert 'id="office-TSH-9"' in by_region and 'id="office-AST-2"' not in by_region
    assert 'id="offices-table"' not in adm.get(OFFICES + "?q=nothing-like-it").get_data(
        as_text=True)
    inactive = adm.get(OFFICES + "?active=false").get_data(as_text=True)
    assert 'id="office-TSH-0"' in inactive and 'id="office-TSH-9"' not in inactive
    assert 'id="office-TSH-0"' not in adm.get(OFFICES + "?active=true").get_data(as_text=True)


def test_paging_50_a_page_with_counts(adm, world, commit):
    def build():
        region = factories.region(code="MANY")
        for n in range(60):
            factories.office(code=f"M-{n:03d}", region=region)
    commit(build)
    first = adm.get(OFFICES + "?region=MANY&lang=en").get_data(as_text=True)
    assert "1–50 of 60 offices" in first and 'id="office-M-049"' in first
    assert 'id="office-M-050"' not in first and 'rel="next"' in first
    second = adm.get(OFFICES + "?region=MANY&lang=en&page=2").get_data(as_text=True)
    assert "51–60 of 60 offices" in second and 'id="office-M-059"' in second
    assert 'rel="prev"' in second and 'rel="next"' not in second


def test_a_search_with_a_control_character_is_shown_next_to_the_field(adm, world):
    resp = adm.get(OFFICES + "?q=a%01b&lang=en")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'id="err-q"' in html and "Control character U+0001" in html


# --- edit ----------------------------------------------------------------------------------

def test_edit_names_address_kind_coordinates_and_active_with_an_audit_event(adm, world, app):
    code = world["office"]
    html = adm.get(f"{OFFICES}/{code}?lang=en").get_data(as_text=True)
    assert 'id="office-form"' in html and 'name="name_uz"' in html
    before = _events(app, "office_updated")
    resp = adm.post(f"{OFFICES}/{code}?lang=en", data={
        "csrf_token": page_token(adm, f"{OFFICES}/{code}"),
        **_form(app, code, name_kk="Астана ХҚКО №1", name_ru="ЦОН Астаны №1",
                name_en="Astana PSC 1", name_uz="Astana DXM 1", address="Mangilik El 1",
                kind="registry", lat="51,15", lon="71.45", active="")})
    assert resp.status_code == 303
    assert f"saved={code}" in resp.headers["Location"]
    after = _office(app, code)
    assert after["name"] == {"kk": "Астана ХҚКО №1", "ru": "ЦОН Астаны №1",
                             "en": "Astana PSC 1", "uz": "Astana DXM 1"}
    assert (after["lat"], after["lon"], after["kind"], after["active"]) == (
        51.15, 71.45, "registry", False)
    assert after["address"] == "Mangilik El 1"
    assert _events(app, "office_updated") == before + 1
    listed = adm.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="office-saved"' in listed and "Astana PSC 1" in listed


def test_saving_an_unchanged_form_changes_nothing(adm, world, app):
    code = world["office"]
    before = _events(app, "office_updated")
    resp = adm.post(f"{OFFICES}/{code}", data={
        "csrf_token": page_token(adm, f"{OFFICES}/{code}"), **_form(app, code)})
    assert resp.status_code == 303 and "unchanged=" in resp.headers["Location"]
    assert _events(app, "office_updated") == before


def test_clearing_both_coordinates_removes_the_position(adm, world, app):
    code = world["office"]
    resp = adm.post(f"{OFFICES}/{code}", data={
        "csrf_token": page_token(adm, f"{OFFICES}/{code}"), **_form(app, code, lat="", lon="")})
    assert resp.status_code == 303
    assert (_office(app, code)["lat"], _office(app, code)["lon"]) == (None, None)


BAD_FIELDS = [
    ("lat", "91", "en", "Must be from -90 to 90."),
    ("lon", "-180.5", "ru", "Должно быть от -180 до 180."),
    ("lat", "north", "en", "Not a number: 'north'."),
    ("lat", "nan", "en", "Not a number: 'nan'."),
    ("name_uz", "   ", "en", "Must not be empty."),
    ("name_kk", "", "kk", "Бос болмауы керек."),
    ("region", "NOWHERE", "en", "Unknown region 'NOWHERE'."),
    ("kind", "palace", "en", "Not one of the office kinds."),
]


def test_a_bad_field_is_shown_next_to_it_and_nothing_is_stored(adm, world, app):
    code = world["office"]
    before, events = _office(app, code), _events(app, "office_updated")
    token = page_token(adm, f"{OFFICES}/{code}")
    for field, value, lang, shown in BAD_FIELDS:
        resp = adm.post(f"{OFFICES}/{code}?lang={lang}", data={
            "csrf_token": token, **_form(app, code, name_en="Changed too", **{field: value})})
        assert resp.status_code == 422, field
        html = resp.get_data(as_text=True)
        assert f'id="err-{field}"' in html and shown.replace("'", "&#39;") in html, field
        assert re.search(rf'aria-invalid="true" aria-describedby="[^"]*err-{field}"', html)
        assert "Changed too" in html  # what was typed stays in the form
        assert _office(app, code) == before
        assert _events(app, "office_updated") == events


def test_latitude_without_longitude_is_refused(adm, world, app):
    code = world["office"]
    before = _office(app, code)
    resp = adm.post(f"{OFFICES}/{code}?lang=en", data={
        "csrf_token": page_token(adm, f"{OFFICES}/{code}"), **_form(app, code, lon="")})
    assert resp.status_code == 422
    assert "Give latitude and longitude together, or neither." in resp.get_data(as_text=True)
    assert _office(app, code) == before


def test_an_edit_without_csrf_is_refused_and_changes_nothing(adm, world, app):
    code = world["office"]
    before = _office(app, code)
    resp = adm.post(f"{OFFICES}/{code}", data=_form(app, code, name_en="No token"))
    assert resp.status_code == 400
    assert "csrf_failed" in resp.get_data(as_text=True)
    assert _office(app, code) == before


def test_an_unknown_office_is_a_404(adm, world):
    assert adm.get(f"{OFFICES}/NOPE-404").status_code == 404
    assert adm.get(f"{OFFICES}/%00bad").status_code == 404


# --- CSV import ----------------------------------------------------------------------------

def _upload(client, text: str | bytes, lang: str = "en", name: str = "offices.csv"):
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return client.post(f"{OFFICES}/import?lang={lang}", content_type="multipart/form-data",
                       data={"csrf_token": page_token(client, OFFICES),
                             "file": (io.BytesIO(raw), name)})


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Office))


def test_import_creates_every_row_with_an_audit_event(adm, world, app):
    region = _region_of(app, world["office"])
    resp = _upload(adm, HEADER
                   + f"NEW-1,Жаңа,Новый,New,Yangi,{region},registry,Street 1,51.1,71.4,yes\n"
                   + f"NEW-2,Жаңа 2,Новый 2,New 2,Yangi 2,{region},other,,,,\n")
    assert resp.status_code == 303 and "imported=2" in resp.headers["Location"]
    assert _office(app, "NEW-1")["kind"] == "registry" and _office(app, "NEW-2") is not None
    assert _events(app, "offices_imported") == 1
    html = adm.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="offices-imported"' in html


def test_import_with_bad_rows_lists_row_column_and_message_and_imports_nothing(adm, world,
                                                                                 app):
    region = _region_of(app, world["office"])
    before = _count(app)
    resp = _upload(adm, HEADER
                   + f"OK-1,a,b,c,d,{region},registry,,,,\n"
                   + f"BAD-1,a,b,c,d,NOWHERE,registry,,95,71,\n"
                   + f"{world['office']},a,b,c,,{region},registry,,,,maybe\n", lang="ru")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'id="import-rows"' in html and "csv_invalid_rows" in html
    assert "2 из 3 строк содержат ошибки; ничего не импортировано." in html
    rows = _rows(html)
    assert ("3", "region", "Неизвестный регион &#39;NOWHERE&#39;.") in rows
    assert ("3", "lat", "Должно быть от -90 до 90.") in rows
    assert ("4", "name_uz", "Не должно быть пустым.") in rows
    assert ("4", "code", f"Офис с кодом &#39;{world['office']}&#39; уже существует.") in rows
    assert ("4", "active", "Не «да» или «нет»: &#39;maybe&#39;.") in rows
    assert _count(app) == before
    assert _events(app, "offices_imported") == 0


def _rows(html: str) -> list[tuple[str, str, str]]:
    table = html.split('id="import-rows"', 1)[1].split("</table>", 1)[0]
    return [tuple(cell.strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row))
            for row in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S) if "<td" in row]


BROKEN_CSV = [
    (b"", "validation_failed", "Choose a CSV file."),
    (b"code;name\nX;Y\n", "csv_bad_header", "Missing columns"),
    (HEADER.encode(), "csv_empty", "The file has no offices."),
    ("code,name_kk\n".encode("utf-16"), "csv_not_utf8", "The file is not UTF-8"),
    (b"PK\x03\x04\x00\x00garbage-not-a-csv\xff\xfe", "csv_not_utf8", "The file is not UTF-8"),
    ((HEADER + 'X-1,"a,b,c,d,R,registry,,,,\n').encode(), "csv_malformed",
     "The file cannot be read as CSV"),
]


def test_a_broken_csv_is_explained_and_nothing_is_imported(adm, world, app):
    before = _count(app)
    for content, code, shown in BROKEN_CSV:
        resp = _upload(adm, content)
        assert resp.status_code == 422, code
        html = resp.get_data(as_text=True)
        assert 'id="import-errors"' in html and shown in html and code in html, code
        assert _count(app) == before
    assert _events(app, "offices_imported") == 0


def test_an_import_without_csrf_is_refused(adm, world, app):
    region = _region_of(app, world["office"])
    before = _count(app)
    resp = adm.post(f"{OFFICES}/import", content_type="multipart/form-data", data={
        "file": (io.BytesIO((HEADER + f"NEW-9,a,b,c,d,{region},registry,,,,\n").encode()),
                 "x.csv")})
    assert resp.status_code == 400
    assert _count(app) == before


def test_a_supervisor_cannot_import(client, world, app):
    sign_in(client, "sup")
    region = _region_of(app, world["office"])
    before = _count(app)
    resp = client.post(f"{OFFICES}/import", content_type="multipart/form-data", data={
        "csrf_token": page_token(client, "/console/queue"),
        "file": (io.BytesIO((HEADER + f"NEW-9,a,b,c,d,{region},registry,,,,\n").encode()),
                 "x.csv")})
    assert resp.status_code == 403
    assert _count(app) == before
