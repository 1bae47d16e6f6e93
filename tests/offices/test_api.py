"""/api/v1/offices and /api/v1/regions over HTTP: contract, permissions, bad input."""
from __future__ import annotations

import json

import pytest

from server.offices.models import Office, Region
from tests import factories

from .helpers import LANGS, OFFICE_KEYS, assert_problem, name_errors, office_body

def post_raw(client, headers, data: str, url: str = "/api/v1/offices"):
    return client.post(url, data=data, headers={**headers, "Content-Type": "application/json"})


# --- create and read ------------------------------------------------------------------------

def test_admin_creates_an_office(client, admin_headers, region, count):
    resp = client.post("/api/v1/offices", json=office_body(), headers=admin_headers)
    assert resp.status_code == 201, resp.json
    assert count(Office) == 1


def test_created_office_answers_the_contract_shape(client, admin_headers, region):
    body = office_body()
    resp = client.post("/api/v1/offices", json=body, headers=admin_headers)
    assert resp.mimetype == "application/json"
    assert OFFICE_KEYS <= set(resp.json)
    assert {k: resp.json[k] for k in OFFICE_KEYS} == body
    assert set(resp.json["name"]) == set(LANGS)


def test_office_reads_back_as_created(client, admin_headers, inspector_headers, region):
    body = office_body()
    client.post("/api/v1/offices", json=body, headers=admin_headers)
    resp = client.get("/api/v1/offices/AST-1", headers=inspector_headers)
    assert resp.status_code == 200
    assert {k: resp.json[k] for k in OFFICE_KEYS} == body


def test_optional_fields_take_their_defaults(client, admin_headers, region, stored_office):
    body = office_body()
    for key in ("address", "lat", "lon", "active"):
        del body[key]
    resp = client.post("/api/v1/offices", json=body, headers=admin_headers)
    assert resp.status_code == 201, resp.json
    assert (resp.json["address"], resp.json["lat"], resp.json["lon"], resp.json["active"]) == \
        ("", None, None, True)
    assert stored_office("AST-1")["lat"] is None


def test_creating_an_office_writes_an_audit_event(client, admin_headers, region, events):
    client.post("/api/v1/offices", json=office_body(), headers=admin_headers)
    [event] = events("office_created")
    assert event["object_id"] == "AST-1"
    assert event["payload"]["region"] == "AST"


def test_cyrillic_and_kazakh_names_round_trip(client, admin_headers, region, stored_office):
    name = {"kk": "Халыққа қызмет көрсету орталығы", "ru": "Центр обслуживания населения",
            "en": "Public Service Centre", "uz": "Aholiga xizmat ko‘rsatish markazi"}
    resp = client.post("/api/v1/offices", json=office_body(name=name), headers=admin_headers)
    assert resp.json["name"] == name
    assert stored_office("AST-1")["name"] == name


def test_unknown_office_is_a_404_problem(client, inspector_headers):
    resp = client.get("/api/v1/offices/NOPE", headers=inspector_headers)
    assert_problem(resp, 404, "not_found")


@pytest.mark.parametrize("url", ["/api/v1/offices/AB%00C", "/api/v1/regions/AB%00C",
                                 "/api/v1/offices/" + "A" * 300])
def test_impossible_code_in_the_path_is_404(client, inspector_headers, url):
    assert_problem(client.get(url, headers=inspector_headers), 404, "not_found")


def test_patch_of_a_code_with_nul_is_404(client, admin_headers, make_office, count):
    make_office(code="AB")
    resp = client.patch("/api/v1/offices/AB%00", json={"address": "x"}, headers=admin_headers)
    assert_problem(resp, 404, "not_found")


# --- permissions ----------------------------------------------------------------------------

def test_reading_offices_needs_a_token(client, make_office):
    make_office(code="AST-1")
    resp = client.get("/api/v1/offices")
    assert_problem(resp, 401, "unauthorized")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_reading_one_office_needs_a_token(client, make_office):
    make_office(code="AST-1")
    assert_problem(client.get("/api/v1/offices/AST-1"), 401, "unauthorized")


def test_creating_an_office_without_a_token_is_401(client, region, count):
    resp = client.post("/api/v1/offices", json=office_body())
    assert_problem(resp, 401, "unauthorized")
    assert count(Office) == 0


def test_a_bad_token_is_401(client, region, count):
    resp = client.post("/api/v1/offices", json=office_body(),
                       headers={"Authorization": "Bearer not-a-real-token"})
    assert resp.status_code == 401
    assert count(Office) == 0


@pytest.mark.parametrize("role", ["inspector", "supervisor"])
def test_non_admin_cannot_create_an_office(client, headers_for, region, count, role):
    resp = client.post("/api/v1/offices", json=office_body(), headers=headers_for(role))
    assert_problem(resp, 403, "forbidden")
    assert count(Office) == 0


