"""Publishing form versions: immutable, hashed, audited, all or none; localising a definition."""
from __future__ import annotations

import copy
import hashlib
import json

import pytest
import sqlalchemy as sa

from server.audit.models import AuditEvent
from server.errors import Conflict, NotFound
from server.extensions import db
from server.forms import service
from server.forms.definition import FormInvalid, check_definition
from server.forms.loader import definition_sha256, to_yaml
from server.forms.models import FormVersion, SurveyForm
from server.scoring.rules import CompiledForm

from server.config import PROJECT_ROOT

from .test_loader import choice, form, question, text

DEFAULT_FORM_PATH = PROJECT_ROOT / "survey_forms" / "service_centre_visit.v1.yaml"


def definition(version: int = 1, label: str = "Question q1") -> dict:
    q = question("q1", score={"yes": 1, "no": 0}, critical=True)
    q["label"] = text(label)
    return check_definition(form(q, version=version), "test.yaml")


def publish(commit, data: dict, source: str = "test.v1.yaml"):
    """Publish in a unit of its own; (form key, version number, created)."""
    def run():
        version, created = service.publish_form(definition=data, source=source)
        return version.form.key, version.version, created
    return commit(run)


def stored_text(app, version: int = 1) -> str:
    """The definition column's text exactly as the database holds it."""
    with app.app_context():
        return db.session.scalar(sa.select(sa.cast(FormVersion.definition, sa.Text))
                                 .where(FormVersion.version == version))


def events(app, action: str = "form_published") -> list[AuditEvent]:
    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)
                                  .order_by(AuditEvent.seq)).all()
        db.session.expunge_all()
        return rows


def write(path, data: dict) -> None:
    path.write_text(to_yaml(data), encoding="utf-8")


# --- publish -------------------------------------------------------------------------------------

def test_publishing_stores_the_definition_and_its_sha256(app, commit):
    data = definition()
    assert publish(commit, data) == ("test-form", 1, True)
    with app.app_context():
        version = service.get_version("test-form", 1)
        assert version.definition == data
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert version.sha256 == hashlib.sha256(canonical.encode()).hexdigest()
        assert version.source == "test.v1.yaml"
        assert version.retired_at is None


def test_the_stored_definition_hashes_to_its_sha256_when_read_back(app, commit):
    publish(commit, definition())
    with app.app_context():
        version = db.session.scalar(sa.select(FormVersion))
        assert definition_sha256(version.definition) == version.sha256


def test_publishing_appends_a_form_published_audit_event(app, commit):
    publish(commit, definition())
    [event] = events(app)
    assert (event.object_type, event.object_id) == ("form_version", "test-form/v1")
    assert event.payload == {"sha256": definition_sha256(definition()), "source": "test.v1.yaml"}


def test_publishing_the_same_content_again_returns_the_existing_version(app, commit, count):
    publish(commit, definition())
    assert publish(commit, definition(), source="copy.v1.yaml") == ("test-form", 1, False)
    assert count(FormVersion) == 1
    assert count(SurveyForm) == 1
    assert len(events(app)) == 1


def test_same_key_and_version_with_other_content_is_a_conflict(app, commit):
    publish(commit, definition())
    with pytest.raises(Conflict) as info:
        publish(commit, definition(label="Changed wording"))
    assert info.value.code == "form_version_conflict"
    assert "new version" in info.value.detail


def test_a_refused_change_leaves_everything_as_it_was(app, commit, count):
    publish(commit, definition())
    before = stored_text(app)
    with pytest.raises(Conflict):
        publish(commit, definition(label="Changed wording"))
    assert stored_text(app) == before
    assert count(FormVersion) == 1
    assert len(events(app)) == 1


def test_a_new_version_leaves_the_old_definition_byte_identical(app, commit, count):
    publish(commit, definition(version=1))
    before = stored_text(app, 1)
    assert publish(commit, definition(version=2, label="Changed wording")) == \
        ("test-form", 2, True)
    assert stored_text(app, 1) == before
    assert count(FormVersion) == 2
    assert count(SurveyForm) == 1


