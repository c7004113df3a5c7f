"""Sensor stall seen in a whole message: every live channel of a measured stream stops moving
at the same sample — held to within a sliver of its own motion, exactly or with a dither of
noise — while the commands that drive the stream keep moving.

Why it works: one joint stopping dead while still driven may have hit something (``hard_stop``
says so); all the joints of a message stopping at the very same sample, each of them still
commanded to move, is the message that went stale — a driver republishing its last reading,
perhaps with a little noise added by a filter or a re-encoding, which the exact-repeat rule in
``flatline`` cannot see. A robot told to hold still is not a stall: its commands hold too.

How: per live channel (it changes on most samples of its active span), sliding windows of
~0.5 s; a window is still when its range stays below ``still_share`` of the channel's own
typical motion range in such windows (90th percentile over the run) and below the commands'
travel. A stretch of at least ``still_min_s`` where ``still_min_channels`` or more live channels —
all of the message's — are still together, while a command of the stream moves, is the stall;
it is dated at the last sample any of them still moved.
"""

from __future__ import annotations

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes._command_motion import moving_commands, related_commands
from robotrace_desktop.analysis.causes._series import NS
from robotrace_desktop.analysis.causes.flatline import COMMAND_ROLES
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext, Signal
from robotrace_desktop.analysis.finding import Finding, channel_ref

CAUSE = "sensor_stall"
thresholds.register(
    CAUSE,
    still_share=(0.05, "message still: a window's range below this share of its usual motion"),
    still_min_s=(1.0, "…for all its live channels together, at least this long (s)"),
    still_min_channels=(3, "…and at least this many live channels"),
)

_WINDOW_S = 0.5
_MIN_WINDOW = 6
_MIN_RATE_HZ = 10.0


def analyze(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    commands = [s for s in data.signals() if s.role in COMMAND_ROLES]
    findings = []
    for signal in data.signals():
        if signal.role != "state":
            continue
        related = related_commands(signal, commands, data)
        if not related:
            continue  # nothing says the robot should have moved
        found = _still(signal, related, ctx)
        if found is not None:
            findings.append(found)
    return findings


def _live(values: np.ndarray) -> np.ndarray:
    """Columns that change on most samples of their active span (not a flag, not constant)."""
    with np.errstate(invalid="ignore"):
        changed = np.abs(np.diff(values, axis=0)) > 0
    counts = changed.sum(axis=0)
    first = changed.argmax(axis=0)
    last = changed.shape[0] - 1 - changed[::-1].argmax(axis=0)
    active = np.maximum(last - first + 1, 1)
    finite = np.isfinite(values).all(axis=0)
    return np.flatnonzero(finite & (counts >= 10) & (counts / active >= 0.5))


def _still(signal: Signal, commands: list[Signal], ctx: ExplainContext) -> Finding | None:
    t = signal.t_ns
    if t.size < 4 * _MIN_WINDOW:
        return None
    step = float(np.median(np.diff(t)))
    if step <= 0:  # most samples share one time (a batch stamped at once): no rate to judge
        return None
    rate = NS / step
    if rate < _MIN_RATE_HZ:
        return None
    cols = _live(signal.values)
    if cols.size < int(ctx.t(CAUSE, "still_min_channels")):
        return None
    w = max(_MIN_WINDOW, round(_WINDOW_S * rate))
    hop = max(1, w // 4)  # a quarter window: the onset is found to the sample afterwards
    frames = np.lib.stride_tricks.sliding_window_view(signal.values[:, cols], w, axis=0)[::hop]
    spread = frames.max(axis=-1) - frames.min(axis=-1)  # (windows, channels)
    usual = np.percentile(spread, 90, axis=0)
    if np.any(usual <= 0):
        return None
    still = (spread <= ctx.t(CAUSE, "still_share") * usual).all(axis=1)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], still.astype(np.int8), [0]))))
    need = max(1, int(np.ceil((ctx.t(CAUSE, "still_min_s") * rate - w) / hop)) + 1)
    spans = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    spans = [(a, b) for a, b in spans if b - a >= need and a > 0 and t[a * hop] - t[0] >= NS]
    for a, b in spans:
        lo, hi = a * hop, min(t.size - 1, (b - 1) * hop + w - 1)
        movers = moving_commands(commands, int(t[lo]), int(t[hi]), ctx)
        if not movers:
            continue  # told to hold still
        onset = _onset(signal.values[:, cols], lo, usual * ctx.t(CAUSE, "still_share"))
        return _finding(
            signal, [signal.channels[k] for k in cols], int(t[onset]), int(t[hi]), movers
        )
    return None


def _onset(values: np.ndarray, lo: int, tol: np.ndarray) -> int:
    """Back from the first still window: the last sample where any channel still moved by more
    than its stillness tolerance from the held reading."""
    held = values[lo]
    i = lo
    while i > 0 and np.all(np.abs(values[i - 1] - held) <= tol):
        i -= 1
    return i


def _finding(signal: Signal, names: list[str], t0: int, t1: int, movers: list[str]) -> Finding:
    duration = (t1 - t0) / NS
    # every live channel at once while driven: stronger than any one joint's hard stop
    confidence = 0.75 + 0.15 * float(np.clip((duration - 1.0) / 3.0, 0.0, 1.0))
    return Finding(
        cause=CAUSE,
        title=f"{signal.stream}: all {len(names)} live channels stopped at once",
        explanation=(
            f"All {len(names)} live channels of {signal.stream} stopped moving at the same "
            f"sample, {t0 / NS:.2f} s, and stayed within a sliver of their usual motion for "
            f"{duration:.2f} s while {', '.join(movers[:3])} kept changing: the message went "
            "stale (its last reading republished, perhaps with a little noise), the joints "
            "did not all hit something at once."
        ),
        confidence=float(confidence),
        severity="high",
        t_start_ns=t0,
        t_end_ns=t1,
        channels=[channel_ref(signal.stream, n) for n in names[:12]],
        evidence={
            "channels_still": len(names),
            "commands_moving": movers[:10],
            "same_story_as": "hard_stop",
        },
        next_step=(
            f"The values from {t0 / NS:.2f} s look republished, not measured: check the "
            f"{signal.stream} driver and the log around that time."
        ),
    )
