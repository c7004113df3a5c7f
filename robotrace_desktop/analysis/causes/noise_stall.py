"""Sensor stall seen in the noise: a live reading whose sample-to-sample noise collapses.

A real sensor's noise never stops: an encoder at rest, an IMU on a table, a pressure gauge in
still water all keep changing by their noise floor on almost every sample. A driver that
stopped reading the hardware and republishes its last value, slightly re-quantised, dithered
or refreshed only now and then (sample-and-hold), does not repeat the value *exactly* — the
exact-repeat rule in ``flatline`` misses it — but its sample-to-sample changes shrink far below
anything the channel shows anywhere else in the run, moving or resting.

How: the channel's changes are cut into blocks of ~0.4 s and each block's typical change (the
median absolute difference) is its noise level. A channel qualifies when every block of the
run has a non-zero level (it changes on most samples everywhere: noise, not a quantised value
at rest). A stretch of blocks whose level stays ``collapse`` times below the quietest block
anywhere else, for at least ``min_s``, is the stall; it is dated where the changes shrink.
Channels of one stream collapsing together are one finding (the whole message went stale).
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes._series import (
    NS,
    binary_like_columns,
    column_summary,
    median,
)
from robotrace_desktop.analysis.causes.flatline import sensor_kind
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext, Signal
from robotrace_desktop.analysis.finding import Finding, channel_ref

CAUSE = "sensor_stall"
thresholds.register(
    CAUSE,
    noise_block_s=(
        0.4,
        "noise collapse: block length (s) over which a channel's noise is measured",
    ),
    noise_collapse=(4.0, "…a stall's noise is this many times below the quietest block elsewhere"),
    noise_min_s=(0.8, "…for at least this long (s)"),
)

_MIN_RATE_HZ = 10.0
_MIN_BLOCKS = 8
_MIN_DISTINCT = 32  # fewer distinct values: a quantised or level channel, not a noisy one
#: white noise's differences flip sign on ~2/3 of samples, a smooth motion's almost never
_NOISE_FLIPS = 0.4


def analyze(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    measured = [s for s in data.signals() if s.role in ("state", "other")]
    levels = [noise_blocks(signal, ctx) for signal in measured]
    findings = []
    for signal, block in zip(measured, levels, strict=True):
        if block is None:
            continue
        # an estimate (odometry, a GNSS fix) holds between updates while the robot goes
        # straight or stands: only its dithering, not its holding, says it went stale
        can_hold = sensor_kind(data, signal.stream) == "estimate"
        runs = [
            run
            for run in _collapsed(signal, block, ctx)
            if others_active(run, block, levels)
            and not _at_an_end(run, signal)
            and not (can_hold and run["quiet"] == 0)
        ]
        if runs:
            findings.append(_finding(signal, runs, ctx))
    return findings


class NoiseBlocks:
    """A signal's usable channels' noise level per block of ``w`` samples."""

    def __init__(
        self, t: np.ndarray, cols: np.ndarray, w: int, rate: float, signed: np.ndarray
    ) -> None:
        blocks = signed.shape[0] // w
        self.cols, self.w, self.rate = cols, w, rate
        self.signed = signed[: blocks * w]
        self.changes = np.abs(self.signed)
        self.level = np.median(self.changes.reshape(blocks, w, cols.size), axis=1)
        self.typical = np.median(self.level, axis=0)
        self.start_ns = t[np.arange(blocks) * w]
        self.end_ns = t[np.minimum(np.arange(1, blocks + 1) * w, t.size - 1)]

    def active_share(self, t0: int, t1: int, skip: set[int]) -> tuple[int, int]:
        """(channels at their usual activity between t0 and t1, channels judged), ``skip``
        left out (the stalled ones)."""
        inside = (self.end_ns > t0) & (self.start_ns < t1)
        if not inside.any():
            return 0, 0
        judged = [j for j in range(self.cols.size) if j not in skip and self.typical[j] > 0]
        active = sum(1 for j in judged if np.median(self.level[inside, j]) >= 0.5 * self.typical[j])
        return active, len(judged)


def noise_blocks(signal: Signal, ctx: ExplainContext) -> NoiseBlocks | None:
    t = signal.t_ns
    if t.size < 2:
        return None
    dt = np.diff(t)
    dt = dt[dt > 0]
    if not dt.size:
        return None
    rate = NS / float(np.median(dt))
    w = max(4, round(ctx.t(CAUSE, "noise_block_s") * rate))
    if rate < _MIN_RATE_HZ or (t.size - 1) // w < _MIN_BLOCKS:
        return None
    summary = column_summary(signal.values)
    usable = (summary["finite"] == t.size) & (summary["distinct"] >= _MIN_DISTINCT)
    usable &= ~binary_like_columns(signal.channels, summary)
    cols = np.flatnonzero(usable)
    if not cols.size:
        return None
    return NoiseBlocks(t, cols, w, rate, np.diff(signal.values[:, cols], axis=0))


class StalledRun(TypedDict):
    """One channel's stall: when, and which columns of its message stalled (left out when the
    message's other channels are asked whether the robot kept moving)."""

    channel: str
    columns: set[int]
    start_ns: int
    end_ns: int


