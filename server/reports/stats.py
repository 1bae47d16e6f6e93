"""Pure statistics for reports: intervals, colour bands, competition ranking. No Flask, no DB.

Formulas and their reasons are in docs/reports.md.
"""
from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import NamedTuple
from functools import lru_cache

Z_975 = 1.959963984540054  # the standard normal's 97.5% quantile: two-sided 95%

# Student t 97.5% quantiles for 1..30 degrees of freedom (two-sided 95%).
T_975 = (12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836, 2.446911851,
         2.364624252, 2.306004135, 2.262157163, 2.228138852, 2.200985160, 2.178812830,
         2.160368656, 2.144786688, 2.131449546, 2.119905299, 2.109815578, 2.100922040,
         2.093024054, 2.085963447, 2.079613845, 2.073873068, 2.068657610, 2.063898562,
         2.059538553, 2.055529439, 2.051830516, 2.048407142, 2.045229642, 2.042272456)


@lru_cache(maxsize=1024)
def t_quantile_975(df: int) -> float:
    """The 97.5% quantile of Student's t with `df` degrees of freedom.

    Exact (to 9 decimals) from the table up to 30; beyond, the Cornish-Fisher expansion
    (Abramowitz & Stegun 26.7.5), within 1e-6 of the true value there and tending to 1.96.
    """
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if df <= len(T_975):
        return T_975[df - 1]
    z, v = Z_975, float(df)
    g1 = (z ** 3 + z) / 4
    g2 = (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96
    g3 = (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384
    g4 = (79 * z ** 9 + 776 * z ** 7 + 1482 * z ** 5 - 1920 * z ** 3 - 945 * z) / 92160
    return z + g1 / v + g2 / v ** 2 + g3 / v ** 3 + g4 / v ** 4


class MeanInterval(NamedTuple):  # a tuple: made 5,000 times per national ranking
    n: int
    mean: float | None
    low: float | None
    high: float | None


def mean_interval(n: int, total: float, sum_squares: float) -> MeanInterval:
    """Mean and Student-t 95% interval from n, sum(x) and sum(x²) (what SQL aggregates give).

    No mean without values; no interval from a single value (its spread is unknown).
    """
    if n <= 0:
        return MeanInterval(0, None, None, None)
    mean = total / n
    if n == 1:
        return MeanInterval(1, mean, None, None)
    # sum(x²) - (sum x)²/n loses digits to cancellation when the values are (nearly) equal:
    # a variance within rounding noise of zero is zero, and never negative.
    deviation = sum_squares - total * total / n
    if deviation <= 1e-9 * max(sum_squares, 1.0):
        deviation = 0.0
    sd = math.sqrt(deviation / (n - 1))
    half = t_quantile_975(n - 1) * sd / math.sqrt(n)
    return MeanInterval(n, mean, mean - half, mean + half)


@lru_cache(maxsize=4096)  # a ranking asks for the same few (count, visits) pairs again and again
def wilson_interval(successes: int, n: int, z: float = Z_975) -> tuple[float, float] | None:
    """Wilson score 95% interval of a proportion successes/n; None when n is 0."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError("successes must be between 0 and n")
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    # Exact arithmetic puts the bounds in [0, 1] around p; floating point may miss by an ulp.
    low = 0.0 if successes == 0 else min(p, max(0.0, centre - half))
    high = 1.0 if successes == n else max(p, min(1.0, centre + half))
    return low, high


GREEN, YELLOW, RED = "green", "yellow", "red"


def band(score: float | None, *, green_min: float = 71, yellow_min: float = 55) -> str | None:
    """The colour band of a score: green at or above green_min, yellow at or above yellow_min,
    red below; None without a score."""
    if score is None:
        return None
    if score >= green_min:
        return GREEN
    if score >= yellow_min:
        return YELLOW
    return RED


@dataclass(frozen=True)
class Ranked:
    key: Hashable
    rank: int
    score: float
    visits: int


def competition_rank(entries: Sequence[tuple[Hashable, float, int]]) -> list[Ranked]:
    """Standard competition ranking ("1224") of (key, score, visits), best score first.

    Equal scores share a rank and the next rank skips; among equals, more visits come first
    (then the key, so the order is stable). Visits order the list, they never break a tie.
    """
    ordered = sorted(entries, key=lambda e: (-e[1], -e[2], e[0]))
    result: list[Ranked] = []
    rank, previous = 0, None
    for position, (key, score, visits) in enumerate(ordered, start=1):
        if score != previous:
            rank, previous = position, score
        result.append(Ranked(key, rank, score, visits))
    return result
