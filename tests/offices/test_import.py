"""CSV import of offices: the parser on its own, POST /api/v1/offices/import, the CLI command."""
from __future__ import annotations

import io

import pytest

from server.errors import ValidationFailed
from server.offices import service
from server.offices.models import Office

from .helpers import assert_problem

HEADER = "code,name_kk,name_ru,name_en,name_uz,region,kind,address,lat,lon,active"
ROW_1 = "AST-1,Бір (kk),Один,One,Bir,AST,service_centre,Street 1,51.1283,71.4304,yes"
ROW_2 = "AST-2,Екі (kk),Два,Two,Ikki,AST,registry,Street 2,51.15,71.45,no"
GOOD = f"{HEADER}\n{ROW_1}\n{ROW_2}\n"
IMPORT = "/api/v1/offices/import"


def csv_body(*lines: str, header: str = HEADER) -> bytes:
    return "\n".join([header, *lines, ""]).encode("utf-8")


@pytest.fixture
def upload(client, admin_headers, region):
    """POST bytes as a text/csv body with admin rights (region AST exists)."""
    def post(raw: bytes, headers: dict | None = None):
        return client.post(IMPORT, data=raw,
                           headers={**(headers or admin_headers), "Content-Type": "text/csv"})
    return post


@pytest.fixture
def cli_import(runner, tmp_path, region):
    """Run `adal offices import` on a file holding `raw` (region AST exists)."""
    def run(raw: bytes):
        path = tmp_path / "offices.csv"
        path.write_bytes(raw)
        return runner.invoke(args=["adal", "offices", "import", str(path)])
    return run


# --- the parser, without an app -------------------------------------------------------------

def test_parser_numbers_rows_by_file_line():
    rows = service.parse_office_csv(f"{HEADER}\n{ROW_1}\n\n{ROW_2}\n")
    assert [(line, rec["code"]) for line, rec in rows] == [(2, "AST-1"), (4, "AST-2")]


def test_parser_reads_a_semicolon_header():
    rows = service.parse_office_csv(GOOD.replace(",", ";"))
    assert rows[0][1]["name_ru"] == "Один"


def test_parser_skips_rows_of_empty_cells():
    rows = service.parse_office_csv(f"{HEADER}\n{ROW_1}\n,,,,,,,,,,\n  \n")
    assert [rec["code"] for _, rec in rows] == ["AST-1"]


def test_parser_reads_the_header_in_any_case_and_order():
    header = "REGION, Code ,kind,name_uz,name_en,name_ru,name_kk"
    rows = service.parse_office_csv(f"{header}\nAST,AST-1,other,u,e,r,k\n")
    assert rows[0][1]["code"] == "AST-1"


def test_decoder_drops_the_byte_order_mark():
    assert service.decode_csv("\ufeffcode".encode()) == "code"


def test_decoder_names_the_line_of_a_non_utf8_byte():
    with pytest.raises(ValidationFailed) as err:
        service.decode_csv(b"code\nok\n" + "Офис".encode("cp1251"))
    assert err.value.code == "csv_not_utf8"
    assert "line 3" in err.value.detail


def test_parser_refuses_a_repeated_column():
    with pytest.raises(ValidationFailed) as err:
        service.parse_office_csv(f"{HEADER},code\n")
    assert err.value.code == "csv_bad_header"
    assert err.value.errors == {"duplicate_columns": ["code"]}


def test_parser_refuses_an_unknown_column():
    with pytest.raises(ValidationFailed) as err:
        service.parse_office_csv(f"{HEADER},adress\n")
    assert err.value.errors == {"unknown_columns": ["adress"]}


def test_parser_refuses_a_broken_quote():
    with pytest.raises(ValidationFailed) as err:
        service.parse_office_csv(f'{HEADER}\nAST-1,"a"b,r,e,u,AST,other,,,,\n')
    assert err.value.code == "csv_malformed"


# --- HTTP: files that import ----------------------------------------------------------------

def test_comma_file_imports_every_row(upload, count):
    resp = upload(GOOD.encode())
    assert resp.status_code == 201, resp.json
    assert resp.json == {"created": 2, "codes": ["AST-1", "AST-2"]}
    assert count(Office) == 2


