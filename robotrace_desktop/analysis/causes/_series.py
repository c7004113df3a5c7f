"""Small vectorised helpers shared by the signal analyzers (saturation, limits, effort, tracking,
gripper, divergence): runs of a boolean mask, robust scale, channel classification by name.

Kept in one place so every analyzer calls the same thing "sustained" and "a gripper". The
name classifications are pure functions of their strings, asked tens of thousands of times an
``explain --all`` (regular expressions each time): remembered per name.
"""

from __future__ import annotations

import functools
import math
import re
import weakref
from collections.abc import Callable, Hashable
from functools import lru_cache
from typing import Any, TypedDict, TypeVar

import numpy as np

from robotrace_desktop.analysis.data import EpisodeData, Signal
from robotrace_desktop.core.channels import split_channel
from robotrace_desktop.core.timebase import NS_PER_S

#: the detectors' name for core.timebase's nanoseconds per second
NS = NS_PER_S

#: a detector's hit, whichever record type it is (``group_around``)
H = TypeVar("H")


class ChannelHit(TypedDict):
    """What every per-channel hit (a spike, an oscillation) names: where it is and until when,
    so findings can point at the channel and group hits in time."""

    stream: str
    channel: str
    field: str  # ``field_of`` the channel
    end_ns: int


SCALE_SAMPLES = 5000
ACTION_ROLES = frozenset({"action", "command"})
_GRIPPER = re.compile(r"gripper|grip|hand|finger|claw|jaw|pinch|suction", re.IGNORECASE)
_EFFORT = re.compile(r"effort|torque|current|tau|qeff", re.IGNORECASE)
_VELOCITY = re.compile(r"velocit|(^|[^a-z])vel([^a-z]|$)|qvel", re.IGNORECASE)


#: a function memoized by ``on_arrays``
F = TypeVar("F", bound=Callable[..., Any])
#: arrays of at most this many elements are keyed by value (a lag grid made afresh per call)
_BY_VALUE = 64
_MEMO_SIZE = 4096


def on_arrays(fn: F) -> F:
    """Remember ``fn``'s answers for the same arrays: a pure function of arrays several
    detectors ask about the same channels of one episode (a joint's settling lag, a column's
    robust range). Large arrays are keyed by identity — the view (owner, address, shape,
    strides, dtype), checked alive through a weak reference to the owner, so an id reused by
    a later array is never mistaken for it — small ones and other arguments by value. The
    analyzers never write into an episode's arrays, so an array alive is an array unchanged.
    An array whose owner cannot be weakly referenced is not remembered."""
    memo: dict[tuple[Hashable, ...], tuple[list[weakref.ref[np.ndarray]], Any]] = {}

    @functools.wraps(fn)
    def remembered(*args: Any, **kwargs: Any) -> Any:
        key: list[Hashable] = []
        refs: list[weakref.ref[np.ndarray]] = []
        for arg in (*args, *(part for item in sorted(kwargs.items()) for part in item)):
            if not isinstance(arg, np.ndarray):
                key.append(arg)
            elif arg.size <= _BY_VALUE:
                key.append((arg.dtype.str, arg.shape, arg.tobytes()))
            else:
                owner = arg
                while isinstance(owner.base, np.ndarray):
                    owner = owner.base
                try:
                    refs.append(weakref.ref(owner))
                except TypeError:
                    return fn(*args, **kwargs)
                address = arg.__array_interface__["data"][0]
                key.append((id(owner), address, arg.shape, arg.strides, arg.dtype.str))
        token = tuple(key)
        known = memo.get(token)
        if known is not None and all(ref() is not None for ref in known[0]):
            return known[1]
        answer = fn(*args, **kwargs)
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[token] = (refs, answer)
        return answer

    return remembered  # type: ignore[return-value]


def is_action(signal: Signal) -> bool:
    return signal.role in ACTION_ROLES


def is_state(signal: Signal) -> bool:
    return signal.role == "state"


def action_signals(data: EpisodeData) -> list[Signal]:
    return [s for s in data.signals() if is_action(s)]


