"""Charts of how each question was answered, as geometry for server-drawn SVG (no script: the CSP
allows none inline, and a printed report needs none).

- yes/no and single choice: a 100 % stacked bar per office or region, one segment per answer;
- multiple choice: per office or region, the share of visits that chose each option;
- numbers and durations: a histogram of the answers with the question's score bands behind it.

Every chart comes with its numbers as a table (the page renders it under the SVG), a title and a
description, so a screen reader or a printout loses nothing. Colours follow the score an answer
earns (green full marks, yellow part, red none), grey for "not applicable", so the same colour
means the same thing on every chart; answers that are not scored take neutral shades.
"""
from __future__ import annotations

import math

from ..scoring.rules import NUMBER_TYPES
from .answers import Tally

LEFT, WIDTH, ROW, TOP, GAP = 170, 420, 20, 8, 6
NEUTRAL = ("n1", "n2", "n3", "n4", "n5", "n6")
MAX_BINS = 10


def _colour(score_rule, choice: str, index: int) -> str:
    if isinstance(score_rule, dict) and "bands" not in score_rule and choice in score_rule:
        earned = float(score_rule[choice])
        return "green" if earned >= 1 else ("red" if earned <= 0 else "yellow")
    return NEUTRAL[index % len(NEUTRAL)]


def _short(text: str, length: int = 28) -> str:
    return text if len(text) <= length else text[:length - 1] + "…"


def stacked_bars(question: dict, rows: list[tuple[str, Tally]], names: dict) -> dict:
    """A 100 % bar per row (office or region) split by answer; N/A as its own grey segment."""
    choices = [(cid, label, _colour(question["score"], cid, i))
               for i, (cid, label) in enumerate(question["choices"])]
    legend = [*choices, ("_na", names["na"], "na")]
    bars = []
    for i, (label, t) in enumerate(rows):
        y = TOP + i * (ROW + GAP)
        x, segments = float(LEFT), []
        for cid, choice_label, colour in legend:
            count = t.not_applicable if cid == "_na" else t.choices.get(cid, 0)
            if not count:
                continue
            width = round(WIDTH * count / t.visits, 1)
            segments.append({"x": round(x, 1), "width": width, "colour": colour,
                             "count": count, "share": count / t.visits,
                             "title": f"{label}: {choice_label} {count}/{t.visits}"})
            x += width
        bars.append({"y": y, "label": _short(label), "full_label": label, "n": t.visits,
                     "segments": segments})
    table = {"head": [c[1] for c in legend],
             "rows": [(label, t.visits, [t.not_applicable if cid == "_na" else
                                         t.choices.get(cid, 0) for cid, _, _ in legend])
                      for label, t in rows]}
    return {"kind": "stacked", "bars": bars, "legend": legend, "table": table,
            "width": LEFT + WIDTH + 50, "height": TOP + len(rows) * (ROW + GAP) + 4,
            "left": LEFT, "bar_width": WIDTH, "row": ROW}


def choice_shares(question: dict, rows: list[tuple[str, Tally]]) -> dict:
    """Multiple choice: per row, one thin bar per option, the share of visits choosing it."""
    choices = [(cid, label, _colour(question["score"], cid, i))
               for i, (cid, label) in enumerate(question["choices"])]
    step = 12
    bars, y = [], TOP
    for label, t in rows:
        answered = t.visits - t.not_applicable
        items = []
        for cid, choice_label, colour in choices:
            count = t.choices.get(cid, 0)
            share = count / answered if answered else 0.0
            items.append({"y": y, "width": round(WIDTH * share, 1), "colour": colour,
                          "label": _short(choice_label), "count": count, "share": share,
                          "title": f"{label}: {choice_label} {count}/{answered}"})
            y += step
        bars.append({"label": _short(label), "full_label": label, "n": answered, "items": items,
                     "y": items[0]["y"] if items else y})
        y += GAP * 2
    table = {"head": [c[1] for c in choices],
             "rows": [(label, t.visits - t.not_applicable,
                       [t.choices.get(cid, 0) for cid, _, _ in choices]) for label, t in rows]}
    return {"kind": "shares", "groups": bars, "legend": choices, "table": table,
            "width": LEFT + WIDTH + 50, "height": y + 4, "left": LEFT, "bar_width": WIDTH,
            "step": step}