@pytest.mark.parametrize("role", ["inspector", "supervisor"])
def test_non_admin_cannot_change_an_office(client, headers_for, make_office, stored_office,
                                           role):
    make_office(code="AST-1", address="Old street")
    before = stored_office("AST-1")
    resp = client.patch("/api/v1/offices/AST-1", json={"address": "New street", "active": False},
                        headers=headers_for(role))
    assert_problem(resp, 403, "forbidden")
    assert stored_office("AST-1") == before


def test_patch_without_a_token_is_401_and_changes_nothing(client, make_office, stored_office):
    make_office(code="AST-1", address="Old street")
    resp = client.patch("/api/v1/offices/AST-1", json={"address": "New street"})
    assert_problem(resp, 401, "unauthorized")
    assert stored_office("AST-1")["address"] == "Old street"


def test_non_admin_is_refused_before_the_body_is_read(client, inspector_headers, count):
    resp = post_raw(client, inspector_headers, "{not json")
    assert_problem(resp, 403, "forbidden")
    assert count(Office) == 0


@pytest.mark.parametrize("role", ["inspector", "supervisor", "admin"])
def test_every_role_can_list_offices(client, headers_for, make_office, role):
    make_office(code="AST-1")
    resp = client.get("/api/v1/offices", headers=headers_for(role))
    assert resp.status_code == 200
    assert [o["code"] for o in resp.json["items"]] == ["AST-1"]


# --- list, pagination, filters --------------------------------------------------------------

def test_list_answers_the_page_envelope(client, inspector_headers, make_office):
    make_office(code="AST-1")
    resp = client.get("/api/v1/offices", headers=inspector_headers)
    assert set(resp.json) == {"items", "total", "page", "per_page"}
    assert (resp.json["total"], resp.json["page"], resp.json["per_page"]) == (1, 1, 50)
    assert OFFICE_KEYS <= set(resp.json["items"][0])


def test_list_of_no_offices_is_empty(client, inspector_headers):
    resp = client.get("/api/v1/offices", headers=inspector_headers)
    assert resp.json == {"items": [], "total": 0, "page": 1, "per_page": 50}


def test_list_pages_through_offices_by_code(client, inspector_headers, make_office):
    for n in range(1, 6):
        make_office(code=f"AST-{n}")
    resp = client.get("/api/v1/offices?page=2&per_page=2", headers=inspector_headers)
    assert [o["code"] for o in resp.json["items"]] == ["AST-3", "AST-4"]
    assert (resp.json["total"], resp.json["page"], resp.json["per_page"]) == (5, 2, 2)


def test_last_page_is_partial(client, inspector_headers, make_office):
    for n in range(1, 6):
        make_office(code=f"AST-{n}")
    resp = client.get("/api/v1/offices?page=3&per_page=2", headers=inspector_headers)
    assert [o["code"] for o in resp.json["items"]] == ["AST-5"]


def test_page_past_the_end_is_empty_with_the_total(client, inspector_headers, make_office):
    make_office(code="AST-1")
    resp = client.get("/api/v1/offices?page=9", headers=inspector_headers)
    assert resp.status_code == 200
    assert (resp.json["items"], resp.json["total"]) == ([], 1)


@pytest.mark.parametrize("query", ["page=0", "per_page=0", "per_page=201", "page=x",
                                   "per_page=-1"])
def test_bad_paging_is_422(client, inspector_headers, query):
    resp = client.get(f"/api/v1/offices?{query}", headers=inspector_headers)
    assert_problem(resp, 422, "validation_failed")


def test_unknown_query_parameter_is_422(client, inspector_headers):
    resp = client.get("/api/v1/offices?regoin=AST", headers=inspector_headers)
    body = assert_problem(resp, 422, "validation_failed")
    assert "regoin" in body["errors"]["query"]


def test_filter_by_region(client, inspector_headers, make_office):
    make_office(code="AST-1")
    make_office(code="ALA-1", region="ALA")
    resp = client.get("/api/v1/offices?region=ALA", headers=inspector_headers)
    assert [o["code"] for o in resp.json["items"]] == ["ALA-1"]
    assert resp.json["total"] == 1


def test_filter_by_kind(client, inspector_headers, make_office):
    make_office(code="AST-1", kind="service_centre")
    make_office(code="AST-2", kind="consulate")
    resp = client.get("/api/v1/offices?kind=consulate", headers=inspector_headers)
    assert [o["code"] for o in resp.json["items"]] == ["AST-2"]


def test_unknown_kind_filter_is_422(client, inspector_headers):
    resp = client.get("/api/v1/offices?kind=bakery", headers=inspector_headers)
    assert_problem(resp, 422, "validation_failed")


@pytest.mark.parametrize("flag, expected", [("false", ["AST-2"]), ("true", ["AST-1"])])
def test_filter_by_active(client, inspector_headers, make_office, flag, expected):
    make_office(code="AST-1", active=True)
    make_office(code="AST-2", active=False)
    resp = client.get(f"/api/v1/offices?active={flag}", headers=inspector_headers)
    assert [o["code"] for o in resp.json["items"]] == expected


