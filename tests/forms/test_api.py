"""/api/v1/forms over HTTP: the contract the inspector app relies on, languages, bad requests."""
from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from server.config import PROJECT_ROOT
from server.extensions import db
from server.forms import service
from server.forms.definition import check_definition
from server.forms.loader import definition_sha256, load_form_file
from server.forms.models import FormVersion

from .test_loader import form, question
from tests.problems import assert_problem  # noqa: F401
from tests.web.console.helpers import page_token, sign_in

DEFAULT_FORM = PROJECT_ROOT / "survey_forms" / "service_centre_visit.v1.yaml"
KEY = "service-centre-visit"
URL = f"/api/v1/forms/{KEY}/versions/1"
LANGS = ("kk", "ru", "en", "uz")

VERSION_KEYS = {"key", "version", "sha256", "languages", "title", "sections"}
SECTION_KEYS = {"id", "title", "weight", "questions"}
QUESTION_KEYS = {"id", "type", "label", "hint", "required", "not_applicable", "choices", "score",
                 "weight", "critical", "evidence", "relevant", "constraint", "unit"}
CHOICE_KEYS = {"id", "label"}


@pytest.fixture
def default_form(commit):
    """The shipped checklist, published; its checked definition."""
    commit(lambda: service.publish_file(path=DEFAULT_FORM))
    return load_form_file(DEFAULT_FORM)


@pytest.fixture
def second_version(commit, default_form):
    """Version 2 of the default checklist, with a new title."""
    raw = {**default_form, "version": 2, "title": {lang: f"v2 {lang}" for lang in LANGS}}
    definition = check_definition(raw, "v2")
    commit(lambda: service.publish_form(definition=definition, source="v2.yaml"))
    return definition


def localized_texts(version: dict):
    """(where, value) of every label, title and hint of a served version."""
    yield "title", version["title"]
    for section in version["sections"]:
        yield f"{section['id']}.title", section["title"]
        for q in section["questions"]:
            yield f"{q['id']}.label", q["label"]
            if q["hint"] is not None:
                yield f"{q['id']}.hint", q["hint"]
            for c in q["choices"]:
                yield f"{q['id']}.{c['id']}.label", c["label"]
            if q["constraint"]:
                yield f"{q['id']}.constraint.message", q["constraint"]["message"]


# --- GET /api/v1/forms ---------------------------------------------------------------------------

def test_forms_are_listed_with_key_title_and_versions(client, inspector_headers, second_version):
    resp = client.get("/api/v1/forms", headers=inspector_headers)
    assert resp.status_code == 200
    assert resp.json["items"] == [{"key": KEY, "title": second_version["title"],
                                   "versions": [1, 2]}]


def test_the_form_list_is_a_page(client, inspector_headers, default_form):
    resp = client.get("/api/v1/forms?per_page=1&page=1", headers=inspector_headers)
    assert (resp.json["total"], resp.json["page"], resp.json["per_page"]) == (1, 1, 1)


def test_the_form_list_is_empty_before_anything_is_published(client, inspector_headers):
    resp = client.get("/api/v1/forms", headers=inspector_headers)
    assert resp.status_code == 200
    assert (resp.json["items"], resp.json["total"]) == ([], 0)


def test_the_form_list_needs_a_token(client, default_form):
    assert_problem(client.get("/api/v1/forms"), 401, "unauthorized")


def test_the_form_list_refuses_an_unknown_query_parameter(client, inspector_headers):
    body = assert_problem(client.get("/api/v1/forms?lang=en", headers=inspector_headers),
                          422, "validation_failed")
    assert body["errors"] == {"query": {"lang": ["Unknown field."]}}


# --- GET /api/v1/forms/{key}/versions/{n} --------------------------------------------------------

def test_a_version_has_the_contract_shape(client, inspector_headers, default_form):
    body = client.get(URL, headers=inspector_headers).json
    assert VERSION_KEYS <= set(body)
    assert (body["key"], body["version"], body["languages"]) == (KEY, 1, list(LANGS))
    assert len(body["sha256"]) == 64
    for section in body["sections"]:
        assert set(section) == SECTION_KEYS
        for q in section["questions"]:
            assert set(q) == QUESTION_KEYS
            for c in q["choices"]:
                assert set(c) == CHOICE_KEYS


def test_without_lang_every_text_is_an_object_of_all_languages(client, inspector_headers,
                                                                default_form):
    body = client.get(URL, headers=inspector_headers).json
    texts = dict(localized_texts(body))
    assert len(texts) > 100
    for where, value in texts.items():
        assert isinstance(value, dict) and set(value) == set(LANGS), where


def test_a_version_serves_the_definition_as_published(app, client, inspector_headers,
                                                      default_form):
    body = client.get(URL, headers=inspector_headers).json
    assert {k: body[k] for k in default_form} == default_form
    with app.app_context():
        assert body["sha256"] == db.session.scalar(sa.select(FormVersion.sha256))
    assert body["retired"] is False


