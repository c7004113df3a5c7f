"""Sensor stall: a measured stream stops updating, or all its live channels freeze while the
commands keep moving.

Two signatures of a dead sensor / broadcaster:

* **stopped** — the stream's last sample comes long before the end (≫ its own interval) while
  other streams keep recording;
* **frozen** — the stream keeps publishing but every channel that normally changes from sample
  to sample repeats the same value for a sustained span, while the action streams are moving
  (a robot holding still under still commands is not a stall).

Channels constant for the whole run (an unused joint, effort fields a simulator leaves at zero)
and step-like channels that rarely change (a binary hand state) are not "live" and are ignored.

A third signature needs no command at all: **stuck** — one channel (or several) that changes on
almost every sample everywhere else in the run repeats exactly for a sustained span. Its own
repeat rate elsewhere says how unlikely such a run is by chance, and a channel whose
sample-to-sample changes flip sign like noise cannot hold a value exactly even while the robot
holds still: a real sensor's noise floor never repeats.
"""

from __future__ import annotations

import re

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes._claims import held_speeds
from robotrace_desktop.analysis.causes._command_motion import (
    column_span,
    moving_commands,
    moving_pairs,
    paired_commands,
    related_commands,
)
from robotrace_desktop.analysis.causes._series import median as median_of
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext, Signal
from robotrace_desktop.analysis.finding import Finding, channel_ref
from robotrace_desktop.core.timebase import NS_PER_S as NS

CAUSE = "sensor_stall"
SENSOR_ROLES = frozenset({"state", "other"})
COMMAND_ROLES = frozenset({"action", "command"})
_F32 = 2.0**-20  # a change within ~8 float32 steps of the value: re-encoding, not a reading

thresholds.register(
    CAUSE,
    min_samples=(10, "streams with fewer samples are not checked"),
    stop_factor=(
        20.0,
        "a stream stopped when its last sample is this × its interval before the end",
    ),
    min_stop_s=(1.0, "…and at least this many seconds before the other streams end"),
    min_freeze_s=(0.5, "all live channels unchanged for at least this long is a freeze"),
    min_freeze_samples=(5, "…and for at least this many samples"),
    live_fraction=(
        0.5,
        "a channel is live when it changes in this share of its intervals between its first "
        "and last change",
    ),
    rel_tol=(1e-6, "a change smaller than this × the channel's range counts as unchanged"),
    move_fraction=(
        0.02,
        "commands move when a channel spans this share of its 1–99 % range within the span",
    ),
    stuck_repeat_share=(
        0.05,
        "stuck channel: it repeats a value in at most this share of its other intervals",
    ),
    stuck_outlasts=(
        3.0,
        "stuck channel, no other evidence: it holds this many times longer than any other hold",
    ),
    habit_ratio=(
        2.0,
        "stuck channel: another hold of the stream at least 1/this as long = its habit",
    ),
    noise_flip_share=(
        0.25,
        "stuck channel: its changes flip sign this often elsewhere = it carries sensor noise",
    ),
)


