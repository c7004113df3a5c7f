"""The shape test behind ``spike``: is the largest departure of a continuous channel a spike
(or a burst of spikes) — short excursions that leave the channel's local trend and come back —
rather than motion, a bump or a new level?

Why this formulation: a spike is what the channel's physics cannot do. Three measures say so,
each against the channel's OWN behaviour in the same episode:

- the departure from a robust local baseline (a running median recomputed with the excursions
  masked out, so a wide spike or several spikes close together cannot drag the baseline with
  them) is far above the largest departure anywhere else (``over_ordinary``, checked by the
  caller on the episode-wide residual outside the event);
- its sharpest bend (second difference) is far above the sharpest bend the channel shows
  anywhere else: a real motion that big would need an acceleration the channel never has —
  this is what separates a triangular (ramp up, ramp down) spike from a fast move, and it does
  not ask the spike's edges to be sharp;
- every excursion returns to the trend it left (samples either side sit on one line; a
  neighbour of each excursion is back on the baseline), so a step, a ringing jolt (consecutive
  samples flipping sign without returning) or a hump that lasts are not spikes.

A burst — several such excursions a few samples apart — is one event, dated at its first spike.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np


class SpikeEvent(TypedDict):
    """A spike (or burst) ``find_event`` found: sample indices into the column."""

    first: int  # the burst's first and last sample
    last: int
    lead_first: int  # the largest excursion's first and last sample
    lead_last: int
    peak_i: int
    departure: float  # signed, from the local trend
    members: int  # excursions in the burst
    nearby: float  # the largest departure within 2 half-windows around the burst
    spans: list[tuple[int, int]]  # each excursion's (first, last)
    residual: np.ndarray  # departures of column[offset:...] from the local trend
    offset: int


#: how many times the baseline is re-estimated with the excursions found so far masked out
_PASSES = 3


def running_median(x: np.ndarray, h: int, budget: int = 2_000_000) -> np.ndarray:
    """Median of the 2h+1 samples centred on each row (the ends reflect the data); a few
    columns at a time so the (rows × columns × window) copy stays within ``budget`` values."""
    if x.shape[0] < 2:
        return x.copy()
    pad = min(h, x.shape[0] - 1)
    padded = np.pad(x, ((pad, pad), (0, 0)), mode="reflect")
    if pad < h:  # shorter than the window: edge-pad the rest
        padded = np.pad(padded, ((h - pad, h - pad), (0, 0)), mode="edge")
    out = np.empty_like(x)
    step = max(1, budget // max(1, x.shape[0] * (2 * h + 1)))
    for j in range(0, x.shape[1], step):
        frames = np.lib.stride_tricks.sliding_window_view(
            padded[:, j : j + step], 2 * h + 1, axis=0
        )
        out[:, j : j + step] = np.partition(frames, h, axis=-1)[..., h]
    return out


def _runs(residual: np.ndarray, low: float) -> list[tuple[int, int, int]]:
    """Contiguous same-sign runs of ``|residual| >= low``: (first, last, sign)."""
    sign = np.where(np.abs(residual) >= low, np.sign(residual), 0.0).astype(np.int8)
    change = np.flatnonzero(np.diff(sign)) + 1
    starts = np.r_[0, change]
    ends = np.r_[change, sign.size] - 1
    return [(int(a), int(b), int(sign[a])) for a, b in zip(starts, ends, strict=True) if sign[a]]


def local_residual(
    column: np.ndarray, lo: int, hi: int, h: int, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Residual of ``column[lo:hi]`` from a running median recomputed with the samples that
    depart by ≥ ``threshold`` masked out and bridged linearly: a burst of spikes denser than
    the window can hold would otherwise become the baseline. Returns (residual, mask)."""
    seg = column[lo:hi]
    idx = np.arange(seg.size)
    # seeded with a wider window, which a burst denser than h samples cannot drag along
    residual = seg - running_median(seg[:, None], 2 * h + 1)[:, 0]
    mask = np.zeros(seg.size, dtype=bool)
    for _ in range(_PASSES):
        grown = mask | (np.abs(residual) >= threshold)
        if grown.sum() == mask.sum() or (~grown).sum() < 4:
            break
        mask = grown
        bridged = seg.copy()
        bridged[mask] = np.interp(idx[mask], idx[~mask], seg[~mask])
        residual = seg - running_median(bridged[:, None], h)[:, 0]
    return residual, mask