def test_filters_combine(client, inspector_headers, make_office):
    make_office(code="AST-1", kind="consulate", active=True)
    make_office(code="AST-2", kind="consulate", active=False)
    make_office(code="ALA-1", region="ALA", kind="consulate", active=True)
    resp = client.get("/api/v1/offices?region=AST&kind=consulate&active=true",
                      headers=inspector_headers)
    assert [o["code"] for o in resp.json["items"]] == ["AST-1"]


def test_search_matches_part_of_the_code(client, inspector_headers, make_office):
    make_office(code="AST-CON-ESIL")
    make_office(code="AST-TAX-1")
    resp = client.get("/api/v1/offices?q=con-es", headers=inspector_headers)
    assert [o["code"] for o in resp.json["items"]] == ["AST-CON-ESIL"]


def test_search_matches_a_cyrillic_name(client, inspector_headers, make_office):
    make_office(code="AST-1", name={"kk": "Есіл ХҚКО", "ru": "ЦОН Есильского района",
                                    "en": "PSC Esil", "uz": "Esil"})
    make_office(code="AST-2", name=factories.names("Other"))
    resp = client.get("/api/v1/offices", query_string={"q": "Есильского"},
                      headers=inspector_headers)
    assert [o["code"] for o in resp.json["items"]] == ["AST-1"]


def test_search_ignores_case_in_cyrillic(client, inspector_headers, make_office):
    make_office(code="AST-1", name={"kk": "Есіл ХҚКО", "ru": "ЦОН Есильского района",
                                    "en": "PSC Esil", "uz": "Esil"})
    resp = client.get("/api/v1/offices", query_string={"q": "цон есиль"},
                      headers=inspector_headers)
    assert [o["code"] for o in resp.json["items"]] == ["AST-1"]


def test_search_matches_a_kazakh_name(client, inspector_headers, make_office):
    make_office(code="AST-1", name={"kk": "Есіл ХҚКО", "ru": "ЦОН", "en": "PSC", "uz": "Esil"})
    resp = client.get("/api/v1/offices", query_string={"q": "хқко"},
                      headers=inspector_headers)
    assert [o["code"] for o in resp.json["items"]] == ["AST-1"]


def test_search_with_a_nul_is_422(client, inspector_headers, make_office):
    make_office(code="AST-1")
    resp = client.get("/api/v1/offices?q=AST%00", headers=inspector_headers)
    assert "q" in assert_problem(resp, 422, "validation_failed")["errors"]["query"]


def test_search_does_not_match_language_keys(client, inspector_headers, make_office):
    make_office(code="AST-1", name={"kk": "Бір", "ru": "Один", "en": "One", "uz": "Bir"})
    resp = client.get("/api/v1/offices?q=ru", headers=inspector_headers)
    assert resp.json["total"] == 0


@pytest.mark.parametrize("q", ["%", "_"])
def test_search_treats_like_wildcards_literally(client, inspector_headers, make_office, q):
    make_office(code="AST-1", name=factories.names("Plain"))
    resp = client.get("/api/v1/offices", query_string={"q": q}, headers=inspector_headers)
    assert resp.json["total"] == 0


def test_search_finds_a_literal_percent_sign(client, inspector_headers, make_office):
    make_office(code="AST-1", name=factories.names("Plain"))
    make_office(code="AST-2", name=factories.names("100% Service"))
    resp = client.get("/api/v1/offices", query_string={"q": "0% s"}, headers=inspector_headers)
    assert [o["code"] for o in resp.json["items"]] == ["AST-2"]


# --- PATCH ----------------------------------------------------------------------------------

def test_patch_changes_the_given_fields(client, admin_headers, make_office, stored_office):
    make_office(code="AST-1", address="Old street", active=True, kind="service_centre")
    before = stored_office("AST-1")
    resp = client.patch("/api/v1/offices/AST-1",
                        json={"address": "New street", "active": False, "kind": "registry"},
                        headers=admin_headers)
    assert resp.status_code == 200, resp.json
    assert (resp.json["address"], resp.json["active"], resp.json["kind"]) == \
        ("New street", False, "registry")
    assert stored_office("AST-1") == {**before, "address": "New street", "active": False,
                                      "kind": "registry"}


def test_patch_changes_the_name(client, admin_headers, make_office, stored_office):
    make_office(code="AST-1")
    name = factories.names("Renamed")
    resp = client.patch("/api/v1/offices/AST-1", json={"name": name}, headers=admin_headers)
    assert resp.status_code == 200, resp.json
    assert stored_office("AST-1")["name"] == name


