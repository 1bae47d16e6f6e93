"""Strings of the map feature.

English is the source; translations are in server/translations/ (docs/i18n.md)."""
from ..registry import _m, _mp  # noqa: F401

_m("map_title", "Map of offices")
_m("map_nav", "Map")
_m("map_label", "Map of the offices, each a marker coloured by its band")
_m("map_keyboard",
   "Tab reaches each marker; Enter shows the office's figures, Escape closes them. The table below has the same figures.")
_m("map_no_tiles", "Map tiles are turned off; region outlines are drawn instead.")
_m("map_not_on_map", "Not on the map (no coordinates)")
_m("map_all_placed", "Every office is on the map.")
_m("map_band_none", "No score")
_m("map_in_table", "In the table")
_m("map_outlines_credit", "Region outlines: Natural Earth")
_m("map_legend", "Marker colours")
_m("map_from", "From")
_m("map_to", "To")