def state_signals(data: EpisodeData) -> list[Signal]:
    return [s for s in data.signals() if is_state(s)]


def joint_of(channel: str) -> str:
    return split_channel(channel)[1]


@lru_cache(maxsize=8192)
def is_gripper_name(channel: str) -> bool:
    """Gripper / hand open-close channels, judged by the joint part of the name."""
    return bool(_GRIPPER.search(joint_of(channel)))


@lru_cache(maxsize=8192)
def field_of(stream: str, channel: str) -> str:
    """ "position", "velocity" or "effort": from the channel family, else the stream name."""
    family, _ = split_channel(channel)
    for text in (family, stream.rsplit("/", 1)[-1] if family is None else None):
        if not text:
            continue
        if _EFFORT.search(text):
            return "effort"
        if _VELOCITY.search(text):
            return "velocity"
        if "pos" in text.lower():
            return "position"
    if family is None and _EFFORT.search(channel):
        return "effort"
    return "position"


def is_binary_like(channel: str, column: np.ndarray) -> bool:
    """Open/close commands: named like a gripper, ≤ 3 distinct values, or [0, 1] mostly at 0/1."""
    if is_gripper_name(channel):
        return True
    finite = column[np.isfinite(column)]
    if finite.size == 0:
        return True
    if np.unique(_subsample(finite)).size <= 3:
        return True
    lo, hi = float(finite.min()), float(finite.max())
    if lo >= -1e-6 and hi <= 1.0 + 1e-6:
        at_ends = np.mean((np.abs(finite) < 1e-3) | (np.abs(finite - 1.0) < 1e-3))
        return bool(at_ends >= 0.5)
    return False


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and (exclusive) end indices of the True runs of ``mask``."""
    if mask.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    padded = np.concatenate(([False], mask.astype(bool), [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return edges[0::2], edges[1::2]


def sustained_runs(
    mask: np.ndarray, t_ns: np.ndarray, min_s: float, min_samples: int = 2
) -> list[tuple[int, int]]:
    """True runs lasting at least ``min_s`` seconds (first to last sample + one period) and
    ``min_samples`` samples — a single wild sample is never "sustained"."""
    starts, ends = runs(mask)
    if starts.size == 0:
        return []
    period = period_ns(t_ns)
    span = (t_ns[ends - 1] - t_ns[starts]).astype(np.float64) + period
    keep = (span >= min_s * NS) & ((ends - starts) >= min_samples)
    return [(int(a), int(b)) for a, b in zip(starts[keep], ends[keep], strict=True)]


def span_s(t_ns: np.ndarray, start: int, end: int) -> float:
    period = period_ns(t_ns)
    return (float(t_ns[end - 1] - t_ns[start]) + period) / NS


def _subsample(column: np.ndarray, limit: int = SCALE_SAMPLES) -> np.ndarray:
    """At most ``limit`` evenly spaced samples: scale estimates do not need every sample."""
    step = max(1, column.size // limit)
    return column[::step]


@on_arrays
def period_ns(t_ns: np.ndarray) -> float:
    """Median sample interval (from the first thousand intervals)."""
    return float(np.median(np.diff(t_ns[:1001]))) if t_ns.size > 1 else 0.0


@on_arrays
def robust_range(column: np.ndarray) -> float:
    """p99 − p1: the channel's span without its outliers."""
    column = _subsample(column)
    finite = column[np.isfinite(column)]
    if finite.size == 0:
        return 0.0
    if finite.dtype != np.float64:
        lo, hi = np.percentile(finite, [1.0, 99.0])
        return float(hi - lo)
    lo, hi = _percentiles(finite, (0.01, 0.99))
    return float(hi - lo)


