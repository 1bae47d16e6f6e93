"""GET /api/v1/exports/visits: formats, shapes, scope, bad filters, hostile text, corrections."""
from __future__ import annotations

import io
import zipfile

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.visits.models import Visit
from tests.exports.builders import (MID_H1, V1_ANSWERS, V2_ANSWERS, insert_visits, media)
from tests.exports.conftest import read_csv, read_json, read_xlsx
from tests.problems import assert_problem
from tests.visits.builders import visit_payload


@pytest.fixture
def three(ew, commit):
    """Two version-1 visits at N-1 in 2026H1 (photos on A3) and one version-2 visit at S-1 in
    2026H2 (flagged too_short); their uuids by name."""
    def build():
        photos = media(2)
        old = insert_visits(count=2, office_id=ew.n1, inspector_id=ew.inspector,
                            version_id=ew.v1, answers=V1_ANSWERS, when=MID_H1, score=60.0,
                            evidence={"A3": [photos[0][0], photos[1][0]]},
                            notes={"B1": "Талон №147"})
        new = insert_visits(count=1, office_id=ew.s1, inspector_id=ew.inspector,
                            version_id=ew.v2, answers=V2_ANSWERS, flags=("too_short",),
                            status="approved", score=90.0, na=("A2",))
        return {"old": [u for _, u in old], "new": new[0][1],
                "photos": [sha for _, sha in photos]}
    return commit(build)


def _attachment(resp, ext: str) -> None:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=") and disposition.endswith(f'.{ext}"')


# --- formats and shapes -----------------------------------------------------------------------

def test_wide_csv_has_the_contract_columns_and_the_newest_versions_questions(ew, three, export):
    resp = export(ew.headers["admin"], format="csv", shape="wide", lang="ru")
    _attachment(resp, "csv")
    assert resp.mimetype == "text/csv"
    rows = read_csv(resp)
    header = list(rows[0])
    for column in ("visit_uuid", "office_code", "status", "score", "A1", "A1_code", "A1_na",
                   "A1_note", "A1_evidence", "C1", "C1_code", "form_version",
                   "other_questions", "section_access"):
        assert column in header
    assert "B3" not in header  # version 2 (the newest) has no B3
    by_uuid = {row["visit_uuid"]: row for row in rows}
    assert set(by_uuid) == {*three["old"], three["new"]}
    new, old = by_uuid[three["new"]], by_uuid[three["old"][0]]
    assert (new["office_code"], new["status"], new["score"], new["form_version"]) == \
        ("S-1", "approved", "90.0", "2")
    assert (new["A1"], new["A1_code"], new["A2_na"], new["C1_code"]) == \
        ("Нет", "no", "true", "51.1283 71.4304 12")
    assert new["flags"] == "too_short"
    assert (old["form_version"], old["other_questions"]) == ("1", "B3")
    assert (old["B2"], old["B2_code"], old["B1_note"]) == ("Икс; Игрек", "x y", "Талон №147")
    assert old["office_name"] == "Центр один" and old["inspector"] == "insp-x"
    assert old["A3_evidence"].split(" ") == [f"http://localhost/api/v1/media/{sha}"
                                             for sha in three["photos"]]


def test_wide_xlsx_has_a_sheet_per_form_version_with_its_own_questions(ew, three, export):
    resp = export(ew.headers["admin"], format="xlsx", lang="en")
    _attachment(resp, "xlsx")
    sheets = read_xlsx(resp)
    assert list(sheets) == ["export-form v1", "export-form v2"]
    v1, v2 = sheets["export-form v1"], sheets["export-form v2"]
    assert {r["visit_uuid"] for r in v1} == set(three["old"]) and len(v2) == 1
    assert "B3" in v1[0] and "C1" not in v1[0] and "C1" in v2[0] and "B3" not in v2[0]
    assert v1[0]["B3"] == V1_ANSWERS["B3"]
    assert (v1[0]["B1"], v1[0]["B1_code"], v2[0]["score"]) == (12, 12, 90)  # numbers
    assert v2[0]["A2_na"] is True and v1[0]["A2"] == "Narrow"


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_long_has_one_row_per_answer(ew, three, export, fmt):
    resp = export(ew.headers["admin"], format=fmt, shape="long", lang="kk")
    _attachment(resp, fmt)
    rows = (read_csv(resp) if fmt == "csv" else read_json(resp) if fmt == "json"
            else read_xlsx(resp)["answers"])
    assert len(rows) == 2 * len(V1_ANSWERS) + len(V2_ANSWERS)
    a1 = [r for r in rows if r["visit_uuid"] == three["new"] and r["question"] == "A1"]
    assert len(a1) == 1
    assert (a1[0]["value"], a1[0]["value_code"], a1[0]["question_label"]) == \
        ("Жоқ", "no", "Пандус бар ма?")
    assert a1[0]["section"] == "access"


