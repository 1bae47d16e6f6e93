"""Pure statistics: t intervals, Wilson intervals, bands, competition ranking."""
from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.reports import stats

scores = st.floats(min_value=0, max_value=100, allow_nan=False)


def _interval(values):
    return stats.mean_interval(len(values), sum(values), sum(v * v for v in values))


def test_mean_interval_by_hand_for_three_values():
    result = _interval([80, 90, 100])
    half = 4.302653 * 10 / math.sqrt(3)  # t(0.975, df=2) * sd / sqrt(n)
    assert result.mean == 90
    assert result.low == pytest.approx(90 - half, abs=1e-4)
    assert result.high == pytest.approx(90 + half, abs=1e-4)


def test_equal_values_give_a_zero_width_interval():
    result = _interval([70, 70, 70])
    assert (result.mean, result.low, result.high) == (70, 70, 70)


def test_equal_values_that_suffer_cancellation_still_give_zero_width():
    result = _interval([83.3] * 60)
    assert result.high - result.low == 0


def test_one_value_has_a_mean_and_no_interval():
    assert _interval([55.5]) == stats.MeanInterval(1, 55.5, None, None)


def test_no_values_have_no_mean():
    assert _interval([]) == stats.MeanInterval(0, None, None, None)


def test_t_quantiles_come_from_the_table_up_to_30():
    assert stats.t_quantile_975(2) == pytest.approx(4.302653, abs=1e-6)
    assert stats.t_quantile_975(30) == pytest.approx(2.042272, abs=1e-6)


@pytest.mark.parametrize("df, expected", [(31, 2.039513), (40, 2.021075), (59, 2.000995),
                                          (120, 1.979930), (1000, 1.962339)])
def test_t_quantiles_beyond_30_follow_the_expansion(df, expected):
    assert stats.t_quantile_975(df) == pytest.approx(expected, abs=1e-5)


def test_t_quantiles_shrink_towards_1_96():
    values = [stats.t_quantile_975(df) for df in range(1, 500)]
    assert values == sorted(values, reverse=True)
    assert values[-1] > stats.Z_975


@given(st.lists(scores, min_size=2, max_size=80))
def test_the_t_interval_contains_the_mean(values):
    result = _interval(values)
    assert result.low <= result.mean <= result.high
    assert result.mean == pytest.approx(statistics.fmean(values), abs=1e-9)


@given(st.lists(scores, min_size=2, max_size=40))
def test_the_t_interval_matches_the_textbook_formula(values):
    result = _interval(values)
    half = stats.t_quantile_975(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    assert result.high - result.mean == pytest.approx(half, abs=1e-3)


def test_wilson_by_hand_for_one_in_four():
    low, high = stats.wilson_interval(1, 4)
    assert low == pytest.approx(0.0456, abs=1e-4)
    assert high == pytest.approx(0.6994, abs=1e-4)


def test_wilson_of_nothing_is_none():
    assert stats.wilson_interval(0, 0) is None


def test_wilson_of_none_and_all_touch_the_ends():
    assert stats.wilson_interval(0, 10)[0] == 0.0
    assert stats.wilson_interval(10, 10)[1] == 1.0


@given(st.integers(min_value=1, max_value=100_000).flatmap(
    lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))))
def test_wilson_bounds_lie_in_0_1_and_contain_p(case):
    successes, n = case
    low, high = stats.wilson_interval(successes, n)
    assert 0.0 <= low <= successes / n <= high <= 1.0


@pytest.mark.parametrize("score, band", [(100, "green"), (71, "green"), (70.99, "yellow"),
                                         (55, "yellow"), (54.99, "red"), (0, "red"),
                                         (None, None)])
def test_default_bands(score, band):
    assert stats.band(score) == band


def test_bands_follow_the_thresholds_given():
    assert stats.band(65, green_min=60, yellow_min=40) == "green"


def test_ties_share_a_rank_and_the_next_rank_skips():
    ranked = stats.competition_rank([("a", 80, 3), ("b", 95, 3), ("c", 80, 5), ("d", 70, 9)])
    assert [(r.key, r.rank) for r in ranked] == [("b", 1), ("c", 2), ("a", 2), ("d", 4)]


def test_among_equal_scores_more_visits_come_first_then_the_key():
    ranked = stats.competition_rank([("z", 80, 3), ("y", 80, 3), ("x", 80, 4)])
    assert [r.key for r in ranked] == ["x", "y", "z"]
    assert {r.rank for r in ranked} == {1}


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(1, 9)), max_size=30))
def test_competition_ranks_count_the_better_scores(entries):
    keyed = [(f"k{i}", float(score), visits) for i, (score, visits) in enumerate(entries)]
    for r in stats.competition_rank(keyed):
        assert r.rank == 1 + sum(1 for _, score, _ in keyed if score > r.score)
