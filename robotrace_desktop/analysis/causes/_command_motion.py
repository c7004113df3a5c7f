"""Whether a robot was told to move: which commands drive a measured stream, and which of
them moved over a span.

A stalled sensor is told from a robot at rest by its commands: a reading that holds still
while the joint's own command moves is stale, one that holds still under still commands is
the robot holding. Shared by the stall detectors (``flatline``, ``still_message``,
``level_stall``); "moved" is ``sensor_stall``'s ``move_fraction`` of the command's own range
(registered by ``flatline``).
"""

from __future__ import annotations

import warnings

import numpy as np

from robotrace_desktop.analysis.data import EpisodeData, ExplainContext, Signal
from robotrace_desktop.analysis.finding import channel_ref

STALL = "sensor_stall"
WILD = 6  # a command glitch this many samples wide does not make it move (a spike's width)


def related_commands(signal: Signal, commands: list[Signal], data: EpisodeData) -> list[Signal]:
    """The commands that drive this stream: the ones paired with its channels by joint name,
    else those in the same namespace (``/turtle1/cmd_vel`` for ``/turtle1/pose``), else all.
    Another robot's moving commands say nothing about this one holding still."""
    paired = {cmd[0] for cmd, measured in data.pairs() if measured[0] == signal.stream}
    if paired:
        return [c for c in commands if c.stream in paired]
    space = namespace(signal.stream)
    if space:
        same = [c for c in commands if namespace(c.stream) == space]
        if same or any(namespace(c.stream) for c in commands):
            return same
    return commands


def paired_commands(
    signal: Signal, commands: list[Signal], data: EpisodeData
) -> dict[str, list[tuple[Signal, str]]]:
    """Channel -> the command channels of the same joint: only a joint's own command moving
    says that joint should have moved (a turtle driving straight keeps its heading)."""
    by_stream = {c.stream: c for c in commands}
    found: dict[str, list[tuple[Signal, str]]] = {}
    for (cs, cc), (ms, mc) in data.pairs():
        if ms == signal.stream and cs in by_stream:
            found.setdefault(mc, []).append((by_stream[cs], cc))
    return found


def namespace(stream: str) -> str:
    parts = [p for p in stream.split("/") if p]
    return parts[0] if stream.startswith("/") and len(parts) > 1 else ""


def column_span(values: np.ndarray) -> np.ndarray:
    """Per-column range ignoring NaN (0 for an all-NaN column)."""
    if not len(values):
        return np.zeros(values.shape[1] if values.ndim == 2 else 0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        span = np.nanmax(values, axis=0) - np.nanmin(values, axis=0)
    finite_span: np.ndarray = np.nan_to_num(span, nan=0.0, posinf=0.0, neginf=0.0)
    return finite_span


def robust_span(values: np.ndarray) -> np.ndarray:
    """Per-column 1st–99th percentile range: one start-up transient must not make every later
    movement look small."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanpercentile(values, [1, 99], axis=0)
    robust: np.ndarray = np.nan_to_num(hi - lo, nan=0.0, posinf=0.0, neginf=0.0)
    return robust


def trimmed_span(window: np.ndarray) -> np.ndarray:
    """Per-column range of a command window without its ``WILD`` highest and lowest samples:
    a command that moves keeps moving once those are dropped, while a command that held still
    but for a glitch of a few samples (a spike, a torn message) is still — a glitch is not the
    robot being told to move. Windows too short to spare them: the plain range."""
    n = window.shape[0]
    if n < 4 * WILD:
        return column_span(window)
    finite = np.isfinite(window).sum(axis=0)
    if np.all(finite == n):  # the common case: no holes, two order statistics suffice
        part = np.partition(window, (WILD, n - 1 - WILD), axis=0)
        span: np.ndarray = part[n - 1 - WILD] - part[WILD]
        return span
    with np.errstate(invalid="ignore"):
        ordered = np.sort(window, axis=0)  # NaN sort last
    cols = np.arange(window.shape[1])
    top = np.clip(finite - 1 - WILD, 0, None)
    span = np.where(finite >= 4 * WILD, ordered[top, cols] - ordered[WILD, cols], 0.0)
    trimmed: np.ndarray = np.nan_to_num(span, nan=0.0, posinf=0.0, neginf=0.0)
    return trimmed


def moving_commands(commands: list[Signal], t0: int, t1: int, ctx: ExplainContext) -> list[str]:
    """Command channels that span a meaningful share of their own range within [t0, t1]."""
    fraction = float(ctx.t(STALL, "move_fraction"))
    movers: list[str] = []
    for command in commands:
        lo, hi = np.searchsorted(command.t_ns, [t0, t1])
        window = command.values[lo : hi + 1] if hi < len(command.t_ns) else command.values[lo:]
        if len(window) < 3:
            continue
        whole, part = robust_span(command.values), trimmed_span(window)
        moved = (whole > 0) & (part > fraction * whole)
        movers += [
            channel_ref(command.stream, c)
            for c, m in zip(command.channels, moved, strict=True)
            if m
        ]
    return movers


def moving_pairs(
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
        part = float(column_span(window[:, None])[0])
        if whole > 0 and part > float(ctx.t(STALL, "move_fraction")) * whole:
            movers.append(channel_ref(command.stream, channel))
    return movers
