"""Alerts on critical findings: subscriptions, alerts raised at intake, deliveries (docs/alerts.md)."""
