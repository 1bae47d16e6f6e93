"""Who may use the console: signed-in supervisors and admins."""
from __future__ import annotations

import re

from ..auth.access import current_user
from ..auth.models import Role, User
from ..errors import Forbidden, ValidationFailed
from ..i18n import page_language, translate

STAFF = (Role.SUPERVISOR, Role.ADMIN)


class SignIn(Exception):
    """Nobody is signed in: the console's error handler sends the browser to sign in."""


def staff() -> User:
    """The signed-in supervisor or admin; inspectors get a 403 page."""
    user = current_user()
    if user is None:
        raise SignIn()
    if user.role not in STAFF:
        raise Forbidden(t("c_err_staff_only"))
    return user


def t(key: str, **values) -> str:
    """A console string in the page's language, with {placeholders} filled."""
    text = translate(key, page_language())
    return text.format(**values) if values else text


# Services write their messages in English. The console shows a known problem `code` (and the
# known messages of error fields) from the catalog in the page's language, the numbers and names
# the service put in its text filled in; text it does not recognise is shown as the service
# wrote it. Each rule: (pattern over the service's text, catalog key, names shown by label).
_STATUS_NAMES = {"status": "vstatus_", "target": "rstatus_", "rec_status": "rstatus_",
                 "allowed": "rstatus_"}
DETAIL_RULES: dict[str, list[tuple[str, str]]] = {
    "stale_revision": [(r"The visit was amended: revision (?P<current>\d+) is current, you "
                        r"reviewed (?P<seen>\d+)\. Look at it again\.", "c_err_stale")],
    "already_reviewed": [(r"The visit is already (?P<status>\w+) \(revision "
                          r"(?P<revision>\d+)\)\.", "c_msg_already_reviewed")],
    "stale_corrections": [(r"The visit has (?P<current>\d+) correction\(s\) on revision "
                           r"(?P<revision>\d+), you reviewed it with (?P<seen>\d+): .*",
                           "c_msg_stale_corrections")],
    "not_in_review": [(r"The visit is (?P<status>\w+); corrections are made during review .*",
                       "c_msg_not_in_review")],
    "own_visit": [(r"Nobody reviews their own visit\.", "c_msg_own_visit")],
    "out_of_scope": [(r"Region (?P<value>.*) is not in your scope\.", "c_msg_out_of_scope")],
    "invalid_transition": [
        (r"The recommendation is (?P<rec_status>\w+), which is final\.", "c_msg_rec_final"),
        (r"A recommendation that is (?P<rec_status>\w+) cannot become (?P<target>\w+); allowed "
         r"next: (?P<allowed>[\w, ]+)\. It can be judged not_done only once its due date has "
         r"passed\.", "c_msg_transition_overdue"),
        (r"A recommendation that is (?P<rec_status>\w+) cannot become (?P<target>\w+); allowed "
         r"next: (?P<allowed>[\w, ]+)\.", "c_msg_transition")],
    "status_changed": [(r"The recommendation's status was changed meanwhile.*",
                        "c_msg_status_changed")],
    "conflict_of_interest": [(r"The assignment cannot be made; see errors\.",
                              "c_err_assignment")],
    "csv_invalid_rows": [(r"(?P<count>\d+) rows are invalid; nothing was created\.",
                          "c_msg_csv_rows")],
    "csv_empty": [(r"The file has no assignments\.", "c_msg_csv_empty")],
    "csv_bad_header": [(r"The header must be: (?P<columns>.*)\.", "c_msg_csv_header")],
    "validation_failed": [
        (r"The form refuses this value: (?P<problem>.*)", "c_msg_form_refuses"),
        (r"The assignment cannot be made; see errors\.", "c_err_assignment"),
        (r"The recommendation cannot be made; see errors\.", "c_err_rec"),
        (r"The status cannot be changed; see errors\.", "c_msg_status_cannot"),
        (r"Validation failed", "c_msg_validation_failed")],
}
FIELD_RULES: list[tuple[str, str]] = [
    (r"Current revision is (?P<current>\d+)\.", "c_err_stale_field"),
    (r"Current corrections: (?P<current>\d+)\.", "c_msg_current_corrections"),
    (r"Not a question of this visit's form\.", "c_msg_not_a_question"),
    (r"Give a value or not_applicable, not both\.", "c_msg_value_or_na"),
    (r"This question cannot be answered 'not applicable'\.", "c_msg_no_na"),
    # the form checker (visits.validation.value_problem)
    (r"Answer 'yes' or 'no'\.", "c_msg_yes_no"),
    (r"Choose one of: (?P<value>.*)\.", "c_msg_choose_one"),
    (r"Give a list of choice ids\.", "c_msg_choice_list"),
    (r"Unknown choice\(s\): (?P<value>.*)\.", "c_msg_unknown_choices"),
    (r"A choice is selected twice\.", "c_msg_choice_twice"),
    (r"Give a whole number\.", "c_msg_whole_number"),
    (r"Give a number\.", "c_msg_number"),
    (r"Give minutes, a number ≥ 0\.", "c_msg_minutes"),
    (r"Give a time as HH:MM\.", "c_msg_time"),
    (r"Give text\.", "c_msg_text"),
    (r"Longer than (?P<value>\d+) characters\.", "c_msg_too_long"),
    (r"A note takes no answer\.", "c_msg_note"),
    (r"Attach media as evidence; the value must be null\.", "c_msg_media"),
    # assignments
    (r"Unknown office (?P<value>.*)\.", "c_msg_unknown_office"),
    (r"Office (?P<value>.*) is inactive\.", "c_msg_office_inactive"),
    (r"Office (?P<value>.*) is outside your regions\.", "c_msg_office_outside"),
    (r"No inspector with login (?P<value>.*)\.", "c_msg_no_inspector"),
    (r"Inspector (?P<value>.*) is deactivated\.", "c_msg_inspector_inactive"),
    (r"Inspector (?P<login>.*) must not visit (?P<office>.*): it is on their conflict list "
     r"\(they are known there\)\.", "c_msg_conflict_of_interest"),
    (r"Form (?P<form>.*) has no published version (?P<version>\d+)\.", "c_msg_no_version"),
    (r"Version (?P<version>\d+) of (?P<form>.*) is retired\.", "c_msg_version_retired"),
    # recommendations
    (r"Allowed next: (?P<allowed>[\w, ]+)\.", "c_msg_allowed_next"),
    (r"(?P<rec_status>\w+) is final\.", "c_msg_status_final"),
    (r"Required for (?P<target>\w+): say what was found\.", "c_msg_comment_for"),
    (r"In the past; give today or a later date\.", "c_msg_due_past"),
    (r"Only verified and not_done name a verifying visit\.", "c_msg_verifying_only_final"),
    (r"No visit (?P<value>.*)\.", "c_err_no_visit"),
    (r"That visit was to office (?P<office>.*), not (?P<other>.*)\.", "c_msg_other_office"),
    (r"That visit was submitted before the recommendation was made\.", "c_msg_visit_before"),
    (r"That visit was rejected; it verifies nothing\.", "c_msg_visit_rejected"),
]


