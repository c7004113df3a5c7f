"""Per-episode numbers the comparison is built from: outcome, time to goal, reward, action
smoothness and tracking error.

Computed in a worker from the episode's signals (``analysis.data.EpisodeData``, the same loader
Explain uses). Findings are not recomputed here: the catalog already holds them (scan runs
Explain), and the parent merges them in.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from robotrace_desktop.analysis.data import EpisodeData, Signal
from robotrace_desktop.verify.model import EpisodeMetrics

REWARD_STREAMS = ("next.reward", "reward", "/reward", "rewards")
#: metadata keys a recorder may use for these numbers (log_episode metadata, HDF5 attrs…)
TIME_TO_GOAL_KEYS = ("time_to_goal_s", "time_to_success_s")
REWARD_KEYS = ("reward", "total_reward", "return", "episode_return")


def episode_metrics(data: EpisodeData) -> EpisodeMetrics:
    info = data.info
    metrics = EpisodeMetrics(
        episode_id=info.id, outcome=info.outcome.value, duration_s=info.duration_ns / 1e9
    )
    metrics.time_to_goal_s = _time_to_goal(data)
    metrics.reward = _reward(data)
    action = primary_action(data)
    if action is not None:
        metrics.jerk = action_jerk(action.t_ns, action.values)
    metrics.tracking_error = tracking_error(data)
    return metrics


def primary_action(data: EpisodeData) -> Signal | None:
    """The stream holding the policy's actions: one named ``action`` or the first command."""
    commands = data.signals_with_role("command")
    for signal in commands:
        if signal.stream == "action":
            return signal
    return commands[0] if commands else None


def action_jerk(t_ns: np.ndarray, values: np.ndarray) -> float | None:
    """RMS of the third time derivative per channel, averaged over channels (units/s³).

    Finite differences on the recorded sample times, so irregular sampling is handled; channels
    that never move (or are not finite) contribute nothing.
    """
    if len(t_ns) < 4:
        return None
    t = (np.asarray(t_ns, dtype=np.int64) - int(t_ns[0])).astype(np.float64) / 1e9
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    dt = np.diff(t)
    if np.any(dt <= 0):
        keep = np.concatenate([[True], dt > 0])
        t, x = t[keep], x[keep]
        if len(t) < 4:
            return None
    for _ in range(3):
        dt = np.diff(t)
        x = np.diff(x, axis=0) / dt[:, None]
        t = (t[1:] + t[:-1]) / 2
    finite = np.isfinite(x)
    counts = finite.sum(axis=0)
    squares = np.where(finite, x, 0.0) ** 2
    used = counts > 0
    rms = np.sqrt(squares.sum(axis=0)[used] / counts[used])
    rms = rms[np.isfinite(rms)]
    return float(rms.mean()) if rms.size else None


def tracking_error(data: EpisodeData) -> float | None:
    """Mean |measured − commanded| over joints matched by name, at the measured times (the
    command in force is the latest one at or before each measurement)."""
    errors: list[float] = []
    for (cmd_stream, cmd_channel), (meas_stream, meas_channel) in data.pairs():
        command, measured = data.signal(cmd_stream), data.signal(meas_stream)
        if command is None or measured is None or not len(command.t_ns) or not len(measured.t_ns):
            continue
        c = command.column(cmd_channel)
        m = measured.column(meas_channel)
        index = np.searchsorted(command.t_ns, measured.t_ns, side="right") - 1
        valid = index >= 0
        if not valid.any():
            continue
        diff = np.abs(m[valid] - c[index[valid]])
        diff = diff[np.isfinite(diff)]
        if diff.size:
            errors.append(float(diff.mean()))
    return float(np.mean(errors)) if errors else None


def _time_to_goal(data: EpisodeData) -> float | None:
    value = _number(data.info.metadata, TIME_TO_GOAL_KEYS)
    if value is not None:
        return value
    return data.info.duration_ns / 1e9 if data.info.outcome.value == "success" else None


def _reward(data: EpisodeData) -> float | None:
    names = {s.name for s in data.info.streams}
    for stream in REWARD_STREAMS:
        if stream in names:
            signal = data.signal(stream)
            if signal is not None and len(signal.t_ns):
                total = float(np.nansum(signal.values[:, 0]))
                return total if math.isfinite(total) else None
    return _number(data.info.metadata, REWARD_KEYS)


def _number(metadata: dict[str, Any], keys: tuple[str, ...]) -> float | None:
    for key in keys:
        value = metadata.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None