def find_event(
    column: np.ndarray,
    peak_i: int,
    noise: float,
    *,
    h: int,
    max_width: int,
    burst_gap: int,
    member_share: float,
    return_share: float,
    k_noise: float,
    max_members: int,
    isolation: float,
) -> SpikeEvent | None:
    """The spike (or burst) around ``peak_i`` (the channel's largest departure), or None when
    its shape is not a spike's. Indices in the returned dict are the column's."""
    n = column.size
    reach = max_members * (max_width + burst_gap) + 3 * h
    lo, hi = max(0, peak_i - reach), min(n, peak_i + reach + 1)
    rough = column[peak_i] - np.median(column[max(0, peak_i - h) : peak_i + h + 1])
    member = max(k_noise * noise, member_share * abs(float(rough)))
    residual, _ = local_residual(column, lo, hi, h, member)
    lead_at = int(np.argmax(np.abs(residual[max(0, peak_i - lo - h) : peak_i - lo + h + 1])))
    lead_at += max(0, peak_i - lo - h)
    peak = float(residual[lead_at])
    if peak == 0.0:
        return None
    member = max(k_noise * noise, member_share * abs(peak))
    low = max(return_share * abs(peak), 3.0 * noise)
    every = _runs(residual, low)
    runs = [r for r in every if np.max(np.abs(residual[r[0] : r[1] + 1])) >= member]
    lead = next((k for k, r in enumerate(runs) if r[0] <= lead_at <= r[1]), None)
    if lead is None:
        return None
    # the burst: members chained by gaps of at most burst_gap samples back on the baseline
    first = last = lead
    while first > 0 and runs[first][0] - runs[first - 1][1] - 1 <= burst_gap:
        first -= 1
    while last + 1 < len(runs) and runs[last + 1][0] - runs[last][1] - 1 <= burst_gap:
        last += 1
    members = runs[first : last + 1]
    if len(members) > max_members:
        return None
    # swinging straight through the baseline to the other side (even to a smaller lobe): a
    # jolt ringing, not glitches — a glitch comes back and stays back for a moment
    close = max(2, h // 2)
    for a, b, side in members:
        for c, d, other in every:
            if other != side and (0 <= c - b - 1 < close or 0 <= a - d - 1 < close):
                return None
    for a, b, _ in members:
        if b - a + 1 > max_width or a < 1 or b + 1 >= residual.size:
            return None
        # each excursion comes back: its neighbours are on the baseline, not the other side
        if abs(residual[a - 1]) >= low or abs(residual[b + 1]) >= low:
            return None
    c0, c1 = members[0][0], members[-1][1]
    if lo + c0 < h or lo + c1 + h >= n:
        return None  # no full window of trend either side: cannot judge
    around = np.r_[max(0, c0 - 2 * h) : c0, c1 + 1 : min(residual.size, c1 + 1 + 2 * h)]
    nearby = float(np.max(np.abs(residual[around]))) if around.size else 0.0
    if nearby > isolation * abs(peak):
        return None  # not alone: part of a stretch of departures (a rough patch, a jolt)
    return {
        "first": lo + c0,
        "last": lo + c1,
        "lead_first": lo + runs[lead][0],
        "lead_last": lo + runs[lead][1],
        "peak_i": lo + lead_at,
        "departure": peak,
        "members": len(members),
        "nearby": nearby,
        "spans": [(lo + a, lo + b) for a, b, _ in members],
        "residual": residual,
        "offset": lo,
    }


def on_trend(column: np.ndarray, event: SpikeEvent, h: int, step_share: float) -> bool:
    """Back where it left: the h samples either side of the event sit on one line within
    ``step_share`` of the departure (not part of a wider hump), and the level after the event
    is the level before it carried on at the sides' own slope (not a step, not a staircase)."""
    first, last = event["first"], event["last"]
    before = np.arange(max(0, first - h), first)
    after = np.arange(last + 1, min(column.size, last + 1 + h))
    if before.size < 2 or after.size < 2:
        return False
    side = np.r_[before, after]
    centre = event["peak_i"]
    slope, level = np.polyfit(side - centre, column[side], 1)
    off = np.abs(column[side] - (level + slope * (side - centre)))
    bar = step_share * abs(event["departure"])
    if np.max(off) > bar:
        return False
    # each spike (of a burst: each one) comes back to the level it left, carried on at the
    # sides' own slope — a staircase of held values does not
    local = float(np.median(np.r_[np.diff(column[before]), np.diff(column[after])]))
    for a, b in event["spans"]:
        carried = column[a - 1] + local * (b + 2 - a)
        if abs(column[b + 1] - carried) > bar:
            return False
    return True


def sharp_edges(column: np.ndarray, event: SpikeEvent, h: int, share: float) -> bool:
    """The lead spike's first and last samples stand ≥ ``share`` of its departure off the
    trend line through its sides: in and out in one sample, as a reading (not a motion) does."""
    first, last = event["lead_first"], event["lead_last"]
    side = np.r_[
        max(0, event["first"] - h) : event["first"], event["last"] + 1 : event["last"] + 1 + h
    ]
    side = side[side < column.size]
    centre = event["peak_i"]
    slope, level = np.polyfit(side - centre, column[side], 1)
    ends = np.array([first, last])
    edges = np.abs(column[ends] - (level + slope * (ends - centre)))
    return bool(np.min(edges) >= share * abs(event["departure"]))


def sharp_bend(
    column: np.ndarray, event: SpikeEvent, h: int, within: int | None = None
) -> tuple[float, float]:
    """(the lead spike's sharpest bend, the channel's sharpest bend outside the event): the
    bend is |x[i-1] - 2 x[i] + x[i+1]|, what a sample's acceleration is. ``within``: only the
    channel's bends up to this many samples either side count (a still stretch it leapt out
    of is judged on its own motion, not on a busy stretch elsewhere in the run)."""
    bend = np.abs(np.diff(column, 2))  # bend[i] is centred on sample i + 1
    a, b = event["lead_first"] - 1, event["lead_last"] + 1
    own = float(np.max(bend[max(0, a - 1) : min(bend.size, b)])) if b > a - 1 else 0.0
    outside = np.ones(bend.size, dtype=bool)
    outside[max(0, event["first"] - h - 1) : event["last"] + h] = False
    if within is not None:
        outside[: max(0, event["first"] - within)] = False
        outside[event["last"] + within :] = False
    usual = float(np.max(bend[outside])) if outside.any() else 0.0
    return own, usual


def stands_out_in_readings(
    column: np.ndarray, t_ns: np.ndarray, span_ns: tuple[int, int], over: float
) -> bool:
    """A hand's finger joints are often slow sensors logged at a faster rate (sample-and-hold:
    most samples repeat the previous one), and a finger closing and opening fast makes a
    V-shaped turn of a reading or two that a running median cannot follow. There a spike is a
    wild *reading*: judged on the sequence of readings (each held value once), its reading
    departs from the readings either side of it ≥ ``over`` × as much as any other reading
    departs from its neighbours. ``span_ns``: the spike's first and last sample times.
    Channels that are not held: True."""
    steps = np.diff(column)
    if steps.size < 8 or np.mean(steps == 0) < 0.5:
        return True
    starts = np.flatnonzero(np.r_[True, steps != 0])  # the first sample of every reading
    readings = column[starts]
    if readings.size < 5:
        return True
    first, last = np.searchsorted(t_ns[starts], list(span_ns), "right") - 1
    if first < 1 or last + 1 >= readings.size:
        return True
    # every reading against the mean of its two neighbours (a bend in the staircase)
    bend = np.abs(readings[1:-1] - 0.5 * (readings[:-2] + readings[2:]))
    keep = np.ones(bend.size, dtype=bool)
    keep[max(0, first - 2) : last + 1] = False  # the event's readings and their neighbours
    event = readings[first : last + 1]
    sides = 0.5 * (readings[first - 1] + readings[last + 1])
    own = float(np.max(np.abs(event - sides)))
    usual = float(np.max(bend[keep])) if keep.any() else 0.0
    return own >= over * usual


def on_lattice(levels: np.ndarray, value: float) -> bool:
    """A quantised channel (servo ticks: its levels a whole number of quanta apart) visiting
    a rarely seen tick near its usual ones is jitter, not a glitch: ``value`` is a whole number
    of quanta from the levels and within 3 quanta of one."""
    if levels.size < 2:
        return False
    quantum = float(np.min(np.diff(levels)))
    steps = (value - float(levels[0])) / quantum
    near = float(np.min(np.abs(levels - value))) < 3.0 * quantum
    return bool(abs(steps - round(steps)) < 0.1 and near)
