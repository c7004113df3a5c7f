"""Sensor stall seen in what a message says about itself: held between refreshes while its
own velocity fields report a speed.

A moving robot's state message (odometry with its twist, a pose with its speed, joint states
with their velocities) changes on every sample: where it moves, its positions move. A driver
that stopped measuring and republishes its last message — refreshed now and then
(sample-and-hold), or exactly — repeats the whole message for several samples at a time
while that message still reports a speed. Over a stretch of a second or more, most samples
repeating the previous one *with a speed in them* is a stale message; anywhere else in the run
the same message almost never does it. A robot at rest repeats its message too, but with its
speeds at zero, and is left alone.

A single uninterrupted freeze is ``flatline``'s (with ``_claims.held_speeds``); this one needs
refreshes inside the stretch.
"""

from __future__ import annotations

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes._claims import SPEED_SHARE, is_speed
from robotrace_desktop.analysis.causes._series import NS
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext, Signal
from robotrace_desktop.analysis.finding import Finding, channel_ref

CAUSE = "sensor_stall"
thresholds.register(
    CAUSE,
    held_block_s=(0.5, "held message: blocks (s) over which repeats with a speed are counted"),
    held_share=(0.5, "…a block where at least this share of samples repeat the last is held"),
    held_min_s=(1.0, "…held blocks in a row for at least this long (s)"),
    held_elsewhere=(0.05, "…while elsewhere at most this share of samples repeat with a speed"),
)

_MIN_SAMPLES = 50
_MIN_RATE_HZ = 5.0


def analyze(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    findings = []
    for signal in data.signals():
        if signal.role in ("state", "other"):
            found = _held(signal, ctx)
            if found is not None:
                findings.append(found)
    return findings


def _held(signal: Signal, ctx: ExplainContext) -> Finding | None:
    t, values = signal.t_ns, signal.values
    if t.size < _MIN_SAMPLES or np.any(np.diff(t) <= 0):
        return None
    rate = NS / float(np.median(np.diff(t)))
    if rate < _MIN_RATE_HZ:
        return None
    speeds = [k for k, c in enumerate(signal.channels) if is_speed(signal.stream, c)]
    if not speeds:
        return None  # no speed claimed: nothing a repeat could contradict
    with np.errstate(invalid="ignore"):
        lo, hi = np.nanpercentile(values, [1.0, 99.0], axis=0)
    varying = np.flatnonzero(np.nan_to_num(hi - lo) > 0)
    places = [k for k in varying if k not in speeds]
    speeds = [k for k in speeds if k in varying]
    if not speeds or not places:
        return None
    with np.errstate(invalid="ignore"):
        repeat = np.all(values[1:, varying] == values[:-1, varying], axis=1)
        moving = np.any(
            np.abs(values[:-1, speeds]) >= SPEED_SHARE * (hi[speeds] - lo[speeds]), axis=1
        )
    claim = repeat & moving  # sample i+1 repeats sample i, which reports a speed
    w = max(5, round(float(ctx.t(CAUSE, "held_block_s")) * rate))
    blocks = claim.size // w
    if blocks < 6:
        return None
    share = claim[: blocks * w].reshape(blocks, w).mean(axis=1)
    held = share >= float(ctx.t(CAUSE, "held_share"))
    edges = np.flatnonzero(np.diff(np.concatenate(([0], held.astype(np.int8), [0]))))
    spans = list(zip(edges[::2], edges[1::2], strict=True))
    if not spans:
        return None
    a, b = max(spans, key=lambda s: s[1] - s[0])
    if (b - a) * w / rate < float(ctx.t(CAUSE, "held_min_s")):
        return None
    outside = np.concatenate((claim[: max(0, (a - 1) * w)], claim[min(claim.size, (b + 1) * w) :]))
    if outside.size < 2 * w or float(outside.mean()) > float(ctx.t(CAUSE, "held_elsewhere")):
        return None  # this message repeats itself while moving elsewhere too: its habit
    inside = claim[a * w : b * w]
    if np.count_nonzero(~repeat[a * w : b * w]) < 2:
        return None  # one unbroken freeze: flatline's to judge
    # dated to the first repeat of the stretch: back from its first block while repeats go on
    start = a * w
    while start > 0 and claim[start - 1]:
        start -= 1
    stop = min(t.size - 1, b * w)
    duration = (int(t[stop]) - int(t[start])) / NS
    confidence = 0.6 + 0.2 * float(np.clip((duration - 1.0) / 3.0, 0.0, 1.0))
    if float(inside.mean()) >= 0.8:
        confidence += 0.05
    names = [signal.channels[k] for k in places]
    speed_names = [signal.channels[k] for k in speeds]
    return Finding(
        cause=CAUSE,
        title=f"{signal.stream}: stale message",
        explanation=(
            f"{signal.stream} repeated its previous message on {100 * inside.mean():.0f} % of "
            f"its samples for {duration:.2f} s from {t[start] / NS:.2f} s while its own "
            f"{', '.join(speed_names[:2])} reported a speed — held and refreshed now and then, "
            f"where anywhere else in the run it does so on {100 * outside.mean():.0f} %."
        ),
        confidence=min(confidence, 0.85),
        severity="high",
        t_start_ns=int(t[start]),
        t_end_ns=int(t[stop]),
        channels=[channel_ref(signal.stream, n) for n in names[:12]],
        evidence={
            "repeat_share_in_stall": round(float(inside.mean()), 3),
            "repeat_share_elsewhere": round(float(outside.mean()), 3),
            "speed_channels": speed_names[:6],
            "duration_s": round(duration, 3),
        },
        next_step=(
            f"The values from {t[start] / NS:.2f} s look republished, not measured: check the "
            f"{signal.stream} driver and the sensor's connection at that time."
        ),
    )