def test_patch_moves_an_office_to_another_region(client, admin_headers, make_office, commit,
                                                 stored_office):
    make_office(code="AST-1")
    commit(lambda: factories.region(code="ALA"))
    resp = client.patch("/api/v1/offices/AST-1", json={"region": "ALA"}, headers=admin_headers)
    assert resp.json["region"] == "ALA"
    assert stored_office("AST-1")["region"] == "ALA"


def test_patch_clears_the_position(client, admin_headers, make_office, stored_office):
    make_office(code="AST-1", lat=51.1, lon=71.4)
    resp = client.patch("/api/v1/offices/AST-1", json={"lat": None, "lon": None},
                        headers=admin_headers)
    assert resp.status_code == 200, resp.json
    assert (stored_office("AST-1")["lat"], stored_office("AST-1")["lon"]) == (None, None)


def test_patch_logs_old_and_new_values(client, admin_headers, make_office, events):
    make_office(code="AST-1", address="Old street", active=True)
    client.patch("/api/v1/offices/AST-1", json={"address": "New street", "active": False},
                 headers=admin_headers)
    [event] = events("office_updated")
    assert event["object_id"] == "AST-1"
    assert event["payload"] == {"address": {"old": "Old street", "new": "New street"},
                                "active": {"old": True, "new": False}}


def test_patch_logs_the_region_by_code(client, admin_headers, make_office, commit, events):
    make_office(code="AST-1")
    commit(lambda: factories.region(code="ALA"))
    client.patch("/api/v1/offices/AST-1", json={"region": "ALA"}, headers=admin_headers)
    assert events("office_updated")[0]["payload"] == {"region": {"old": "AST", "new": "ALA"}}


def test_patch_logs_only_what_changed(client, admin_headers, make_office, events):
    make_office(code="AST-1", address="Same", active=True)
    client.patch("/api/v1/offices/AST-1", json={"address": "Same", "active": False},
                 headers=admin_headers)
    assert events("office_updated")[0]["payload"] == {"active": {"old": True, "new": False}}


def test_patch_without_changes_logs_nothing(client, admin_headers, make_office, events):
    make_office(code="AST-1", address="Same")
    resp = client.patch("/api/v1/offices/AST-1", json={"address": "Same"}, headers=admin_headers)
    assert resp.status_code == 200
    assert events("office_updated") == []


def test_patch_cannot_change_the_code(client, admin_headers, make_office, stored_office):
    make_office(code="AST-1")
    resp = client.patch("/api/v1/offices/AST-1", json={"code": "AST-2"}, headers=admin_headers)
    body = assert_problem(resp, 422, "validation_failed")
    assert "code" in body["errors"]
    assert stored_office("AST-1") is not None
    assert stored_office("AST-2") is None


def test_patch_with_an_unknown_field_changes_nothing(client, admin_headers, make_office,
                                                     stored_office):
    make_office(code="AST-1", address="Old street")
    resp = client.patch("/api/v1/offices/AST-1", json={"address": "New", "colour": "red"},
                        headers=admin_headers)
    body = assert_problem(resp, 422, "validation_failed")
    assert "colour" in body["errors"]
    assert stored_office("AST-1")["address"] == "Old street"


def test_patch_to_an_unknown_region_is_422_and_changes_nothing(client, admin_headers,
                                                                make_office, stored_office,
                                                                events):
    make_office(code="AST-1", address="Old street")
    before = stored_office("AST-1")
    resp = client.patch("/api/v1/offices/AST-1",
                        json={"name": factories.names("New"), "address": "New street",
                              "region": "NOPE"}, headers=admin_headers)
    body = assert_problem(resp, 422, "validation_failed")
    assert "region" in body["errors"]
    assert stored_office("AST-1") == before
    assert events("office_updated") == []


def test_patch_of_lat_without_lon_is_422(client, admin_headers, make_office, stored_office):
    make_office(code="AST-1", lat=51.1, lon=71.4)
    resp = client.patch("/api/v1/offices/AST-1", json={"lat": 43.2}, headers=admin_headers)
    assert_problem(resp, 422, "validation_failed")
    assert stored_office("AST-1")["lat"] == 51.1


def test_patch_with_a_wrong_type_is_422(client, admin_headers, make_office, stored_office):
    make_office(code="AST-1", active=True)
    resp = client.patch("/api/v1/offices/AST-1", json={"active": "maybe"}, headers=admin_headers)
    assert_problem(resp, 422, "validation_failed")
    assert stored_office("AST-1")["active"] is True


@pytest.mark.parametrize("field", ["name", "kind", "region", "address", "active"])
def test_patch_to_null_is_422(client, admin_headers, make_office, stored_office, field):
    make_office(code="AST-1")
    before = stored_office("AST-1")
    resp = client.patch("/api/v1/offices/AST-1", json={field: None}, headers=admin_headers)
    assert field in assert_problem(resp, 422, "validation_failed")["errors"]
    assert stored_office("AST-1") == before


