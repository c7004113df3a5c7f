"""Stuck channels (the sensor_stall cause's third signature, ``flatline.analyze`` calls
``stuck``): one channel, or several, repeating one value exactly for a sustained span although
what the channel normally does says it should move.

What it normally does is read from the run itself: a channel that changes on almost every
sample elsewhere (its noise floor never repeats) cannot hold exactly; a quantized reading that
repeats at rest (an encoder's counts) can, but never for many times its longest other hold; a
step-like channel (a hand state, a setpoint) holds by nature and is never stuck. The robot's
other episodes say where a joint normally goes: a hold where none of them ever went was
reached by moving there (a range excursion), not by a reading freezing.
"""

from __future__ import annotations

import warnings

import numpy as np

from robotrace_desktop.analysis.data import ExplainContext, Signal
from robotrace_desktop.analysis.finding import Finding, channel_ref
from robotrace_desktop.core.channels import split_channel

CAUSE = "sensor_stall"
NS = 1_000_000_000


def median_interval(t: np.ndarray) -> float:
    """The stream's usual sample interval (ns; 0 when it has none)."""
    dt = np.diff(t)
    dt = dt[dt > 0]
    return float(np.median(dt)) if len(dt) else 0.0


def value_span(values: np.ndarray) -> np.ndarray:
    """Per-column range ignoring NaN (0 for an all-NaN column)."""
    if not len(values):
        return np.zeros(values.shape[1] if values.ndim == 2 else 0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        span = np.nanmax(values, axis=0) - np.nanmin(values, axis=0)
    return np.nan_to_num(span, nan=0.0, posinf=0.0, neginf=0.0)


def robust_span(values: np.ndarray) -> np.ndarray:
    """Per-column 1st–99th percentile range: one start-up transient must not make every later
    movement look small."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanpercentile(values, [1, 99], axis=0)
    return np.nan_to_num(hi - lo, nan=0.0, posinf=0.0, neginf=0.0)


def hold_runs(flags: np.ndarray) -> np.ndarray:
    """(k, 2) sample ranges [first, last] covered by runs of True intervals."""
    padded = np.concatenate(([0], flags.astype(np.int8), [0]))
    edges = np.diff(padded)
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)  # interval index one past the run = last sample index
    return np.column_stack([starts, ends]) if len(starts) else np.empty((0, 2), dtype=np.int64)


def stuck(
    signal: Signal,
    commands: dict[str, list[tuple[Signal, str]]],
    ctx: ExplainContext,
    frozen: Finding | None,
    kind: str,
    commanded: bool,
) -> list[Finding]:
    """Channels that repeat one value exactly for a sustained span although they change on
    almost every other sample (or, quantized, never hold nearly as long elsewhere); channels
    stuck from the same sample are one finding."""
    t = signal.t_ns
    values = signal.values
    min_s = float(ctx.t(CAUSE, "min_freeze_s"))
    min_n = int(ctx.t(CAUSE, "min_freeze_samples"))
    share = float(ctx.t(CAUSE, "stuck_repeat_share"))
    step_share = float(ctx.t(CAUSE, "step_repeat_share"))
    quantized_outlasts = float(ctx.t(CAUSE, "quantized_outlasts"))
    tol = float(ctx.t(CAUSE, "rel_tol")) * value_span(values)
    with np.errstate(invalid="ignore"):
        diffs = np.diff(values, axis=0)
        same = np.abs(diffs) <= tol  # NaN counts as a change
    found: list[tuple[int, int, int, bool]] = []  # (first sample, last sample, channel, noisy)
    quantized: set[int] = set()  # channels that repeat often elsewhere (held by quantization)
    for c in range(values.shape[1]):
        if tol[c] <= 0:
            continue
        runs = hold_runs(same[:, c])
        if not len(runs):
            continue
        long = (t[runs[:, 1]] - t[runs[:, 0]] >= min_s * NS) & (
            runs[:, 1] - runs[:, 0] + 1 >= min_n
        )
        if not long.any():
            continue
        elsewhere = np.ones(len(same), dtype=bool)
        for x, y in runs[long]:
            elsewhere[x:y] = False
        if elsewhere.sum() < 3 * min_n:
            continue
        repeats = float(same[elsewhere, c].mean())
        if repeats > step_share:
            continue  # step-like (a hand state, a slow setpoint): holding is what it does
        noisy = _noisy(diffs[elsewhere, c], ctx)
        held = t[runs[:, 1]] - t[runs[:, 0]]
        started = runs[:, 0] > 0  # constant since the first sample: not started yet
        for k in np.flatnonzero(long & started):
            x, y = int(runs[k, 0]), int(runs[k, 1])
            if repeats > share:
                # a quantized reading repeats at rest: only a hold far longer than any of
                # its other holds in the run (once it had started) says it stopped updating
                others = started.copy()
                others[k] = False
                other = float(np.max(held[others])) if others.any() else 0.0
                ordinary = max(other, float(min_n * median_interval(t)))
                if held[k] < quantized_outlasts * ordinary:
                    continue
                quantized.add(c)
            found.append((x, y, c, noisy))
    groups = _overlapping(found)
    findings = []
    for k, group in enumerate(groups):
        a = _common_start(group)
        if within(frozen, int(t[a])):
            continue  # the whole stream's freeze already says it
        others = [_held_s(t, g) for j, g in enumerate(groups) if j != k]
        finding = _stuck_finding(
            signal, commands, ctx, a, group, max(others or [0.0]), kind, commanded, quantized
        )
        if finding is not None:
            findings.append(finding)
    return findings


def _overlapping(runs: list[tuple[int, int, int, bool]]) -> list[list[tuple[int, int, int, bool]]]:
    """Runs of different channels that overlap in time are one event (a stream stalling takes
    a channel that happened to be holding already with it)."""
    groups: list[list[tuple[int, int, int, bool]]] = []
    end = -1
    for run in sorted(runs):
        if groups and run[0] <= end:
            groups[-1].append(run)
            end = max(end, run[1])
        else:
            groups.append([run])
            end = run[1]
    return groups


def _common_start(group: list[tuple[int, int, int, bool]]) -> int:
    """The sample most of the group's channels start holding at (ties: the start of the
    longest hold — a channel that happened to pause briefly just before is not the event)."""
    starts = [x for x, _, _, _ in group]
    longest = {x: max(y - x for x2, y, _, _ in group if x2 == x) for x in starts}
    return min(set(starts), key=lambda x: (-starts.count(x), -longest[x], x))


def _held_s(t: np.ndarray, group: list[tuple[int, int, int, bool]]) -> float:
    return max(float(t[y] - t[x]) for x, y, _, _ in group) / NS


def within(finding: Finding | None, t_ns: int) -> bool:
    if finding is None or finding.t_start_ns is None or finding.t_end_ns is None:
        return False
    return finding.t_start_ns - NS // 10 <= t_ns <= finding.t_end_ns


def _noisy(changes: np.ndarray, ctx: ExplainContext) -> bool:
    """Sample-to-sample changes that flip sign like noise rather than follow a smooth motion."""
    moving = changes[np.isfinite(changes) & (changes != 0)]
    if moving.size < 10:
        return False
    flips = np.mean(np.signbit(moving[1:]) != np.signbit(moving[:-1]))
    return bool(flips >= float(ctx.t(CAUSE, "noise_flip_share")))


def _stuck_finding(
    signal: Signal,
    commands: dict[str, list[tuple[Signal, str]]],
    ctx: ExplainContext,
    a: int,
    group: list[tuple[int, int, int, bool]],
    other_holds_s: float,
    kind: str,
    commanded: bool,
    quantized: set[int],
) -> Finding | None:
    """``other_holds_s``: the longest other exact hold of this stream's channels in the run — a
    simulator's channels hold exactly while still, but a stall outlasts every ordinary hold."""
    t = signal.t_ns
    members = [(c, y, noisy) for x, y, c, noisy in group if x == a] or [
        (c, y, noisy) for _, y, c, noisy in group
    ]
    b = min(last for _, last, _ in members)
    t0, t1 = int(t[a]), int(t[b])
    duration = (t1 - t0) / NS
    names = [signal.channels[c] for c, _, _ in members]
    noisy = any(n for _, _, n in members)
    # a reading that repeats often elsewhere holds whenever its quantity is still: only its
    # own command moving says the quantity should have changed
    coarse = any(c in quantized for c, _, _ in members)
    paired = [p for n in names for p in commands.get(n, [])]
    movers = _moving_pairs(paired, t0, t1, ctx)
    growth = float(np.clip((duration / float(ctx.t(CAUSE, "min_freeze_s")) - 1) / 4, 0.0, 1.0))
    outlasts = duration / other_holds_s if other_holds_s > 0 else float("inf")
    longest = float(ctx.t(CAUSE, "stuck_outlasts"))
    if outlasts < float(ctx.t(CAUSE, "habit_ratio")):
        return None  # the stream holds this long elsewhere too: a slow sensor's habit
    held = {c for c, _, _ in members}
    # the joint's own velocity and position disagree over the hold as they never do elsewhere
    kinematic = None if movers else _kinematic_contradiction(signal, names, a, b, ctx)
    if (
        coarse
        and not movers
        and not kinematic
        and not (noisy and _siblings_move(signal, a, b, held))
    ):
        # with no command of its own, only noise-like changes elsewhere and a stream that
        # keeps updating its other channels say this quantized reading should have moved
        return None
    if movers:
        # a joint that stops following its moving command: a reading that stopped updating,
        # or a joint blocked (``_effort_rises`` tells them apart where an effort is recorded)
        confidence = 0.5 + 0.2 * growth
        why = f"while {', '.join(movers[:3])} kept changing"
    elif kinematic:
        confidence = 0.6 + 0.3 * growth
        why = f"although {kinematic}"
    elif noisy:  # a hold just past the minimum is weak evidence on noise alone
        confidence = 0.45 + 0.4 * growth
        why = "although its sensor noise changes it on every other sample"
    elif other_holds_s > 0 and outlasts >= longest:
        confidence = 0.5 + 0.1 * float(np.clip((outlasts - longest) / longest, 0.0, 1.0))
        why = (
            f"— {outlasts:.0f}× longer than any other hold of {signal.stream} in the run "
            f"({other_holds_s:.2f} s)"
        )
    elif (
        other_holds_s == 0
        and not commanded
        and kind != "estimate"
        and duration >= 2 * float(ctx.t(CAUSE, "min_freeze_s"))
    ):
        # no command in the recording could have asked for the hold (a turtle keeps its heading
        # exactly while it is told to drive straight), and it is not an estimate whose parts
        # hold by physics (odometry keeps x and y exactly while the robot turns in place)
        confidence = 0.5 + 0.1 * growth
        why = f"— no other channel of {signal.stream} ever holds like this in the run"
    else:
        return None  # nothing tells a stall from holding still
    if paired and not movers and not kinematic:
        return None  # its own command held still too: it did as told
    can_hold = kind == "estimate" or (kind == "other" and not noisy)
    if not movers and not kinematic and can_hold and not _siblings_move(signal, a, b, held):
        # the whole stream holds with no command to say it should move: an estimate (odometry,
        # a GPS fix) of a robot at rest, or a noiseless (simulated) reading, does exactly that
        return None
    pushing = bool(movers) and _effort_rises(signal, names, a, b)
    beyond = _beyond_seen(ctx, signal, names, a)
    if beyond is not None:
        # a frozen reading keeps its last real value, one like the other runs': held where
        # no other episode ever went, the joint was moved there and stayed (a range
        # excursion, or a stop at its end), which tells the story first
        confidence = min(confidence, 0.45)
        why += f", at {beyond}, beyond the range of the robot's other episodes"
    elsewhere = (
        "elsewhere in the run it never holds nearly as long"
        if coarse
        else "elsewhere in the run it changes on almost every sample"
    )
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return Finding(
        cause=CAUSE,
        title=f"{signal.stream}: {names[0] if len(names) == 1 else f'{len(names)} channels'} stuck",
        explanation=(
            f"{shown} of {signal.stream} repeated exactly the same value for {duration:.2f} s "
            f"from {t0 / NS:.2f} s {why}; {elsewhere}."
        ),
        confidence=confidence,
        severity="high" if confidence >= 0.5 else "low",
        t_start_ns=t0,
        t_end_ns=t1,
        channels=[channel_ref(signal.stream, n) for n in names[:12]],
        evidence={
            "stuck_channels": names[:20],
            "stuck_values": {n: float(signal.column(n)[a]) for n in names[:8]},
            "samples": int(b - a + 1),
            "commands_moving": movers[:10],
            "noise_floor_says_it_moves": noisy,
            "effort_rises": pushing,
            "kinematics_disagree": kinematic,
            "quantized": coarse,
            "held_beyond_other_episodes": beyond is not None,
            # frozen exactly while its own command moves and its effort pushes: a blocked
            # joint, the story a tracking error (or a hard stop) tells; with no effort rising
            # the reading itself stopped, and the tracking error follows from the stall
            "same_story_as": "tracking_error" if movers and pushing else None,
        },
        next_step=(
            f"The values are stale from {t0 / NS:.2f} s: check the {signal.stream} driver or "
            "encoder for those channels and the log around that time."
        ),
    )