def test_wide_json_gives_each_visit_its_own_versions_columns(ew, three, export):
    resp = export(ew.headers["supervisor"], format="json", sort="started_at", order="asc")
    _attachment(resp, "json")
    assert resp.mimetype == "application/json"
    rows = read_json(resp)
    assert [r["visit_uuid"] for r in rows][-1] == three["new"]
    assert "B3" in rows[0] and "C1" in rows[-1] and "C1" not in rows[0]
    assert rows[-1]["B1"] == 3 and rows[-1]["A2_na"] is True


def test_an_export_with_nothing_to_show_is_a_header_only(ew, export):
    assert read_csv(export(ew.headers["admin"], format="csv")) == []
    assert read_json(export(ew.headers["admin"], format="json")) == []
    resp = export(ew.headers["admin"], format="xlsx")
    assert list(read_xlsx(resp)) == ["visits"]


# --- scope ------------------------------------------------------------------------------------

def test_a_supervisor_of_one_region_gets_only_that_region(ew, three, export):
    rows = read_csv(export(ew.headers["north"], format="csv"))
    assert {r["visit_uuid"] for r in rows} == set(three["old"])
    assert {r["region"] for r in rows} == {"NORTH"}
    rows = read_json(export(ew.headers["north"], format="json", shape="long"))
    assert {r["region"] for r in rows} == {"NORTH"}


@pytest.mark.parametrize("query", [{"region": "SOUTH"}, {"office": "S-1"}])
def test_asking_a_supervisor_for_what_is_outside_their_regions_is_403(ew, three, export, query):
    assert_problem(export(ew.headers["north"], **query), 403, "out_of_scope")


def test_admins_and_unrestricted_supervisors_get_everything(ew, three, export):
    for who in ("admin", "supervisor"):
        assert len(read_csv(export(ew.headers[who], format="csv"))) == 3


def test_inspectors_may_not_export_and_anonymous_callers_must_sign_in(ew, three, export,
                                                                       client):
    assert_problem(export(ew.headers["inspector"], format="csv"), 403, "forbidden")
    assert_problem(client.get("/api/v1/exports/visits?format=csv"), 401, "unauthorized")


# --- bad input --------------------------------------------------------------------------------

BAD = [
    ({"status": "done"}, "status"), ({"kind": "bank"}, "kind"), ({"flag": "odd"}, "flag"),
    ({"region": "NOPE"}, "region"), ({"office": "NOPE-1"}, "office"),
    ({"office": "bad code!"}, "office"), ({"inspector": "nobody"}, "inspector"),
    ({"form_key": "no-such-form"}, "form_key"),
    ({"form_key": "export-form", "form_version": "9"}, "form_version"),
    ({"form_version": "1"}, "form_version"), ({"form_version": "x"}, "form_version"),
    ({"score_min": "80", "score_max": "20"}, "score_max"), ({"score_min": "101"}, "score_min"),
    ({"score_max": "abc"}, "score_max"), ({"score_min": "nan"}, "score_min"),
    ({"period": "last-week"}, "period"), ({"period": "2026H2", "from": "2026-07-01",
                                           "to": "2026-07-02"}, "period"),
    ({"from": "2026-07-01"}, "to"), ({"from": "2026-07-02", "to": "2026-07-01"}, "to"),
    ({"from": "1999-01-01", "to": "2026-07-01"}, "from"),
    ({"has_evidence": "maybe"}, "has_evidence"), ({"sort": "password"}, "sort"),
    ({"order": "up"}, "order"), ({"format": "pdf"}, "format"), ({"shape": "tall"}, "shape"),
    ({"lang": "fr"}, "lang"), ({"page": "2"}, "page"), ({"secret": "1"}, "secret"),
]


