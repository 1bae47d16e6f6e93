"""`flask adal forms check|publish|list|import-xlsform`."""
from __future__ import annotations

import pytest

from server.audit.models import AuditEvent
from server.config import PROJECT_ROOT
from server.forms.definition import check_definition
from server.forms.loader import load_form_file, to_yaml
from server.forms.models import FormVersion

from .test_loader import FIVE_MISTAKES, MINIMAL_YAML, form, question, text
from .test_xlsform import FULL_CHOICES, FULL_SETTINGS, FULL_SURVEY, workbook

DEFAULT_FORM = PROJECT_ROOT / "survey_forms" / "service_centre_visit.v1.yaml"


@pytest.fixture
def forms(runner):
    """Run `adal forms ...`."""
    def run(*args):
        return runner.invoke(args=["adal", "forms", *map(str, args)])
    return run


def form_file(tmp_path, name: str = "test_form.v1.yaml", label: str = "Question q1",
              **top) -> str:
    q = question("q1", score={"yes": 1, "no": 0})
    q["label"] = text(label)
    path = tmp_path / name
    path.write_text(to_yaml(check_definition(form(q, **top), name)), encoding="utf-8")
    return path


def broken_file(tmp_path, name: str = "broken.v1.yaml"):
    path = tmp_path / name
    path.write_text(FIVE_MISTAKES, encoding="utf-8")
    return path


# --- check ---------------------------------------------------------------------------------------

def test_check_accepts_the_default_checklist(forms):
    result = forms("check", DEFAULT_FORM)
    assert result.exit_code == 0, result.output
    assert result.output == ("service_centre_visit.v1.yaml: OK (service-centre-visit v1, "
                             "6 sections, 45 questions)\n")


def test_check_prints_every_problem_and_exits_1(forms, tmp_path):
    result = forms("check", broken_file(tmp_path))
    assert result.exit_code == 1
    assert "broken.v1.yaml: 5 problem(s):" in result.stderr
    for path in ("sections[0].title.uz", "sections[0].weight",
                 "sections[0].questions[0].score.maybe", "sections[0].questions[1].relevant",
                 "sections[0].questions[2].type"):
        assert f"  {path}: " in result.stderr


def test_check_reports_every_file_it_is_given(forms, tmp_path):
    result = forms("check", form_file(tmp_path), broken_file(tmp_path),
                   broken_file(tmp_path, "other.v1.yaml"))
    assert result.exit_code == 1
    assert "test_form.v1.yaml: OK" in result.stdout
    assert "broken.v1.yaml: 5 problem(s)" in result.stderr
    assert "other.v1.yaml: 5 problem(s)" in result.stderr


@pytest.mark.parametrize("command", ["check", "publish"])
def test_a_section_id_that_is_a_list_is_reported_not_a_crash(forms, tmp_path, count, command):
    path = tmp_path / "list_id.v1.yaml"
    path.write_text(MINIMAL_YAML.replace("  - id: main", "  - id: [a]"), encoding="utf-8")
    result = forms(command, path)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "  sections[0].id: use letters, digits and '_', starting with a letter" in \
        result.stderr
    assert count(FormVersion) == 0


def test_check_of_a_missing_file_is_a_usage_error(forms, tmp_path):
    assert forms("check", tmp_path / "nope.yaml").exit_code == 2


def test_check_publishes_nothing(forms, count):
    forms("check", DEFAULT_FORM)
    assert count(FormVersion) == 0


# --- publish -------------------------------------------------------------------------------------

def test_publish_stores_a_version(forms, count):
    result = forms("publish", DEFAULT_FORM)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("service-centre-visit v1: published (sha256 ")
    assert count(FormVersion) == 1
    assert count(AuditEvent) == 1


def test_publishing_again_says_already_published(forms, count):
    forms("publish", DEFAULT_FORM)
    result = forms("publish", DEFAULT_FORM)
    assert result.exit_code == 0, result.output
    assert "service-centre-visit v1: already published, unchanged" in result.output
    assert count(FormVersion) == 1
    assert count(AuditEvent) == 1


def test_publishing_changed_content_as_the_same_version_fails(forms, tmp_path, count):
    forms("publish", form_file(tmp_path))
    result = forms("publish", form_file(tmp_path, "changed.v1.yaml", label="Reworded"))
    assert result.exit_code == 1
    assert "Error: Version 1 of form 'test-form' is already published with different content" \
        in result.output
    assert count(FormVersion) == 1


