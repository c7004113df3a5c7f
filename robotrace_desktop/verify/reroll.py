"""Offline re-roll: the candidate policy fed one recorded episode's observations, step by step,
and its actions compared with the recorded ones.

Streams (``core.channels.stream_role``): the action streams are the signal streams whose role is
"command"; the primary one is the stream named ``action`` (LeRobot) or else the first command
stream (the rule of ``verify.metrics.primary_action``). The observation streams are the signal
streams with role "state" (LeRobot ``observation.state``, ROS JointState topics, HDF5
``/observations/qpos``).

Steps are the primary action stream's sample times. At step k the policy gets ``obs`` =
``{stream name: float64 1-D array, "t_ns": int, "step": k}``, each stream's latest sample at or
before the step time (the first sample before the stream starts), and with ``with_images`` also
``{video stream name: RGB uint8 (H, W, 3)}`` — the frame shown at that time (the first/last
frame outside the video), decoded exactly by the camera's FrameSource. A camera whose video is
missing or cannot be decoded is left out of ``obs`` and named in ``Reroll.problems``. The arrays
handed out are the policy's own: changing them in place changes nothing recorded (frames are
read-only, shared with the frame cache).

The policy returns an array-like with as many numbers as the primary action has channels, or a
dict ``{action stream name: array-like}``. A policy that raises, or returns anything else, ends
that episode's re-roll with ``RerollResult.error`` ("Type: message (step k, t=1.234 s)"); the
steps before it are still measured. Non-finite actions are kept as they are: they count as out
of distribution and as an infinite error.

Errors are scaled by the baseline's action distribution (``ActionStats``, combined from every
baseline episode's ``action_moments``); without it, by the episode's own recorded actions.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from robotrace_desktop.analysis.data import EpisodeData, Signal
from robotrace_desktop.core.channels import stream_role
from robotrace_desktop.core.episode import StreamKind
from robotrace_desktop.errors import RecordingError, RobotraceError
from robotrace_desktop.verify.metrics import action_jerk
from robotrace_desktop.verify.model import RerollResult
from robotrace_desktop.verify.policy import Policy
from robotrace_desktop.video.frames import FrameSource

#: a channel's std is never taken below this share of its range over the baseline …
RANGE_FLOOR = 0.01
#: … nor below this much (times max(1, |mean|)): a channel the baseline held constant gets a
#: tiny but finite scale, so float rounding of the same value is not an error while any real
#: move of it is far out of distribution
ABS_FLOOR = 1e-6
#: first divergence: the per-step error must stay above the threshold this many steps in a row
DIVERGENCE_RUN = 3


# ---------------------------------------------------------------- baseline action statistics


def _moments(signal: Signal) -> dict[str, Any]:
    values = signal.values
    finite = np.isfinite(values)
    count = finite.sum(axis=0)
    clean = np.where(finite, values, 0.0)
    total = clean.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), 0.0)
    m2 = (np.where(finite, values - mean, 0.0) ** 2).sum(axis=0)
    low = np.where(finite, values, np.inf).min(axis=0, initial=np.inf)
    high = np.where(finite, values, -np.inf).max(axis=0, initial=-np.inf)
    empty = count == 0
    low[empty], high[empty] = 0.0, 0.0
    return {
        "stream": signal.stream,
        "channels": list(signal.channels),
        "count": count.astype(np.int64).tolist(),
        "sum": total.tolist(),
        "m2": m2.tolist(),
        "min": low.tolist(),
        "max": high.tolist(),
    }


def action_moments(data: EpisodeData) -> dict[str, dict[str, Any]]:
    """Per action stream, per channel: finite-sample ``count``, ``sum``, ``m2`` (sum of squared
    deviations from this episode's mean — combined with Chan's parallel formula, which stays
    exact where a raw sum of squares would cancel), ``min`` and ``max``. Plain JSON lists, so a
    worker can return them."""
    return {s.stream: _moments(s) for s in data.signals_with_role("command") if len(s.t_ns)}


@dataclass(slots=True)
class ActionStats:
    """The baseline's distribution of one action stream: per-channel mean and std.

    ``std`` is floored at ``RANGE_FLOOR`` × the channel's range and at ``ABS_FLOOR`` ×
    max(1, |mean|), so a constant channel gives a large but finite z instead of a division by
    zero. A channel without a single finite sample has mean 0 and std 1."""

    stream: str
    channels: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    count: int = 0

    @classmethod
    def combine(cls, parts: Sequence[Mapping[str, Any]]) -> ActionStats:
        """One stream's moments from many episodes. Episodes whose channel names differ from
        the most common layout (another robot in the baseline) are left out."""
        if not parts:
            raise ValueError("ActionStats.combine needs at least one episode's moments")
        weight: dict[tuple[str, ...], int] = {}
        for part in parts:
            key = tuple(part["channels"])
            weight[key] = weight.get(key, 0) + int(sum(part["count"]))
        channels = max(weight, key=lambda k: (weight[k], -len(k)))
        use = [p for p in parts if tuple(p["channels"]) == channels]
        counts = np.array([p["count"] for p in use], dtype=np.float64)  # (E, C)
        sums = np.array([p["sum"] for p in use], dtype=np.float64)
        m2s = np.array([p["m2"] for p in use], dtype=np.float64)
        lows = np.array([p["min"] for p in use], dtype=np.float64)
        highs = np.array([p["max"] for p in use], dtype=np.float64)
        n = counts.sum(axis=0)
        safe_n = np.maximum(n, 1.0)
        mean = sums.sum(axis=0) / safe_n
        part_mean = sums / np.maximum(counts, 1.0)
        m2 = m2s.sum(axis=0) + (counts * (part_mean - mean) ** 2).sum(axis=0)
        std = np.sqrt(np.maximum(m2, 0.0) / safe_n)
        has = counts > 0
        low = np.where(has, lows, np.inf).min(axis=0)
        high = np.where(has, highs, -np.inf).max(axis=0)
        span = np.where(n > 0, high - low, 0.0)
        floor = np.maximum(RANGE_FLOOR * span, ABS_FLOOR * np.maximum(1.0, np.abs(mean)))
        std = np.maximum(std, floor)
        mean = np.where(n > 0, mean, 0.0)
        std = np.where(n > 0, std, 1.0)
        return cls(str(use[0]["stream"]), channels, mean, std, int(n.max(initial=0)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "channels": list(self.channels),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "count": self.count,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ActionStats:
        return cls(
            str(data["stream"]),
            tuple(data["channels"]),
            np.asarray(data["mean"], dtype=np.float64),
            np.asarray(data["std"], dtype=np.float64),
            int(data.get("count") or 0),
        )


# ---------------------------------------------------------------- the re-roll


@dataclass(slots=True)
class StreamValues:
    """One stream sampled at the re-roll's steps."""

    name: str
    channels: tuple[str, ...]
    values: np.ndarray  # float64 (steps, channels)


