"""Recommendations to offices and their follow-up."""