def test_publishing_a_broken_file_prints_every_problem(forms, tmp_path, count):
    result = forms("publish", broken_file(tmp_path))
    assert result.exit_code == 1
    assert result.stderr.count("\n  sections[0]") == 5
    assert count(FormVersion) == 0


def test_publishing_several_files_with_a_broken_one_publishes_none(forms, tmp_path, count):
    result = forms("publish", form_file(tmp_path), broken_file(tmp_path),
                   broken_file(tmp_path, "other.v1.yaml"))
    assert result.exit_code == 1
    assert "broken.v1.yaml: 5 problem(s)" in result.stderr
    assert "other.v1.yaml: 5 problem(s)" in result.stderr
    assert count(FormVersion) == 0


def test_publishing_several_files_with_a_conflict_publishes_none(forms, tmp_path, count):
    forms("publish", form_file(tmp_path))
    result = forms("publish", form_file(tmp_path, "v2.yaml", version=2),
                   form_file(tmp_path, "changed.v1.yaml", label="Reworded"))
    assert result.exit_code == 1
    assert count(FormVersion) == 1


# --- list ----------------------------------------------------------------------------------------

def test_list_shows_each_published_version(forms, tmp_path):
    forms("publish", form_file(tmp_path), form_file(tmp_path, "v2.yaml", version=2))
    lines = forms("list").output.splitlines()
    assert [line.split("\t")[:2] for line in lines] == [["test-form", "v1"], ["test-form", "v2"]]
    assert [line.split("\t")[3] for line in lines] == ["test_form.v1.yaml", "v2.yaml"]


def test_list_says_when_nothing_is_published(forms):
    result = forms("list")
    assert (result.exit_code, result.output) == (0, "No forms are published.\n")


# --- import-xlsform ------------------------------------------------------------------------------

def test_import_xlsform_writes_a_form_that_check_accepts(forms, tmp_path):
    source = workbook(tmp_path / "visit.xlsx", FULL_SURVEY, FULL_CHOICES, FULL_SETTINGS)
    output = tmp_path / "visit_check.v3.yaml"
    result = forms("import-xlsform", source, "-o", output)
    assert result.exit_code == 0, result.output
    assert f"Wrote {output} (2 sections, 9 questions)" in result.stdout
    assert ("warning: survey!A2: type 'start' was not imported: Adal records when each visit "
            "starts and ends") in result.stderr
    check = forms("check", output)
    assert check.exit_code == 0, check.output
    assert load_form_file(output)["key"] == "visit-check"


def test_import_xlsform_does_not_overwrite_a_file(forms, tmp_path):
    source = workbook(tmp_path / "visit.xlsx", FULL_SURVEY, FULL_CHOICES, FULL_SETTINGS)
    output = tmp_path / "taken.yaml"
    output.write_text("mine", encoding="utf-8")
    result = forms("import-xlsform", source, "-o", output)
    assert result.exit_code == 1
    assert "exists" in result.output
    assert output.read_text(encoding="utf-8") == "mine"


def test_import_xlsform_reports_what_it_cannot_translate(forms, tmp_path):
    source = workbook(tmp_path / "bad.xlsx", [
        {"type": "begin group", "name": "g", "label": text("G")},
        {"type": "range", "name": "r", "label": text("R")}, {"type": "end group"}])
    output = tmp_path / "bad.v1.yaml"
    result = forms("import-xlsform", source, "-o", output)
    assert result.exit_code == 1
    assert "  survey!A3: type 'range' has no Adal equivalent" in result.stderr
    assert not output.exists()


def test_import_xlsform_writes_to_the_current_directory_by_default(forms, tmp_path,
                                                                    monkeypatch):
    """Never into survey_forms/, whose every file `adal init` publishes unreviewed."""
    source = workbook(tmp_path / "visit.xlsx", FULL_SURVEY, FULL_CHOICES, FULL_SETTINGS)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    before = sorted(p.name for p in (PROJECT_ROOT / "survey_forms").iterdir())
    result = forms("import-xlsform", source)
    assert result.exit_code == 0, result.output
    written = work / "visit_check.v3.yaml"
    assert f"Wrote {written} " in result.stdout
    assert load_form_file(written)["key"] == "visit-check"
    assert sorted(p.name for p in (PROJECT_ROOT / "survey_forms").iterdir()) == before