@dataclass(slots=True)
class Reroll:
    """One re-rolled episode: the summary plus what a replay bundle is written from. Arrays
    cover the steps that produced an action (all of them unless the policy failed)."""

    result: RerollResult
    t_ns: np.ndarray  # int64 (steps,) step times, episode time
    actions: dict[str, StreamValues]  # the candidate's actions, per compared action stream
    recorded: dict[str, StreamValues]  # the recorded actions at the same steps
    observations: dict[str, StreamValues]  # what the policy saw (signals, not images)
    l2: np.ndarray  # float64 (steps,): ||candidate - recorded||_2 over the compared channels
    error_z: np.ndarray  # float64 (steps,): RMS over channels of (candidate - recorded) / std
    ood: np.ndarray  # bool (steps,): some candidate channel has |z| > ood_z (or is not finite)
    problems: list[str] = field(default_factory=list)


class _PolicyOutputError(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _at_steps(signal: Signal, t_ns: np.ndarray) -> np.ndarray:
    """The signal's latest sample at or before each step time (its first sample before it
    starts), as a fresh float64 (steps, C) array."""
    n = len(t_ns)
    if len(signal.t_ns) >= n and np.array_equal(signal.t_ns[:n], t_ns):
        return np.array(signal.values[:n], dtype=np.float64)  # the primary's own rows
    index = np.searchsorted(signal.t_ns, t_ns, side="right") - 1
    np.maximum(index, 0, out=index)
    return np.asarray(signal.values[index], dtype=np.float64)


class _Camera:
    """Frames of one camera at the step times, decoded on demand (stepping forward continues
    the decoder; a repeated frame is not decoded again)."""

    def __init__(self, name: str, source: FrameSource, frame_index: np.ndarray) -> None:
        self.name = name
        self.source = source
        self.frame_index = frame_index.tolist()
        self._last = -1
        self._rgb: np.ndarray | None = None

    def at(self, step: int) -> np.ndarray:
        index = self.frame_index[step]
        if index != self._last:
            self._rgb = self.source.frame(index).rgb
            self._last = index
        assert self._rgb is not None
        return self._rgb


def _open_cameras(data: EpisodeData, t_ns: np.ndarray, problems: list[str]) -> list[_Camera]:
    cameras: list[_Camera] = []
    for info in data.info.streams_of(StreamKind.VIDEO):
        if info.details.get("missing"):
            file = info.details.get("file")
            reason = f"its video file {file} is missing" if file else "its video is missing"
            problems.append(f"camera {info.name!r} left out of obs: {reason}")
            continue
        try:
            source = data.source.video(info.name)
            times = np.asarray(source.frame_times_ns(), dtype=np.int64)
        except RobotraceError as exc:
            problems.append(f"camera {info.name!r} left out of obs: {exc}")
            continue
        if not len(times):
            problems.append(f"camera {info.name!r} left out of obs: the video has no frames")
            source.close()
            continue
        times = times + data.offsets.get(info.name, 0)
        index = np.searchsorted(times, t_ns, side="right") - 1
        np.clip(index, 0, len(times) - 1, out=index)
        cameras.append(_Camera(info.name, source, index))
    return cameras


def _streams(data: EpisodeData) -> tuple[Signal, list[Signal], list[Signal]]:
    """(primary action, every action stream with the primary first, observation streams).

    Only command and state streams are loaded. The primary is chosen by the rule of
    ``verify.metrics.primary_action`` (the stream named ``action``, else the first command)."""
    info = data.info
    signals: list[Signal] = []
    unreadable: list[str] = []
    for stream in info.streams_of(StreamKind.SIGNAL):
        if not stream.count or not stream.channels:
            continue
        if stream_role(stream) not in ("command", "state"):
            continue
        before = len(data.problems)
        signal = data.signal(stream.name)
        if signal is None:
            unreadable += data.problems[before:] or [f"stream {stream.name!r} cannot be read"]
        elif len(signal.t_ns):
            signals.append(signal)
    if unreadable:
        raise RecordingError(
            info.path, f"episode {info.name!r} cannot be re-rolled: " + "; ".join(unreadable)
        )
    commands = [s for s in signals if s.role == "command"]
    if not commands:
        raise RecordingError(
            info.path,
            f"episode {info.name!r} has no action stream to compare with (no signal stream is "
            "a command: named action/command/target…, or a bundle stream of role 'action')",
        )
    primary = next((s for s in commands if s.stream == "action"), commands[0])
    actions = [primary] + [s for s in commands if s is not primary]
    observations = [s for s in signals if s.role == "state"]
    return primary, actions, observations


def reroll_episode(
    data: EpisodeData,
    policy: Policy,
    stats: Mapping[str, ActionStats] | None,
    *,
    with_images: bool = False,
    divergence_z: float = 1.0,
    ood_z: float = 3.0,
    candidate_name: str | None = None,
) -> Reroll:
    """Feed the policy every step of the episode and measure its actions against the recorded
    ones (see the module doc). Raises a RobotraceError when the episode cannot be read or has
    no action stream; a failing policy is reported in ``result.error``, never raised."""
    primary, actions, observations = _streams(data)
    t_ns = np.asarray(primary.t_ns, dtype=np.int64)
    steps = len(t_ns)
    problems: list[str] = []
    seen = {s.stream: _at_steps(s, t_ns) for s in observations}
    # the rows the policy gets are views into a copy: a policy writing into them changes
    # neither the recording nor the observations saved with the replay
    rows = [(name, list(np.array(values))) for name, values in seen.items()]
    cameras = _open_cameras(data, t_ns, problems) if with_images else []
    widths = {s.stream: len(s.channels) for s in actions}
    out = {s.stream: np.full((steps, widths[s.stream]), np.nan) for s in actions}
    result = RerollResult(
        baseline_id=data.info.id,
        policy=candidate_name or policy.name,
        action_stream=primary.stream,
    )
    done, keys, error = 0, None, None
    opened = list(cameras)
    try:
        try:  # a reset() that raises fails this episode, not the run
            policy.start_episode()
        except (Exception, SystemExit) as exc:
            error = f"{_describe(exc)} (reset before step 0)"
        if error is None:
            done, keys, error = _run(policy, t_ns, rows, cameras, out, primary, widths, problems)
    finally:
        for camera in opened:
            camera.source.close()
    result.error = error
    result.steps = done
    compared = [s for s in actions if keys is None or s.stream in keys]
    if keys is not None and primary.stream not in keys:
        result.action_stream = compared[0].stream
    return _measure(
        result,
        t_ns[:done],
        compared,
        {s: v[:done] for s, v in out.items()},
        {s.stream: StreamValues(s.stream, s.channels, seen[s.stream][:done]) for s in observations},
        _stats_for(compared, stats, problems),
        divergence_z,
        ood_z,
        problems,
    )


def _run(
    policy: Policy,
    t_ns: np.ndarray,
    rows: list[tuple[str, list[np.ndarray]]],
    cameras: list[_Camera],
    out: dict[str, np.ndarray],
    primary: Signal,
    widths: dict[str, int],
    problems: list[str],
) -> tuple[int, frozenset[str] | None, str | None]:
    """The step loop: (steps done, stream names of dict returns or None, error or None)."""
    act = policy.act
    target = out[primary.stream]
    width = widths[primary.stream]
    times = t_ns.tolist()
    keys: frozenset[str] | None = None
    ndarray = np.ndarray
    for k, t in enumerate(times):
        obs: dict[str, Any] = {"t_ns": t, "step": k}
        for name, series in rows:
            obs[name] = series[k]
        for camera in list(cameras):
            try:
                obs[camera.name] = camera.at(k)
            except (RobotraceError, IndexError, OSError) as exc:
                problems.append(f"camera {camera.name!r} left out of obs from step {k}: {exc}")
                cameras.remove(camera)
        try:
            action = act(obs)
        except (Exception, SystemExit) as exc:  # sys.exit() in a policy too
            return k, keys, f"{_describe(exc)} (step {k}, t={t / 1e9:.3f} s)"
        try:
            if type(action) is ndarray and action.size == width and keys is None:
                target[k] = action.reshape(-1)  # the fast path: one array like the recording
            elif isinstance(action, Mapping):
                keys = _store_dict(action, k, keys, out, widths)
            else:
                _store_array(action, k, keys, target, primary, width)
        except _PolicyOutputError as failure:
            return k, keys, failure.text
        except (TypeError, ValueError) as exc:  # e.g. an array of strings or of objects
            text = f"policy returned an action at step {k} that is not an array of numbers"
            return k, keys, f"ValueError: {text} ({_describe(exc)})"
    return len(times), keys, None


def _store_array(
    action: Any,
    k: int,
    keys: frozenset[str] | None,
    target: np.ndarray,
    primary: Signal,
    width: int,
) -> None:
    if keys is not None:
        raise _PolicyOutputError(
            f"ValueError: policy returned an array at step {k} after returning a dict "
            f"({', '.join(sorted(keys))}) before"
        )
    if action is None:
        raise _PolicyOutputError(
            f"ValueError: policy returned None at step {k}; the recorded action "
            f"{primary.stream!r} has {width} channels"
        )
    try:
        values = np.asarray(action, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise _PolicyOutputError(
            f"ValueError: policy returned a {type(action).__name__} at step {k} that is not an "
            f"array of numbers ({_describe(exc)}); the recorded action {primary.stream!r} has "
            f"{width} channels"
        ) from None
    if values.size != width:
        raise _PolicyOutputError(
            f"ValueError: policy returned shape {values.shape} at step {k}; the recorded action "
            f"{primary.stream!r} has {width} channels"
        )
    target[k] = values.reshape(-1)


def _store_dict(
    action: Mapping[Any, Any],
    k: int,
    keys: frozenset[str] | None,
    out: dict[str, np.ndarray],
    widths: dict[str, int],
) -> frozenset[str]:
    names = frozenset(str(key) for key in action)
    if keys is None:
        unknown = sorted(names - widths.keys())
        if unknown or not names:
            raise _PolicyOutputError(
                f"ValueError: policy returned a dict with keys {sorted(names)} at step {k}; the "
                f"recorded action streams are {', '.join(repr(n) for n in widths)}"
            )
        if k > 0:
            raise _PolicyOutputError(
                f"ValueError: policy returned a dict at step {k} after returning an array before"
            )
    elif names != keys:
        raise _PolicyOutputError(
            f"ValueError: policy returned keys {sorted(names)} at step {k} but {sorted(keys)} "
            "before"
        )
    for key, value in action.items():
        name = str(key)
        try:
            values = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise _PolicyOutputError(
                f"ValueError: policy returned a {type(value).__name__} for {name!r} at step {k} "
                f"that is not an array of numbers ({_describe(exc)})"
            ) from None
        if values.size != widths[name]:
            raise _PolicyOutputError(
                f"ValueError: policy returned shape {values.shape} for {name!r} at step {k}; the "
                f"recorded action {name!r} has {widths[name]} channels"
            )
        out[name][k] = values.reshape(-1)
    return names


# ---------------------------------------------------------------- measuring


def _stats_for(
    compared: Sequence[Signal],
    stats: Mapping[str, ActionStats] | None,
    problems: list[str],
) -> dict[str, ActionStats]:
    chosen: dict[str, ActionStats] = {}
    for signal in compared:
        given = (stats or {}).get(signal.stream)
        if given is not None and len(given.channels) == len(signal.channels):
            chosen[signal.stream] = given
            continue
        if given is not None:
            problems.append(
                f"the baseline's {signal.stream!r} has {len(given.channels)} channels, this "
                f"episode {len(signal.channels)}: errors scaled by this episode's own actions"
            )
        chosen[signal.stream] = ActionStats.combine([_moments(signal)])
    return chosen


def _row_mean(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Mean over valid entries of each row (NaN for a row without any), without warnings."""
    count = valid.sum(axis=1)
    total = np.where(valid, values, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _mean(values: np.ndarray) -> float | None:
    """Mean over the entries that are not NaN (+inf stays: it is a real, infinite error)."""
    kept = values[~np.isnan(values)]
    return float(kept.mean()) if kept.size else None


def _measure(
    result: RerollResult,
    t_ns: np.ndarray,
    compared: Sequence[Signal],
    out: dict[str, np.ndarray],
    observations: dict[str, StreamValues],
    stats: dict[str, ActionStats],
    divergence_z: float,
    ood_z: float,
    problems: list[str],
) -> Reroll:
    steps = len(t_ns)
    primary = compared[0].stream
    candidate = {s.stream: StreamValues(s.stream, s.channels, out[s.stream]) for s in compared}
    recorded = {s.stream: StreamValues(s.stream, s.channels, _at_steps(s, t_ns)) for s in compared}
    cand = np.concatenate([candidate[s.stream].values for s in compared], axis=1)
    rec = np.concatenate([recorded[s.stream].values for s in compared], axis=1)
    mean = np.concatenate([stats[s.stream].mean for s in compared])
    std = np.concatenate([stats[s.stream].std for s in compared])
    names = [c if s.stream == primary else f"{s.stream}/{c}" for s in compared for c in s.channels]

    cand_ok = np.isfinite(cand)
    rec_ok = np.isfinite(rec)
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.where(cand_ok, np.abs(cand - rec), np.inf)  # a NaN action: infinitely off
        error = np.where(rec_ok, error, np.nan)  # no recorded value: nothing to compare
        valid = rec_ok
        squared = np.where(valid, error, 0.0) ** 2
        l2 = np.where(valid.any(axis=1), np.sqrt(squared.sum(axis=1)), np.nan)
        error_z = np.sqrt(_row_mean((error / std) ** 2, valid))
        z_cand = np.abs(cand - mean) / std
        z_rec = np.abs(rec - mean) / std
    ood = ((z_cand > ood_z) | ~cand_ok).any(axis=1)
    ood_recorded = ((z_rec > ood_z) | ~rec_ok).any(axis=1)

    if steps:
        result.mean_l2 = _mean(l2)
        result.mean_error_z = _mean(error_z)
        kept = error_z[~np.isnan(error_z)]
        result.max_error_z = float(kept.max()) if kept.size else None
        per_joint = _row_mean(error.T, valid.T).tolist()  # NaN: never recorded
        result.per_joint_error = {
            n: v for n, v in zip(names, per_joint, strict=True) if not math.isnan(v)
        }
        result.ood_share = float(ood.mean())
        result.recorded_ood_share = float(ood_recorded.mean())
        result.first_divergence_ns = _first_divergence(t_ns, error_z, divergence_z)
        with warnings.catch_warnings():  # a channel that is all NaN has no jerk: not news
            warnings.simplefilter("ignore", RuntimeWarning)
            result.jerk = action_jerk(t_ns, candidate[primary].values)
            result.recorded_jerk = action_jerk(t_ns, recorded[primary].values)
    for value in ("mean_l2", "mean_error_z", "max_error_z"):
        number = getattr(result, value)
        if number is not None and math.isnan(number):
            setattr(result, value, None)
    return Reroll(
        result=result,
        t_ns=t_ns,
        actions=candidate,
        recorded=recorded,
        observations=observations,
        l2=l2,
        error_z=error_z,
        ood=ood,
        problems=problems,
    )


def _first_divergence(t_ns: np.ndarray, error_z: np.ndarray, threshold: float) -> int | None:
    """Time of the first step that starts DIVERGENCE_RUN consecutive steps above threshold."""
    if len(error_z) < DIVERGENCE_RUN:
        return None
    with np.errstate(invalid="ignore"):
        above = error_z > threshold  # NaN (nothing recorded): not above
    run = above[: len(above) - DIVERGENCE_RUN + 1].copy()
    for shift in range(1, DIVERGENCE_RUN):
        run &= above[shift : len(above) - DIVERGENCE_RUN + 1 + shift]
    hits = np.flatnonzero(run)
    return int(t_ns[hits[0]]) if hits.size else None
