"""Sensor stall seen in the levels: a live reading that keeps publishing but stops carrying
information — a handful of values repeated (held, flickering between two or three readings,
refreshed only every k-th sample) where elsewhere every sample is new.

Why it works: a live measurement (an encoder on a moving joint, a pose, an IMU axis) takes a new
value on almost every sample — its motion and its noise see to that. A driver that stopped
reading the hardware republishes what it has: the last value (an exact hold, which ``flatline``
also judges), the last value refreshed now and then (sample-and-hold), or two or three stale
readings in turn (flicker). Each of them collapses the number of DISTINCT values in a short
window from ~one per sample to a few — whatever the units, the noise or the motion.

How: sliding windows of ~0.5 s (at least 8 samples, hop ¼ window); each window's share of
distinct values. A channel qualifies when, outside the candidate stretch, its windows are
almost all new values (median share ≥ ``live_share``, and even its quieter windows keep a fair
share: it never rests long enough to repeat itself). A stretch of windows whose share stays
below ``collapse_share`` for at least ``min_s`` is the stall, if the robot's other live channels
keep their usual activity meanwhile — or, the whole message stale and nothing else measured,
the commands driving it move (a robot at rest is not a stall). It is dated by walking back
from the stretch while the samples still take one of the stretch's few values (the last
genuine reading is the first one republished).

Not stalls: a quantised reading at rest or settling, stepping between neighbouring levels (few
distinct values by resolution, not by staleness); a channel live only late and briefly (a
disturbance made it so: no normal to depart from); one part of an estimate (odometry, a GNSS
fix) — it holds and steps by its update's quantum one part at a time, so only its whole
message going stale counts; a reading that echoes its command (every value it holds is one the
command sent: a simulator reporting the commanded speed); a robot resting while another robot
of the recording moves. A joint whose own command moves meanwhile is the tracking error's
story too: the stall stays just confident, below it.
"""

from __future__ import annotations

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes._command_motion import (
    moving_commands,
    moving_pairs,
    paired_commands,
    related_commands,
)
from robotrace_desktop.analysis.causes._series import (
    NS,
    binary_like_columns,
    column_summary,
)
from robotrace_desktop.analysis.causes.flatline import COMMAND_ROLES, sensor_kind
from robotrace_desktop.analysis.causes.noise_stall import (
    NoiseBlocks,
    StalledRun,
    noise_blocks,
    others_active,
)
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext, Signal
from robotrace_desktop.analysis.finding import Finding, channel_ref

CAUSE = "sensor_stall"
thresholds.register(
    CAUSE,
    levels_window_s=(0.5, "level collapse: window (s) whose distinct values are counted"),
    levels_live_share=(
        0.9,
        "…a channel is live when its windows elsewhere are at least this share new values",
    ),
    levels_collapse_share=(0.3, "…a stall's windows hold at most this share of distinct values"),
    levels_min_s=(1.0, "…for at least this long (s)"),
)

_MIN_RATE_HZ = 10.0
_FRAME_BUDGET = 2_000_000  # window samples sorted at once
_MIN_WINDOW = 8
_MIN_WINDOWS = 12  # windows in the run: fewer cannot show what is normal for the channel
_MIN_DISTINCT = 32  # fewer distinct values in the run: a level, a flag, a quantised reading
#: a live channel's quieter windows (10th percentile) still hold this share of new values
_QUIET_SHARE = 0.6


class LevelRun(StalledRun):
    held_share: float  # distinct values' share of the samples during the stall, and elsewhere
    elsewhere_share: float
    values: int  # distinct values during the stall
    samples: int