def test_imported_office_has_every_value_of_its_row(upload, stored_office):
    upload(GOOD.encode())
    assert stored_office("AST-2") == {
        "code": "AST-2", "name": {"kk": "Екі (kk)", "ru": "Два", "en": "Two", "uz": "Ikki"},
        "region": "AST", "kind": "registry", "address": "Street 2", "lat": 51.15, "lon": 71.45,
        "active": False}


def test_semicolon_file_imports(upload, stored_office):
    resp = upload(GOOD.replace(",", ";").encode())
    assert resp.status_code == 201, resp.json
    assert stored_office("AST-1")["name"]["ru"] == "Один"


def test_file_with_a_byte_order_mark_imports(upload, stored_office):
    resp = upload(b"\xef\xbb\xbf" + GOOD.encode())
    assert resp.status_code == 201, resp.json
    assert stored_office("AST-1") is not None


def test_crlf_line_ends_import(upload, stored_office):
    resp = upload(GOOD.replace("\n", "\r\n").encode())
    assert resp.status_code == 201, resp.json
    assert stored_office("AST-2")["address"] == "Street 2"


def test_comma_decimals_in_a_semicolon_file(upload, stored_office):
    row = "AST-1;Бір;Один;One;Bir;AST;service_centre;Street 1;51,1283;71,4304;yes"
    resp = upload(csv_body(row, header=HEADER.replace(",", ";")))
    assert resp.status_code == 201, resp.json
    assert (stored_office("AST-1")["lat"], stored_office("AST-1")["lon"]) == (51.1283, 71.4304)


def test_quoted_comma_decimals_in_a_comma_file(upload, stored_office):
    row = 'AST-1,Бір,Один,One,Bir,AST,service_centre,Street 1,"51,1283","71,4304",yes'
    resp = upload(csv_body(row))
    assert resp.status_code == 201, resp.json
    assert stored_office("AST-1")["lat"] == 51.1283


def test_optional_columns_may_be_absent(upload, stored_office):
    header = "code,name_kk,name_ru,name_en,name_uz,region,kind"
    resp = upload(csv_body("AST-1,Бір,Один,One,Bir,AST,other", header=header))
    assert resp.status_code == 201, resp.json
    office = stored_office("AST-1")
    assert (office["address"], office["lat"], office["lon"], office["active"]) == \
        ("", None, None, True)


def test_empty_optional_cells_take_the_defaults(upload, stored_office):
    resp = upload(csv_body("AST-1,Бір,Один,One,Bir,AST,other,,,,"))
    assert resp.status_code == 201, resp.json
    office = stored_office("AST-1")
    assert (office["address"], office["lat"], office["active"]) == ("", None, True)


def test_blank_lines_are_skipped(upload, count):
    resp = upload(f"{HEADER}\n\n{ROW_1}\n\n\n{ROW_2}\n\n".encode())
    assert resp.status_code == 201, resp.json
    assert count(Office) == 2


def test_cells_are_trimmed(upload, stored_office):
    resp = upload(csv_body(" AST-1 , Бір , Один ,One,Bir, AST ,other, Street 1 ,,, YES "))
    assert resp.status_code == 201, resp.json
    assert stored_office("AST-1")["name"]["kk"] == "Бір"
    assert stored_office("AST-1")["address"] == "Street 1"


def test_hostile_text_is_imported_verbatim(upload, stored_office):
    row = ("AST-1,<script>alert(1)</script>,' OR 1=1--,\"'; DROP TABLE offices;--\",x,"
           "AST,other,,,,")
    resp = upload(csv_body(row))
    assert resp.status_code == 201, resp.json
    assert stored_office("AST-1")["name"] == {
        "kk": "<script>alert(1)</script>", "ru": "' OR 1=1--",
        "en": "'; DROP TABLE offices;--", "uz": "x"}


def test_multipart_upload_imports(client, admin_headers, region, count):
    data = {"file": (io.BytesIO(GOOD.encode()), "offices.csv", "text/csv")}
    resp = client.post(IMPORT, data=data, headers=admin_headers,
                       content_type="multipart/form-data")
    assert resp.status_code == 201, resp.json
    assert resp.json["created"] == 2
    assert count(Office) == 2


def test_successful_import_writes_one_audit_event(upload, events):
    upload(GOOD.encode())
    [event] = events("offices_imported")
    assert event["payload"] == {"source": "request body", "codes": ["AST-1", "AST-2"]}
    assert event["actor_login"] is not None


