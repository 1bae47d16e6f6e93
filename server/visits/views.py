"""A visit's answer dumped by hand: what VisitOut().dump() gives, at a fraction of the cost.

The intake fast path answers with this; VisitOut stays the documented shape (OpenAPI) and the
other endpoints' dumper. tests/visits/test_intake.py checks both give the same for sample visits.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _float(value) -> float | None:
    return float(value) if value is not None else None


def _answers(items: list[dict]) -> list[dict]:
    return [{"question": a["question_id"], "value": a["value"],
             "not_applicable": bool(a["not_applicable"]), "note": str(a["note"]),
             "evidence": [str(sha) for sha in a["evidence"]], "corrected": a["corrected"]}
            for a in items]


def dump_visit(view: dict[str, Any]) -> dict[str, Any]:
    answers = _answers(view["answers"])
    out = {
        "uuid": str(view["uuid"]), "status": view["status"], "assignment": view["assignment"],
        "office": view["office"], "inspector": view["inspector"], "form_key": view["form_key"],
        "form_version": view["form_version"], "started_at": _time(view["started_at"]),
        "ended_at": _time(view["ended_at"]), "position_start": view["position_start"],
        "position_end": view["position_end"], "score": _float(view["score"]),
        "score_uncapped": _float(view["score_uncapped"]),
        "section_scores": view["section_scores"], "critical": list(view["critical"]),
        "flags": [{"kind": f["kind"], "severity": f["severity"], "detail": f["detail"]}
                  for f in view["flags"]],
        "answers": answers, "lost_points": view["lost_points"],
        "revision": view["revision"], "submitted_at": _time(view["submitted_at"]),
        "history": [{"at": _time(h["at"]), "action": h["action"], "actor": h["actor"],
                     "revision": h["revision"], "detail": h["detail"]}
                    for h in view["history"]],
        "revisions": [{"revision": r["revision"], "received_at": _time(r["received_at"]),
                       "score": _float(r["score"]),
                       "answers": answers if r["answers"] is view["answers"]
                       else _answers(r["answers"])}
                      for r in view["revisions"]],
    }
    if "receipt" in view:
        out["receipt"] = dict(view["receipt"])
    return out