def analyze(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    min_samples = int(ctx.t(CAUSE, "min_samples"))
    signals = [s for s in data.signals() if s.role != "noise" and len(s.t_ns) >= min_samples]
    cameras = {k: v for k, v in data.frame_times().items() if len(v) >= min_samples}
    commands = [s for s in signals if s.role in COMMAND_ROLES]
    findings: list[Finding] = []
    for signal in signals:
        if signal.role not in SENSOR_ROLES:
            continue
        stopped = _stopped(signal, signals, cameras, ctx)
        if stopped is not None:
            findings.append(stopped)
        related = related_commands(signal, commands, data)
        frozen = None
        if signal.role == "state":  # a colour sensor over a still background is frozen by physics
            frozen = _frozen(signal, related, ctx)
        # a freeze the commands cannot vouch for may still be told by the channels' own noise
        sure = frozen if frozen is not None and frozen.confidence >= 0.5 else None
        kind = sensor_kind(data, signal.stream)
        paired = paired_commands(signal, commands, data)
        stuck = _stuck(signal, paired, ctx, sure, kind, bool(related))
        if frozen is not None and not (
            sure is None and any(_within(frozen, f.t_start_ns or 0) for f in stuck)
        ):
            findings.append(frozen)
        findings += stuck
    return findings


#: message types that carry a raw measurement: its noise never lets it repeat exactly
_RAW_SENSOR_TYPES = re.compile(
    r"(^|/)(Imu|MagneticField|FluidPressure|Temperature|Range|WrenchStamped|Wrench)$"
)
#: message types that carry an estimate: odometry integrates zero motion into the same pose,
#: a GNSS receiver's static hold repeats its fix: both hold exactly while the robot is at rest
_ESTIMATE_TYPES = re.compile(
    r"(^|/)(Odometry|NavSatFix|PoseWithCovarianceStamped|PoseWithCovariance)$"
)


def sensor_kind(data: EpisodeData, stream: str) -> str:
    """ "raw", "estimate" or "other" (the message type does not say)."""
    try:
        kind = data.info.stream(stream).message_type or ""
    except Exception:  # a stream the info does not know: assume nothing
        return "other"
    if _RAW_SENSOR_TYPES.search(kind):
        return "raw"
    return "estimate" if _ESTIMATE_TYPES.search(kind) else "other"


def _median_interval(t: np.ndarray) -> float:
    dt = np.diff(t)
    dt = dt[dt > 0]
    return median_of(dt) if len(dt) else 0.0


def _stopped(
    signal: Signal,
    signals: list[Signal],
    cameras: dict[str, np.ndarray],
    ctx: ExplainContext,
) -> Finding | None:
    median = _median_interval(signal.t_ns)
    if median <= 0:
        return None
    last = int(signal.t_ns[-1])
    margin = max(
        float(ctx.t(CAUSE, "stop_factor")) * median, float(ctx.t(CAUSE, "min_stop_s")) * NS
    )
    others = [(s.stream, s.t_ns) for s in signals if s is not signal] + list(cameras.items())
    going: list[tuple[str, int]] = []
    for name, t in others:
        after = len(t) - int(np.searchsorted(t, last + median, "right"))
        if after >= 3 and t[-1] - last >= margin:
            going.append((name, int(t[-1])))
    if not going:
        return None
    end = max(t for _, t in going)
    silence = end - last
    ratio = silence / margin
    confidence = 0.6 + 0.3 * float(np.clip((ratio - 1) / 4, 0.0, 1.0))
    if signal.role != "state":
        confidence -= 0.1
    names = [n for n, _ in sorted(going, key=lambda g: -g[1])]
    shown = ", ".join(names[:3])
    return Finding(
        cause=CAUSE,
        title=f"{signal.stream} stopped updating",
        explanation=(
            f"{signal.stream} stopped updating at {last / NS:.2f} s, {silence / NS:.1f} s before "
            f"the end, while {shown} kept recording (it normally updates every "
            f"{median / 1e6:.1f} ms)."
        ),
        confidence=confidence,
        severity="high",
        t_start_ns=last,
        t_end_ns=end,
        channels=[channel_ref(signal.stream)],
        evidence={
            "last_sample_ns": last,
            "other_streams_end_ns": end,
            "silence_ns": silence,
            "median_interval_ns": median,
            "still_recording": names[:10],
            "stop_factor": float(ctx.t(CAUSE, "stop_factor")),
            "min_stop_s": float(ctx.t(CAUSE, "min_stop_s")),
        },
        next_step=(
            f"Check the node publishing {signal.stream} (joint_state_broadcaster / driver), the "
            f"sensor cable and the log around {last / NS:.1f} s."
        ),
    )


def _frozen(signal: Signal, commands: list[Signal], ctx: ExplainContext) -> Finding | None:
    values = signal.values
    t = signal.t_ns
    span = column_span(values)
    tol = float(ctx.t(CAUSE, "rel_tol")) * span
    with np.errstate(invalid="ignore"):
        changed = ~(np.abs(np.diff(values, axis=0)) <= tol)  # NaN counts as a change
    # Live: while the channel is active (first to last change) it changes most samples — a
    # continuous measurement, unlike a binary gripper state that flips twice per run.
    counts = changed.sum(axis=0)
    first = changed.argmax(axis=0)
    last = len(changed) - 1 - changed[::-1].argmax(axis=0)
    active = np.maximum(last - first + 1, 1)
    live_fraction = float(ctx.t(CAUSE, "live_fraction"))
    live = (span > 0) & (counts >= 3) & (counts / active >= live_fraction)
    if not live.any():
        return None
    # Every channel that varies at all must be unchanged (a turtle turning on the spot keeps
    # x/y but not theta); live channels only show that the stream normally changes.
    varying = span > 0
    still = np.asarray(~changed[:, varying].any(axis=1))  # interval i: samples i, i+1 equal
    runs = _runs(still)
    if not len(runs):
        return None
    min_s = float(ctx.t(CAUSE, "min_freeze_s"))
    min_n = int(ctx.t(CAUSE, "min_freeze_samples"))
    starts, stops = runs[:, 0], runs[:, 1]  # samples starts..stops are identical
    durations = t[stops] - t[starts]
    keep = (durations >= min_s * NS) & (stops - starts + 1 >= min_n)
    if not keep.any():
        return None
    live_names = [c for c, ok in zip(signal.channels, varying, strict=True) if ok]
    moving: list[tuple[int, int, list[str]]] = []
    for a, b in zip(starts[keep], stops[keep], strict=True):
        # a held speed is the message saying it moved: stale, whatever the commands did
        movers = moving_commands(commands, int(t[a]), int(t[b]), ctx) or held_speeds(signal, a)
        if movers or not commands:
            moving.append((int(a), int(b), movers))
    if not moving:
        return None  # the robot holds still because it was told to
    a, b, movers = moving[0]
    longest = max(moving, key=lambda r: t[r[1]] - t[r[0]])
    t0, t1 = int(t[a]), int(t[b])
    duration = (t1 - t0) / NS
    if movers:
        confidence = 0.6 + 0.3 * float(np.clip((duration / min_s - 1) / 4, 0.0, 1.0))
        why = f"while {', '.join(movers[:3])} kept changing"
        if not commands or "=" in movers[0]:
            why = f"while its own {', '.join(movers[:2])} said it was moving"
    else:
        confidence, why = 0.3, "(no command stream to tell a stall from holding still)"
    ended = b == len(t) - 1
    return Finding(
        cause=CAUSE,
        title=f"{signal.stream} froze",
        explanation=(
            f"All {len(live_names)} changing channels of {signal.stream} repeated the same values "
            f"for {duration:.2f} s from {t0 / NS:.2f} s"
            + (" to the end" if ended else "")
            + f" {why}."
        ),
        confidence=confidence,
        severity="high" if movers else "low",
        t_start_ns=t0,
        t_end_ns=t1,
        channels=[channel_ref(signal.stream, c) for c in live_names[:12]],
        evidence={
            "frozen_spans": [
                {"t_start_ns": int(t[x]), "t_end_ns": int(t[y]), "samples": int(y - x + 1)}
                for x, y, _ in moving[:10]
            ],
            "longest_span_ns": int(t[longest[1]] - t[longest[0]]),
            "frozen_channels": len(live_names),
            "frozen_values": {
                c: float(values[a, signal.channels.index(c)]) for c in live_names[:8]
            },
            "commands_moving": movers[:10],
            "min_freeze_s": min_s,
            "move_fraction": float(ctx.t(CAUSE, "move_fraction")),
        },
        next_step=(
            f"The values are stale from {t0 / NS:.2f} s: check the {signal.stream} publisher "
            "(joint_state_broadcaster / driver / sensor cable) and the log around that time."
        ),
    )


def _runs(flags: np.ndarray) -> np.ndarray:
    """(k, 2) sample ranges [first, last] covered by runs of True intervals."""
    padded = np.concatenate(([0], flags.astype(np.int8), [0]))
    edges = np.diff(padded)
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)  # interval index one past the run = last sample index
    return np.column_stack([starts, ends]) if len(starts) else np.empty((0, 2), dtype=np.int64)