def _percentiles(finite: np.ndarray, quantiles: tuple[float, ...]) -> list[float]:
    """``np.percentile(finite, 100 * q)`` (linear method) of a 1-D float64 array of finite
    values, to the last bit: the same order statistics (one ``np.partition``) and numpy's own
    interpolation (``_lerp``: from below under half way, from above past it), without
    ``np.percentile``'s ~40 µs of Python around them — it ran ~100 times an episode."""
    n = finite.size
    picks = []
    for q in quantiles:
        virtual = (n - 1) * q
        if virtual >= n - 1:
            picks.append((n - 1, n - 1, virtual + 1.0))  # numpy: both ends the last value
        else:
            below = math.floor(virtual)
            picks.append((below, below + 1, virtual - below))
    ordered = np.partition(finite, sorted({i for a, b, _ in picks for i in (a, b)}))
    out = []
    for a, b, gamma in picks:
        low, high = float(ordered[a]), float(ordered[b])
        diff = high - low
        out.append(high - diff * (1 - gamma) if gamma >= 0.5 else low + diff * gamma)
    return out


def median(values: np.ndarray) -> float:
    """``float(np.median(values))`` of a 1-D float64 or integer array, to the last bit: the same
    ``np.partition`` (same kth, so the same element lands in the middle even among 0.0 and
    -0.0), numpy's mean of the middle pair (a sum started at 0.0) and its rule that a NaN
    anywhere gives NaN — without ``np.median``'s ~25 µs of Python around it: the detectors
    ask for tens of thousands of medians of short arrays an ``explain --all``."""
    n = values.size
    if n == 0 or values.ndim != 1:
        return float(np.median(values))
    half = n // 2
    odd = n % 2 == 1
    if values.dtype.kind in "iu":  # times in ns: numpy averages the middle pair as float64
        part = np.partition(values, [half] if odd else [half - 1, half])
        return float(part[half]) if odd else (float(part[half - 1]) + float(part[half])) / 2.0
    if values.dtype != np.float64:
        return float(np.median(values))
    part = np.partition(values, [half, -1] if odd else [half - 1, half, -1])
    if math.isnan(part[-1]):
        return math.nan
    if odd:
        return 0.0 + float(part[half])
    return (0.0 + float(part[half - 1]) + float(part[half])) / 2.0


def percentile(finite: np.ndarray, q: float) -> float:
    """``float(np.percentile(finite, q))`` (linear method) of a 1-D float64 array of finite
    values, to the last bit — also among 0.0 and -0.0: partitioned at numpy's own kth (the
    ends and both neighbours), interpolated as numpy's ``_lerp`` does."""
    n = finite.size
    if n == 0 or finite.ndim != 1 or finite.dtype != np.float64:
        return float(np.percentile(finite, q))
    virtual = (n - 1) * (q / 100.0)
    if virtual >= n - 1:
        a = b = -1  # numpy: both neighbours the last value, at index -1
        gamma = virtual + 1.0
    else:
        a = math.floor(virtual)
        b, gamma = a + 1, virtual - a
    ordered = np.partition(finite, sorted({0, -1, a, b}))
    low, high = float(ordered[a]), float(ordered[b])
    diff = high - low
    return high - diff * (1 - gamma) if gamma >= 0.5 else low + diff * gamma


def mad_scale(column: np.ndarray) -> float:
    """1.4826 × median absolute deviation (≈ σ for Gaussian noise)."""
    column = _subsample(column)
    finite = column[np.isfinite(column)]
    if finite.size == 0:
        return 0.0
    return 1.4826 * median(np.abs(finite - median(finite)))


def failed_run(data: EpisodeData) -> bool:
    """The episode says it failed (outcome, status or a recorded failure reason)."""
    info = data.info
    outcome = getattr(info.outcome, "value", info.outcome)
    status = getattr(info.status, "value", info.status)
    return (
        outcome == "failure"
        or status == "failed"
        or bool(info.metadata.get("failure_reason"))
        or info.metadata.get("success") is False
    )


def declared_bounds(data: EpisodeData, stream: str, channel: str) -> tuple[float, float] | None:
    """Bounds declared in the metadata ("action_bounds" or "limits"): {channel or
    "stream/channel": [lo, hi] | {lower, upper} | {min, max}}."""
    for key in ("action_bounds", "limits"):
        table = data.info.metadata.get(key)
        if not isinstance(table, dict):
            continue
        for name in (f"{stream}/{channel}", channel, joint_of(channel)):
            bounds = _as_bounds(table.get(name))
            if bounds is not None:
                return bounds
    return None