def test_multipart_import_logs_the_file_name(client, admin_headers, region, events):
    data = {"file": (io.BytesIO(GOOD.encode()), "astana.csv", "text/csv")}
    client.post(IMPORT, data=data, headers=admin_headers, content_type="multipart/form-data")
    assert events("offices_imported")[0]["payload"]["source"] == "astana.csv"


def test_control_characters_in_the_file_name_are_not_logged(client, admin_headers, region,
                                                             events):
    data = {"file": (io.BytesIO(GOOD.encode()), "ast\x00\x1b[31m.csv", "text/csv")}
    client.post(IMPORT, data=data, headers=admin_headers, content_type="multipart/form-data")
    assert events("offices_imported")[0]["payload"]["source"] == "ast[31m.csv"


# --- HTTP: files that are refused -----------------------------------------------------------

def test_cp1251_file_is_refused(upload, count):
    resp = upload(GOOD.encode("cp1251"))
    body = assert_problem(resp, 422, "csv_not_utf8")
    assert "line 2" in body["detail"]
    assert count(Office) == 0


def test_missing_columns_are_listed(upload, count):
    header = "code,name_kk,name_ru,name_en,region"
    resp = upload(csv_body("AST-1,Бір,Один,One,AST", header=header))
    body = assert_problem(resp, 422, "csv_bad_header")
    assert body["errors"]["missing_columns"] == ["name_uz", "kind"]
    assert count(Office) == 0


def test_empty_file_is_refused(upload, count):
    assert_problem(upload(b""), 422, "csv_empty")
    assert count(Office) == 0


def test_file_of_only_a_byte_order_mark_is_refused(upload, count):
    assert_problem(upload(b"\xef\xbb\xbf\n"), 422, "csv_empty")
    assert count(Office) == 0


def test_header_without_rows_is_refused(upload, count):
    assert_problem(upload(f"{HEADER}\n\n".encode()), 422, "csv_empty")
    assert count(Office) == 0


def test_duplicate_code_within_the_file_names_both_lines(upload, count):
    resp = upload(csv_body(ROW_1, ROW_2, ROW_1.replace("Street 1", "Street 3")))
    body = assert_problem(resp, 422, "csv_invalid_rows")
    assert list(body["errors"]) == ["line 4"]
    assert any("line 2" in m for m in body["errors"]["line 4"])
    assert count(Office) == 0


def test_code_already_in_the_database_is_refused(upload, make_office, count):
    make_office(code="AST-2")
    resp = upload(GOOD.encode())
    body = assert_problem(resp, 422, "csv_invalid_rows")
    assert list(body["errors"]) == ["line 3"]
    assert "AST-2" in body["errors"]["line 3"][0]
    assert count(Office) == 1


def test_duplicates_in_the_file_and_in_the_database_are_all_named(upload, make_office, count):
    make_office(code="AST-9")
    resp = upload(csv_body(ROW_1, ROW_1, ROW_2.replace("AST-2", "AST-9")))
    body = assert_problem(resp, 422, "csv_invalid_rows")
    assert set(body["errors"]) == {"line 3", "line 4"}
    assert count(Office) == 1


def test_every_bad_row_is_listed_with_its_line(upload, count):
    resp = upload(csv_body(
        ROW_1,                                                     # 2: fine
        "AST-3,Үш,Три,Three,Uch,AST,bakery,,,,",                   # 3: kind
        "AST-4,Төрт,Четыре,Four,Tort,AST,other,,91,71,",           # 4: lat
        ROW_2,                                                     # 5: fine
        "AST-6,Алты,Шесть,,Olti,AST,other,,,,",                    # 6: blank name_en
        "AST-7,Жеті,Семь,Seven,Yetti,NOPE,other,,,,",              # 7: region
        "AST 8,Сегіз,Восемь,Eight,Sakkiz,AST,other,,,,maybe",      # 8: code, active
        "AST-9,Тоғыз,Девять,Nine,To'qqiz,AST,other,,51.1,,",       # 9: lat without lon
        "AST-10,Он,Десять,Ten,O'n,AST,other,,north,east,",         # 10: not numbers
    ))
    body = assert_problem(resp, 422, "csv_invalid_rows")
    assert list(body["errors"]) == ["line 3", "line 4", "line 6", "line 7", "line 8", "line 9",
                                    "line 10"]
    assert body["errors"]["line 8"] and len(body["errors"]["line 8"]) == 2
    assert "7 of 9 rows" in body["detail"]
    assert count(Office) == 0


