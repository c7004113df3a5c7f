"""The min/max pyramid: spikes survive every zoom, envelopes are exact, zoomed-in is raw."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from robotrace_desktop.core.lod import FACTOR, MinMaxPyramid

MS = 1_000_000


@pytest.fixture(scope="module")
def spiky() -> tuple[np.ndarray, np.ndarray, int, int]:
    """10 M samples at 1 kHz of small noise, one +25 spike and one -30 spike (single samples)."""
    n = 10_000_000
    rng = np.random.default_rng(42)
    t = np.arange(n, dtype=np.int64) * MS
    y = np.sin(np.arange(n) / 20_000.0) + rng.normal(0.0, 0.05, n)
    up, down = 7_654_321, 1_234_567
    y[up], y[down] = 25.0, -30.0
    return t, y, up, down


@pytest.fixture(scope="module")
def spiky_pyramid(spiky: tuple[np.ndarray, np.ndarray, int, int]) -> MinMaxPyramid:
    t, y, _, _ = spiky
    return MinMaxPyramid(t, y)


def test_single_sample_spikes_survive_every_zoom(
    spiky: tuple[np.ndarray, np.ndarray, int, int], spiky_pyramid: MinMaxPyramid
) -> None:
    t, _, up, down = spiky
    for width in (50, 300, 1000, 1920):
        for spike, value, pick in ((up, 25.0, np.max), (down, -30.0, np.min)):
            t_spike = int(t[spike])
            # windows around the spike from 3 hours down to 20 ms, off-centre on purpose
            for half in (10**13, 10**12, 10**11, 10**10, 10**9, 10**8, 10**7):
                t0, t1 = t_spike - half // 3, t_spike + half
                tv, yv = spiky_pyramid.view(t0, t1, width)
                assert pick(yv) == value, (width, half)
                assert t_spike in set(tv[yv == value].tolist())  # at its true time
                assert len(tv) <= 4 * width + 4
                assert np.all(np.diff(tv) >= 0)


def test_full_view_is_bounded_and_brackets_the_data(
    spiky: tuple[np.ndarray, np.ndarray, int, int], spiky_pyramid: MinMaxPyramid
) -> None:
    t, y, _, _ = spiky
    tv, yv = spiky_pyramid.view(0, int(t[-1]) + 1, 1000)
    assert 2000 <= len(tv) <= 4000
    assert yv.max() == y.max() and yv.min() == y.min()
    # every point drawn is a real sample: no invented values
    rows = np.searchsorted(t, tv)
    np.testing.assert_array_equal(t[rows], tv)
    np.testing.assert_array_equal(y[rows], yv)


def test_levels_hold_exact_bucket_min_max_with_nan() -> None:
    rng = np.random.default_rng(7)
    n = 200_003  # not a multiple of the factor: a partial last bucket at every level
    t = np.cumsum(rng.integers(1, 5, n)).astype(np.int64) * MS
    y = rng.normal(0, 1, n)
    y[5_000:5_100] = np.nan  # a gap spanning buckets
    y[70_001] = np.nan  # a lone NaN
    y[-3:] = np.nan  # an all-NaN tail
    pyramid = MinMaxPyramid(t, y)
    assert len(pyramid.levels) >= 5
    for k, level in enumerate(pyramid.levels):
        size = FACTOR ** (k + 1)
        assert level.bucket == size
        starts = np.arange(0, n, size)
        assert len(level) == len(starts)
        with warnings.catch_warnings():  # all-NaN buckets warn in nanmin
            warnings.simplefilter("ignore", RuntimeWarning)
            want_min = np.array([np.nanmin(y[s : s + size]) for s in starts])
            want_max = np.array([np.nanmax(y[s : s + size]) for s in starts])
        empty = np.isnan(want_min)
        assert empty[-1] == (n % size == 3)  # a last bucket of only the 3 trailing NaN
        np.testing.assert_array_equal(level.ymin[~empty], want_min[~empty])
        np.testing.assert_array_equal(level.ymax[~empty], want_max[~empty])
        assert np.all(np.isposinf(level.ymin[empty])) and np.all(np.isneginf(level.ymax[empty]))
        # the stored indices point at the extreme samples, inside their own bucket
        np.testing.assert_array_equal(y[level.imin[~empty]], want_min[~empty])
        np.testing.assert_array_equal(y[level.imax[~empty]], want_max[~empty])
        assert np.all(level.imin // size == np.arange(len(level)))
        has_nan = np.array([np.isnan(y[s : s + size]).any() for s in starts])
        assert level.has_nan is not None
        np.testing.assert_array_equal(level.has_nan, has_nan)
        first, last = pyramid.bucket_bounds(k)
        np.testing.assert_array_equal(first, t[starts])
        np.testing.assert_array_equal(last, t[np.minimum(starts + size, n) - 1])


def test_zoomed_in_returns_the_raw_samples_exactly() -> None:
    n = 1_000_000
    t = np.arange(n, dtype=np.int64) * MS + 123
    y = np.cos(np.arange(n) / 1000.0)
    y[500_010] = np.nan
    pyramid = MinMaxPyramid(t, y)
    i0, i1 = 500_000, 500_700  # 700 samples on 400 px: ≤ 2 × width → raw
    tv, yv = pyramid.view(int(t[i0]), int(t[i1]), 400)
    # the samples in [t0, t1) plus one neighbour each side, untouched (NaN included)
    np.testing.assert_array_equal(tv, t[i0 - 1 : i1 + 1])
    np.testing.assert_array_equal(yv, y[i0 - 1 : i1 + 1])
    # window start between samples: the sample before it is included
    tv, yv = pyramid.view(int(t[i0]) + 1, int(t[i0 + 10]), 400)
    np.testing.assert_array_equal(tv, t[i0 : i0 + 11])


def test_nan_gaps_break_the_envelope() -> None:
    n = 2_000_000
    t = np.arange(n, dtype=np.int64) * MS
    y = np.ones(n)
    gap0, gap1 = 1_000_000, 1_050_000  # 50 s without data
    y[gap0:gap1] = np.nan
    pyramid = MinMaxPyramid(t, y)
    tv, yv = pyramid.view(0, int(t[-1]) + 1, 800)
    nan_times = tv[np.isnan(yv)]
    assert len(nan_times) > 0
    assert np.all((nan_times >= t[gap0] - 8**4 * MS) & (nan_times <= t[gap1] + 8**4 * MS))
    finite = np.isfinite(yv)
    assert np.all(yv[finite] == 1.0)
    # no finite point inside the gap
    assert not np.any((tv[finite] > t[gap0]) & (tv[finite] < t[gap1 - 1]))


def test_edge_cases() -> None:
    empty = MinMaxPyramid(np.zeros(0, np.int64), np.zeros(0))
    assert len(empty.view(0, 10, 100)[0]) == 0
    one = MinMaxPyramid(np.array([5], np.int64), np.array([2.5]))
    tv, yv = one.view(0, 10, 100)
    assert tv.tolist() == [5] and yv.tolist() == [2.5]
    assert one.view(10, 10, 100)[0].size == 0  # empty range
    pyramid = MinMaxPyramid(np.arange(100, dtype=np.int64), np.arange(100.0))
    tv, _ = pyramid.view(1000, 2000, 10)  # after the data: the last sample (held value)
    assert tv.tolist() == [99]
    with pytest.raises(ValueError):
        MinMaxPyramid(np.arange(3, dtype=np.int64), np.arange(4.0))


def test_memory_overhead_is_small(spiky_pyramid: MinMaxPyramid) -> None:
    raw = spiky_pyramid.t_ns.nbytes + spiky_pyramid.y.nbytes
    assert spiky_pyramid.nbytes < 0.25 * raw