def joint_limit(
    data: EpisodeData, channel: str, key_lo: str = "lower", key_hi: str = "upper"
) -> tuple[float, float] | None:
    """(lower, upper) for a joint from metadata["joint_limits"] (URDF), or None."""
    table = data.info.metadata.get("joint_limits")
    if not isinstance(table, dict):
        return None
    entry = table.get(joint_of(channel))
    if not isinstance(entry, dict):
        return None
    try:
        lo, hi = float(entry[key_lo]), float(entry[key_hi])
    except (KeyError, TypeError, ValueError):
        return None
    return (lo, hi) if np.isfinite(lo) and np.isfinite(hi) and hi > lo else None


def _as_bounds(value: object) -> tuple[float, float] | None:
    try:
        if isinstance(value, dict):
            lo = value.get("lower", value.get("min", value.get("low")))
            hi = value.get("upper", value.get("max", value.get("high")))
        elif isinstance(value, (list, tuple)) and len(value) == 2:
            lo, hi = value
        else:
            return None
        lo_f, hi_f = float(lo), float(hi)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return (lo_f, hi_f) if np.isfinite(lo_f) and np.isfinite(hi_f) and hi_f > lo_f else None


def seconds(t_ns: int | float) -> float:
    return float(t_ns) / NS


def hinge_fit(
    t_s: np.ndarray,
    y: np.ndarray,
    candidates: int = 150,
    durations: tuple[float, ...] = (np.inf,),
    nuisance: np.ndarray | None = None,
) -> tuple[int, float, float, float]:
    """Fit ``y ≈ a + b·clip(t − t[i], 0, d)`` (flat, a straight ramp from a change point lasting
    ``d`` seconds — one of ``durations`` — then flat again) by least squares over at most
    ``candidates`` change points: (index of the change point, slope b, ramp duration d, share of
    y's variance about its mean the fit leaves unexplained). ``t_s`` in seconds, sorted; y
    finite. ``nuisance`` (N, M): other regressors fitted alongside (what y ordinarily depends
    on), so the ramp is judged on what they leave."""
    i, b, d, _, left = bend_fit(t_s, y, candidates, durations, nuisance)
    return i, b, d, left


def growth(ramp_s: np.ndarray, time_constant: float) -> np.ndarray:
    """The shape of a divergence ``ramp_s`` seconds after it started: a straight ramp
    (``time_constant`` 0) or an exponential one, e^(t/τ) − 1 — slow at first, then faster and
    faster, already growing at its start."""
    if time_constant <= 0:
        return ramp_s
    return np.expm1(np.minimum(ramp_s / time_constant, 50.0))


