"""A min/max level-of-detail pyramid, so an hour of 1 kHz data zooms and pans at screen speed.

Drawing 50 M points per repaint is hopeless, and naive decimation (every k-th sample) hides
exactly what an engineer is looking for: the one-sample torque spike. The pyramid keeps, per
bucket of ``FACTOR**k`` raw samples, the minimum and the maximum *and where they are* (the raw
sample index), built once in O(N) with numpy. A view of ``[t0, t1)`` at ``width`` pixels takes the
coarsest level that still has ``width`` buckets in range, merges neighbouring buckets so that
between ``width`` and ``2 * width`` remain, and returns each bucket's min and max in time order:
at most ~4 × width points whose envelope is exactly the raw data's envelope. Zoomed in far
enough (at most ``2 * width`` samples in range), the raw samples come back untouched.

NaN samples are gaps: a bucket holding only NaN yields NaN points; a bucket holding some NaN
yields its min/max followed by a NaN point, so the drawn line breaks there (pyqtgraph
``connect="finite"``) instead of bridging the gap. Internally an empty bucket stores ``+inf`` as
its min and ``-inf`` as its max, so merging buckets never has to special-case NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FACTOR = 8


@dataclass(frozen=True, slots=True)
class Level:
    """One pyramid level: bucket ``b`` covers raw samples ``[b * bucket, (b + 1) * bucket)``."""

    bucket: int
    ymin: np.ndarray  # float64; +inf where the bucket holds only NaN
    ymax: np.ndarray  # float64; -inf where the bucket holds only NaN
    imin: np.ndarray  # raw sample index of the minimum (int32, or int64 for > 2**31 samples)
    imax: np.ndarray  # raw sample index of the maximum
    has_nan: np.ndarray | None  # bool per bucket; None when the signal has no NaN at all

    def __len__(self) -> int:
        return int(self.ymin.shape[0])

    @property
    def nbytes(self) -> int:
        arrays = (self.ymin, self.ymax, self.imin, self.imax, self.has_nan)
        return sum(a.nbytes for a in arrays if a is not None)


@dataclass(frozen=True, slots=True)
class _Units:
    """Units to merge: raw samples (``imin is None``: index = base + position) or buckets."""

    lo: np.ndarray
    hi: np.ndarray
    imin: np.ndarray | None
    imax: np.ndarray | None
    nan: np.ndarray | None
    base: int = 0


def _reduce_block(u: _Units, group: int, index_dtype: npt.DTypeLike) -> _Units:
    """Merge consecutive runs of ``group`` units; ``len(u.lo)`` is a multiple of ``group``."""
    rows = np.arange(len(u.lo) // group)
    lo2, hi2 = u.lo.reshape(-1, group), u.hi.reshape(-1, group)
    amin, amax = lo2.argmin(axis=1), hi2.argmax(axis=1)
    if u.imin is None or u.imax is None:
        start: np.ndarray = (rows * group + u.base).astype(index_dtype)
        imin, imax = start + amin.astype(index_dtype), start + amax.astype(index_dtype)
    else:
        imin = u.imin.reshape(-1, group)[rows, amin]
        imax = u.imax.reshape(-1, group)[rows, amax]
    # asarray: ``any(axis=1)`` of a 2-D array is always an array (the stubs also allow a scalar)
    nan = None if u.nan is None else np.asarray(u.nan.reshape(-1, group).any(axis=1))
    return _Units(lo2[rows, amin], hi2[rows, amax], imin, imax, nan)


def _reduce(u: _Units, group: int, index_dtype: npt.DTypeLike) -> _Units:
    """Merge runs of ``group`` units; a shorter last run becomes one unit of its own."""
    count = len(u.lo)
    full = count // group * group
    parts = []
    if full:
        parts.append(_reduce_block(_slice(u, 0, full), group, index_dtype))
    if full < count:
        parts.append(_reduce_block(_slice(u, full, count), count - full, index_dtype))
    if len(parts) == 1:
        return parts[0]
    a, b = parts
    if a.imin is None or a.imax is None or b.imin is None or b.imax is None:
        raise AssertionError("_reduce_block always returns bucket units with their indices")
    nan = None if a.nan is None or b.nan is None else np.concatenate([a.nan, b.nan])
    return _Units(
        np.concatenate([a.lo, b.lo]),
        np.concatenate([a.hi, b.hi]),
        np.concatenate([a.imin, b.imin]),
        np.concatenate([a.imax, b.imax]),
        nan,
    )


def _filled(y: np.ndarray, mask: np.ndarray, value: float) -> np.ndarray:
    out = y.copy()
    out[mask] = value
    return out


def _slice(u: _Units, start: int, stop: int) -> _Units:
    return _Units(
        u.lo[start:stop],
        u.hi[start:stop],
        None if u.imin is None else u.imin[start:stop],
        None if u.imax is None else u.imax[start:stop],
        None if u.nan is None else u.nan[start:stop],
        u.base + start,
    )


class MinMaxPyramid:
    """Per-bucket min/max of one signal at bucket sizes FACTOR, FACTOR², … (see module doc).

    ``t_ns`` is int64 (N,) sorted, ``y`` float64 (N,); both are kept by reference (no copy).
    """

    def __init__(self, t_ns: np.ndarray, y: np.ndarray, factor: int = FACTOR) -> None:
        if t_ns.ndim != 1 or y.ndim != 1 or len(t_ns) != len(y):
            raise ValueError("t_ns and y must be 1-D arrays of the same length")
        if factor < 2:
            raise ValueError("factor must be at least 2")
        self.t_ns = np.asarray(t_ns, dtype=np.int64)
        self.y = np.asarray(y, dtype=np.float64)
        self.factor = factor
        self._index_dtype: npt.DTypeLike = np.int32 if len(y) < 2**31 - 1 else np.int64
        self.levels: list[Level] = self._build()

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def _build(self) -> list[Level]:
        y = self.y
        if len(y) <= 1:
            return []
        nan_mask = np.isnan(y)
        if nan_mask.any():
            units = _Units(
                _filled(y, nan_mask, np.inf), _filled(y, nan_mask, -np.inf), None, None, nan_mask
            )
        else:
            units = _Units(y, y, None, None, None)
        levels: list[Level] = []
        bucket = 1
        while len(units.lo) > 1:
            units = _reduce(units, self.factor, self._index_dtype)
            bucket *= self.factor
            assert units.imin is not None and units.imax is not None
            levels.append(Level(bucket, units.lo, units.hi, units.imin, units.imax, units.nan))
        return levels

    @property
    def nbytes(self) -> int:
        """Memory held by the pyramid itself (the raw arrays are not counted)."""
        return sum(level.nbytes for level in self.levels)

    def bucket_bounds(self, level: int) -> tuple[np.ndarray, np.ndarray]:
        """(first, last) sample time of every bucket of ``levels[level]``."""
        size, n = self.levels[level].bucket, len(self)
        starts = np.arange(0, n, size)
        return self.t_ns[starts], self.t_ns[np.minimum(starts + size, n) - 1]

    def view(self, t0_ns: int, t1_ns: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Points to draw ``[t0_ns, t1_ns)`` on ``width`` pixels: (t int64, y float64).

        Raw samples (plus one neighbour on each side, so the line reaches the plot edges) when
        at most ``2 * width`` of them are in range; otherwise the min/max envelope, ≤ ~4×width
        points (plus NaN breaks where the data has gaps).
        """
        width = max(1, int(width))
        n = len(self)
        if n == 0 or t1_ns <= t0_ns:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        i0 = max(0, int(np.searchsorted(self.t_ns, t0_ns, side="left")) - 1)
        i1 = min(n, int(np.searchsorted(self.t_ns, t1_ns, side="left")) + 1)
        if i1 - i0 <= 2 * width:
            return self.t_ns[i0:i1].copy(), self.y[i0:i1].copy()
        units, b0, b1 = self._source(i0, i1, width)
        group = max(1, (b1 - b0) // width)
        b0 = b0 // group * group
        b1 = min(-(-b1 // group) * group, len(units.lo))
        merged = _reduce(_slice(units, b0, b1), group, self._index_dtype)
        return self._points(merged)

    def _source(self, i0: int, i1: int, width: int) -> tuple[_Units, int, int]:
        """The coarsest level with ≥ width buckets over samples [i0, i1) (raw if none)."""
        chosen: Level | None = None
        for level in self.levels:
            if -(-i1 // level.bucket) - i0 // level.bucket < width:
                break
            chosen = level
        if chosen is None:
            y = self.y[i0:i1]
            nan = np.isnan(y)
            if not nan.any():
                return _Units(y, y, None, None, None, i0), 0, i1 - i0
            lo, hi = _filled(y, nan, np.inf), _filled(y, nan, -np.inf)
            return _Units(lo, hi, None, None, nan, i0), 0, i1 - i0
        size = chosen.bucket
        units = _Units(chosen.ymin, chosen.ymax, chosen.imin, chosen.imax, chosen.has_nan)
        return units, i0 // size, -(-i1 // size)

    def _points(self, u: _Units) -> tuple[np.ndarray, np.ndarray]:
        assert u.imin is not None and u.imax is not None
        min_first = u.imin <= u.imax
        first_i = np.where(min_first, u.imin, u.imax)
        second_i = np.where(min_first, u.imax, u.imin)
        empty = np.isinf(u.lo) & (u.lo > 0)
        first_y = np.where(empty, np.nan, np.where(min_first, u.lo, u.hi))
        second_y = np.where(empty, np.nan, np.where(min_first, u.hi, u.lo))
        t_first, t_second = self.t_ns[first_i], self.t_ns[second_i]
        if u.nan is None or not u.nan.any():
            t = np.column_stack([t_first, t_second]).ravel()
            y = np.column_stack([first_y, second_y]).ravel()
            return t, y
        t = np.column_stack([t_first, t_second, t_second]).ravel()
        y = np.column_stack([first_y, second_y, np.full(len(first_y), np.nan)]).ravel()
        keep = np.column_stack([np.ones_like(u.nan), np.ones_like(u.nan), u.nan]).ravel()
        return t[keep], y[keep]