def test_one_bad_row_imports_nothing(upload, count, events):
    resp = upload(csv_body(ROW_1, ROW_2, "AST-3,Үш,Три,Three,Uch,AST,bakery,,,,"))
    assert_problem(resp, 422, "csv_invalid_rows")
    assert count(Office) == 0
    assert events("offices_imported") == []


def test_messages_name_the_field_and_the_language(upload):
    resp = upload(csv_body("AST-1,Бір,Один,,Bir,AST,other,,,,"))
    [message] = assert_problem(resp, 422, "csv_invalid_rows")["errors"]["line 2"]
    assert message.startswith("name.en: ")


def test_row_with_a_control_character_is_refused(upload, count):
    resp = upload(csv_body("AST-1,Бір\x07,Один,One,Bir,AST,other,,,,"))
    assert "line 2" in assert_problem(resp, 422, "csv_invalid_rows")["errors"]
    assert count(Office) == 0


def test_row_with_nul_bytes_is_refused(upload, count):
    resp = upload(csv_body("AST-1,Бір\x00,Один,One,Bir,AST,other,Street\x00,51\x00,71,"))
    problems = assert_problem(resp, 422, "csv_invalid_rows")["errors"]["line 2"]
    assert len(problems) == 3
    assert count(Office) == 0


def test_row_with_surplus_cells_is_refused(upload, count):
    resp = upload(csv_body(f"{ROW_1},extra"))
    assert "line 2" in assert_problem(resp, 422, "csv_invalid_rows")["errors"]
    assert count(Office) == 0


def test_row_with_too_few_cells_is_refused(upload, count):
    resp = upload(csv_body("AST-1,Бір,Один"))
    assert "line 2" in assert_problem(resp, 422, "csv_invalid_rows")["errors"]
    assert count(Office) == 0


def test_line_numbers_count_skipped_blank_lines(upload):
    resp = upload(f"{HEADER}\n\n{ROW_1}\n\nAST-3,Үш,Три,Three,Uch,AST,bakery,,,,\n".encode())
    assert list(assert_problem(resp, 422, "csv_invalid_rows")["errors"]) == ["line 5"]


def test_multipart_without_the_file_field_is_400(client, admin_headers, region, count):
    data = {"upload": (io.BytesIO(GOOD.encode()), "offices.csv", "text/csv")}
    resp = client.post(IMPORT, data=data, headers=admin_headers,
                       content_type="multipart/form-data")
    assert_problem(resp, 400, "csv_missing")
    assert count(Office) == 0


def test_multipart_with_a_bad_file_is_refused(client, admin_headers, region, count):
    data = {"file": (io.BytesIO(GOOD.encode("cp1251")), "offices.csv", "text/csv")}
    resp = client.post(IMPORT, data=data, headers=admin_headers,
                       content_type="multipart/form-data")
    assert_problem(resp, 422, "csv_not_utf8")
    assert count(Office) == 0


def _chunked(client, headers: dict, body: bytes, content_type: str = "text/csv"):
    """POST without Content-Length, as a chunked upload reaches the app behind gunicorn."""
    return client.post(IMPORT, input_stream=io.BytesIO(body),
                       headers={**headers, "Transfer-Encoding": "chunked",
                                "Content-Type": content_type},
                       environ_overrides={"wsgi.input_terminated": True})


def test_a_chunked_csv_over_the_limit_is_a_413_and_imports_nothing(app, client, admin_headers,
                                                                    region, count):
    """Werkzeug cuts such a body at the limit; here the cut part is a valid file of one row."""
    first = csv_body(ROW_1)
    app.config["MAX_CONTENT_LENGTH"] = len(first)
    resp = _chunked(client, admin_headers, csv_body(ROW_1, ROW_2))
    assert_problem(resp, 413, "payload_too_large")
    assert count(Office) == 0


def test_a_chunked_csv_of_exactly_the_limit_imports(app, client, admin_headers, region, count):
    body = csv_body(ROW_1, ROW_2)
    app.config["MAX_CONTENT_LENGTH"] = len(body)
    resp = _chunked(client, admin_headers, body)
    assert resp.status_code == 201, resp.json
    assert count(Office) == 2


