"""robust_range's own percentile (one partition + numpy's interpolation) is np.percentile to
the last bit: findings must not move when it is fast."""

from __future__ import annotations

import numpy as np

from robotrace_desktop.analysis.causes._series import _percentiles, robust_range


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
