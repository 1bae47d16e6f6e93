"""Reports: scores per office and period, rankings, exports, published snapshots, open data."""
