"""Publishing and reading form versions. Functions flush; the caller commits."""
from __future__ import annotations

import copy
from pathlib import Path

import sqlalchemy as sa

from ..audit.service import append_event
from ..errors import Conflict, NotFound
from ..extensions import db
from .definition import FormInvalid, Problem
from .loader import definition_sha256, load_form_file
from .models import FormVersion, SurveyForm

FORM_FILE_GLOB = "*.v*.yaml"


def publish_form(*, definition: dict, source: str, actor=None) -> tuple[FormVersion, bool]:
    """Store a checked definition as an immutable version; (version, True if newly published).

    Publishing the same key and version again with the same content is a no-op; with different
    content it is refused: a changed checklist must be a new version.
    """
    sha = definition_sha256(definition)
    form = db.session.scalar(sa.select(SurveyForm).where(SurveyForm.key == definition["key"]))
    if form is None:
        form = SurveyForm(key=definition["key"])
        db.session.add(form)
        db.session.flush()
    existing = db.session.scalar(sa.select(FormVersion).where(
        FormVersion.form_id == form.id, FormVersion.version == definition["version"]))
    if existing is not None:
        if existing.sha256 == sha:
            return existing, False
        raise Conflict(
            f"Version {definition['version']} of form {definition['key']!r} is already published "
            f"with different content (sha256 {existing.sha256[:12]}…, this file "
            f"{sha[:12]}…). Publish the change as a new version.", code="form_version_conflict")
    version = FormVersion(form=form, version=definition["version"], definition=definition,
                          sha256=sha, source=source[:255],
                          published_by_id=actor.id if actor is not None else None)
    db.session.add(version)
    db.session.flush()
    append_event("form_published", actor=actor, object_type="form_version",
                 object_id=f"{form.key}/v{version.version}",
                 payload={"sha256": sha, "source": source[:255]})
    return version, True


def publish_file(*, path: Path, actor=None) -> tuple[FormVersion, bool]:
    """Check and publish one form file."""
    return publish_form(definition=load_form_file(path), source=path.name, actor=actor)


def form_files(directory: Path) -> list[Path]:
    """The form files of a directory, in name order."""
    return sorted(directory.glob(FORM_FILE_GLOB))


def publish_directory(*, directory: Path, actor=None) -> list[tuple[FormVersion, bool]]:
    """Publish every form file in `directory`; all or none, every broken file reported.

    Every file is checked before any is published, so a broken file leaves nothing behind even
    if the caller goes on to commit.
    """
    checked, problems = [], []
    for path in form_files(directory):
        try:
            checked.append((path, load_form_file(path)))
        except FormInvalid as exc:
            problems += [Problem(f"{exc.source}:{p.path}" if p.path else exc.source, p.reason)
                         for p in exc.problems]
    if problems:
        raise FormInvalid(str(directory), problems)
    return [publish_form(definition=definition, source=path.name, actor=actor)
            for path, definition in checked]


def list_forms_query() -> sa.Select:
    """Every form, by key, with its versions loaded."""
    return sa.select(SurveyForm).order_by(SurveyForm.key)


def get_version(key: str, number: int) -> FormVersion:
    """One published version, or 404."""
    version = db.session.scalar(
        sa.select(FormVersion).join(FormVersion.form)
        .where(SurveyForm.key == key, FormVersion.version == number))
    if version is None:
        raise NotFound(f"Form {key!r} has no published version {number}.")
    return version


def localize(definition: dict, lang: str) -> dict:
    """A copy of the definition with every {lang: text} replaced by the text in `lang`."""
    out = copy.deepcopy(definition)

    def pick(value):
        return value.get(lang) if isinstance(value, dict) else value

    out["title"] = pick(out["title"])
    out["description"] = pick(out.get("description"))
    for section in out["sections"]:
        section["title"] = pick(section["title"])
        for q in section["questions"]:
            q["label"], q["hint"] = pick(q["label"]), pick(q.get("hint"))
            if q.get("constraint"):
                q["constraint"]["message"] = pick(q["constraint"]["message"])
            for choice in q.get("choices", []):
                choice["label"] = pick(choice["label"])
    return out
