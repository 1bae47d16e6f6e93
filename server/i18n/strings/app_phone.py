"""The inspector app's strings for one editor per draft, evidence checked on attach and the units
of measurement (/app; served to the phone with the rest of app.py's strings).

English is the source; translations are in server/translations/ (docs/i18n.md)."""
from ..registry import _m, _mp  # noqa: F401

_m("app_open_elsewhere",
   "This visit is open in another tab or window. It can be changed in one place only; "
   "here it is shown as saved there.")
_m("app_take_over", "Edit here")
_m("app_taking_over", "Taking over…")
_m("app_file_not_accepted",
   "\"{file}\" cannot be evidence for \"{question}\": {reason}")
_m("app_file_type_refused",
   "it is {detected}, not a photo, video or audio file the server accepts ({accepted}).")
_m("app_file_empty", "the file is empty.")
_m("app_file_too_large", "it is {size}; the limit for this kind of file ({kind}) is {limit}.")
_m("app_file_refused_named",
   "The server did not accept \"{file}\" for \"{question}\": {detail} Remove it and attach "
   "another file, or explain in the note.")
_m("app_server_problems", "The server did not accept:")
_m("app_unknown_type", "a file of an unknown type")
_m("app_unit_cm", "cm")
_m("app_unit_mm", "mm")
_m("app_unit_m", "m")
_m("app_unit_km", "km")
_m("app_unit_kg", "kg")
_m("app_unit_g", "g")
_m("app_unit_l", "l")
_m("app_unit_min", "min")
_m("app_unit_h", "h")
_m("app_unit_s", "s")
_m("app_unit_people", "people")
_m("app_unit_pcs", "pcs")