def _named(name: str, value: str) -> str:
    prefix = _STATUS_NAMES.get(name)
    if prefix is None:
        return value
    from ..i18n import MESSAGES
    names = [part.strip() for part in value.split(",")]
    return ", ".join(t(f"{prefix}{n}") if f"{prefix}{n}" in MESSAGES else n for n in names)


def _by_rules(text: str, rules) -> str | None:
    for pattern, key in rules:
        found = re.fullmatch(pattern, text, flags=re.S)
        if found:
            values = {k: _named(k, v) for k, v in found.groupdict().items()}
            if "problem" in values:  # the form checker's own message, translated in turn
                values["problem"] = field_message(values["problem"])
            return t(key, **values)
    return None


def problem_detail(error) -> str:
    """An error's detail in the page's language: the catalog's message for its code, else the
    service's own text."""
    text = str(getattr(error, "detail", "") or "")
    return _by_rules(text, DETAIL_RULES.get(getattr(error, "code", None), [])) or text


def field_message(text) -> str:
    """One message of an error field in the page's language, else as the service wrote it."""
    if not isinstance(text, str):
        return str(text)
    return _by_rules(text, FIELD_RULES) or text


def field_messages(messages) -> str:
    """A field's messages (a list or one text) joined, each in the page's language."""
    if isinstance(messages, str):
        return field_message(messages)
    if isinstance(messages, dict):
        return "; ".join(f"{key}: {field_messages(value)}" for key, value in messages.items())
    return "; ".join(field_message(m) for m in messages)


MAX_CSV = 2 * 1024 * 1024  # an uploaded CSV file (offices, assignments)


def uploaded_csv() -> bytes:
    """The CSV file of a console form ('file'), at most MAX_CSV bytes; a 422 naming the field
    when it is missing, empty or too large."""
    from flask import request

    upload = request.files.get("file")
    raw = upload.read(MAX_CSV + 1) if upload else b""
    if not raw:
        raise ValidationFailed(t("c_err_csv_file"), errors={"file": [t("c_err_required")]})
    if len(raw) > MAX_CSV:
        message = t("c_err_too_large", size="2 MB")
        raise ValidationFailed(message, errors={"file": [message]})
    return raw
