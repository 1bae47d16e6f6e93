"""Alert emails (server/alerts) and the console's jobs page (admins)."""
from ..registry import _m, _mp  # noqa: F401

_m("al_subject", "Critical finding: {office}")
_m("al_body", "A visit to {office} ({code}) that started {time} reported:")
_m("al_unreviewed", "The visit is not reviewed yet.")
_m("al_open", "Open it in the console:")
_m("c_jobs", "Jobs")
_m("c_jobs_retry", "Retry")
_m("c_processing", "processing…")
