"""The streamed ranking exports hold what the whole-file ones hold."""
from __future__ import annotations

import io

from openpyxl import load_workbook

from server.reports import export, stream

REPORT = {
    "kind": None, "sections": [{"id": "A", "title": {"en": "Access"}}],
    "items": [{"rank": i + 1, "office": {"code": f"OF-{i}", "name": {"en": "=HYPERLINK(1)"}},
               "region": "R1", "kind": ("service_centre", "school")[i % 2], "status": "ranked",
               "visits": 10, "score": 80.0 - i, "ci_low": 70.0, "ci_high": 90.0,
               "band": "green", "change": None, "previous_score": None,
               "section_scores": {"A": 75.5}, "critical": [],
               "recommendations": {"share": None}} for i in range(200)],
}


def test_streamed_csv_is_the_whole_file_in_chunks(app, monkeypatch):
    monkeypatch.setattr(stream, "CHUNK", 1024)
    with app.test_request_context():
        chunks = list(stream.ranking_csv(REPORT, "en"))
        assert len(chunks) > 1  # sent as it is made
        assert b"".join(chunks) == export.ranking_csv(REPORT, "en")


def test_streamed_xlsx_has_the_same_cells_formulas_as_text(app):
    with app.test_request_context():
        streamed = load_workbook(io.BytesIO(b"".join(stream.ranking_xlsx(REPORT, "en"))))
        whole = load_workbook(io.BytesIO(export.ranking_xlsx(REPORT, "en")))
    assert streamed.sheetnames == whole.sheetnames
    for name in whole.sheetnames:
        a, b = streamed[name], whole[name]
        assert [[c.value for c in r] for r in a.iter_rows()] == \
            [[c.value for c in r] for r in b.iter_rows()]
        assert a.freeze_panes == "A2" and a["A1"].font.bold
        assert a["C2"].data_type == "s"  # a name like a formula stays text
