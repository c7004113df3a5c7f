"""Sensor spikes: a short departure (1 to ~6 samples, square or ramped up and down)
from a channel's local trend that comes back — a glitched reading, a bit flip, a torn message,
an electrical kick — or a burst of them close together (reported once, at its first spike).

Why it works: a running median follows the channel's motion (ramps, curves) and its steps (a
new level is the median as soon as it holds for more than half the window), but ignores a few
wild samples; the residual from it is therefore ~0 except at short excursions that return.
Two window widths are searched: the narrow one follows curved motion closely, the wide one
still ignores spikes up to 6 samples wide; around a candidate the baseline is re-estimated
with the excursions masked out, so a burst denser than the window cannot drag it along
(``_spike_event``). The residual is sized against the channel's OWN behaviour, never a fixed
unit: its noise floor (robust spread of the residual), its normal range (p1..p99), and — what
keeps untouched recordings quiet — the largest residual the same channel shows anywhere
outside the event: a real spike stands out from the channel's ordinary maximum by a clear
factor, while a channel that is naturally jumpy (bumps on an IMU, a GPS fix) has many
departures of the same size. A spike is sharp in and out, or — ramped up and down — bends
far more sharply than the channel ever moves elsewhere, with calm around it. Departures
beyond anything the robot's other runs reached add confidence.

What needs care:
- wrapped angles (a heading crossing ±π, a yaw in degrees crossing ±180°) are unwrapped
  first: a jump of a whole period that returns is the representation, not a spike;
- quaternions are made sign-continuous first (q and −q are the same rotation);
- a channel holding a few levels (a mode, a speed command echoed back, a binary sensor) jumps
  between them by design: only a value that is none of its levels can be a spike, and on a
  quantised channel (levels a whole number of quanta apart) only one more than 3 quanta away;
- counters, time stamps, status codes and open / close grippers are skipped; a dexterous
  hand's finger joints, which move continuously, are judged like any joint — on a slow, held
  finger sensor reading by reading, so a fast V-shaped close-and-open is not a spike;
- a drop to exactly 0 on a channel that reads exactly 0 elsewhere (before its sensor came up)
  is the sensor reporting nothing, not a wild reading;
- velocity channels derived from noisy positions, and joint efforts, are handled like any
  other channel; spikes on efforts are reported as ``effort_spike``;
- commands are searched too (a controller's output glitching for a cycle); in busy stretches
  only sharp ones (in and out in one sample): a policy or an operator ramps out and back itself;
- a channel busy in one part of the run and still in another (a controller's output after the
  arm stopped) is judged, around a spike in a still stretch, against that stretch alone.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NotRequired

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes._series import (
    NS,
    ChannelHit,
    column_summary,
    failed_run,
    field_of,
    group_around,
    is_gripper_name,
    unwrapped_columns,
)
from robotrace_desktop.analysis.causes._spike_event import (
    find_event,
    on_lattice,
    on_trend,
    running_median,
    sharp_bend,
    sharp_edges,
    stands_out_in_readings,
)
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext, Signal
from robotrace_desktop.analysis.finding import Finding, channel_ref

CAUSE = "sensor_spike"
EFFORT_CAUSE = "effort_spike"
thresholds.register(
    CAUSE,
    narrow_window=(4, "narrow running-median half window (samples): follows curved motion"),
    half_window=(6, "wide running-median half window (samples): spikes up to this wide are seen"),
    max_width=(6, "widest excursion (samples) that is still a spike, not a new level"),
    k_noise=(8.0, "departure ≥ this × the channel's noise floor (robust spread of residuals)"),
    rel_range=(0.15, "and ≥ this share of the channel's p1..p99 range"),
    over_ordinary=(5.0, "and ≥ this × the largest departure anywhere else in the episode"),
    reading_over=(
        3.0,
        "a hand's held (sample-and-hold) finger sensor: the spike's reading departs ≥ this × as "
        "much from its neighbouring readings as any other reading does",
    ),
    sharpness=(0.6, "sharp: the spike's first and last samples stand ≥ this share of it off"),
    over_bend=(2.0, "or it bends ≥ this × the channel's sharpest bend anywhere else (a ramp)"),
    step_share=(0.25, "samples either side stay within this share of it from their trend line"),
    isolation=(0.35, "residuals within 2 windows around it stay below this share of it"),
    return_share=(0.15, "an excursion ends where it is back within this share of the baseline"),
    member_share=(0.3, "a burst's spikes are each ≥ this share of its largest"),
    burst_s=(0.5, "a burst's spikes are at most this far apart (s)"),
    max_members=(6, "a burst has at most this many spikes"),
    group_s=(0.05, "spikes on several channels this close in time are one finding"),
    regime_s=(1.0, "a still stretch this long either side of a spike is its own regime"),
    still_share=(
        0.02,
        "a regime holds still when its departures stay below this share of the p1..p99 range",
    ),
)

_MIN_SAMPLES = 20
# commands too: a controller's output jumping for a few samples and coming straight back (a
# torn message, a bad computation in one cycle) is as wild as a sensor's reading, and the same
# tests apply — it stands far out of the command's own ordinary departures from its trend
_ROLES = ("state", "other", "command")
_FRAME_BUDGET = 2_000_000  # samples of running-median frames held at once
_MAX_LEVELS = 16  # a channel taking at most this many distinct values holds levels
_RARE_FLAG_SHARE = 0.1  # a validity flag spends less than this share of the run flipped
_SKIP_NAME = re.compile(r"(^|[^a-z])(stamp|seq|time|count|counter|index|id|status)([^a-z]|$)", re.I)
_QUATERNION = re.compile(r"(orientation|rotation|quat)", re.IGNORECASE)


class Hit(ChannelHit):
    """One channel's spike: where and how large, then (``_scale_hits``) how far it stands out."""

    command: NotRequired[bool]  # on a command stream (the controller's output, not a sensor)
    still_s: NotRequired[float]  # judged against the still stretch this long either side
    t_ns: int  # its first sample (``end_ns``: its last)
    width: int  # samples of its largest excursion
    value: float  # the reading at its peak
    departure: float  # signed, from the trend
    spikes: NotRequired[int]  # a burst's spikes (a levels channel's hit: one)
    ordinary: NotRequired[float]  # the largest departure elsewhere
    span: NotRequired[float]  # the channel's p1..p99 range
    noise: NotRequired[float]
    over_noise: NotRequired[float]
    over_ordinary: NotRequired[float]
    flagged_by: NotRequired[str | None]  # the validity flag that flipped with it, if any


