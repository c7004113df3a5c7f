"""Hard stop: a moving joint suddenly pinned — it hit something — while it is still driven.

The measured position, moving a moment before, stops dead: from one sample to the next it
stays within its own noise floor (a sensor that stops updating repeats one value exactly —
that is a stall, not this). A joint stopping where it was told to stop is not a fault, so the
stop must also show that something still pushed: its position command runs on (the
command-vs-measured residual grows), or its effort — measured, or the torque commanded — rises
away from its level before the stop. The onset is the first pinned sample. A joint blocked as
it creeps (no fast arrival) counts only on its command's evidence, dated where the
command-vs-measured gap leaves its ordinary spread.

The residual is taken at the joint's own settling lag (as tracking_error and drift take it), so
"how far command and joint ordinarily part" is calibrated on the joint, not inflated by lag.

Judged against the joint's own motion: the speed before the stop relative to how fast the joint
usually moves, the command's travel relative to its range, the effort's change relative to its
range; so one rule fits radians, metres, N·m and amperes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes._push import Effort, effort_rise, efforts_by_joint
from robotrace_desktop.analysis.causes._series import (
    NS,
    failed_run,
    field_of,
    held_on,
    is_gripper_name,
    joint_of,
    median,
    percentile,
    period_ns,
    robust_range,
    state_signals,
)
from robotrace_desktop.analysis.causes.tracking import best_lag_index
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext, Signal
from robotrace_desktop.analysis.finding import Finding, channel_ref

CAUSE = "hard_stop"
thresholds.register(
    CAUSE,
    min_pinned_s=(0.5, "shortest pinned span that counts (s)"),
    band_noise=(4.0, "pinned: within this many noise floors (sample-to-sample spread) of the stop"),
    arrival=(0.3, "moving before: at least this share of the joint's usual (p90) speed"),
    window_s=(0.15, "window over which the speed before the stop is judged (s)"),
    command_travel=(0.1, "the command runs on by this share of its range while pinned"),
    residual_factor=(
        2.0,
        "and the command-vs-measured gap grows by this many times its usual spread (p95)",
    ),
    effort_rise=(0.5, "or the effort departs by this share of its range from its level before"),
    effort_beyond=(0.25, "and leaves its band over the rest of the run by this share of it"),
)
_LAGS_S = np.arange(0.0, 0.31, 0.05)  # settling lags tried, as tracking_error and drift do
#: a joint held by an obstacle gives way by at most this share of its command's run-on
_GIVE = 0.25
#: ... or of the travel its arrival speed would make over the shortest pinned span: a planned
#: stop decelerates over a good part of that travel, a blocked joint halts within a few %
_HALT = 0.05
#: ... only in a recording whose noise floor is under this share of the joint's usual speed
_QUIET = 0.01
#: this much of the run before a stop (the window its level is taken over) gives its band
_RUN_UP_NS = int(0.5 * NS)


def analyze(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    commands = _position_commands(data)
    efforts = efforts_by_joint(data)
    best: Finding | None = None
    for signal in state_signals(data):
        for k, channel in enumerate(signal.channels):
            if field_of(signal.stream, channel) != "position" or is_gripper_name(channel):
                continue
            found = _check(data, ctx, signal, k, commands.get((signal.stream, channel)), efforts)
            if found is not None and (best is None or found.confidence > best.confidence):
                best = found
    return [best] if best is not None else []


def _position_commands(data: EpisodeData) -> dict[tuple[str, str], tuple[str, str]]:
    """measured (stream, channel) → its position command (stream, channel)."""
    found = {}
    for (cs, cc), (ms, mc) in data.pairs():
        if field_of(cs, cc) == field_of(ms, mc) == "position":
            found[(ms, mc)] = (cs, cc)
    return found


def _check(
    data: EpisodeData,
    ctx: ExplainContext,
    signal: Signal,
    k: int,
    command: tuple[str, str] | None,
    efforts: dict[str, list[Effort]],
) -> Finding | None:
    channel = signal.channels[k]
    pushes = efforts.get(joint_of(channel), [])
    if command is None and not pushes:
        return None  # nothing could tell a blocked joint from one told to stop
    t_ns, x = signal.t_ns, signal.values[:, k]
    commanded = _commanded(data, ctx, command, t_ns, x) if command is not None else None
    with np.errstate(invalid="ignore"):  # a NaN/Inf run is nan_inf's; _stops skips it
        lagged = None if commanded is None else commanded.residual + x
    stops = _stops(ctx, t_ns, x, lagged, halts=bool(pushes))
    for start, end, sudden in stops:
        evidence: dict[str, float] = {}
        if commanded is not None:
            travel = _command_travel(ctx, commanded, start, end)
            if travel >= ctx.t(CAUSE, "command_travel"):
                evidence["command_travel"] = round(travel, 3)
        if not sudden and not evidence:
            continue  # a slow stop needs its command running on to be a block
        if not sudden and commanded is not None:
            start = _parting(commanded, start, end)
            if (t_ns[end - 1] - t_ns[start]) / NS < ctx.t(CAUSE, "min_pinned_s"):
                continue  # the gap opened only as the joint moved on: no block
        if "command_travel" in evidence and commanded is not None:
            start = _contact(commanded, start, end, _reach(ctx, t_ns))
        beyond = ctx.t(CAUSE, "effort_beyond")
        rises = [
            (effort_rise(e, int(t_ns[start]), int(t_ns[end - 1]), beyond, run_up_ns=_RUN_UP_NS), e)
            for e in pushes
        ]
        rises = [(r, e) for r, e in rises if r >= ctx.t(CAUSE, "effort_rise")]
        if rises:
            evidence["effort_rise"] = round(max(r for r, _ in rises), 3)
        if evidence:
            return _finding(data, signal, k, start, end, evidence, command, rises)
    return None


def _stops(
    ctx: ExplainContext,
    t_ns: np.ndarray,
    x: np.ndarray,
    command: np.ndarray | None = None,
    *,
    halts: bool = False,
) -> list[tuple[int, int, bool]]:
    """(first pinned sample, end, sudden) of every span where the channel holds still within
    its noise floor after moving, in time order; sudden when it was moving fast right before.
    With its position ``command`` (at the joint's lag, on its times), a joint giving way by
    under a quarter of how far its command runs on counts as held too: an obstacle is rarely
    rigid (padding, a flexible link, the object pushed), but a joint following its command
    moves as far as the command does.
    A joint that crept to a halt often waits for its command to pull away (stiction,
    backlash), so a slow stop counts only with its command running on beyond how far the two
    ordinarily part (``_command_travel``), never an effort alone; and only when the joint came
    there (a run that starts at rest has nothing that stopped)."""
    period = period_ns(t_ns)
    finite = np.isfinite(x)
    if period <= 0 or finite.sum() < 16 or not finite.all():
        return []
    steps = np.diff(x)
    noise = 1.4826 * median(np.abs(steps - median(steps)))
    scale = robust_range(x)
    if scale <= 0:
        return []
    band = max(ctx.t(CAUSE, "band_noise") * noise, 1e-9 * scale)
    m = max(3, round(ctx.t(CAUSE, "min_pinned_s") * NS / period))
    w = max(2, round(ctx.t(CAUSE, "window_s") * NS / period))
    n = x.size
    if n < m + w + 2:
        return []
    moving = np.abs(x[w:] - x[:-w]) / w  # the joint's speed over each window
    usual = percentile(moving, 90.0)
    if usual <= 0:
        return []
    # the next m samples stay within ±band of sample i (every few of them at high rates: a
    # blocked joint does not leave its band for a sample or two)
    every = max(1, m // 24)
    windows = np.lib.stride_tricks.sliding_window_view(x, m)[:, ::every]
    reach = np.max(np.abs(windows - x[: n - m + 1, None]), axis=1)
    # stopped dead from speed: over the next span the joint gives way by under a small share
    # of what its arrival speed would have carried it. Only for a joint whose effort can
    # show the push (``halts``: a joint stopping abruptly on its own is common, a push is the
    # evidence), and where the recording has no noise floor to speak of and does not repeat
    # itself (a simulator's: any give of a loaded joint leaves a band of nothing); a measured
    # joint's own noise says what "still" is, and a coarse or stale reading — its steps
    # mostly exactly nil — must not pass for a halt
    halt = np.zeros(n - m + 1)
    still = np.concatenate(([0], np.cumsum(steps == 0)))  # exact repeats up to each sample
    exact = int(still[-1]) / steps.size  # a quantized or stale reading repeats itself
    quiet = noise <= _QUIET * usual and exact < 0.5
    if halts and quiet:
        halt[w:] = _HALT * moving[: n - m + 1 - w] * m
    pinned = reach <= np.maximum(band, halt)
    if command is not None and command.shape == x.shape and np.isfinite(command).all():
        runs = np.lib.stride_tricks.sliding_window_view(command, m)[:, ::every]
        run_on = np.max(np.abs(runs - command[: n - m + 1, None]), axis=1)
        # a command running on moves on steadily; one that jumps (a reset, a released clamp)
        # drags the lagged comparison with it for a moment
        leaps = np.lib.stride_tricks.sliding_window_view(np.abs(np.diff(command)), m - 1)
        steady = np.max(leaps, axis=1)[: n - m + 1] <= 0.5 * run_on
        held_back = (reach <= _GIVE * run_on) & steady
        pinned |= held_back
    else:
        held_back = np.zeros(n - m + 1, dtype=bool)
    found: list[tuple[int, int, bool]] = []
    candidates = np.flatnonzero(pinned[w:]) + w
    # only the first sample of each pinned run
    candidates = candidates[np.diff(candidates, prepend=-2) != 1]
    loose_at = _next_false(pinned)
    arrival = ctx.t(CAUSE, "arrival") * usual  # the speed a sudden stop arrives with
    for i in candidates:
        before = abs(float(x[i] - x[i - w])) / w
        earlier = abs(float(x[i - w] - x[i - 2 * w])) / w if i >= 2 * w else before
        sudden = (
            before >= arrival
            and before >= 3.0 * band / w
            and before >= 0.5 * earlier  # not decelerating into it, as a planned stop does
        )
        if not sudden and abs(float(x[i] - x[max(0, i - m)])) <= band and not held_back[i]:
            # at rest all along (a run starting still) and not held back from its command:
            # nothing came to a stop
            continue
        # a joint halted dead (not one merely held back from its command) stays within its
        # halt's give, not its noise floor
        halted = sudden and reach[i] <= halt[i]
        held_band = max(band, float(halt[i])) if halted else band
        end = _first_beyond(x, int(i) + m, float(x[i]), held_band)
        # held on while the next windows stay pinned too (a joint giving way little, or
        # settling within its band window after window)
        loose = int(loose_at[i]) - int(i) if loose_at[i] < pinned.size else n
        end = max(end, min(n, int(i) + loose + m - 1))
        if 2 * int(still[end - 1] - still[i]) > end - 1 - int(i):
            continue  # exact repeats (most steps nil): a stalled sensor, not a blocked joint
        last = found[-1] if found else None
        if last is not None and i <= last[1] + w and abs(float(x[i] - x[last[0]])) <= band:
            # pinned again at the same place right after: the same stop, held on (a sample of
            # noise beyond the band split it), judged over the whole span from its start
            found[-1] = (last[0], max(last[1], end), last[2])
            continue
        # a knee lies at least a window before i: none can follow a stop ending after that
        knee = None if found and i - w <= found[-1][1] else _knee(x, int(i), w, m, arrival)
        if knee is not None and (not found or knee > found[-1][1]):
            i, sudden = knee, True
        found.append((int(i), end, bool(sudden)))
    return found


def _next_false(mask: np.ndarray) -> np.ndarray:
    """For every index, the first index at or after it where ``mask`` is False (its size
    when there is none)."""
    n = mask.size
    at = np.where(mask, n, np.arange(n))
    return np.minimum.accumulate(at[::-1])[::-1]


def _first_beyond(x: np.ndarray, start: int, centre: float, band: float) -> int:
    """The first index from ``start`` where ``x`` lies more than ``band`` from ``centre``
    (``x.size`` when none does), looked for in growing blocks: it is usually near."""
    n = x.size
    lo, size = start, 64
    while lo < n:
        hi = min(n, lo + size)
        beyond = np.flatnonzero(np.abs(x[lo:hi] - centre) > band)
        if beyond.size:
            return lo + int(beyond[0])
        lo, size = hi, size * 4
    return n


def _knee(x: np.ndarray, i: int, w: int, m: int, fast: float) -> int | None:
    """Where a joint that reached its pinned band at ``i`` by creeping really stopped: a
    compliant stop (a padded obstacle, a flexible link, a controller's integral winding up)
    gives way a little as the push builds, so the position creeps on slowly after the block
    before it settles. The block is the knee before ``i`` where the joint's speed collapsed
    at once — from moving (``fast``, the arrival speed a sudden stop needs) to a creep under a
    quarter of it, over the next ``w`` samples and all the way to ``i`` alike. A planned stop
    decelerates over several windows and has no such knee; a joint that backs off after its
    move was not pushed on. None when there is none."""
    lo = max(w, i - 2 * m)
    if i - w < lo:
        return None
    size = i - w + 1 - lo  # knees tried: lo … i − w
    here, back = x[lo : lo + size], x[lo - w : lo - w + size]
    pre = np.abs(here - back) / w
    fastest = pre >= fast
    if not fastest.any():
        return None  # never moving fast enough: no knee
    # the fastest the joint moved over any window from each knee to the band
    speed = np.abs(x[lo + w : i + 1] - x[lo : i + 1 - w]) / w  # window starting at lo + k
    slow = np.maximum.accumulate(speed[::-1])[::-1][:size]
    ok = fastest & (slow <= 0.25 * pre)
    if not ok.any():
        return None  # no collapse of speed anywhere: the other tests cannot make one
    # a leap, not a motion, into the knee: a joint moving into a stop travels steadily (the
    # largest step of the w before each knee)
    steps = np.abs(np.diff(x[lo - w : i + 1]))
    if w <= 16:  # a few shifted maxima beat building the windows
        leap = steps[:size].copy()
        for j in range(1, w):
            np.maximum(leap, steps[j : j + size], out=leap)
    else:
        leap = np.max(np.lib.stride_tricks.sliding_window_view(steps, w)[:size], axis=1)
    steady = leap <= 0.5 * pre * w
    # backed off: the creep of a stop goes on the way the joint was pushed
    onward = (x[i] - here) * (here - back) >= 0
    ok &= steady & onward
    if not ok.any():
        return None
    ratio = np.where(ok, pre / np.maximum(slow, 1e-300), -np.inf)
    # the sharpest knee; of equals, the latest (the search ran back from the band)
    return lo + size - 1 - int(np.argmax(ratio[::-1]))


@dataclass(frozen=True, slots=True)
class _Commanded:
    """A joint's command on the measured times, worked out once per joint (a joint may pin
    many times in a run): its scale and the ordinary command-vs-measured residual."""

    t_ref: np.ndarray
    command: np.ndarray
    scale: float
    residual: np.ndarray  # held command − measured, on the measured times, at the lag
    lag_ns: int  # how far the joint ordinarily trails its command (tracking's lag search)
    magnitude: float  # the largest finite |residual| (0 when none): bounds rounding errors
    #: (start, end) → ``_rest`` of that span: a stop's checks ask for it up to three times
    rests: dict[tuple[int, int], tuple[int, float, float | None]] = field(default_factory=dict)


def _commanded(
    data: EpisodeData,
    ctx: ExplainContext,
    command: tuple[str, str],
    t_ns: np.ndarray,
    x: np.ndarray,
) -> _Commanded | None:
    sig = data.signal(command[0])
    if sig is None or len(sig.t_ns) < 4:
        return None
    cmd = sig.column(command[1])
    # the joint's range: what it travels here or, when this run barely moves it, across the
    # robot's other runs (a joint idle here must not make a wobble look like a run-on)
    scale = max(robust_range(cmd), robust_range(x))
    seen = ctx.history(command[0], command[1], False) if ctx.history is not None else None
    if seen is not None and np.isfinite(seen[0]) and np.isfinite(seen[1]):
        scale = max(scale, float(seen[1] - seen[0]))
    if scale <= 0:
        return None
    # compared at the joint's own settling lag: a controller always trails its target, and
    # that lag (times the joint's speed) is not how far the two "ordinarily part"
    lag_ns = int(_LAGS_S[best_lag_index(t_ns, x, sig.t_ns, cmd, _LAGS_S)] * NS)
    residual = held_on(sig.t_ns, cmd, t_ns, lag_ns) - x
    finite = np.abs(residual[np.isfinite(residual)])
    magnitude = float(finite.max()) if finite.size else 0.0
    return _Commanded(sig.t_ns, cmd, scale, residual, lag_ns, magnitude)


def _rest(commanded: _Commanded, start: int, end: int) -> tuple[int, float, float | None]:
    """The command-vs-measured residual over all but the span [start, end): how many finite
    samples it has, their median (0 when none) and the p95 of their distance from it (None
    under 8 samples) — how far command and joint ordinarily part."""
    known = commanded.rests.get((start, end))
    if known is None:
        residual = commanded.residual
        rest = np.concatenate((residual[:start], residual[end:]))  # all but the span
        rest = rest[np.isfinite(rest)]
        centre = median(rest) if rest.size else 0.0
        usual = percentile(np.abs(rest - centre), 95.0) if rest.size >= 8 else None
        known = commanded.rests[(start, end)] = (rest.size, centre, usual)
    return known


def _command_travel(
    ctx: ExplainContext,
    commanded: _Commanded,
    start: int,
    end: int,
) -> float:
    """How far the command ran on from the joint while pinned, as a share of the command's
    range."""
    # the command-vs-measured gap over the span (against where the joint actually is: a joint
    # creeping within its noise band while its command creeps alike is following it), beyond
    # the offset they ordinarily keep, and how much wider it grew than at the stop
    span = commanded.residual[start:end]
    held = span[np.isfinite(span)]
    if held.size == 0:
        return 0.0
    if np.isfinite(span[:3]).any():
        # the gap grows by at most the span's own spread (|r_j − c| − |r_k − c| ≤ |r_j − r_k|;
        # the slack covers rounding): a span spreading less than the bar needs no more
        bound = float(held.max() - held.min()) + 1e-12 * commanded.magnitude
        if bound / commanded.scale < ctx.t(CAUSE, "command_travel"):
            return 0.0
    _, centre, usual = _rest(commanded, start, end)
    gap = np.abs(span - centre)
    if not np.isfinite(gap).any():
        return 0.0
    first = gap[:3][np.isfinite(gap[:3])]
    grown = float(np.nanmax(gap) - (median(first) if first.size else 0.0))
    # calibrated on the joint itself: the residual must grow well beyond how far command
    # and measurement ordinarily part (lag, sag, backlash) over the rest of the run
    if usual is not None and grown < ctx.t(CAUSE, "residual_factor") * usual:
        return 0.0
    return grown / commanded.scale


def _reach(ctx: ExplainContext, t_ns: np.ndarray) -> int:
    """How many samples before its pinned span a stop's contact may be dated: one shortest
    pinned span."""
    period = period_ns(t_ns)
    return max(3, round(ctx.t(CAUSE, "min_pinned_s") * NS / period)) if period > 0 else 3


def _contact(commanded: _Commanded, start: int, end: int, reach: int) -> int:
    """When the joint met the obstacle: where the command-vs-measured gap, growing as the
    command runs on past the held joint, extrapolates back to its ordinary level. The gap
    crosses its ordinary spread (p95) only some time after the contact — the later the slower
    the command — and a yielding obstacle slows the joint over a few samples, so the time the
    joint settled is late too; the growth itself dates the contact. At most ``reach`` samples
    before ``start``, never after it."""
    lo = max(0, start - reach)
    if end - lo < 4:
        return start
    _, centre, usual = _rest(commanded, start, end)
    if usual is None:
        return start
    span = commanded.residual[lo:end] - centre
    if usual <= 0 or not np.isfinite(span).all():
        return start
    peak = int(np.argmax(np.abs(span)))
    gap = span * np.sign(span[peak])  # grows positive towards its peak
    calm = np.flatnonzero(gap[: peak + 1] < usual)
    a = int(calm[-1]) + 1 if calm.size else 0
    high = np.flatnonzero(gap[a : peak + 1] >= 2.0 * usual)
    b = a + (int(high[0]) if high.size else peak - a)
    if b <= a or gap[b] <= gap[a]:
        return min(start, lo + a)
    slope = float(gap[b] - gap[a]) / (b - a)
    back = int(np.ceil(float(gap[a]) / slope))
    return min(start, lo + max(0, a - back))


def _parting(commanded: _Commanded, start: int, end: int) -> int:
    """Where a joint that crept into its pinned span really stopped following: just after the
    last sample of the span whose command-vs-measured gap was still within its ordinary spread
    (the run's p95 around its median) before the gap's peak."""
    _, centre, usual = _rest(commanded, start, end)
    if usual is None:
        return start
    gap = np.abs(commanded.residual[start:end] - centre)
    if not np.isfinite(gap).any():
        return start
    peak = int(np.nanargmax(gap))
    with np.errstate(invalid="ignore"):
        calm = np.flatnonzero(gap[: peak + 1] <= usual)
    return start + (int(calm[-1]) + 1 if calm.size else 0)


def _finding(
    data: EpisodeData,
    signal: Signal,
    k: int,
    start: int,
    end: int,
    evidence: dict[str, float],
    command: tuple[str, str] | None,
    rises: list[tuple[float, Effort]],
) -> Finding:
    channel = signal.channels[k]
    t_ns = signal.t_ns
    duration = (float(t_ns[end - 1] - t_ns[start]) + period_ns(t_ns)) / NS
    ref = channel_ref(signal.stream, channel)
    channels = [ref]
    words = []
    if "command_travel" in evidence and command is not None:
        channels.append(channel_ref(*command))
        words.append(f"its command ran on by {evidence['command_travel']:.0%} of its range")
    if rises:
        _, effort = max(rises, key=lambda p: p[0])
        channels.append(channel_ref(effort[0], effort[1]))
        words.append(f"{effort[1]} rose by {evidence['effort_rise']:.0%} of its range")
    confidence = 0.65 + 0.1 * (len(words) - 1) + min(0.1, 0.05 * duration)
    confidence += 0.05 if failed_run(data) else 0.0
    return Finding(
        cause=CAUSE,
        title=f"Joint stopped dead while still driven: {channel}",
        explanation=(
            f"{ref} stopped moving at {t_ns[start] / NS:.2f} s and stayed pinned for "
            f"{duration:.2f} s while " + " and ".join(words)
        ),
        confidence=confidence,
        severity="high",
        t_start_ns=int(t_ns[start]),
        t_end_ns=int(t_ns[end - 1]),
        channels=channels,
        evidence={**evidence, "duration_s": round(duration, 3)},
        next_step=(
            "Look at the frames at that time: a collision, an obstacle or a joint at a "
            "mechanical stop? Check the joint's limits and the workspace."
        ),
    )