def test_patch_with_a_blank_name_is_422(client, admin_headers, make_office, stored_office):
    make_office(code="AST-1")
    before = stored_office("AST-1")
    resp = client.patch("/api/v1/offices/AST-1", json={"name": {**before["name"], "en": "  "}},
                        headers=admin_headers)
    assert_problem(resp, 422, "validation_failed")
    assert stored_office("AST-1") == before


def test_patch_with_malformed_json_is_400(client, admin_headers, make_office, stored_office):
    make_office(code="AST-1", address="Old street")
    resp = client.patch("/api/v1/offices/AST-1", data='{"address": "New"',
                        headers={**admin_headers, "Content-Type": "application/json"})
    assert_problem(resp, 400, "malformed_json")
    assert stored_office("AST-1")["address"] == "Old street"


def test_patch_of_an_unknown_office_is_404(client, admin_headers, count, events):
    resp = client.patch("/api/v1/offices/NOPE", json={"address": "x"}, headers=admin_headers)
    assert_problem(resp, 404, "not_found")
    assert count(Office) == 0
    assert events("office_updated") == []


# --- bad input on create --------------------------------------------------------------------

def test_malformed_json_is_400(client, admin_headers, region, count):
    resp = post_raw(client, admin_headers, '{"code": "AST-1", ')
    assert_problem(resp, 400, "malformed_json")
    assert count(Office) == 0


def test_json_sent_as_form_is_415(client, admin_headers, region, count):
    resp = client.post("/api/v1/offices", data=json.dumps(office_body()),
                       headers={**admin_headers, "Content-Type": "text/plain"})
    assert_problem(resp, 415, "unsupported_media_type")
    assert count(Office) == 0


def test_a_json_array_body_is_422(client, admin_headers, region, count):
    resp = client.post("/api/v1/offices", json=[office_body()], headers=admin_headers)
    assert_problem(resp, 422, "validation_failed")
    assert count(Office) == 0


def test_missing_required_fields_are_each_named(client, admin_headers, count):
    resp = client.post("/api/v1/offices", json={}, headers=admin_headers)
    body = assert_problem(resp, 422, "validation_failed")
    assert {"code", "name", "region", "kind"} <= set(body["errors"])
    assert count(Office) == 0


@pytest.mark.parametrize("field, value", [
    ("code", 123),
    ("name", "Office One"),
    ("name", ["kk", "ru"]),
    ("region", 7),
    ("kind", True),
    ("address", 12),
    ("lat", "north"),
    ("lat", True),
    ("lat", "45.5"),          # a number in a string is not coerced
    ("lon", "71.4"),
    ("active", "maybe"),
    ("active", None),
    ("active", "yes"),        # neither are words or numbers for a boolean
    ("active", "true"),
    ("active", 1),
    ("active", 0),
])
def test_wrong_type_is_422(client, admin_headers, region, count, field, value):
    body = office_body(**{field: value})
    if field == "lat":
        body["lon"] = 71.4
    if field == "lon":
        body["lat"] = 51.1
    resp = client.post("/api/v1/offices", json=body, headers=admin_headers)
    errors = assert_problem(resp, 422, "validation_failed")["errors"]
    assert field in errors
    assert count(Office) == 0


@pytest.mark.parametrize("field, value", [("lat", "45.5"), ("active", "yes"), ("active", 1)])
def test_a_patch_of_the_wrong_type_is_422_and_changes_nothing(client, admin_headers, make_office,
                                                              stored_office, field, value):
    make_office(code="AST-1", lat=51.1, lon=71.4)
    before = stored_office("AST-1")
    body = {field: value, **({"lon": 71.5} if field == "lat" else {})}
    resp = client.patch("/api/v1/offices/AST-1", json=body, headers=admin_headers)
    assert field in assert_problem(resp, 422, "validation_failed")["errors"]
    assert stored_office("AST-1") == before


def test_integer_coordinates_are_numbers(client, admin_headers, region, stored_office):
    resp = client.post("/api/v1/offices", json=office_body(lat=51, lon=71), headers=admin_headers)
    assert resp.status_code == 201, resp.json
    assert (stored_office("AST-1")["lat"], stored_office("AST-1")["lon"]) == (51.0, 71.0)


def test_a_name_in_a_language_that_is_not_text_is_422(client, admin_headers, region, count):
    resp = client.post("/api/v1/offices", json=office_body(name={**factories.names("A"), "kk": 5}),
                       headers=admin_headers)
    errors = assert_problem(resp, 422, "validation_failed")["errors"]
    assert "kk" in name_errors(errors)
    assert count(Office) == 0


def test_unknown_field_is_422(client, admin_headers, region, count):
    resp = client.post("/api/v1/offices", json=office_body(is_admin=True), headers=admin_headers)
    errors = assert_problem(resp, 422, "validation_failed")["errors"]
    assert "is_admin" in errors
    assert count(Office) == 0


