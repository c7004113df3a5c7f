"""What the fault builders ask of a recording: its streams by role, commanded/measured pairs by
joint, a channel's noise floor, and chunk edits that keep every clock a reader recorded.

The noise floor is the robust spread of sample-to-sample differences (1.4826 × MAD): a spike or
an oscillation is sized against what the channel normally does, never against a fixed number.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from robotrace_desktop.core.channels import overlay_pairs, split_channel, stream_role
from robotrace_desktop.core.episode import SignalChunk
from tests.analysis.faults import MemorySource, _is_hand, _pair_of

NS = 1_000_000_000
Edit = Callable[[SignalChunk], SignalChunk]
#: (stream, channel) -> (low, high) across the robot's OTHER episodes, or None
PeerRange = Callable[[str, str], tuple[float, float] | None]


def pick(rng: np.random.Generator, items: list) -> object:
    return items[int(rng.integers(0, len(items)))]


def role_of(src: MemorySource, stream: str) -> str:
    return stream_role(src.info.stream(stream))


def streams_with_role(src: MemorySource, *roles: str, min_samples: int = 20) -> list[SignalChunk]:
    return [
        c
        for name, c in src.signals.items()
        if role_of(src, name) in roles and len(c) >= min_samples
    ]


def rate_hz(chunk: SignalChunk) -> float:
    dt = np.diff(chunk.t_ns)
    dt = dt[dt > 0]
    return float(NS / np.median(dt)) if len(dt) else 0.0


def noise_floor(col: np.ndarray) -> float:
    """Robust spread of sample-to-sample differences (what the channel does between samples)."""
    d = np.diff(col[np.isfinite(col)])
    if len(d) < 3:
        return 0.0
    return float(1.4826 * np.median(np.abs(d - np.median(d))))


def moving(chunk: SignalChunk, channel: str, lo_ns: int, hi_ns: int, share: float) -> bool:
    """The channel moves over [lo, hi) by at least ``share`` of its whole range."""
    col = chunk.channel(channel)
    full = float(np.nanmax(col) - np.nanmin(col)) if len(col) else 0.0
    sel = (chunk.t_ns >= lo_ns) & (chunk.t_ns < hi_ns)
    if not np.isfinite(full) or full <= 1e-9 or sel.sum() < 2:
        return False
    return float(np.ptp(col[sel])) >= share * full


def lively(
    chunk: SignalChunk,
    channel: str,
    peer_range: tuple[float, float] | None,
    *,
    share: float = 0.1,
) -> bool:
    """The channel really moves in this episode: its 1–99 % span is at least ``share`` of the
    span the robot's other episodes reach, and well above its own noise floor. A fault sized
    by a channel's span means nothing on a joint that only jitters (an arm at rest)."""
    col = chunk.channel(channel)
    finite = col[np.isfinite(col)]
    if len(finite) < 4:
        return False
    span = float(np.percentile(finite, 99) - np.percentile(finite, 1))
    if span <= 20.0 * noise_floor(finite) or span <= 0.0:
        return False
    if peer_range is None:
        return True
    return span >= share * (peer_range[1] - peer_range[0])


def varying_channels(chunk: SignalChunk, *, hands: bool = False) -> list[str]:
    """Channels with a finite, non-zero range (and, unless asked, not a gripper/hand)."""
    found = []
    for name in chunk.channels:
        col = chunk.channel(name)
        finite = col[np.isfinite(col)]
        if len(finite) > 2 and np.ptp(finite) > 1e-9 and (hands or not _is_hand(name)):
            found.append(name)
    return found


def joint_pairs(src: MemorySource) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """(command, measured) channel pairs of the same quantity, both streams loaded."""
    found = []
    for (cs, cc), (ms, mc) in overlay_pairs(src.info):
        loaded = cs in src.signals and ms in src.signals
        if loaded and not _is_hand(cc) and _pair_of(src.info, ms, mc) == (cs, cc):
            found.append(((cs, cc), (ms, mc)))
    return found


def same_joint(chunk: SignalChunk, channel: str, family: str) -> str | None:
    """``effort/joint_3`` for ``position/joint_3`` (None when the stream has no such channel)."""
    _, joint = split_channel(channel)
    name = f"{family}/{joint}"
    return name if name in chunk.channels else None


def pick_t0(rng: np.random.Generator, chunk: SignalChunk, need_s: float) -> int | None:
    """An onset 15–75 % into the stream that leaves ``need_s`` seconds after it."""
    lo, hi = int(chunk.t_ns[0]), int(chunk.t_ns[-1])
    latest = min(lo + 0.75 * (hi - lo), hi - need_s * NS)
    earliest = lo + 0.15 * (hi - lo)
    if latest <= earliest:
        return None
    return int(rng.uniform(earliest, latest))


def with_values(chunk: SignalChunk, values: np.ndarray) -> SignalChunk:
    return SignalChunk(chunk.stream, chunk.channels, chunk.t_ns, values, dict(chunk.times))


def add_to_channel(chunk: SignalChunk, channel: str, delta: np.ndarray) -> SignalChunk:
    values = chunk.values.copy()
    values[:, chunk.channels.index(channel)] += delta
    return with_values(chunk, values)


def add_at_times(t_ref: np.ndarray, delta_ref: np.ndarray, channel: str) -> Edit:
    """An edit adding a delta given at ``t_ref`` (interpolated, 0 outside) to ``channel``."""

    def edit(chunk: SignalChunk) -> SignalChunk:
        delta = np.interp(chunk.t_ns, t_ref, delta_ref, left=0.0, right=0.0)
        return add_to_channel(chunk, channel, delta)

    return edit


def keep_rows(chunk: SignalChunk, keep: np.ndarray) -> SignalChunk:
    times = {clock: t[keep] for clock, t in chunk.times.items()}
    return SignalChunk(chunk.stream, chunk.channels, chunk.t_ns[keep], chunk.values[keep], times)


def chain(*edits: Edit | None) -> Edit:
    def edit(chunk: SignalChunk) -> SignalChunk:
        for e in edits:
            if e is not None:
                chunk = e(chunk)
        return chunk

    return edit
