"""The statistics behind a verdict, checked against published worked examples."""

from __future__ import annotations

import pytest

from robotrace_desktop.verify import stats


def test_wilson_interval_matches_the_textbook_value() -> None:
    low, high = stats.wilson_interval(81, 263, 0.95)  # Newcombe (1998) example: 0.2553-0.3662
    assert low == pytest.approx(0.2553, abs=5e-4)
    assert high == pytest.approx(0.3662, abs=5e-4)


def test_wilson_interval_never_collapses_at_zero_or_all() -> None:
    assert stats.wilson_interval(0, 10)[1] == pytest.approx(0.2775, abs=5e-4)
    assert stats.wilson_interval(10, 10)[0] == pytest.approx(0.7225, abs=5e-4)
    assert stats.wilson_interval(0, 0) == (0.0, 1.0)


def test_newcombe_difference_interval_matches_the_paper() -> None:
    # Newcombe (1998) Table II example (a): 56/70 vs 48/80 -> 0.0524 to 0.3339
    low, high = stats.proportion_diff_interval(48, 80, 56, 70, 0.95)
    assert (low, high) == (pytest.approx(0.0524, abs=1e-4), pytest.approx(0.3339, abs=1e-4))


def test_two_proportion_test() -> None:
    z, p = stats.two_proportion_test(48, 80, 56, 70)
    assert z == pytest.approx(2.650, abs=1e-3)
    assert p == pytest.approx(0.00805, abs=1e-4)
    assert stats.two_proportion_test(5, 10, 5, 10) == (0.0, 1.0)


def test_one_sided_drop_needs_evidence_beyond_the_margin() -> None:
    # 90 % -> 80 % on 400 runs each: a drop far beyond 2 points
    assert stats.one_sided_p_drop(360, 400, 320, 400, 0.02) < 0.001
    # the same rates on 30 runs each: not enough evidence
    assert stats.one_sided_p_drop(27, 30, 24, 30, 0.02) > 0.05
    # an improvement is never evidence of a drop
    assert stats.one_sided_p_drop(320, 400, 360, 400, 0.02) > 0.99


def test_mean_difference() -> None:
    diff = stats.mean_difference([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])
    assert diff is not None
    assert (diff.baseline, diff.candidate, diff.delta) == (2.0, 3.0, 1.0)
    assert diff.low < 0 < diff.high  # three samples each: not significant
    assert stats.mean_difference([], [1.0]) is None
    same = stats.mean_difference([1.0, 1.0], [1.0, 1.0])
    assert same is not None and same.p_value == 1.0