def test_a_chunked_multipart_upload_over_the_limit_imports_nothing(app, client, admin_headers,
                                                                   region, count):
    boundary = "adal-boundary"
    part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"offices.csv\"\r\nContent-Type: text/csv\r\n\r\n").encode()
    body = part + csv_body(ROW_1, ROW_2) + f"\r\n--{boundary}--\r\n".encode()
    app.config["MAX_CONTENT_LENGTH"] = len(part) + len(csv_body(ROW_1))
    resp = _chunked(client, admin_headers, body,
                    content_type=f"multipart/form-data; boundary={boundary}")
    assert_problem(resp, 413, "payload_too_large")
    assert count(Office) == 0


@pytest.mark.parametrize("role", ["inspector", "supervisor"])
def test_non_admin_cannot_import(upload, headers_for, count, role):
    resp = upload(GOOD.encode(), headers=headers_for(role))
    assert_problem(resp, 403, "forbidden")
    assert count(Office) == 0


def test_import_without_a_token_is_401(client, region, count):
    resp = client.post(IMPORT, data=GOOD.encode(), headers={"Content-Type": "text/csv"})
    assert_problem(resp, 401, "unauthorized")
    assert count(Office) == 0


# --- CLI ------------------------------------------------------------------------------------

def test_cli_imports_a_file(cli_import, count):
    result = cli_import(GOOD.encode())
    assert result.exit_code == 0, result.output
    assert "Imported 2 offices." in result.output
    assert count(Office) == 2


def test_cli_import_writes_an_audit_event_without_an_actor(cli_import, events):
    cli_import(GOOD.encode())
    [event] = events("offices_imported")
    assert event["payload"] == {"source": "offices.csv", "codes": ["AST-1", "AST-2"]}
    assert event["actor_login"] is None


def test_cli_refuses_a_file_with_bad_rows(cli_import, count, events):
    result = cli_import(csv_body(ROW_1, "AST-3,Үш,Три,Three,Uch,AST,bakery,,,,",
                                 "AST-4,Төрт,Четыре,Four,Tort,NOPE,other,,,,"))
    assert result.exit_code == 1
    assert "Nothing imported." in result.stderr
    assert "line 3:" in result.stderr
    assert "line 4:" in result.stderr
    assert count(Office) == 0
    assert events("offices_imported") == []


def test_cli_refuses_a_non_utf8_file(cli_import, count):
    result = cli_import(GOOD.encode("cp1251"))
    assert result.exit_code == 1
    assert "not UTF-8" in result.stderr
    assert count(Office) == 0


def test_cli_lists_missing_columns(cli_import, count):
    result = cli_import(csv_body("AST-1,AST", header="code,region"))
    assert result.exit_code == 1
    assert "missing_columns" in result.stderr and "name_kk" in result.stderr
    assert count(Office) == 0


# --- hostile shapes: a header of 50,000 columns, an overlong line ---------------------------

def test_a_header_of_50000_columns_is_refused_at_once_and_imports_nothing(upload, count):
    """It used to be checked in quadratic time (50,000 columns gave no answer within 60 s)."""
    resp = upload(csv_body(ROW_1, header=",".join(f"c{i}" for i in range(50_000))))
    body = assert_problem(resp, 422, "csv_bad_header")
    assert "50000 columns" in body["detail"] and body["errors"]["columns"]
    assert count(Office) == 0


def test_many_repeated_columns_are_named_once_each():
    with pytest.raises(ValidationFailed) as err:
        service.parse_office_csv(",".join([HEADER, "code", "code", "lat"]) + "\n")
    assert err.value.errors == {"duplicate_columns": ["code", "lat"]}


def test_a_line_over_the_limit_is_refused_with_its_number(upload, count):
    long_row = ROW_1.replace("Street 1", "x" * (service.MAX_CSV_LINE_CHARS + 1))
    resp = upload(csv_body(ROW_2, long_row))
    body = assert_problem(resp, 422, "csv_malformed")
    assert "Line 3" in body["detail"]
    assert count(Office) == 0


def test_an_assignment_csv_of_50000_columns_is_refused_too(client, supervisor_headers):
    raw = ",".join(f"c{i}" for i in range(50_000)).encode() + b"\n"
    resp = client.post("/api/v1/assignments", data=raw,
                       headers={**supervisor_headers, "Content-Type": "text/csv"})
    assert_problem(resp, 422, "csv_bad_header")