def test_unknown_kind_is_422(client, admin_headers, region, count):
    resp = client.post("/api/v1/offices", json=office_body(kind="bakery"), headers=admin_headers)
    assert "kind" in assert_problem(resp, 422, "validation_failed")["errors"]
    assert count(Office) == 0


@pytest.mark.parametrize("code", ["", "-AST", "AST 1", "A" * 33, "AST/1", "АСТ-1"])
def test_bad_code_is_422(client, admin_headers, region, count, code):
    resp = client.post("/api/v1/offices", json=office_body(code=code), headers=admin_headers)
    assert "code" in assert_problem(resp, 422, "validation_failed")["errors"]
    assert count(Office) == 0


def test_code_with_a_trailing_newline_is_422(client, admin_headers, region, count):
    resp = client.post("/api/v1/offices", json=office_body(code="AST-1\n"), headers=admin_headers)
    assert_problem(resp, 422, "validation_failed")
    assert count(Office) == 0


def test_longest_code_is_accepted(client, admin_headers, region, stored_office):
    code = "A" * 32
    resp = client.post("/api/v1/offices", json=office_body(code=code), headers=admin_headers)
    assert resp.status_code == 201, resp.json
    assert stored_office(code)["code"] == code


def test_address_over_500_characters_is_422(client, admin_headers, region, count):
    resp = client.post("/api/v1/offices", json=office_body(address="а" * 501),
                       headers=admin_headers)
    assert "address" in assert_problem(resp, 422, "validation_failed")["errors"]
    assert count(Office) == 0


def test_address_of_500_cyrillic_characters_is_accepted(client, admin_headers, region,
                                                        stored_office):
    resp = client.post("/api/v1/offices", json=office_body(address="а" * 500),
                       headers=admin_headers)
    assert resp.status_code == 201, resp.json
    assert stored_office("AST-1")["address"] == "а" * 500


def test_name_over_300_characters_is_422(client, admin_headers, region, count):
    name = {**factories.names("A"), "ru": "ж" * 301}
    resp = client.post("/api/v1/offices", json=office_body(name=name), headers=admin_headers)
    errors = assert_problem(resp, 422, "validation_failed")["errors"]
    assert "ru" in name_errors(errors)
    assert count(Office) == 0


def test_name_of_300_characters_is_accepted(client, admin_headers, region, stored_office):
    name = {**factories.names("A"), "ru": "ж" * 300}
    resp = client.post("/api/v1/offices", json=office_body(name=name), headers=admin_headers)
    assert resp.status_code == 201, resp.json
    assert stored_office("AST-1")["name"] == name


def test_name_without_a_translation_is_422(client, admin_headers, region, count):
    name = factories.names("A")
    del name["uz"]
    resp = client.post("/api/v1/offices", json=office_body(name=name), headers=admin_headers)
    errors = assert_problem(resp, 422, "validation_failed")["errors"]
    assert "uz" in name_errors(errors)
    assert count(Office) == 0


def test_name_errors_are_keyed_by_language(client, admin_headers, region):
    name = factories.names("A")
    del name["uz"]
    resp = client.post("/api/v1/offices", json=office_body(name=name), headers=admin_headers)
    assert resp.json["errors"]["name"] == {"uz": ["Missing data for required field."]}


def test_name_with_a_blank_translation_is_422(client, admin_headers, region, count):
    name = {**factories.names("A"), "kk": "   "}
    resp = client.post("/api/v1/offices", json=office_body(name=name), headers=admin_headers)
    assert "kk" in name_errors(assert_problem(resp, 422, "validation_failed")["errors"])
    assert count(Office) == 0


def test_name_with_an_extra_language_is_422(client, admin_headers, region, count):
    name = {**factories.names("A"), "de": "Amt"}
    resp = client.post("/api/v1/offices", json=office_body(name=name), headers=admin_headers)
    assert "de" in name_errors(assert_problem(resp, 422, "validation_failed")["errors"])
    assert count(Office) == 0


@pytest.mark.parametrize("lat, lon, field", [(91, 71.4, "lat"), (-90.5, 71.4, "lat"),
                                             (51.1, 181, "lon"), (51.1, -180.01, "lon")])
def test_position_out_of_range_is_422(client, admin_headers, region, count, lat, lon, field):
    resp = client.post("/api/v1/offices", json=office_body(lat=lat, lon=lon),
                       headers=admin_headers)
    assert field in assert_problem(resp, 422, "validation_failed")["errors"]
    assert count(Office) == 0


@pytest.mark.parametrize("lat, lon", [(90, 180), (-90, -180)])
def test_position_on_the_edge_is_accepted(client, admin_headers, region, stored_office, lat,
                                          lon):
    resp = client.post("/api/v1/offices", json=office_body(lat=lat, lon=lon),
                       headers=admin_headers)
    assert resp.status_code == 201, resp.json
    assert (stored_office("AST-1")["lat"], stored_office("AST-1")["lon"]) == (lat, lon)