def test_the_served_definition_hashes_to_the_served_sha256(client, inspector_headers,
                                                          default_form):
    body = client.get(URL, headers=inspector_headers).json
    served = {k: v for k, v in body.items() if k not in ("sha256", "published_at", "retired")}
    assert definition_sha256(served) == body["sha256"]


@pytest.mark.parametrize("lang", LANGS)
def test_with_lang_every_label_title_and_hint_is_that_languages_text(client, inspector_headers,
                                                                     default_form, lang):
    body = client.get(f"{URL}?lang={lang}", headers=inspector_headers).json
    served = dict(localized_texts(body))
    written = dict(localized_texts(default_form))
    assert served.keys() == written.keys()
    for where, value in served.items():
        assert value == written[where][lang], where


@pytest.mark.parametrize("lang", LANGS)
def test_with_lang_the_shape_stays_the_contract(client, inspector_headers, default_form, lang):
    body = client.get(f"{URL}?lang={lang}", headers=inspector_headers).json
    assert VERSION_KEYS <= set(body)
    assert all(set(q) == QUESTION_KEYS for s in body["sections"] for q in s["questions"])


def test_localising_does_not_change_the_stored_version(app, client, inspector_headers,
                                                       default_form):
    client.get(f"{URL}?lang=kk", headers=inspector_headers)
    assert client.get(URL, headers=inspector_headers).json["title"] == default_form["title"]
    with app.app_context():
        assert db.session.scalar(sa.select(FormVersion.definition)) == default_form


def test_an_unsupported_language_is_422(client, inspector_headers, default_form):
    body = assert_problem(client.get(f"{URL}?lang=de", headers=inspector_headers),
                          422, "validation_failed")
    assert list(body["errors"]["query"]) == ["lang"]


def test_a_language_the_form_is_not_written_in_is_422(client, commit, inspector_headers):
    raw = form(question("q1"), languages=["ru", "kk"])
    for item in (raw, raw["sections"][0], raw["sections"][0]["questions"][0]):
        item["title" if "title" in item else "label"] = {"ru": "Текст", "kk": "Мәтін"}
    definition = check_definition(raw, "t")
    commit(lambda: service.publish_form(definition=definition, source="t.yaml"))
    resp = client.get("/api/v1/forms/test-form/versions/1?lang=uz", headers=inspector_headers)
    assert_problem(resp, 422, "language_not_in_form")


def test_an_unknown_query_parameter_is_422(client, inspector_headers, default_form):
    body = assert_problem(client.get(f"{URL}?language=kk", headers=inspector_headers),
                          422, "validation_failed")
    assert body["errors"] == {"query": {"language": ["Unknown field."]}}


@pytest.mark.parametrize("url", [
    "/api/v1/forms/no-such-form/versions/1",
    f"/api/v1/forms/{KEY}/versions/2",
    f"/api/v1/forms/{KEY}/versions/0",
    f"/api/v1/forms/{KEY}/versions/2147483648",
    f"/api/v1/forms/{KEY}/versions/99999999999999999999",
    f"/api/v1/forms/{KEY}/versions/one",
])
def test_an_unknown_form_or_version_is_a_404_problem(client, inspector_headers, default_form,
                                                     url):
    assert_problem(client.get(url, headers=inspector_headers), 404, "not_found")


def test_a_version_needs_a_token(client, default_form):
    assert_problem(client.get(URL), 401, "unauthorized")


def test_a_bad_token_is_401(client, default_form):
    assert_problem(client.get(URL, headers={"Authorization": "Bearer nope"}), 401,
                   "token_invalid")


@pytest.mark.parametrize("role", ["inspector", "supervisor", "admin"])
def test_every_role_reads_forms(client, headers_for, default_form, role):
    assert client.get(URL, headers=headers_for(role)).status_code == 200


# --- the console's form upload: a badly shaped file is a list of problems, not a 500 ------------

@pytest.mark.parametrize("bad_id", ["[a]", "{a: 1}"])
def test_a_section_id_that_is_a_list_or_mapping_is_a_422_in_the_console(client, world, app,
                                                                          bad_id):
    sign_in(client, "adm")
    text = (PROJECT_ROOT / "survey_forms" / "service_centre_visit.v1.yaml").read_text("utf-8")
    text = text.replace("version: 1\n", "version: 2\n", 1).replace(
        "  - id: accessibility\n", f"  - id: {bad_id}\n", 1)
    resp = client.post("/console/admin/forms?lang=en", content_type="multipart/form-data",
                       data={"csrf_token": page_token(client, "/console/admin"),
                             "file": (io.BytesIO(text.encode()), "v2.yaml")})
    assert resp.status_code == 422
    assert "sections[0].id: use letters, digits and" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(FormVersion.id))) == 1