@pytest.mark.parametrize("query,field", BAD, ids=[f for _, f in BAD])
def test_a_bad_filter_is_422_naming_the_field(ew, three, export, count, query, field):
    before = count(Visit)
    problem = assert_problem(export(ew.headers["admin"], **query), 422, "validation_failed")
    assert field in problem["errors"]["query"], problem
    assert count(Visit) == before


# --- hostile text, languages ------------------------------------------------------------------

HOSTILE = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+1", "-2-2", "@SUM(A1)", "\tTAB", "\rCR"]


@pytest.fixture
def hostile(ew, commit):
    def build():
        answers = {**V1_ANSWERS, "B3": HOSTILE[0], "B1": -5}
        notes = {"A1": HOSTILE[1], "A2": HOSTILE[2], "B2": HOSTILE[3], "B1": HOSTILE[4],
                 "B3": HOSTILE[5]}
        return insert_visits(count=1, office_id=ew.n1, inspector_id=ew.inspector,
                             version_id=ew.v1, answers=answers, notes=notes)[0][1]
    return commit(build)


def test_formula_injection_is_neutralised_in_csv_and_numbers_stay_numbers(ew, hostile, export):
    row = read_csv(export(ew.headers["admin"], format="csv", form_key="export-form",
                          form_version="1"))[0]
    cells = [row["B3"], row["A1_note"], row["A2_note"], row["B2_note"], row["B1_note"],
             row["B3_note"]]
    assert cells == ["'" + text for text in HOSTILE]
    assert (row["B1"], row["B1_code"]) == ("-5", "-5")


def test_formula_injection_is_neutralised_in_xlsx(ew, hostile, export):
    resp = export(ew.headers["admin"], format="xlsx")
    with zipfile.ZipFile(io.BytesIO(resp.get_data())) as book:
        sheets = [n for n in book.namelist() if n.startswith("xl/worksheets/sheet")]
        assert sheets and all(b"<f>" not in book.read(n) and b"<f " not in book.read(n)
                              for n in sheets)
    row = read_xlsx(resp)["export-form v1"][0]
    assert row["B3"] == HOSTILE[0] and row["A1_note"] == HOSTILE[1]
    assert row["B1"] == -5


def test_cyrillic_and_uzbek_latin_survive_the_round_trip(ew, three, export):
    for lang, office, door in (("kk", "Бірінші орталық", "Тар"), ("uz", "Birinchi markaz",
                                                                   "Torʻ")):
        csv_row = next(r for r in read_csv(export(ew.headers["admin"], format="csv",
                                                  lang=lang, office="N-1")))
        xlsx_row = read_xlsx(export(ew.headers["admin"], format="xlsx", lang=lang,
                                    office="N-1"))["export-form v1"][0]
        json_row = read_json(export(ew.headers["admin"], format="json", lang=lang,
                                    office="N-1"))[0]
        for row in (csv_row, xlsx_row, json_row):
            assert (row["office_name"], row["A2"]) == (office, door)
    assert json_row["B3"] == "Всё хорошо. Hammasi yaxshi, oʻzbekcha."


# --- corrections ------------------------------------------------------------------------------

