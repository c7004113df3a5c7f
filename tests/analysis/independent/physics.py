"""The physics the independent builders share: noise floors, a first-order lag (how a joint
follows its command), command/measured pairs, which channels move, edits that keep every clock.

Pairs are found the way an engineer reading the recording would find them, not only the way
the product pairs channels: by joint name, by index when a LeRobot ``action`` and
``observation.state`` have the same width and only indexed names (Reachy 2), and by physics
for turtlesim (``cmd_vel`` linear.x / angular.z drive ``pose`` linear_velocity /
angular_velocity).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from robotrace_desktop.core.channels import overlay_pairs, split_channel, stream_role
from robotrace_desktop.core.episode import SignalChunk
from tests.analysis.faults import MemorySource

NS = 1_000_000_000
PeerRange = Callable[[str, str], "tuple[float, float] | None"]

_INDEXED = re.compile(r"^(?P<field>.+)\[(?P<index>\d+)\]$")
_SKIP_WORDS = ("time", "stamp", "covariance", "status", "msg_id", "STATUS", "COVARIANCE", "seq")
_PHYSICAL = {
    # turtlesim: the pose reports the velocity the turtle was commanded
    ("cmd_vel", "linear.x"): ("pose", "linear_velocity"),
    ("cmd_vel", "angular.z"): ("pose", "angular_velocity"),
}


@dataclass(frozen=True)
class Pair:
    """A commanded channel and the measured channel that follows it."""

    cmd_stream: str
    cmd_channel: str
    meas_stream: str
    meas_channel: str


# ---------------------------------------------------------------- statistics


def noise_floor(x: np.ndarray) -> float:
    """Robust spread of sample-to-sample differences (what a still sensor jitters by)."""
    d = np.diff(x[np.isfinite(x)])
    if len(d) < 3:
        return 0.0
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


def span(x: np.ndarray) -> float:
    finite = x[np.isfinite(x)]
    return float(np.ptp(finite)) if len(finite) else 0.0


def sample_period_ns(chunk: SignalChunk) -> int:
    return int(np.median(np.diff(chunk.t_ns))) if len(chunk) > 1 else NS // 30


def lag(t_ns: np.ndarray, x: np.ndarray, tau_s: float) -> np.ndarray:
    """First-order lag on possibly irregular times: a joint's servo following its command."""
    y = np.empty_like(x, dtype=float)
    y[0] = x[0]
    dt = np.diff(t_ns).astype(float) / NS
    alpha = 1.0 - np.exp(-np.maximum(dt, 0.0) / max(tau_s, 1e-6))
    for i in range(1, len(x)):
        y[i] = y[i - 1] + alpha[i - 1] * (x[i] - y[i - 1])
    return y