def analyze(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    hits: list[Hit] = []
    for signal in data.signals():
        if signal.role not in _ROLES or signal.t_ns.size < _MIN_SAMPLES:
            continue
        hits += _signal_hits(ctx, signal)
    if not hits:
        return []
    return [_finding(data, ctx, group) for group in _groups(ctx, hits)]


# ---------------------------------------------------------------- per signal


def _signal_hits(ctx: ExplainContext, signal: Signal) -> list[Hit]:
    """A signal's spikes, searched at two baseline widths: the narrow one follows curved motion
    closely (its ordinary departures stay small, so 1-4 sample spikes stand out), the wide one
    still ignores spikes up to ``half_window`` samples wide. Per channel the scale where the
    spike stands out more from the channel's ordinary departures is kept."""
    keep, distinct = _usable(signal)
    if not keep.size:
        return []
    x = _continuous(signal, keep)
    finite = np.isfinite(x)
    x = _filled(x, finite)
    # a channel holding a few levels jumps between them by design: only departures to values
    # that are none of its levels can be spikes
    few = (distinct <= 4 * _MAX_LEVELS) | (distinct <= 0.05 * x.shape[0])
    levels = [_levels(x[:, j]) if few[j] else None for j in range(len(keep))]
    dt_s = float(np.median(np.diff(signal.t_ns))) / NS if signal.t_ns.size > 1 else 0.0
    best: dict[int, Hit] = {}
    scales = (int(ctx.t(CAUSE, "narrow_window")), int(ctx.t(CAUSE, "half_window")))
    for h in sorted(set(scales)):
        for j, hit in _scale_hits(ctx, signal, (keep, x, finite, levels), h, dt_s).items():
            if j not in best or hit["over_ordinary"] > best[j]["over_ordinary"]:
                best[j] = hit
    return [best[j] for j in sorted(best)]


def _scale_hits(
    ctx: ExplainContext,
    signal: Signal,
    prepared: tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray | None]],
    h: int,
    dt_s: float,
) -> dict[int, Hit]:
    keep, x, finite, levels = prepared
    residual = x - running_median(x, h, _FRAME_BUDGET)
    residual[~finite] = 0.0  # holes are nan_inf's; the samples next to them are judged as usual
    size = np.abs(residual)
    # the first and last h samples have no full window around them: not judged
    size[:h] = 0.0
    size[-h:] = 0.0
    for j, lv in enumerate(levels):
        if lv is not None:
            size[np.isin(x[:, j], lv), j] = 0.0
    # noise floor: the robust spread of the departures (0 for a channel that mostly holds its
    # value, or jumps only between its levels — then the range and the ordinary maximum decide)
    noise = 1.4826 * np.median(size, axis=0)
    peak_i = np.argmax(size, axis=0)
    cols = np.arange(len(keep))
    peak = size[peak_i, cols]
    # a burst's spikes are close in time, whatever the rate
    gap = max(h, round(ctx.t(CAUSE, "burst_s") / dt_s)) if dt_s > 0 else h
    # the channel's ordinary maximum: its largest departure away from the peak (and from the
    # burst it may lead — the event's own extent is settled per channel below)
    reach = int(ctx.t(CAUSE, "max_members")) * (int(ctx.t(CAUSE, "max_width")) + gap)
    away = np.abs(np.arange(size.shape[0])[:, None] - peak_i[None, :]) > reach
    ordinary = np.where(away, size, 0.0).max(axis=0)
    # ... and in its own regime around the peak: a channel busy in one part of the run and
    # holding still in another (a controller's output after the arm stopped) is judged there
    own = int(ctx.t(CAUSE, "max_width")) + h  # the spike itself and its window
    regime = max(4 * own, round(ctx.t(CAUSE, "regime_s") / dt_s)) if dt_s > 0 else 4 * own
    local = _regime_max(size, peak_i, own, regime)
    k_noise = ctx.t(CAUSE, "k_noise")
    over = ctx.t(CAUSE, "over_ordinary")
    stands_out = (peak > over * ordinary) | (peak > over * local)
    candidates = np.flatnonzero((peak > k_noise * noise) & stands_out & (peak > 0))
    still: set[int] = set()
    if candidates.size:  # and large for the channel's normal range (p1..p99)
        sub = x[:: max(1, x.shape[0] // 5000), candidates]
        low, high = np.percentile(sub, [1.0, 99.0], axis=0)
        big = peak[candidates] >= ctx.t(CAUSE, "rel_range") * (high - low)
        # out of its regime only when that regime held still: its departures within a sliver
        # of the channel's range, so a leap across the range and straight back is none of its
        # motion (a busy stretch is judged against the whole run, as above)
        quiet = local[candidates] <= ctx.t(CAUSE, "still_share") * (high - low)
        alone = peak[candidates] > over * ordinary[candidates]
        big &= alone | quiet
        still = set(candidates[big & quiet].tolist())
        spans = dict(zip(candidates[big].tolist(), (high - low)[big].tolist(), strict=True))
        candidates = candidates[big]
    hits = {}
    for j in candidates.tolist():
        where = (signal, int(keep[j]))
        held = levels[j]
        if held is None:
            scale = (float(noise[j]), h, gap, regime if j in still else None)
            hit = _event_hit(ctx, where, x[:, j], size[:, j], scale)
        elif h == int(ctx.t(CAUSE, "narrow_window")):
            hit = _channel_hit(ctx, where, x[:, j], residual[:, j], size[:, j], held)
        else:
            continue
        if hit is None or abs(hit["departure"]) < ctx.t(CAUSE, "rel_range") * spans[int(j)]:
            continue
        hit["span"] = spans[int(j)]
        hit["noise"] = float(noise[j])
        if j in still:  # measured against the still stretch it leapt out of
            hit["ordinary"] = max(float(local[j]), float(noise[j]))
            hit["still_s"] = regime * dt_s
        hit.setdefault("ordinary", float(ordinary[j]))
        magnitude = abs(hit["departure"])
        hit["over_noise"] = magnitude / noise[j] if noise[j] > 0 else np.inf
        hit["over_ordinary"] = magnitude / hit["ordinary"] if hit["ordinary"] > 0 else np.inf
        if hit["over_ordinary"] <= over or hit["over_noise"] <= k_noise:
            continue
        if _hand_named(signal.channels)[keep[j]] and not stands_out_in_readings(
            x[:, j], signal.t_ns, (hit["t_ns"], hit["end_ns"]), ctx.t(CAUSE, "reading_over")
        ):
            continue  # a finger's V-shaped turn on a slow, held hand sensor
        if _placeholder(x[:, j], signal.t_ns, hit):
            continue
        hit["flagged_by"] = _flagged_by(signal, hit)
        hit["command"] = signal.role == "command"
        hits[int(j)] = hit
    return hits


def _regime_max(size: np.ndarray, peak_i: np.ndarray, own: int, regime: int) -> np.ndarray:
    """Per column, the largest departure within ``regime`` samples of its peak, the peak's own
    ``own`` samples either side left out."""
    out = np.zeros(size.shape[1])
    for j, p in enumerate(peak_i.tolist()):
        before = size[max(0, p - regime) : max(0, p - own), j]
        after = size[p + own + 1 : p + regime + 1, j]
        out[j] = max(before.max(initial=0.0), after.max(initial=0.0))
    return out


def _event_hit(
    ctx: ExplainContext,
    where: tuple[Signal, int],
    column: np.ndarray,
    size: np.ndarray,
    scale: tuple[float, int, int, int | None],
) -> Hit | None:
    """The largest departure of a continuous channel if it is a spike or a burst of spikes
    (``_spike_event``): short excursions that come back to the trend they left — sharp in and
    out, or bending far more sharply than the channel ever moves (a ramped, triangular spike)
    — and far above its ordinary departures outside the event. Dated at the event's first
    sample (a burst: its first spike). ``scale``: (noise floor, half window, burst gap, and
    for a spike out of a still stretch the samples either side that stretch is judged on)."""
    signal, k = where
    noise, h, gap, regime = scale
    event = find_event(
        column,
        int(np.argmax(size)),
        noise,
        h=h,
        max_width=int(ctx.t(CAUSE, "max_width")),
        burst_gap=gap,
        member_share=ctx.t(CAUSE, "member_share"),
        return_share=ctx.t(CAUSE, "return_share"),
        k_noise=ctx.t(CAUSE, "k_noise"),
        max_members=int(ctx.t(CAUSE, "max_members")),
        isolation=ctx.t(CAUSE, "isolation"),
    )
    if event is None or not on_trend(column, event, h, ctx.t(CAUSE, "step_share")):
        return None
    if not sharp_edges(column, event, h, ctx.t(CAUSE, "sharpness")):
        if signal.role == "command" and regime is None:
            return None  # ramped out and back in a busy stretch: what a policy or operator does
        # ramped in and out: only a bend the channel never makes, with calm around it (the
        # lobe of a jolt swinging through the baseline has its other lobe next to it)
        own, usual = sharp_bend(column, event, h, regime)
        calm = event["nearby"] <= 0.5 * ctx.t(CAUSE, "isolation") * abs(event["departure"])
        if own < ctx.t(CAUSE, "over_bend") * usual or not calm:
            return None
    outside = np.ones(size.size, dtype=bool)
    outside[max(0, event["first"] - h) : event["last"] + h + 1] = False
    members = event["members"]
    return {
        "stream": signal.stream,
        "channel": signal.channels[k],
        "field": field_of(signal.stream, signal.channels[k]),
        "t_ns": int(signal.t_ns[event["first"]]),
        "end_ns": int(signal.t_ns[event["last"]]),
        "width": event["lead_last"] - event["lead_first"] + 1,
        "spikes": members,
        "value": float(signal.values[event["peak_i"], k]),
        "departure": event["departure"],
        "ordinary": float(np.max(size[outside])) if outside.any() else 0.0,
    }


def _placeholder(column: np.ndarray, t_ns: np.ndarray, hit: Hit) -> bool:
    """The excursion went to exactly 0 and the channel sits at exactly 0 elsewhere too (before
    its sensor came up, say): 0 is what it reports with no reading — a dropout of the sensor,
    not a wild value it measured."""
    if hit["value"] != 0.0:
        return False
    lo, hi = np.searchsorted(t_ns, [hit["t_ns"], hit["end_ns"]])
    outside = np.r_[column[:lo], column[hi + 1 :]]
    return bool(np.any(outside == 0.0))


def _flagged_by(signal: Signal, hit: Hit) -> str | None:
    """A two-valued channel of the same message that flips at the spike (``valid``,
    ``status``): the sensor itself marked the reading invalid — a reported dropout, not a
    glitch the data hides. A flag is steady: the state it flips to at the spike is a rare one
    (a channel alternating between two values all along marks nothing)."""
    lo, hi = np.searchsorted(signal.t_ns, [hit["t_ns"], hit["end_ns"]])
    lo, hi = max(0, int(lo) - 1), min(signal.t_ns.size, int(hi) + 2)
    summary = column_summary(signal.values)
    for j in np.flatnonzero(summary["distinct"] == 2):
        column = signal.values[:, j]
        if signal.channels[j] == hit["channel"] or np.ptp(column[lo:hi]) == 0:
            continue
        window = column[lo:hi]
        usual = np.median(column[np.isfinite(column)])
        flipped = window[np.isfinite(window) & (window != usual)]
        if flipped.size and np.mean(column == flipped[0]) < _RARE_FLAG_SHARE:
            return signal.channels[j]
    return None


def _usable(signal: Signal) -> tuple[np.ndarray, np.ndarray]:
    """Columns worth searching (moving; not a counter, a time stamp, a status or an open /
    close gripper) and their number of distinct values."""
    summary = column_summary(signal.values)
    with np.errstate(invalid="ignore"):
        usable = (summary["finite"] >= _MIN_SAMPLES) & (summary["max"] > summary["min"])
    usable &= _named_usable(signal.channels)
    # a gripper's open / close jumps are what it does; a hand's finger joints that move
    # continuously (a dexterous hand) are sensors like any other joint
    with np.errstate(invalid="ignore"):
        unit = (summary["min"] >= -1e-6) & (summary["max"] <= 1.0 + 1e-6)
    open_close = (summary["distinct"] <= 3) | (unit & (summary["at_ends"] >= 0.5))
    usable &= ~(_hand_named(signal.channels) & open_close)
    cand = np.flatnonzero(usable)
    values = signal.values[:, cand]
    finite = np.isfinite(values)
    integer = np.all((values == np.round(values)) | ~finite, axis=0)
    for j in np.flatnonzero(integer):  # an integer channel that never decreases: a counter
        column = values[finite[:, j], j]
        usable[cand[j]] = not bool(np.all(np.diff(column) >= 0))
    # a flag (two values: valid / not, contact / none) that flips once is an event its own
    # analyzers name, not a sensor reading that glitched
    usable &= summary["distinct"] > 2
    keep = np.flatnonzero(usable)
    return keep, summary["distinct"][keep]


def _levels(column: np.ndarray) -> np.ndarray | None:
    """The levels of a channel that holds a few values (a mode, a commanded speed echoed back,
    a binary sensor): values held often enough that together they cover ≥ 99 % of the
    samples. None for a continuous channel."""
    finite = column[np.isfinite(column)]
    values, counts = np.unique(finite, return_counts=True)
    if values.size > 4 * _MAX_LEVELS and values.size > 0.05 * finite.size:
        return None  # clearly continuous: skip the counting below
    held = counts >= max(4, 0.01 * finite.size)
    if held.sum() > _MAX_LEVELS or counts[held].sum() < 0.99 * finite.size:
        return None
    levels: np.ndarray = values[held]
    return levels


@lru_cache(maxsize=256)
def _named_usable(channels: tuple[str, ...]) -> np.ndarray:
    """By name: counters, stamps and status codes jump by design."""
    return np.array([not _SKIP_NAME.search(c) for c in channels])


@lru_cache(maxsize=256)
def _hand_named(channels: tuple[str, ...]) -> np.ndarray:
    """Gripper / hand channels by name: skipped when they open and close (``_usable``), judged
    reading by reading when they move continuously (``stands_out_in_readings``)."""
    return np.array([is_gripper_name(c) for c in channels])


def _continuous(signal: Signal, keep: np.ndarray) -> np.ndarray:
    """The kept columns with quaternions made sign-continuous (q and −q are one rotation) and
    wrapped angles unwrapped."""
    values = signal.values
    groups = _quaternions(signal.channels)
    if groups:
        values = values.copy()
    for idx in groups:
        q = values[:, idx]
        ok = np.isfinite(q).all(axis=1)
        if ok.sum() < 2:
            continue
        qs = q[ok]
        dots = np.einsum("ij,ij->i", qs[1:], qs[:-1])
        sign = np.concatenate(([1.0], np.cumprod(np.where(dots < 0, -1.0, 1.0))))
        q[ok] = qs * sign[:, None]
        values[:, idx] = q
    return unwrapped_columns(values[:, keep])


def _quaternions(channels: tuple[str, ...]) -> list[list[int]]:
    """Column indices of (x, y, z, w) groups named like an orientation / rotation."""
    by_prefix: dict[str, dict[str, int]] = {}
    for k, name in enumerate(channels):
        prefix, _, leaf = name.rpartition(".")
        if leaf in ("x", "y", "z", "w") and _QUATERNION.search(prefix):
            by_prefix.setdefault(prefix, {})[leaf] = k
    return [[g[a] for a in "xyzw"] for g in by_prefix.values() if len(g) == 4]


def _filled(x: np.ndarray, finite: np.ndarray) -> np.ndarray:
    if finite.all():
        return x
    out = x.copy()
    idx = np.arange(x.shape[0])
    for j in np.flatnonzero(~finite.all(axis=0)):
        good = finite[:, j]
        out[~good, j] = np.interp(idx[~good], idx[good], x[good, j])
    return out


def _channel_hit(
    ctx: ExplainContext,
    where: tuple[Signal, int],
    column: np.ndarray,
    residual: np.ndarray,
    size: np.ndarray,
    levels: np.ndarray,
) -> Hit | None:
    """The largest departure of a channel that holds a few ``levels`` (its trend is those
    levels, not a line): a run of samples that are none of its levels, short, not a nearby
    tick of a quantised channel, and alone."""
    signal, k = where
    peak_i = int(np.argmax(size))
    channel = signal.channels[k]
    peak = float(residual[peak_i])
    strong = ~np.isin(column, levels)
    first = last = peak_i
    while first > 0 and strong[first - 1]:
        first -= 1
    while last + 1 < strong.size and strong[last + 1]:
        last += 1
    h = int(ctx.t(CAUSE, "half_window"))
    if last - first + 1 > int(ctx.t(CAUSE, "max_width")) or first < 1 or last + 1 >= column.size:
        return None
    if on_lattice(levels, float(column[peak_i])):
        return None
    around = np.concatenate(
        (size[max(0, first - 2 * h) : first], size[last + 1 : last + 1 + 2 * h])
    )
    if around.size and np.max(around) > ctx.t(CAUSE, "isolation") * abs(peak):
        return None
    return {
        "stream": signal.stream,
        "channel": channel,
        "field": field_of(signal.stream, channel),
        "t_ns": int(signal.t_ns[first]),
        "end_ns": int(signal.t_ns[last]),
        "width": last - first + 1,
        "value": float(signal.values[peak_i, k]),
        "departure": peak,
    }


# ---------------------------------------------------------------- grouping and findings


def _groups(ctx: ExplainContext, hits: list[Hit]) -> list[list[Hit]]:
    """Spikes at the same moment on several channels (a torn message) are one finding."""
    gap = ctx.t(CAUSE, "group_s") * NS
    return group_around(
        hits, lambda h: h["over_ordinary"], lambda lead, hit: abs(hit["t_ns"] - lead["t_ns"]) <= gap
    )


def _finding(data: EpisodeData, ctx: ExplainContext, group: list[Hit]) -> Finding:
    lead = group[0]
    refs = [channel_ref(h["stream"], h["channel"]) for h in group]
    over = ctx.t(CAUSE, "over_ordinary")
    # just over the bars: not yet confident; far above the channel's ordinary maximum and its
    # noise floor: confident. A channel without measurable noise (held, quantised) gives no
    # noise evidence at all — an infinite ratio there is no evidence of anything
    confidence = 0.45 + min(0.3, 0.05 * (lead["over_ordinary"] - over))
    if np.isfinite(lead["over_noise"]):
        confidence += min(0.05, 0.005 * (lead["over_noise"] - ctx.t(CAUSE, "k_noise")))
    beyond = _beyond_history(ctx, lead)
    confidence += 0.1 * beyond
    if len(group) > 1:
        confidence += 0.05
    if failed_run(data):
        confidence += 0.05
    flagged = lead.get("flagged_by")
    if flagged:
        confidence = min(confidence, 0.4)  # the sensor said so itself: a reported dropout
    effort = lead["field"] == "effort" or "wrench" in lead["channel"].lower()
    cause = EFFORT_CAUSE if effort else CAUSE
    width = lead["width"]
    spikes = lead.get("spikes", 1)
    command = bool(lead.get("command"))
    kind = "Command" if command else "Effort" if effort else "Sensor"
    burst = f" (the first of a burst of {spikes} spikes)" if spikes > 1 else ""
    return Finding(
        cause=cause,
        title=f"{kind} spike{'s' if spikes > 1 else ''}: {lead['channel']}",
        explanation=(
            f"{refs[0]} jumped to {lead['value']:.4g} for {width} sample{'s' if width > 1 else ''}"
            f" and came back{burst} ("
            f"{_times(lead['over_ordinary'], _elsewhere(lead), 'alone in it')}"
            f", {_times(lead['over_noise'], 'its noise floor', 'on a noiseless channel')})"
            + (f"; {len(group) - 1} more channel(s) at the same moment" if len(group) > 1 else "")
            + (f"; the sensor marked that reading invalid ({flagged} flipped)" if flagged else "")
        ),
        confidence=min(confidence, 0.95),
        severity="medium",
        t_start_ns=int(lead["t_ns"]),
        t_end_ns=int(lead["end_ns"]),
        channels=refs,
        evidence={
            "value": lead["value"],
            "departure": lead["departure"],
            "width_samples": width,
            "noise_floor": lead["noise"],
            "ordinary_max_departure": lead["ordinary"],
            "judged_on_still_s": lead.get("still_s"),
            "over_ordinary": _finite(lead["over_ordinary"], 2),
            "over_noise": _finite(lead["over_noise"], 1),
            "normal_range": lead["span"],
            "beyond_history": bool(beyond),
            "channels_together": len(group),
            "spikes_in_burst": spikes,
            "flagged_by": flagged,
        },
        next_step=(
            "A wild command: check what produced it (the policy or controller's output, the "
            "message on the wire) at that time, and whether the robot reacted to it."
            if command
            else "A wild reading: check the sensor, its cable and the driver's messages at "
            "that time before trusting the values around it."
        ),
    )


def _elsewhere(hit: Hit) -> str:
    """What the spike was measured against: the whole run, or the still stretch around it."""
    still = hit.get("still_s")
    if still is None:
        return "its largest departure elsewhere"
    return f"its largest departure in the still {still:.1f} s either side"


def _times(ratio: float, what: str, otherwise: str) -> str:
    return f"{ratio:.1f}× {what}" if np.isfinite(ratio) else otherwise


def _finite(ratio: float, digits: int) -> float | None:
    """A ratio for the evidence (None: its denominator was 0 — nothing else, no noise)."""
    return round(ratio, digits) if np.isfinite(ratio) else None


def _beyond_history(ctx: ExplainContext, hit: Hit) -> float:
    """1 when the spike's value lies outside what the robot's other runs reached."""
    if ctx.history is None:
        return 0.0
    seen = ctx.history(hit["stream"], hit["channel"], False)
    if seen is None:
        return 0.0
    margin = 0.05 * (seen[1] - seen[0])
    return 1.0 if hit["value"] > seen[1] + margin or hit["value"] < seen[0] - margin else 0.0