def test_lat_without_lon_is_422(client, admin_headers, region, count):
    body = office_body()
    del body["lon"]
    resp = client.post("/api/v1/offices", json=body, headers=admin_headers)
    assert "lat" in assert_problem(resp, 422, "validation_failed")["errors"]
    assert count(Office) == 0


def test_lon_with_a_null_lat_is_422(client, admin_headers, region, count):
    resp = client.post("/api/v1/offices", json=office_body(lat=None), headers=admin_headers)
    assert_problem(resp, 422, "validation_failed")
    assert count(Office) == 0


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_lat_is_422(client, admin_headers, region, count, literal):
    text = json.dumps(office_body(lat=0.5)).replace("0.5", literal)
    resp = post_raw(client, admin_headers, text)
    assert "lat" in assert_problem(resp, 422, "validation_failed")["errors"]
    assert count(Office) == 0


def test_nan_as_a_string_is_422(client, admin_headers, region, count):
    resp = client.post("/api/v1/offices", json=office_body(lon="NaN"), headers=admin_headers)
    assert "lon" in assert_problem(resp, 422, "validation_failed")["errors"]
    assert count(Office) == 0


def test_huge_number_is_422(client, admin_headers, region, count):
    text = json.dumps(office_body(lat=0.5)).replace("0.5", "1e400")
    resp = post_raw(client, admin_headers, text)
    assert "lat" in assert_problem(resp, 422, "validation_failed")["errors"]
    assert count(Office) == 0


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x85"])
def test_control_character_in_a_name_is_422(client, admin_headers, region, count, char):
    name = {**factories.names("A"), "en": f"Office{char}One"}
    resp = client.post("/api/v1/offices", json=office_body(name=name), headers=admin_headers)
    assert "en" in name_errors(assert_problem(resp, 422, "validation_failed")["errors"])
    assert count(Office) == 0


def test_lone_surrogate_in_a_name_is_422(client, admin_headers, region, count):
    # "\ud800" is valid JSON but not encodable text; it must not reach the database.
    text = json.dumps(office_body()).replace('"Office One"', '"Office \\ud800One"')
    resp = post_raw(client, admin_headers, text)
    assert "en" in name_errors(assert_problem(resp, 422, "validation_failed")["errors"])
    assert count(Office) == 0


def test_nul_in_the_address_is_422(client, admin_headers, region, count):
    resp = client.post("/api/v1/offices", json=office_body(address="Street\x001"),
                       headers=admin_headers)
    assert "address" in assert_problem(resp, 422, "validation_failed")["errors"]
    assert count(Office) == 0


def test_nul_in_the_code_is_422(client, admin_headers, region, count):
    resp = client.post("/api/v1/offices", json=office_body(code="AST\x00"), headers=admin_headers)
    assert "code" in assert_problem(resp, 422, "validation_failed")["errors"]
    assert count(Office) == 0


def test_unknown_region_is_422(client, admin_headers, region, count):
    resp = client.post("/api/v1/offices", json=office_body(region="NOPE"), headers=admin_headers)
    body = assert_problem(resp, 422, "validation_failed")
    assert "region" in body["errors"]
    assert count(Office) == 0


def test_duplicate_code_is_409(client, admin_headers, make_office, count, stored_office):
    make_office(code="AST-1", address="First")
    resp = client.post("/api/v1/offices", json=office_body(code="AST-1", address="Second"),
                       headers=admin_headers)
    assert_problem(resp, 409, "duplicate_code")
    assert count(Office) == 1
    assert stored_office("AST-1")["address"] == "First"


@pytest.mark.parametrize("text", ["' OR 1=1--", "'; DROP TABLE offices;--",
                                  "<script>alert(1)</script>", "Robert'); --\"\\%_"])
def test_hostile_text_is_stored_verbatim(client, admin_headers, inspector_headers, region,
                                         stored_office, count, text):
    name = {lang: text for lang in LANGS}
    resp = client.post("/api/v1/offices", json=office_body(name=name, address=text),
                       headers=admin_headers)
    assert resp.status_code == 201, resp.json
    assert resp.json["name"] == name
    assert stored_office("AST-1")["name"] == name
    assert stored_office("AST-1")["address"] == text
    got = client.get("/api/v1/offices/AST-1", headers=inspector_headers)
    assert got.json["name"] == name
    assert got.json["address"] == text
    assert count(Office) == 1


def test_hostile_text_in_a_search_is_harmless(client, inspector_headers, make_office, count):
    make_office(code="AST-1")
    resp = client.get("/api/v1/offices", query_string={"q": "'; DROP TABLE offices;--"},
                      headers=inspector_headers)
    assert resp.status_code == 200
    assert resp.json["total"] == 0
    assert count(Office) == 1