def smooth(x: np.ndarray, width: int = 5) -> np.ndarray:
    """A centred moving average: the motion, without the sensor's noise."""
    if len(x) < width:
        return x.copy()
    pad = np.pad(x, width // 2, mode="edge")
    return np.convolve(pad, np.ones(width) / width, mode="valid")[: len(x)]


def raised_cosine(
    t_s: np.ndarray, start: float, rise: float, hold: float, fall: float
) -> np.ndarray:
    """0 → 1 → 0 with smooth (cosine) edges: how a planner moves a joint somewhere and back."""
    out = np.zeros_like(t_s, dtype=float)
    up = (t_s >= start) & (t_s < start + rise)
    out[up] = 0.5 - 0.5 * np.cos(np.pi * (t_s[up] - start) / rise)
    top = (t_s >= start + rise) & (t_s < start + rise + hold)
    out[top] = 1.0
    t_fall = start + rise + hold
    down = (t_s >= t_fall) & (t_s < t_fall + fall)
    out[down] = 0.5 + 0.5 * np.cos(np.pi * (t_s[down] - t_fall) / fall)
    return out


# ---------------------------------------------------------------- chunks


def with_values(chunk: SignalChunk, values: np.ndarray) -> SignalChunk:
    """The same samples on the same clocks, new values."""
    return SignalChunk(chunk.stream, chunk.channels, chunk.t_ns, values, dict(chunk.times))


def with_column(chunk: SignalChunk, channel: str, column: np.ndarray) -> SignalChunk:
    values = chunk.values.copy()
    values[:, chunk.channels.index(channel)] = column
    return with_values(chunk, values)


def keep_rows(
    chunk: SignalChunk,
    keep: np.ndarray,
    t_ns: np.ndarray | None = None,
    times: dict[str, np.ndarray] | None = None,
) -> SignalChunk:
    new_times = {k: v[keep] for k, v in chunk.times.items()} if times is None else times
    new_t = chunk.t_ns[keep] if t_ns is None else t_ns
    return SignalChunk(chunk.stream, chunk.channels, new_t, chunk.values[keep], new_times)


def timeline_clock(chunk: SignalChunk) -> str | None:
    """The clock the timeline ``t_ns`` was taken from (a constant offset from it), if any."""
    for name, t in chunk.times.items():
        if len(t) == len(chunk.t_ns) and len(t) > 1:
            off = t.astype(np.int64) - chunk.t_ns
            if int(off.max() - off.min()) <= 1000:
                return name
    return None


def fixed(chunk: SignalChunk) -> Callable[[SignalChunk], SignalChunk]:
    """An edit that returns a precomputed chunk (the fault is built once, applied lazily)."""
    return lambda _old: chunk


def pick_time(rng: np.random.Generator, t_ns: np.ndarray, lo: float = 0.2, hi: float = 0.75) -> int:
    a, b = int(t_ns[0]), int(t_ns[-1])
    return int(a + (b - a) * rng.uniform(lo, hi))


# ---------------------------------------------------------------- which channels


def usable(chunk: SignalChunk, channel: str, still: bool = False) -> bool:
    """A physical, varying signal; with ``still``, also a joint of a LeRobot joint vector that
    happens not to move in this episode (the SO-101 recordings hold every joint still)."""
    if any(w in channel for w in _SKIP_WORDS):
        return False
    x = chunk.channel(channel)
    finite = x[np.isfinite(x)]
    if len(finite) < 20:
        return False
    if still and chunk.stream in ("observation.state", "action"):
        return True
    if span(finite) <= 1e-9:
        return False
    return len(np.unique(finite)) >= 12  # a flag or an enum is not a physical signal


def scale(x: np.ndarray) -> float:
    """The size of a channel's motion: its range, or for a joint held still 10 % of its value
    (at least 0.05 of its unit: a few degrees for a joint in radians)."""
    s = span(x)
    if s > 20 * noise_floor(x) and s > 1e-9:
        return s
    finite = x[np.isfinite(x)]
    return max(0.1 * float(np.abs(np.median(finite))) if len(finite) else 0.0, 0.05)


def residual_spread(src: MemorySource, pair: Pair) -> float:
    """The normal command-vs-measured tracking error: a robust spread of their difference."""
    cmd, meas = src.signals[pair.cmd_stream], src.signals[pair.meas_stream]
    c = np.interp(meas.t_ns, cmd.t_ns, cmd.channel(pair.cmd_channel))
    r = meas.channel(pair.meas_channel) - c
    r = r[np.isfinite(r)]
    if len(r) < 3:
        return 0.0
    return float(1.4826 * np.median(np.abs(r - np.median(r))))


def moving_in(chunk: SignalChunk, channel: str, lo_ns: int, hi_ns: int, share: float = 0.1) -> bool:
    """The channel moves over [lo, hi): by a share of its range and well above its noise."""
    x = chunk.channel(channel)
    sel = (chunk.t_ns >= lo_ns) & (chunk.t_ns < hi_ns) & np.isfinite(x)
    if sel.sum() < 3:
        return False
    local = float(np.ptp(x[sel]))
    return local >= share * span(x) and local >= 8 * noise_floor(x)


def signal_streams(src: MemorySource, roles: tuple[str, ...]) -> Iterator[SignalChunk]:
    for stream in src.info.streams:
        chunk = src.signals.get(stream.name)
        if chunk is None or len(chunk) < 20 or stream_role(stream) not in roles:
            continue
        yield chunk


def sensor_channels(
    src: MemorySource, roles: tuple[str, ...] = ("state", "other"), still: bool = False
) -> list[tuple[str, str]]:
    """(stream, channel) of every physical, varying sensor channel."""
    found = []
    for chunk in signal_streams(src, roles):
        found += [(chunk.stream, c) for c in chunk.channels if usable(chunk, c, still)]
    return found


def command_channels(src: MemorySource, still: bool = False) -> list[tuple[str, str]]:
    found = []
    for chunk in signal_streams(src, ("command",)):
        found += [(chunk.stream, c) for c in chunk.channels if usable(chunk, c, still)]
    return found


def pairs(src: MemorySource, still: bool = False) -> list[Pair]:
    """Command → measured pairs of the same quantity, found by name, index or physics."""
    found: list[Pair] = []
    for (cs, cc), (ms, mc) in overlay_pairs(src.info):
        cf, mf = split_channel(cc)[0], split_channel(mc)[0]
        same = cf in (None, mf) or (mf == "position" and cf == "joint_position")
        if same and cs in src.signals and ms in src.signals:
            found.append(Pair(cs, cc, ms, mc))
    if not found and "action" in src.signals and "observation.state" in src.signals:
        act, obs = src.signals["action"], src.signals["observation.state"]
        if len(act.channels) == len(obs.channels) and all(
            _INDEXED.match(c) for c in act.channels + obs.channels
        ):
            found += [
                Pair("action", a, "observation.state", o)
                for a, o in zip(act.channels, obs.channels, strict=True)
            ]
    for cs in [s for s in src.signals if s.endswith("/cmd_vel")]:
        base = cs[: -len("cmd_vel")]
        for (cmd_leaf, cc), (meas_leaf, mc) in _PHYSICAL.items():
            ms = base + meas_leaf
            if cs.endswith(cmd_leaf) and ms in src.signals and mc in src.signals[ms].channels:
                found.append(Pair(cs, cc, ms, mc))
    return [p for p in found if usable(src.signals[p.cmd_stream], p.cmd_channel, still)]


def follow(
    src: MemorySource, pair: Pair, new_cmd: np.ndarray, tau_s: float
) -> tuple[SignalChunk, SignalChunk]:
    """The command replaced by ``new_cmd`` and the measured channel following the change with
    a first-order lag (its own noise and tracking kept): what a servo does."""
    cmd = src.signals[pair.cmd_stream]
    meas = src.signals[pair.meas_stream]
    delta = new_cmd - cmd.channel(pair.cmd_channel)
    delta = np.where(np.isfinite(delta), delta, 0.0)
    on_meas = np.interp(meas.t_ns, cmd.t_ns, delta)
    old = meas.channel(pair.meas_channel)
    if span(old) <= 0:  # a channel the robot does not record (all zeros) stays unrecorded
        return with_column(cmd, pair.cmd_channel, new_cmd), meas
    moved = old + lag(meas.t_ns, on_meas, tau_s)
    return with_column(cmd, pair.cmd_channel, new_cmd), with_column(meas, pair.meas_channel, moved)