def analyze(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    measured = [s for s in data.signals() if s.role in ("state", "other")]
    levels: list[NoiseBlocks | None] = [noise_blocks(signal, ctx) for signal in measured]
    findings = []
    commands = [s for s in data.signals() if s.role in COMMAND_ROLES]
    for signal, block in zip(measured, levels, strict=True):
        found = _collapsed(signal, ctx)
        if not found:
            continue
        # the others of this message are judged without any of its stale channels
        stale = {r["channel"] for r in found}
        skip = (
            set()
            if block is None
            else {j for j, k in enumerate(block.cols) if signal.channels[k] in stale}
        )
        related = related_commands(signal, commands, data)
        same_robot = _same_robot(signal, measured, levels)
        runs = [
            run
            for run in found
            if int(signal.t_ns[0]) + NS <= run["start_ns"]
            and _robot_moving({**run, "columns": skip}, block, same_robot, related, ctx)
            and not _echoes_command(signal, run, related)
        ]
        if runs and sensor_kind(data, signal.stream) == "estimate":
            # odometry or a GNSS fix holds, and steps by its update's quantum, one part at a
            # time (the heading while going straight, the position while turning slowly): only
            # the whole estimate going stale at once — position, heading and speed — says more
            # — while the robot is told to move (at rest, the whole estimate holds by physics),
            # or with no command recorded, before the recording ends (a robot parked at the end)
            lead = max(runs, key=lambda r: r["end_ns"] - r["start_ns"])
            together = sum(abs(r["start_ns"] - lead["start_ns"]) <= NS // 2 for r in runs)
            told = (
                bool(moving_commands(related, lead["start_ns"], lead["end_ns"], ctx))
                if related
                else lead["end_ns"] < int(signal.t_ns[-1]) - NS // 2
            )
            if together < 3 or not told:
                runs = []
        if runs:
            paired = paired_commands(signal, commands, data)
            findings.append(_finding(signal, runs, ctx, paired))
    return findings


def _robot_moving(
    run: LevelRun,
    own: NoiseBlocks | None,
    levels: list[NoiseBlocks | None],
    commands: list[Signal],
    ctx: ExplainContext,
) -> bool:
    """A sensor at rest because the robot rests is not a stall: meanwhile the recording's other
    live channels keep their usual activity — or, when nothing else is measured (the whole
    message went stale), the commands that drive this stream keep moving."""
    if others_active(run, own, levels):
        return True
    return bool(moving_commands(commands, run["start_ns"], run["end_ns"], ctx))


def _echoes_command(signal: Signal, run: LevelRun, commands: list[Signal]) -> bool:
    """Every value the channel held during the run is one its robot's command sent (a
    simulator reporting the commanded speed, a driver echoing its last command): it steps at
    the command's rate because it follows the command, not because it went stale."""
    column = signal.column(run["channel"])
    lo, hi = np.searchsorted(signal.t_ns, [run["start_ns"], run["end_ns"]], side="right")
    held = np.unique(column[max(0, lo - 1) : hi])
    if held.size < 2:
        return False  # one value held: nothing it followed
    for command in commands:
        a, b = np.searchsorted(command.t_ns, [run["start_ns"] - NS // 2, run["end_ns"]])
        sent = command.values[a : b + 1]
        if any(_among(held, sent[:, j]) for j in range(sent.shape[1])):
            return True
    return False


def _among(values: np.ndarray, sent: np.ndarray) -> bool:
    """Every one of ``values`` is one of ``sent`` (to float32 precision: a message may carry a
    command's float64 value in a float32 field)."""
    sent = np.unique(sent[np.isfinite(sent)])
    if not sent.size:
        return False
    sent = np.r_[sent, sent[-1]]  # two at least: every value has a neighbour either side
    i = np.clip(np.searchsorted(sent, values), 1, sent.size - 1)
    nearest = np.minimum(np.abs(values - sent[i - 1]), np.abs(values - sent[i]))
    tol = 1e-6 * np.maximum(np.abs(values), 1.0)
    return bool(np.all(nearest <= tol))


def _same_robot(
    signal: Signal, measured: list[Signal], levels: list[NoiseBlocks | None]
) -> list[NoiseBlocks | None]:
    """The level blocks of the streams of the robot ``signal`` belongs to: in a recording of
    several robots (``/turtle1/...``, ``/turtle2/...``) another robot's activity says nothing
    about this one resting (a turtle parked while the other drives is not a stall)."""
    own = _robot_of(signal.stream)
    if not own or not any(_robot_of(s.stream) not in ("", own) for s in measured):
        return levels
    return [b for s, b in zip(measured, levels, strict=True) if _robot_of(s.stream) == own]


def _robot_of(stream: str) -> str:
    """A stream's top-level namespace (``turtle1`` of ``/turtle1/pose``), or ""."""
    parts = [p for p in stream.split("/") if p]
    return parts[0] if stream.startswith("/") and len(parts) > 1 else ""


def _collapsed(signal: Signal, ctx: ExplainContext) -> list[LevelRun]:
    """Per usable channel, its longest stretch of collapsed windows (if any)."""
    t = signal.t_ns
    if t.size < 2:
        return []
    dt = np.diff(t)
    dt = dt[dt > 0]
    if not dt.size:
        return []
    rate = NS / float(np.median(dt))
    w = max(_MIN_WINDOW, round(ctx.t(CAUSE, "levels_window_s") * rate))
    hop = max(1, w // 4)
    if rate < _MIN_RATE_HZ or (t.size - w) // hop + 1 < _MIN_WINDOWS:
        return []
    summary = column_summary(signal.values)
    usable = (summary["finite"] == t.size) & (summary["distinct"] >= _MIN_DISTINCT)
    usable &= ~binary_like_columns(signal.channels, summary)
    cols = np.flatnonzero(usable)
    if not cols.size:
        return []
    frames = np.lib.stride_tricks.sliding_window_view(signal.values[:, cols], w, axis=0)[::hop]
    # a few channels at a time: the sorted (windows × channels × window) copy stays a few MB
    step = max(1, _FRAME_BUDGET // max(1, frames.shape[0] * w))
    share = np.concatenate(
        [
            (1 + np.count_nonzero(np.diff(np.sort(frames[:, j : j + step], axis=-1)), axis=-1)) / w
            for j in range(0, cols.size, step)
        ],
        axis=1,
    )
    need = max(2, int(np.ceil((ctx.t(CAUSE, "levels_min_s") * rate - w) / hop)) + 1)
    found: list[LevelRun] = []
    for j, k in enumerate(cols):
        run = _low_run(share[:, j], ctx, need)
        if run is None:
            continue
        a, b, held, elsewhere = run
        lo, hi = a * hop, min(t.size - 1, (b - 1) * hop + w - 1)
        column = signal.values[:, k]
        # a collapsed window may still begin (or end) with a few genuine readings — up to
        # ``collapse_share`` of it: the stale values are those of the stretch's core
        edge = int(np.ceil(ctx.t(CAUSE, "levels_collapse_share") * w))
        core = column[min(lo + edge, hi) : max(lo + edge, hi - edge) + 1]
        stale = np.unique(core)
        step = _quantum(column, lo, hi)
        if stale.size > 1 and np.median(np.diff(stale)) <= 1.5 * step:
            moves = np.sign(np.diff(column[lo : hi + 1]))
            moves = moves[moves != 0]
            creeping = abs(float(moves.sum())) >= 0.8 * moves.size
            low, high = np.percentile(column[lo : hi + 1], [5.0, 95.0])
            if creeping or high - low <= 8.0 * step:
                continue  # a quantised reading at rest, or creeping one level at a time
        onset = min(lo + edge, hi)
        while onset > 0 and np.isin(column[onset - 1], stale):
            onset -= 1
        found.append(
            {
                "channel": signal.channels[k],
                "columns": {int(j)},
                "start_ns": int(t[onset]),
                "end_ns": int(t[hi]),
                "held_share": held,
                "elsewhere_share": elsewhere,
                "values": int(stale.size),
                "samples": int(hi - onset + 1),
            }
        )
    return found


def _quantum(column: np.ndarray, lo: int, hi: int) -> float:
    """The channel's smallest step outside [lo, hi] (5th percentile of its non-zero changes):
    its resolution, when it is quantised."""
    steps = np.abs(np.diff(np.concatenate((column[:lo], column[hi + 1 :]))))
    steps = steps[steps > 0]
    return float(np.percentile(steps, 5)) if steps.size else 0.0


def _low_run(
    share: np.ndarray, ctx: ExplainContext, need: int
) -> tuple[int, int, float, float] | None:
    """The longest stretch of windows [a, b) with few distinct values, if the channel's windows
    outside it are almost all new values — judged between its first and last live window (a
    simulated robot rests exactly before its run starts and after it ends)."""
    live = np.flatnonzero(share >= ctx.t(CAUSE, "levels_live_share"))
    if live.size < _MIN_WINDOWS // 2:
        return None
    first, last = int(live[0]), int(live[-1]) + 1  # before and after: not started, or done
    if first > 0.25 * share.size and last - first < 0.5 * share.size:
        # live late and briefly (an unrelated disturbance made it so): no normal to depart from
        return None
    low = share <= ctx.t(CAUSE, "levels_collapse_share")
    low[:first] = False
    edges = np.flatnonzero(np.diff(np.concatenate(([0], low.astype(np.int8), [0]))))
    spans = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    spans = [s for s in spans if s[1] - s[0] >= need and s[0] > 0]
    if not spans:
        return None
    a, b = max(spans, key=lambda s: s[1] - s[0])
    # the windows overlapping the stretch's edges are partly stale: left out of "elsewhere"
    outside = np.concatenate((share[first : max(first, a - 3)], share[b + 3 : last]))
    if outside.size < _MIN_WINDOWS // 2:
        return None
    if np.median(outside) < ctx.t(CAUSE, "levels_live_share"):
        return None  # it repeats values elsewhere too: a slow or quantised channel
    if np.percentile(outside, 10) < _QUIET_SHARE:
        return None  # it rests now and then: resting is not a stall
    return a, b, float(np.median(share[a:b])), float(np.median(outside))


def _finding(
    signal: Signal,
    runs: list[LevelRun],
    ctx: ExplainContext,
    paired: dict[str, list[tuple[Signal, str]]],
) -> Finding:
    lead = max(runs, key=lambda r: r["end_ns"] - r["start_ns"])
    together = [r for r in runs if abs(r["start_ns"] - lead["start_ns"]) <= NS // 2]
    names = [r["channel"] for r in together]
    duration = (lead["end_ns"] - lead["start_ns"]) / NS
    min_s = float(ctx.t(CAUSE, "levels_min_s"))
    confidence = 0.5 + 0.2 * float(np.clip((duration / min_s - 1) / 3, 0.0, 1.0))
    if len(together) > 1:
        confidence += 0.1  # the whole message went stale, not one channel
    pairs = [p for n in names for p in paired.get(n, [])]
    movers = moving_pairs(pairs, lead["start_ns"], lead["end_ns"], ctx)
    if movers:
        # a joint that stops following its own moving command is the tracking error's (or a
        # blocked joint's) story as much as a stall's: it stays below them, as flatline's does
        confidence = min(confidence, 0.55)
    shown = ", ".join(names[:4]) + ("…" if len(names) > 4 else "")
    return Finding(
        cause=CAUSE,
        title=f"{signal.stream}: {names[0]} repeated a few stale values",
        explanation=(
            f"{shown} of {signal.stream} took only {lead['values']} distinct value"
            f"{'s' if lead['values'] != 1 else ''} over {lead['samples']} samples "
            f"({duration:.2f} s from {lead['start_ns'] / NS:.2f} s) — held, refreshed now and "
            f"then or flickering — where anywhere else in the run "
            f"{lead['elsewhere_share']:.0%} of its samples are new values, while the robot's "
            "other channels kept moving."
        ),
        confidence=float(min(confidence, 0.85)),
        severity="high",
        t_start_ns=int(lead["start_ns"]),
        t_end_ns=int(lead["end_ns"]),
        channels=[channel_ref(signal.stream, n) for n in names[:12]],
        evidence={
            "distinct_values": lead["values"],
            "samples": lead["samples"],
            "distinct_share_in_stall": round(lead["held_share"], 3),
            "distinct_share_elsewhere": round(lead["elsewhere_share"], 3),
            "channels_together": len(names),
            "commands_moving": movers[:10],
            "same_story_as": "tracking_error" if movers else None,
        },
        next_step=(
            f"The values from {lead['start_ns'] / NS:.2f} s look republished, not measured: "
            f"check the {signal.stream} driver and the sensor's connection at that time."
        ),
    )