def test_versions_of_a_form_are_listed_in_order(app, commit):
    publish(commit, definition(version=2))
    publish(commit, definition(version=1))
    with app.app_context():
        [survey] = db.session.scalars(service.list_forms_query()).all()
        assert [v.version for v in survey.versions] == [1, 2]


def test_an_unknown_version_is_not_found(app, commit):
    publish(commit, definition())
    with app.app_context(), pytest.raises(NotFound):
        service.get_version("test-form", 2)


def test_publish_file_checks_and_publishes_a_file(app, commit, tmp_path):
    path = tmp_path / "test_form.v1.yaml"
    write(path, definition())
    version, created = commit(lambda: service.publish_file(path=path))
    assert created
    with app.app_context():
        assert service.get_version("test-form", 1).source == "test_form.v1.yaml"


def test_publish_file_refuses_a_broken_file(app, commit, count, tmp_path):
    path = tmp_path / "broken.v1.yaml"
    path.write_text("key: test-form\nversion: 0\n", encoding="utf-8")
    with pytest.raises(FormInvalid) as info:
        commit(lambda: service.publish_file(path=path))
    assert info.value.source == "broken.v1.yaml"
    assert count(FormVersion) == 0


# --- publish_directory ---------------------------------------------------------------------------

def _other(version: int = 1) -> dict:
    raw = form(question("q1"), version=version)
    raw["key"] = "other-form"
    return check_definition(raw, "other")


def test_publish_directory_publishes_every_form_file(app, commit, count, tmp_path):
    write(tmp_path / "test_form.v1.yaml", definition())
    write(tmp_path / "other_form.v1.yaml", _other())
    (tmp_path / "README.md").write_text("not a form", encoding="utf-8")
    results = commit(lambda: [(v.form.key, created) for v, created in
                              service.publish_directory(directory=tmp_path)])
    assert results == [("other-form", True), ("test-form", True)]
    assert count(FormVersion) == 2


def test_publish_directory_again_publishes_nothing_new(app, commit, count, tmp_path):
    write(tmp_path / "test_form.v1.yaml", definition())
    commit(lambda: service.publish_directory(directory=tmp_path))
    again = commit(lambda: [created for _, created in
                            service.publish_directory(directory=tmp_path)])
    assert again == [False]
    assert count(FormVersion) == 1


def test_publish_directory_with_broken_files_publishes_nothing_and_lists_every_problem(
        app, count, tmp_path):
    write(tmp_path / "a_good.v1.yaml", _other())
    (tmp_path / "b_broken.v1.yaml").write_text("key: Bad Key\nversion: 0\n", encoding="utf-8")
    (tmp_path / "c_binary.v1.yaml").write_bytes(b"\xff\xfe")
    write(tmp_path / "d_good.v1.yaml", definition())
    with app.app_context():
        with pytest.raises(FormInvalid) as info:
            service.publish_directory(directory=tmp_path)
        db.session.commit()  # even a caller that commits anyway finds nothing published
    paths = [p.path for p in info.value.problems]
    assert {"b_broken.v1.yaml:key", "b_broken.v1.yaml:version", "b_broken.v1.yaml:sections",
            "c_binary.v1.yaml"} <= set(paths)
    assert not any(path.startswith(("a_good", "d_good")) for path in paths)
    assert count(FormVersion) == 0
    assert count(AuditEvent) == 0


# --- localize ------------------------------------------------------------------------------------

def full_definition() -> dict:
    q = question("q2", "single_choice", hint=text("Hint"), choices=[choice("a"), choice("b")],
                 constraint={"expr": "answered(.)", "message": text("Message")},
                 score={"a": 1, "b": 0})
    return check_definition(form(question("q1"), q, description=text("About")), "t")


def _texts(value, found: list) -> list:
    """Every {lang: text} mapping left in a definition."""
    if isinstance(value, dict):
        if value and set(value) <= {"kk", "ru", "en", "uz"}:
            found.append(value)
        for item in value.values():
            _texts(item, found)
    elif isinstance(value, list):
        for item in value:
            _texts(item, found)
    return found