class NoiseRun(StalledRun):
    quiet: float  # its noise level during the collapse, and its quietest elsewhere
    elsewhere: float


def others_active(
    run: StalledRun, own: NoiseBlocks | None, levels: list[NoiseBlocks | None]
) -> bool:
    """A sensor at rest because the robot rests is not stalled: during the collapse, most of
    the recording's other live channels (this message's others included) keep their usual
    activity."""
    active = judged = 0
    for block in levels:
        if block is None:
            continue
        skip = run["columns"] if block is own else set()
        a, j = block.active_share(run["start_ns"], run["end_ns"], skip)
        active, judged = active + a, judged + j
    return judged > 0 and active >= 0.5 * judged


def _at_an_end(run: StalledRun, signal: Signal) -> bool:
    """Starting within a second of the stream's first sample, or running to its last: the
    settling before a run starts and the rest after it ends are not stalls."""
    t = signal.t_ns
    return bool(run["start_ns"] - int(t[0]) < NS or int(t[-1]) - run["end_ns"] < NS // 2)


def _collapsed(signal: Signal, blocks: NoiseBlocks, ctx: ExplainContext) -> list[NoiseRun]:
    """Per usable channel, its longest collapsed stretch (if any)."""
    t, w = signal.t_ns, blocks.w
    collapse = ctx.t(CAUSE, "noise_collapse")
    need = max(2, int(np.ceil(ctx.t(CAUSE, "noise_min_s") * blocks.rate / w)))
    found: list[NoiseRun] = []
    for j, k in enumerate(blocks.cols):
        run = _quiet_run(blocks.level[:, j], collapse, need)
        if run is None:
            continue
        a, b, quiet, elsewhere = run
        if np.count_nonzero(blocks.changes[a * w : b * w, j]) < 2:
            continue  # an exact hold: flatline's to judge (an odometry yaw going straight)
        if not _noise_like(blocks, j, a, b):
            continue  # its quietest moments elsewhere are slow motion, not noise: no floor
        onset = _onset(blocks.changes[:, j], a, w, elsewhere)
        found.append(
            {
                "channel": signal.channels[k],
                "columns": {j},
                "start_ns": int(t[onset]),
                "end_ns": int(t[min(t.size - 1, b * w)]),
                "quiet": quiet,
                "elsewhere": elsewhere,
            }
        )
    stalled = {c for r in found for c in r["columns"]}
    for r in found:
        r["columns"] = stalled  # the others of this message are judged without any of them
    return found


def _quiet_run(
    level: np.ndarray, collapse: float, need: int
) -> tuple[int, int, float, float] | None:
    """The longest stretch of blocks [a, b) quieter than the channel's typical block by
    ``collapse``, if it is also ``collapse`` × quieter than every block outside it (which must
    all be non-zero: the channel is noisy everywhere else)."""
    typical = median(level)
    if typical <= 0:
        return None
    quiet = level < typical / collapse
    edges = np.flatnonzero(np.diff(np.concatenate(([0], quiet.astype(np.int8), [0]))))
    spans = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    spans = [s for s in spans if s[1] - s[0] >= need]
    if not spans:
        return None
    a, b = max(spans, key=lambda s: s[1] - s[0])
    outside = np.concatenate((level[:a], level[b:]))
    if outside.size < _MIN_BLOCKS // 2 or np.min(outside) <= 0:
        return None  # quiet elsewhere too: a channel at rest, or quantised
    elsewhere = float(np.min(outside))
    held = median(level[a:b])
    if held * collapse > elsewhere:
        return None
    return a, b, held, elsewhere


def _noise_like(blocks: NoiseBlocks, j: int, a: int, b: int) -> bool:
    """Whether the channel's quietest blocks outside [a, b) are noise — changes flipping sign
    from sample to sample — and not a slow, smooth motion (a high-resolution encoder shows no
    noise at all: then nothing says it should keep changing at rest)."""
    level = blocks.level[:, j]
    outside = [k for k in np.argsort(level) if not a <= k < b][:3]
    w = blocks.w
    flips = []
    for k in outside:
        d = blocks.signed[k * w : (k + 1) * w, j]
        d = d[d != 0]
        if d.size >= 3:
            flips.append(float(np.mean(np.sign(d[1:]) != np.sign(d[:-1]))))
    return bool(flips) and float(np.median(flips)) >= _NOISE_FLIPS


def _onset(changes: np.ndarray, a: int, w: int, elsewhere: float) -> int:
    """Where the changes shrank: searching back from the first quiet block through the block
    before it, the start of the last stretch of changes all below half the quietest normal
    level (so the onset is dated to the sample, not the block)."""
    lo, hi = max(0, (a - 1) * w), a * w
    small = changes[lo:hi] < 0.5 * elsewhere
    big = np.flatnonzero(~small)
    return lo + (int(big[-1]) + 1 if big.size else 0)


def _finding(signal: Signal, runs: list[NoiseRun], ctx: ExplainContext) -> Finding:
    lead = max(runs, key=lambda r: r["end_ns"] - r["start_ns"])
    together = [r for r in runs if abs(r["start_ns"] - lead["start_ns"]) <= 0.5 * NS]
    ratio = lead["elsewhere"] / max(lead["quiet"], 1e-12 * lead["elsewhere"])
    collapse = ctx.t(CAUSE, "noise_collapse")
    confidence = 0.45 + min(0.25, 0.05 * np.log2(max(ratio / collapse, 1.0)))
    if len(together) > 1:
        confidence += 0.1  # the whole message went stale, not one noisy channel
    duration = (lead["end_ns"] - lead["start_ns"]) / NS
    names = [r["channel"] for r in together]
    exact = lead["quiet"] == 0  # held between rare refreshes (sample-and-hold)
    return Finding(
        cause=CAUSE,
        title=f"{signal.stream}: {names[0]} stopped changing like a live sensor",
        explanation=(
            f"{', '.join(names[:4])}{'…' if len(names) > 4 else ''} of {signal.stream} "
            + (
                "held its value between rare refreshes"
                if exact
                else "changed by a fraction of its usual noise"
            )
            + f" for {duration:.2f} s from {lead['start_ns'] / NS:.2f} s: its sample-to-sample "
            + (
                "changes were mostly zero, where anywhere else in the run its noise never stops."
                if exact
                else f"changes were {ratio:.0f}× smaller than in its quietest moment anywhere "
                "else in the run, where its noise never stops."
            )
        ),
        confidence=float(min(confidence, 0.9)),
        severity="high",
        t_start_ns=int(lead["start_ns"]),
        t_end_ns=int(lead["end_ns"]),
        channels=[channel_ref(signal.stream, n) for n in names],
        evidence={
            "noise_collapse": round(float(ratio), 1) if not exact else None,
            "quiet_level": lead["quiet"],
            "quietest_elsewhere": lead["elsewhere"],
            "channels_together": len(names),
        },
        next_step=(
            f"The values from {lead['start_ns'] / NS:.2f} s look republished, not measured: "
            f"check the {signal.stream} driver and the sensor's connection at that time."
        ),
    )