def test_script_tag_is_found_by_search(client, inspector_headers, make_office):
    make_office(code="AST-1", name={lang: "<script>alert(1)</script>" for lang in LANGS})
    resp = client.get("/api/v1/offices", query_string={"q": "<script>"},
                      headers=inspector_headers)
    assert [o["name"]["en"] for o in resp.json["items"]] == ["<script>alert(1)</script>"]


# --- regions --------------------------------------------------------------------------------

def test_admin_creates_a_region(client, admin_headers, count, events):
    name = {"kk": "Алматы", "ru": "Алматы", "en": "Almaty", "uz": "Olmaota"}
    resp = client.post("/api/v1/regions", json={"code": "ALA", "name": name},
                       headers=admin_headers)
    assert resp.status_code == 201, resp.json
    assert resp.json == {"code": "ALA", "name": name}
    assert count(Region) == 1
    assert events("region_created")[0]["object_id"] == "ALA"


def test_region_reads_back(client, inspector_headers, region):
    resp = client.get("/api/v1/regions/AST", headers=inspector_headers)
    assert resp.status_code == 200
    assert resp.json == {"code": "AST", "name": factories.names("Astana")}


def test_regions_are_listed_by_code(client, inspector_headers, commit):
    for code in ("ZHA", "ALA", "AST"):
        commit(lambda code=code: factories.region(code=code))
    resp = client.get("/api/v1/regions?per_page=2", headers=inspector_headers)
    assert [r["code"] for r in resp.json["items"]] == ["ALA", "AST"]
    assert (resp.json["total"], resp.json["page"], resp.json["per_page"]) == (3, 1, 2)


def test_admin_renames_a_region(client, admin_headers, region, events):
    name = factories.names("Nur-Sultan")
    resp = client.patch("/api/v1/regions/AST", json={"name": name}, headers=admin_headers)
    assert resp.status_code == 200
    assert resp.json["name"] == name
    assert events("region_updated")[0]["payload"] == {
        "name": {"old": factories.names("Astana"), "new": name}}


def test_region_code_cannot_be_changed(client, admin_headers, inspector_headers, region):
    resp = client.patch("/api/v1/regions/AST", json={"code": "NUR"}, headers=admin_headers)
    assert "code" in assert_problem(resp, 422, "validation_failed")["errors"]
    assert client.get("/api/v1/regions/AST", headers=inspector_headers).status_code == 200


def test_duplicate_region_is_409(client, admin_headers, region, count):
    resp = client.post("/api/v1/regions", json={"code": "AST", "name": factories.names("B")},
                       headers=admin_headers)
    assert_problem(resp, 409, "duplicate_code")
    assert count(Region) == 1


def test_region_without_a_translation_is_422(client, admin_headers, count):
    name = factories.names("A")
    del name["kk"]
    resp = client.post("/api/v1/regions", json={"code": "ALA", "name": name},
                       headers=admin_headers)
    assert "kk" in name_errors(assert_problem(resp, 422, "validation_failed")["errors"])
    assert count(Region) == 0


def test_region_with_a_bad_code_is_422(client, admin_headers, count):
    resp = client.post("/api/v1/regions", json={"code": "A LA", "name": factories.names("A")},
                       headers=admin_headers)
    assert "code" in assert_problem(resp, 422, "validation_failed")["errors"]
    assert count(Region) == 0


def test_region_with_malformed_json_is_400(client, admin_headers, count):
    resp = post_raw(client, admin_headers, "{'code': 'ALA'}", url="/api/v1/regions")
    assert_problem(resp, 400, "malformed_json")
    assert count(Region) == 0


def test_unknown_region_is_404(client, inspector_headers):
    assert_problem(client.get("/api/v1/regions/NOPE", headers=inspector_headers), 404,
                   "not_found")


def test_renaming_an_unknown_region_is_404(client, admin_headers, count):
    resp = client.patch("/api/v1/regions/NOPE", json={"name": factories.names("A")},
                        headers=admin_headers)
    assert_problem(resp, 404, "not_found")
    assert count(Region) == 0


@pytest.mark.parametrize("role", ["inspector", "supervisor"])
def test_non_admin_cannot_create_a_region(client, headers_for, count, role):
    resp = client.post("/api/v1/regions", json={"code": "ALA", "name": factories.names("A")},
                       headers=headers_for(role))
    assert_problem(resp, 403, "forbidden")
    assert count(Region) == 0


@pytest.mark.parametrize("role", ["inspector", "supervisor"])
def test_non_admin_cannot_rename_a_region(client, headers_for, region, role):
    resp = client.patch("/api/v1/regions/AST", json={"name": factories.names("B")},
                        headers=headers_for(role))
    assert_problem(resp, 403, "forbidden")
    assert client.get("/api/v1/regions/AST", headers=headers_for(role)).json["name"] == \
        factories.names("Astana")


def test_listing_regions_needs_a_token(client, region):
    assert_problem(client.get("/api/v1/regions"), 401, "unauthorized")