def _bins(values: list[float], integer: bool) -> list[tuple[float, float]]:
    """Histogram bins over the answers: one per value when few distinct whole numbers, else up
    to MAX_BINS equal bins."""
    low, high = min(values), max(values)
    distinct = sorted(set(values))
    if integer and len(distinct) <= MAX_BINS:
        return [(v, v) for v in distinct]
    if low == high:
        return [(low, high)]
    width = (high - low) / MAX_BINS
    if integer:
        width = max(1, math.ceil(width))
    return [(low + i * width, min(high, low + (i + 1) * width))
            for i in range(MAX_BINS) if low + i * width <= high]


def _earned(bands: list[dict], value: float) -> float:
    for band in bands:
        if (band.get("min") is None or value >= band["min"]) and (
                band.get("max") is None or value <= band["max"]):
            return float(band["score"])
    return 0.0


def histogram(question: dict, t: Tally, fmt) -> dict:
    """Distribution of the numeric answers of one office or region, with score bands marked."""
    values = t.numbers
    integer = all(float(v).is_integer() for v in values) and question["type"] != "decimal"
    bins = _bins(values, integer) if values else []
    counts = []
    for i, (lo, hi) in enumerate(bins):
        if lo == hi:
            counts.append(sum(1 for v in values if v == lo))
        elif i == len(bins) - 1:  # the last bin holds its upper edge
            counts.append(sum(1 for v in values if lo <= v <= hi))
        else:
            counts.append(sum(1 for v in values if lo <= v < hi))
    height, top, left, width = 120, 10, 50, 480
    peak = max(counts, default=0) or 1
    slot = width / max(len(bins), 1)
    bands = (question["score"] or {}).get("bands") if isinstance(question["score"], dict) else None
    columns = []
    for i, ((lo, hi), count) in enumerate(zip(bins, counts)):
        h = round(height * count / peak, 1)
        colour = "n1"
        if bands:
            earned = _earned(bands, (lo + hi) / 2)
            colour = "green" if earned >= 1 else ("red" if earned <= 0 else "yellow")
        label = fmt(lo) if lo == hi else f"{fmt(lo)}–{fmt(hi)}"
        columns.append({"x": round(left + i * slot + 2, 1), "width": round(slot - 4, 1),
                        "y": round(top + height - h, 1), "height": h, "count": count,
                        "colour": colour, "label": label, "mid": round(left + (i + .5) * slot, 1)})
    return {"kind": "histogram", "columns": columns, "top": top, "left": left,
            "axis_y": top + height, "width": left + width + 10, "height": top + height + 34,
            "peak": peak, "n": len(values), "not_applicable": t.not_applicable,
            "band_rules": bands or [],
            "table": {"rows": [(c["label"], c["count"]) for c in columns]}}


def question_charts(questions: list[dict], tallies: dict, groups: list[tuple[str, str]],
                    names: dict, fmt) -> list[dict]:
    """One chart per question that any group answered, in form order. `groups` are (key, label)
    in display order; numbers get one histogram per group."""
    charts = []
    for q in questions:
        rows = [(label, tallies[(key, q["id"])]) for key, label in groups
                if (key, q["id"]) in tallies]
        if not rows:
            continue
        chart = {"question": q}
        if q["type"] in NUMBER_TYPES:
            chart["histograms"] = [(label, histogram(q, t, fmt)) for label, t in rows
                                   if t.numbers or t.not_applicable]
            if not chart["histograms"]:
                continue
        elif q["type"] == "multi_choice":
            chart["chart"] = choice_shares(q, rows)
        else:
            chart["chart"] = stacked_bars(q, rows, names)
        charts.append(chart)
    return charts