def _moving_pairs(
    pairs: list[tuple[Signal, str]], t0: int, t1: int, ctx: ExplainContext
) -> list[str]:
    """Of the given command channels, those that moved within [t0, t1]."""
    movers: list[str] = []
    for command, channel in pairs:
        column = command.column(channel)
        lo, hi = np.searchsorted(command.t_ns, [t0, t1])
        window = column[lo : hi + 1]
        if len(window) < 3:
            continue
        whole = float(robust_span(column[:, None])[0])
        part = float(value_span(window[:, None])[0])
        if whole > 0 and part > float(ctx.t(CAUSE, "move_fraction")) * whole:
            movers.append(channel_ref(command.stream, channel))
    return movers


def _siblings_move(signal: Signal, a: int, b: int, held: set[int]) -> bool:
    """Whether another channel of the stream keeps changing on most samples of [a, b]: the
    stream is alive and moving, only the held channels are stuck."""
    window = signal.values[a : b + 1]
    if len(window) < 3:
        return False
    with np.errstate(invalid="ignore"):
        changing = (np.abs(np.diff(window, axis=0)) > 0).mean(axis=0)
    return any(changing[c] >= 0.5 for c in range(window.shape[1]) if c not in held)


def _effort_rises(signal: Signal, names: list[str], a: int, b: int) -> bool:
    """Whether a held joint's effort (same stream, same joint) keeps changing and pushes
    harder during the hold than before it: a joint blocked against something, whose position
    reads still because it IS still, rather than a reading that stopped updating."""
    for name in names:
        family, joint = split_channel(name)
        effort = f"effort/{joint}"
        if family is None or effort == name or effort not in signal.channels:
            continue
        column = signal.column(effort)
        before, during = column[max(0, a - (b - a)) : a], column[a : b + 1]
        if len(before) < 3 or len(during) < 3 or np.ptp(during) <= 0:
            continue  # no history before the hold, or frozen along with the position
        if np.nanmean(np.abs(during)) > np.nanpercentile(np.abs(before), 90):
            return True
    return False