def _stuck(
    signal: Signal,
    commands: dict[str, list[tuple[Signal, str]]],
    ctx: ExplainContext,
    frozen: Finding | None,
    kind: str,
    commanded: bool,
) -> list[Finding]:
    """Channels that repeat one value exactly for a sustained span although they change on
    almost every other sample; channels stuck from the same sample are one finding."""
    t = signal.t_ns
    values = signal.values
    min_s = float(ctx.t(CAUSE, "min_freeze_s"))
    min_n = int(ctx.t(CAUSE, "min_freeze_samples"))
    share = float(ctx.t(CAUSE, "stuck_repeat_share"))
    tol = float(ctx.t(CAUSE, "rel_tol")) * column_span(values)
    with np.errstate(invalid="ignore"):
        diffs = np.diff(values, axis=0)
        same = np.abs(diffs) <= np.maximum(tol, _F32 * np.abs(values[1:]))  # NaN: a change
    found: list[tuple[int, int, int, bool]] = []  # (first sample, last sample, channel, noisy)
    for c in range(values.shape[1]):
        if tol[c] <= 0:
            continue
        runs = _runs(same[:, c])
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
        if elsewhere.sum() < 3 * min_n or same[elsewhere, c].mean() > share:
            continue  # a channel that often holds its value: holding it is not a stall
        noisy = _noisy(diffs[elsewhere, c], ctx)
        found += [(int(x), int(y), c, noisy) for x, y in runs[long] if x > 0]
        # (constant since the first sample: not started yet, not stalled)
    groups = _overlapping(found)
    findings = []
    for k, group in enumerate(groups):
        a = _common_start(group)
        if _within(frozen, int(t[a])):
            continue  # the whole stream's freeze already says it
        others = [_held_s(t, g) for j, g in enumerate(groups) if j != k]
        finding = _stuck_finding(
            signal, commands, ctx, a, group, max(others or [0.0]), kind, commanded
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


def _within(finding: Finding | None, t_ns: int) -> bool:
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
    paired = [p for n in names for p in commands.get(n, [])]
    movers = moving_pairs(paired, t0, t1, ctx)
    growth = float(np.clip((duration / float(ctx.t(CAUSE, "min_freeze_s")) - 1) / 4, 0.0, 1.0))
    outlasts = duration / other_holds_s if other_holds_s > 0 else float("inf")
    longest = float(ctx.t(CAUSE, "stuck_outlasts"))
    if outlasts < float(ctx.t(CAUSE, "habit_ratio")):
        return None  # the stream holds this long elsewhere too: a slow sensor's habit
    if movers:
        # a joint that stops following its moving command is also a tracking error or a stop
        # at a limit, which those analyzers name more precisely: this stays below them
        confidence = 0.5 + 0.2 * growth
        why = f"while {', '.join(movers[:3])} kept changing"
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
    if paired and not movers:
        return None  # its own command held still too: it did as told
    can_hold = kind == "estimate" or (kind == "other" and not noisy)
    if not movers and can_hold and not _siblings_move(signal, a, b, {c for c, _, _ in members}):
        # the whole stream holds with no command to say it should move: an estimate (odometry,
        # a GPS fix) of a robot at rest, or a noiseless (simulated) reading, does exactly that
        return None
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return Finding(
        cause=CAUSE,
        title=f"{signal.stream}: {names[0] if len(names) == 1 else f'{len(names)} channels'} stuck",
        explanation=(
            f"{shown} of {signal.stream} repeated exactly the same value for {duration:.2f} s "
            f"from {t0 / NS:.2f} s {why}; elsewhere in the run it changes on almost every sample."
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
            # frozen exactly while its own command moves: a stuck sensor or a blocked joint,
            # the story a tracking error tells as well (ranking puts neither first for it)
            "same_story_as": "tracking_error" if movers else None,
        },
        next_step=(
            f"The values are stale from {t0 / NS:.2f} s: check the {signal.stream} driver or "
            "encoder for those channels and the log around that time."
        ),
    )


def _siblings_move(signal: Signal, a: int, b: int, held: set[int]) -> bool:
    """Whether another channel of the stream keeps changing on most samples of [a, b]: the
    stream is alive and moving, only the held channels are stuck."""
    window = signal.values[a : b + 1]
    if len(window) < 3:
        return False
    with np.errstate(invalid="ignore"):
        changing = (np.abs(np.diff(window, axis=0)) > 0).mean(axis=0)
    return any(changing[c] >= 0.5 for c in range(window.shape[1]) if c not in held)
