"""robust_range's own percentile (one partition + numpy's interpolation) is np.percentile to
the last bit: findings must not move when it is fast."""

from __future__ import annotations

import numpy as np

from robotrace_desktop.analysis.causes._series import _percentiles, median, percentile, robust_range


def test_percentiles_are_numpys_to_the_last_bit() -> None:
    rng = np.random.default_rng(7)
    for trial in range(3000):
        n = int(rng.integers(1, 12)) if trial % 3 == 0 else int(rng.integers(1, 6000))
        column = [
            rng.normal(size=n) * 10 ** rng.uniform(-8, 8),
            rng.integers(-5, 5, n).astype(float),
            np.round(rng.normal(size=n), 2),
            rng.standard_cauchy(n),
        ][trial % 4]
        want = np.percentile(column, [1.0, 99.0])
        got = np.array(_percentiles(column, (0.01, 0.99)))
        assert got.view(np.uint64).tolist() == want.view(np.uint64).tolist(), (n, got, want)


def test_robust_range_ignores_non_finite_and_keeps_other_dtypes() -> None:
    column = np.array([np.nan, 1.0, 2.0, np.inf, 3.0, -np.inf, 4.0])
    lo, hi = np.percentile([1.0, 2.0, 3.0, 4.0], [1.0, 99.0])
    assert robust_range(column) == float(hi - lo)
    ints = np.arange(100, dtype=np.int32)
    lo, hi = np.percentile(ints, [1.0, 99.0])
    assert robust_range(ints) == float(hi - lo)
    assert robust_range(np.array([np.nan])) == 0.0


def _same_bits(got: float, want: float) -> bool:
    return bool(np.array(got).view(np.uint64) == np.array(want).view(np.uint64)) or (
        np.isnan(got) and np.isnan(want)
    )


def test_median_and_percentile_are_numpys_to_the_last_bit_even_among_signed_zeros() -> None:
    """The fast median/percentile the detectors use: same value, same sign of zero, NaN when
    numpy gives NaN (the partition kth is numpy's, so ties of 0.0 and -0.0 land alike)."""
    rng = np.random.default_rng(11)
    for trial in range(4000):
        n = int(rng.integers(1, 30)) if trial % 2 else int(rng.integers(1, 3000))
        column = [
            rng.normal(size=n) * 10 ** rng.uniform(-8, 8),
            rng.integers(-2, 3, n) * rng.choice([1.0, 0.0, -0.0], n),
            rng.choice([0.0, -0.0, 1.5, np.inf, -np.inf], n),
            np.where(rng.random(n) < 0.05, np.nan, rng.normal(size=n)),
        ][trial % 4]
        assert _same_bits(median(column), float(np.median(column))), (column, median(column))
        finite = column[np.isfinite(column)]
        if finite.size:
            q = float(rng.choice([0.0, 1.0, 50.0, 90.0, 95.0, 99.0, 100.0]))
            want = float(np.percentile(finite, q))
            assert _same_bits(percentile(finite, q), want), (finite, q, want)
        ints = rng.integers(-(2**40), 2**40, n)
        assert _same_bits(median(ints), float(np.median(ints)))
        assert _same_bits(
            median(ints.astype(np.uint32) // 7), float(np.median(ints.astype(np.uint32) // 7))
        )