def _beyond_seen(ctx: ExplainContext, signal: Signal, names: list[str], a: int) -> str | None:
    """The first held channel that went clearly beyond the range the robot's other episodes
    reach on it just before holding there, described ("kLeftElbow = 1.33"), or None.

    Only with enough episodes to know that range (range_excursion's ``min_peers``), beyond it
    by its ``min_excess`` (a handful of episodes leaves most of a joint's range unseen), and
    having left it shortly before (``excursion_lead_s``): a run that is outside from early on
    differs as a whole, and a reading freezing there keeps a value it really had."""
    each = getattr(ctx.history, "each", None)
    if not callable(each):
        return None
    t = signal.t_ns
    lead = float(ctx.t(CAUSE, "excursion_lead_s")) * NS
    for name in names:
        ranges = each(signal.stream, name, False)
        if len(ranges) < int(ctx.t("range_excursion", "min_peers")):
            continue
        lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
        margin = float(ctx.t("range_excursion", "min_excess")) * (hi - lo)
        column = signal.column(name)
        value = float(column[a])
        if not hi > lo or lo - margin <= value <= hi + margin:
            continue
        with np.errstate(invalid="ignore"):
            inside = np.flatnonzero((column[: a + 1] >= lo) & (column[: a + 1] <= hi))
        if len(inside) and t[a] - t[inside[-1]] <= lead:
            return f"{name} = {value:.4g}"
    return None