def test_answers_are_exported_as_corrected_with_the_original_in_long(client, world,
                                                                     default_form, export):
    body = visit_payload(default_form, assignment=world["assignment"])
    assert client.post("/api/v1/visits", json=body, headers=world["inspector"]).status_code == 201
    original = next(a["value"] for a in body["answers"] if a["question"] == "D02")
    resp = client.post(f"/api/v1/visits/{body['uuid']}/corrections", headers=world["supervisor"],
                       json={"question": "D02", "value": "yes", "reason": "Audio evidence."})
    assert resp.status_code == 201, resp.json
    assert original == "no"
    row = read_csv(export(world["admin"], format="csv", lang="en"))[0]
    assert (row["D02"], row["D02_code"], row["corrected"]) == ("Yes", "yes", "D02")
    assert float(row["score"]) == resp.json["score"]
    long = read_json(export(world["admin"], format="json", shape="long"))
    d02 = next(r for r in long if r["question"] == "D02")
    assert (d02["value_code"], d02["corrected"], d02["original_code"]) == ("yes", True, "no")
    assert d02["correction_reason"] == "Audio evidence."
    untouched = next(r for r in long if r["question"] == "D01")
    assert (untouched["corrected"], untouched["original_code"]) == (False, None)


# --- filters through the export ---------------------------------------------------------------

def _uuids(export, headers, **query) -> list[str]:
    resp = export(headers, format="json", **query)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return [r["visit_uuid"] for r in read_json(resp)]


def test_every_filter_narrows_the_export(ew, three, export, commit):
    admin = ew.headers["admin"]
    old, new = set(three["old"]), {three["new"]}
    cases = [({"period": "2026H1"}, old), ({"period": "2026H2"}, new),
             ({"from": "2026-03-16", "to": "2026-03-16"}, old), ({"region": "SOUTH"}, new),
             ({"office": "N-1"}, old), ({"kind": "registry"}, set()),
             ({"inspector": "INSP-X"}, old | new), ({"status": "approved"}, new),
             ({"flag": "too_short"}, new), ({"score_min": "61"}, new),
             ({"score_max": "60"}, old), ({"score_min": "60", "score_max": "60"}, old),
             ({"form_key": "export-form", "form_version": "1"}, old),
             ({"form_key": "export-form"}, old | new), ({"has_evidence": "true"}, old),
             ({"has_evidence": "false"}, new)]
    for query, expected in cases:
        assert set(_uuids(export, admin, **query)) == expected, query


def test_the_export_is_sorted_as_asked(ew, three, export):
    admin = ew.headers["admin"]
    assert _uuids(export, admin, sort="score", order="desc")[0] == three["new"]
    assert _uuids(export, admin, sort="score", order="asc")[-1] == three["new"]
    assert _uuids(export, admin, sort="office", order="desc")[0] == three["new"]
    by_time = _uuids(export, admin, sort="started_at", order="asc")
    assert by_time[:2] == three["old"] and by_time[2] == three["new"]


def test_the_export_endpoint_is_in_the_openapi_spec(client):
    spec = client.get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/exports/visits"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"format", "shape", "lang", "period", "from", "to", "region", "office", "kind",
            "inspector", "status", "flag", "score_min", "score_max", "form_key",
            "form_version", "has_evidence", "sort", "order"} <= names
    assert {"401", "403", "422"} <= set(operation["responses"])


def test_visit_rows_are_untouched_by_an_export(ew, three, export, app):
    with app.app_context():
        before = db.session.execute(sa.select(Visit.id, Visit.updated_at)).all()
    export(ew.headers["admin"], format="xlsx")
    with app.app_context():
        assert db.session.execute(sa.select(Visit.id, Visit.updated_at)).all() == before


def test_a_sheet_past_the_row_limit_continues_in_another(ew, three, app, monkeypatch, export):
    from server.exports import writers
    monkeypatch.setattr(writers, "MAX_SHEET_ROWS", 5)  # header + 4 rows a sheet
    sheets = read_xlsx(export(ew.headers["admin"], format="xlsx", shape="long"))
    assert list(sheets) == ["answers", "answers (2)", "answers (3)", "answers (4)", "answers (5)"]
    assert sum(len(rows) for rows in sheets.values()) == 2 * len(V1_ANSWERS) + len(V2_ANSWERS)
    assert all(len(rows) == 4 for rows in list(sheets.values())[:-1])
