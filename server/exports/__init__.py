"""Exports of every answer of the filtered visits: CSV, XLSX and JSON, wide or long (docs/exports.md)."""
