"""Strings of the console fixes of issue 15 (sign-in limit, home links, decided visit, flags,
distances, correction widgets, admin pages and the audit log's filters).

English is the source; translations are in server/translations/ (docs/i18n.md)."""
from ..registry import _m, _mp  # noqa: F401

# The sign-in page when too many attempts failed, and the start page's links.
_m("cf_login_limited", "Too many failed sign-ins.")
_mp("cf_login_wait_seconds", "Try again in {n} second.", "Try again in {n} seconds.")
_mp("cf_login_wait_minutes", "Try again in {n} minute.", "Try again in {n} minutes.")
_m("home_console", "Open the review console")
_m("home_app", "Open the inspector app")

# The visit page and the queue.
_m("cf_type_to_search", "type to search")
_m("cf_km", "km")
_m("cf_no_position", "no position")
_m("cf_decided", "{decision}: the visit to {office} of {when} ({short}).")
_m("cf_decided_next", "Below is the next visit of the queue.")
_m("cf_correct_this", "Correct")
_m("cf_correct_hint", "Use “Correct” next to an answer to change it; the score is recomputed.")
_m("cf_choose", "choose")
_m("cf_range", "from {min} to {max}")
_m("cf_at_least", "at least {min}")
_m("cf_at_most", "at most {max}")

# The admin pages and the audit log.
_m("cf_admin_users", "Users")
_m("cf_admin_forms", "Forms")
_m("cf_admin_audit", "Audit log")
_m("cf_admin_sections", "Admin pages")
_m("cf_audit_action", "Action")
_m("cf_audit_actor", "Who")
_m("cf_audit_object_type", "Object type")
_m("cf_audit_object_id", "Object id")
_m("cf_audit_from", "From")
_m("cf_audit_to", "To")
_m("cf_audit_all", "all")
_m("cf_audit_none", "No events match these filters.")
_mp("cf_audit_count", "{n} event", "{n} events")
_m("cf_audit_page", "Page {page} of {pages}")
_m("cf_previous", "Previous")
_m("cf_next", "Next")
_m("cf_err_audit_date", "“{value}” is not a date; write it as YYYY-MM-DD.")
_m("cf_err_audit_range", "The end of the range is before its start.")
_m("cf_err_audit_page", "The page must be a whole number from 1 to {max}.")
_m("cf_page", "Page")
# The forms' units that are words (symbols such as % and °C stay as they are).
_m("cf_unit_cm", "cm")
_m("cf_unit_mm", "mm")
