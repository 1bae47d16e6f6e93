"""Scoring: pure rules (rules.py) and, later, aggregation queries."""