def bend_fit(
    t_s: np.ndarray,
    y: np.ndarray,
    candidates: int = 150,
    durations: tuple[float, ...] = (np.inf,),
    nuisance: np.ndarray | None = None,
    growths: tuple[float, ...] = (0.0,),
) -> tuple[int, float, float, float, float]:
    """``hinge_fit`` with a growth that may accelerate: ``y ≈ a + b·g(clip(t − t[i], 0, d))``
    with g one of ``growths`` (``growth``: 0 a straight ramp, τ > 0 an exponential e^(t/τ) − 1).
    A divergence that starts slowly and accelerates, fitted with a straight ramp, is dated
    where it became steep, not where it started; fitting its own shape dates its start.
    Returns (change point index, coefficient b, duration d, growth τ, unexplained share)."""
    n = y.size
    if n < 4:
        return 0, 0.0, float("inf"), 0.0, 1.0
    q, yc, total = _baseline(y, nuisance)
    if total <= 0:
        return 0, 0.0, float("inf"), 0.0, 1.0
    # coarse to fine: a sparse grid of change points first, then every point around the best
    coarse = max(2, candidates // 4)
    step = max(1, (n - 2) // coarse)
    best = _best_hinge(t_s, yc, q, total, np.arange(0, n - 2, step), durations, growths)
    fine = max(1, (n - 2) // candidates)
    around = np.arange(max(0, best[0] - step), min(n - 2, best[0] + step + 1), fine)
    refined = _best_hinge(t_s, yc, q, total, around, (best[2],), (best[3],))
    return refined if refined[4] <= best[4] else best


@on_arrays  # a caller fitting one residual with several shapes asks it again
def _baseline(y: np.ndarray, nuisance: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, float]:
    """An orthonormal basis q of the baseline (a constant and the ``nuisance`` columns), y's
    part orthogonal to it, and that part's squared norm."""
    basis = np.ones((y.size, 1))
    if nuisance is not None:
        basis = np.column_stack((basis, nuisance))
    q, _ = np.linalg.qr(basis)
    yc = y - q @ (q.T @ y)
    return q, yc, float(yc @ yc)


def _best_hinge(
    t_s: np.ndarray,
    yc: np.ndarray,
    q: np.ndarray,
    total: float,
    idx: np.ndarray,
    durations: tuple[float, ...],
    growths: tuple[float, ...],
) -> tuple[int, float, float, float, float]:
    best = (0, 0.0, float("inf"), 0.0, 1.0)
    ramp = np.maximum(t_s[None, :] - t_s[idx][:, None], 0.0)  # (K, N)
    # growth is monotone, so growing the ramp once and capping it at g(d) per duration gives
    # g(min(ramp, d)) without an expm1 over the whole grid per duration
    grown = {p: growth(ramp, p) for p in growths}
    # a duration no ramp reaches caps nothing: its shapes are the uncapped ones, and once
    # those were tried (leaving a share ≥ 0, so the best kept is at most that share) the
    # same shapes again cannot do strictly better
    tried_uncapped = {p: False for p in growths}
    highest = {p: float(grown[p].max()) if grown[p].size else 0.0 for p in growths}
    with np.errstate(divide="ignore", invalid="ignore"):
        for d in durations:
            for p in growths:
                cap = growth(np.array(d), p) if np.isfinite(d) else None
                uncapped = cap is None or float(cap) >= highest[p]
                if uncapped and tried_uncapped[p]:
                    continue
                h = grown[p] if cap is None else np.minimum(grown[p], cap)
                # h's part orthogonal to the baseline's columns q, without forming it: q is
                # orthonormal and yc already orthogonal to it, so |hc|² = |h|² − |hᵀq|² and
                # hc·yc = h·yc
                hq = h @ q
                hh = np.einsum("kn,kn->k", h, h)
                shh = hh - np.einsum("km,km->k", hq, hq)
                shy = h @ yc
                # (a shape the baseline explains entirely leaves only rounding: no fit)
                b = np.where(shh > 1e-12 * hh, shy / shh, 0.0)
                left = (total - b * shy) / total  # unexplained share per change point
                k = int(left.argmin())
                if uncapped and left[k] >= 0:
                    tried_uncapped[p] = True
                if left[k] < best[4]:
                    best = (int(idx[k]), float(b[k]), float(d), float(p), float(max(left[k], 0.0)))
    return best


def held_on(t_ref: np.ndarray, values: np.ndarray, t_ns: np.ndarray, lag_ns: int = 0) -> np.ndarray:
    """``values`` (timed by ``t_ref``) sample-and-held onto ``t_ns - lag_ns``; NaN before the
    first sample."""
    idx = np.searchsorted(t_ref, t_ns - np.int64(lag_ns), "right") - 1
    held = values[np.clip(idx, 0, None)].astype(np.float64)
    held[idx < 0] = np.nan
    return held


#: the periods an angle is written with: radians and degrees
ANGLE_PERIODS = (2 * np.pi, 360.0)


def _wrap_period(values: np.ndarray) -> float | None:
    """The period a column wraps with, or None: its values span at most one period and every
    jump of more than half a period is nearly a whole one (a heading crossing ±π, a yaw in
    degrees going 179 → -179), so those jumps are the representation, not the motion."""
    if values.size < 3:
        return None
    jumps = np.abs(np.diff(values))
    span = float(np.max(values) - np.min(values))
    for period in ANGLE_PERIODS:
        if span > period * (1 + 1e-3):
            continue
        big = jumps[jumps > period / 2]
        if big.size and float(np.min(big)) >= 0.75 * period:
            return period
    return None


def unwrapped(column: np.ndarray) -> np.ndarray:
    """An angle wrapped into one period (a heading, a yaw; radians or degrees) made
    continuous. Other channels are returned as they are."""
    finite = np.isfinite(column)
    values = column[finite]
    period = _wrap_period(values)
    if period is None:
        return column
    out = column.copy()
    out[finite] = np.unwrap(values, period=period)
    return out


def unwrapped_columns(values: np.ndarray) -> np.ndarray:
    """``unwrapped`` for every column of a 2-D array (only columns with a jump of more than
    half a radian period are looked at: most channels are returned untouched at once)."""
    if values.shape[0] < 3 or values.shape[1] == 0:
        return values
    with np.errstate(invalid="ignore"):
        jumpy = np.flatnonzero(~(np.nanmax(np.abs(np.diff(values, axis=0)), axis=0) <= np.pi))
    out = values
    for k in jumpy:
        column = values[:, k]
        continuous = unwrapped(column)
        if continuous is not column:
            if out is values:
                out = values.copy()
            out[:, k] = continuous
    return out


#: id(values) -> (weak reference to values, summary): the analyzers of one episode share it
_SUMMARIES: dict[int, tuple[object, dict[str, np.ndarray]]] = {}


def column_summary(values: np.ndarray) -> dict[str, np.ndarray]:
    """Per column of a 2-D array, in a few vectorised passes: finite count, min, max (of the
    finite samples; NaN when none), number of distinct finite values (on at most
    SCALE_SAMPLES evenly spaced rows) and the share of those rows at 0 or 1. Remembered for
    the same (unchanged) array: treat the result as read-only."""
    import weakref  # here, not at the top: this part of the module is appended to

    known = _SUMMARIES.get(id(values))
    if known is not None and known[0]() is values:  # type: ignore[operator]
        return known[1]
    summary = _column_summary(values)
    if len(_SUMMARIES) >= 64:
        _SUMMARIES.clear()
    _SUMMARIES[id(values)] = (weakref.ref(values), summary)
    return summary


def _column_summary(values: np.ndarray) -> dict[str, np.ndarray]:
    clean = np.where(np.isfinite(values), values, np.nan)
    sub = clean[:: max(1, clean.shape[0] // SCALE_SAMPLES)]
    ordered = np.sort(sub, axis=0)  # NaN last
    finite_sub = np.isfinite(ordered)
    steps = (np.diff(ordered, axis=0) != 0) & finite_sub[1:]
    distinct = np.where(finite_sub[0], 1 + steps.sum(axis=0), 0)
    ends = (np.abs(sub) < 1e-3) | (np.abs(sub - 1.0) < 1e-3)
    n_sub = np.maximum(np.isfinite(sub).sum(axis=0), 1)
    return {
        "finite": np.isfinite(clean).sum(axis=0),
        "min": np.fmin.reduce(clean, axis=0),
        "max": np.fmax.reduce(clean, axis=0),
        "distinct": distinct,
        "at_ends": ends.sum(axis=0) / n_sub,
    }


def binary_like_columns(channels: tuple[str, ...], summary: dict[str, np.ndarray]) -> np.ndarray:
    """``is_binary_like`` for every column at once, from ``column_summary``."""
    named = np.array([is_gripper_name(c) for c in channels], dtype=bool)
    with np.errstate(invalid="ignore"):
        unit = (summary["min"] >= -1e-6) & (summary["max"] <= 1.0 + 1e-6)
    return named | (summary["distinct"] <= 3) | (unit & (summary["at_ends"] >= 0.5))


def group_around(
    hits: list[H], strength: Callable[[H], float], together: Callable[[H, H], bool]
) -> list[list[H]]:
    """Hits grouped around the strongest: each joins the first group whose lead (its strongest
    hit) it goes ``together`` with, else leads a new one. Groups come strongest first."""
    groups: list[list[H]] = []
    for hit in sorted(hits, key=lambda h: -strength(h)):
        for group in groups:
            if together(group[0], hit):
                group.append(hit)
                break
        else:
            groups.append([hit])
    return groups