def _kinematic_contradiction(
    signal: Signal, names: list[str], a: int, b: int, ctx: ExplainContext
) -> str | None:
    """Where a held channel has its joint's other half in the stream (``position/j`` and
    ``velocity/j``): over samples [a, b], how far the position's rate of change and the
    velocity disagree, against how far they ever disagree elsewhere in the run.

    A joint's velocity and position agree as it moves — up to a scale the rest of the run
    fits (a simulator's clock slower than the recorder's, degrees against radians) and up to
    filtering, lag and noise, whose worst (``kinematic_quantile``) the rest of the run shows.
    A reading that stopped updating leaves them disagreeing on average over the whole hold by
    more than that. Returns what they say, or None."""
    t = _sample_clock(signal)
    if t is None or b - a < 3 or len(t) < 3 * (b - a + 1) // 2:
        return None
    outside = np.ones(len(t), dtype=bool)
    outside[max(0, a - 2) : b + 3] = False  # the hold and the jump where the reading resumes
    factor = float(ctx.t(CAUSE, "kinematic_factor"))
    for name in names:
        family, joint = split_channel(name)
        partner = {"position": "velocity", "velocity": "position"}.get(family or "")
        if partner is None or f"{partner}/{joint}" not in signal.channels:
            continue
        pos_name = name if family == "position" else f"position/{joint}"
        vel_name = name if family == "velocity" else f"velocity/{joint}"
        p, v = signal.column(pos_name), signal.column(vel_name)
        if not (np.isfinite(p).all() and np.isfinite(v).all()):
            continue
        rate = np.gradient(p, t)
        g, w = rate[outside], v[outside]
        if w @ w <= 0 or np.std(g) <= 0 or np.corrcoef(g, w)[0, 1] < 0.8:
            continue  # velocity and position do not follow each other here: nothing to judge
        scale = float(g @ w / (w @ w))
        worst = float(np.quantile(np.abs(g - scale * w), float(ctx.t(CAUSE, "kinematic_quantile"))))
        held = float(np.mean(np.abs(rate[a : b + 1] - scale * v[a : b + 1])))
        if held > factor * max(worst, 1e-12):
            return (
                f"{vel_name} averaged {float(np.mean(v[a : b + 1])):.3g} while {pos_name} "
                f"changed at {float(np.mean(rate[a : b + 1])):.3g}/s — they disagree "
                f"{held / max(worst, 1e-12):.0f}× more than anywhere else in the run"
            )
    return None


def _sample_clock(signal: Signal) -> np.ndarray | None:
    """Seconds at which the samples were taken: the message's own stamps where the recording
    kept them (a simulator stamps its sim time; the recorder's clock adds delivery jitter that
    a derivative amplifies), else the episode time; None when neither strictly increases."""
    for clock in ("header", None):
        t = signal.t_ns if clock is None else signal.times.get(clock)
        if t is not None and len(t) == len(signal.t_ns) and np.all(np.diff(t) > 0):
            return np.asarray(t, dtype=np.float64) / NS
    return None
