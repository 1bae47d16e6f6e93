"""Strings of the per-question answer charts on the office and region report pages.

English is the source; translations are in server/translations/ (docs/i18n.md)."""
from ..registry import _m, _mp  # noqa: F401

_m("chart_answers_heading", "How each question was answered")
_m("chart_answers_intro", "Approved visits of the period, with supervisors' corrections. Colours: green earns full marks, yellow part, red none, grey not applicable.")
_m("chart_na", "Not applicable")
_m("chart_data_table", "The numbers behind the chart")
_m("chart_answer", "Answer")
_m("chart_value", "Value")
_m("chart_count", "Visits")
_m("chart_group", "Office or region")
_m("chart_desc_stacked", "Share of approved visits giving each answer, one bar per office or region.")
_m("chart_desc_shares", "Share of approved visits that chose each option (several may be chosen).")
_m("chart_desc_histogram", "How many approved visits gave each value; colours show the score band a value falls in.")
_m("chart_no_answers", "No approved visit answered these questions in this period.")
_m("chart_region_link", "All offices of the region")
_m("region_report_title", "Region report")
_m("chart_offices", "Offices")
_mp("chart_n_visits", "{n} visit", "{n} visits")