@pytest.mark.parametrize("lang", ["kk", "ru", "en", "uz"])
def test_localize_replaces_every_localized_text_with_one_language(lang):
    out = service.localize(full_definition(), lang)
    assert _texts(out, []) == []
    q1, q2 = out["sections"][0]["questions"]
    suffix = "" if lang == "en" else f" ({lang})"
    assert (out["title"], out["description"], out["sections"][0]["title"]) == \
        (f"Test{suffix}", f"About{suffix}", f"Main{suffix}")
    assert (q2["label"], q2["hint"], q2["constraint"]["message"]) == \
        (f"Question q2{suffix}", f"Hint{suffix}", f"Message{suffix}")
    assert [c["label"] for c in q2["choices"]] == [f"A{suffix}", f"B{suffix}"]
    assert q1["hint"] is None


def test_localize_leaves_everything_else_alone():
    original = full_definition()
    out = service.localize(original, "ru")
    assert out["sections"][0]["questions"][1]["score"] == {"a": 1, "b": 0}
    assert out["sections"][0]["questions"][1]["constraint"]["expr"] == "answered(.)"
    assert [c["id"] for c in out["sections"][0]["questions"][1]["choices"]] == ["a", "b"]
    assert (out["key"], out["version"], out["languages"]) == ("test-form", 1,
                                                             ["kk", "ru", "en", "uz"])


def test_localize_does_not_change_the_definition_it_is_given():
    original = full_definition()
    kept = copy.deepcopy(original)
    service.localize(original, "kk")
    assert original == kept


def test_a_published_definition_compiles_for_scoring(app, commit):
    publish(commit, definition())
    with app.app_context():
        compiled = CompiledForm(service.get_version("test-form", 1).definition)
        assert compiled.critical == {"q1": True}


# --- a new version never changes old visits ------------------------------------------------------

def test_a_new_version_never_changes_the_visits_made_with_the_old_one(app, client, commit, world,
                                                                     default_form):
    """A visit on v1 keeps its version, its score, its section scores, its findings and its lost
    points after v2 — the same checklist scored differently — is published."""
    from server.forms.loader import load_form_file, read_yaml
    from server.scoring.rules import Answer, score_visit
    from tests.visits.builders import visit_payload

    body = visit_payload(default_form, assignment=world["assignment"],
                         overrides={"D01": "yes", "A08": "no"})
    assert client.post("/api/v1/visits", json=body, headers=world["inspector"]).status_code == 201
    url = f"/api/v1/visits/{body['uuid']}"
    before = client.get(url, headers=world["supervisor"]).json

    v1_text = (DEFAULT_FORM_PATH).read_text(encoding="utf-8")
    v2_text = (v1_text.replace("version: 1\n", "version: 2\n", 1)
               .replace("critical_cap: 40", "critical_cap: 10", 1)
               .replace("    weight: 25\n", "    weight: 60\n", 1))
    v2 = check_definition(read_yaml(v2_text.encode("utf-8"), "v2.yaml"), "v2.yaml")
    publish(commit, v2, "service_centre_visit.v2.yaml")
    answers = {a["question"]: Answer(a["value"]) for a in body["answers"]}
    v1_result = score_visit(CompiledForm(load_form_file(DEFAULT_FORM_PATH)), answers)
    v2_result = score_visit(CompiledForm(v2), answers)
    assert (v2_result.score, v2_result.uncapped) != (v1_result.score, v1_result.uncapped)

    after = client.get(url, headers=world["supervisor"]).json
    assert (after["form_key"], after["form_version"]) == ("service-centre-visit", 1)
    for field in ("score", "score_uncapped", "section_scores", "critical", "lost_points",
                  "answers"):
        assert after[field] == before[field], field
    assert before["score"] == pytest.approx(v1_result.score) == 40  # capped by D01
    assert before["critical"] == ["D01"]
    with app.app_context():
        assert [v.version for v in service.get_version("service-centre-visit", 2).form.versions] \
            == [1, 2]
