"""Strings of the app_manifest feature.

English is the source; translations are in server/translations/ (docs/i18n.md)."""
from ..registry import _m, _mp  # noqa: F401

_m("manifest_name", "Notes")
_m("manifest_short_name", "Notes")
_m("manifest_description", "Notes and checklists that work without the internet.")
