"""Visits: intake, validation against the pinned form version, scores, evidence checks."""
