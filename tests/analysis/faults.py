"""Fault injection for the Explain evaluation: a known fault at a known time in a real episode.

``MemorySource`` loads an opened episode once (signals, events, camera frame times) so many
faulty variants can be made from it without touching the disk again. ``FaultySource(inner,
fault)`` returns the modified signals / events / frame times and delegates the rest;
``faulty_info(info, fault)`` is the matching EpisodeInfo: status failed, outcome failure and —
as a real failed run does — an ERROR log line and a ``failure_reason`` that come *after* the
cause (0.5–2 s later), never naming it. ``make_fault(kind, ...)`` picks the channel and the
injection time t0 (40–70 % of the affected stream's span) deterministically from a seed.

``clean_demo`` turns the generated demo (whose gripper closes early) into a successful run, so a
fault injected into it is the only fault in the episode.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from robotrace_desktop.core.channels import overlay_pairs, split_channel, stream_role
from robotrace_desktop.core.episode import (
    EpisodeInfo,
    EpisodeSource,
    LogEvent,
    Outcome,
    SignalChunk,
    Status,
    StreamInfo,
    StreamKind,
    time_mask,
)
from robotrace_desktop.errors import RobotraceError, StreamNotFoundError

NS = 1_000_000_000

#: fault kind -> the cause ids accepted as the right answer at rank 1
EXPECTED: dict[str, frozenset[str]] = {
    "action_saturation": frozenset({"action_saturation"}),
    "joint_limit_breach": frozenset({"joint_limit_breach", "joint_limit"}),
    "effort_spike": frozenset({"effort_spike", "effort_saturation", "torque_spike"}),
    "tracking_error": frozenset({"tracking_error"}),
    "sensor_stall": frozenset({"sensor_stall", "sensor_flatline", "stream_stall"}),
    "timestamp_gap": frozenset({"timestamp_gap"}),
    "dropped_frames": frozenset({"dropped_frames"}),
    "clock_jump": frozenset({"clock_jump"}),
    "nan_inf": frozenset({"nan_inf"}),
    "battery_brownout": frozenset({"battery_brownout"}),
    "raised_exception": frozenset({"raised_exception"}),
    "gripper_empty_close": frozenset({"gripper_empty_close"}),
}
#: fault kind -> the analyzer module (analysis/causes/<name>.py) that must find it
MODULE: dict[str, str] = {
    "action_saturation": "action_saturation",
    "joint_limit_breach": "joint_limits",
    "effort_spike": "effort",
    "tracking_error": "tracking",
    "sensor_stall": "flatline",
    "timestamp_gap": "timing",
    "dropped_frames": "timing",
    "clock_jump": "timing",
    "nan_inf": "nan_inf",
    "battery_brownout": "battery",
    "raised_exception": "exception",
    "gripper_empty_close": "gripper",
}
_HAND_WORDS = ("grip", "hand", "finger", "claw")
BATTERY_STREAM = "/battery_state"


# ---------------------------------------------------------------- in-memory episodes


class _Frames:
    """Just enough of a FrameSource for the analyzers: the frame times."""

    def __init__(self, times: np.ndarray) -> None:
        self._times = np.asarray(times, dtype=np.int64)

    def frame_times_ns(self) -> np.ndarray:
        return self._times

    def close(self) -> None:
        pass


class MemorySource(EpisodeSource):
    """An episode loaded whole into memory (read once, reused by every fault case)."""

    def __init__(
        self,
        info: EpisodeInfo,
        signals: dict[str, SignalChunk],
        events: dict[str, list[LogEvent]],
        frames: dict[str, np.ndarray],
    ) -> None:
        self.info = info
        self.signals = signals
        self.events = events
        self.frames = frames

    @classmethod
    def load(cls, info: EpisodeInfo, source: EpisodeSource) -> MemorySource:
        signals: dict[str, SignalChunk] = {}
        events: dict[str, list[LogEvent]] = {}
        frames: dict[str, np.ndarray] = {}
        with source:
            for stream in info.streams:
                try:
                    if stream.kind == StreamKind.SIGNAL and stream.count and stream.channels:
                        signals[stream.name] = source.read_signal(stream.name)
                    elif stream.kind == StreamKind.EVENT:
                        events[stream.name] = list(source.read_events(stream.name))
                    elif stream.kind == StreamKind.VIDEO and not stream.details.get("missing"):
                        frames[stream.name] = np.asarray(source.video(stream.name).frame_times_ns())
                except RobotraceError:
                    continue  # the analyzers see the same hole through the real source
        return cls(info, signals, events, frames)

    def read_signal(
        self, stream: str, start_ns: int | None = None, stop_ns: int | None = None
    ) -> SignalChunk:
        if stream not in self.signals:
            raise StreamNotFoundError(f"episode {self.info.id} has no signal {stream!r}")
        return _sliced(self.signals[stream], start_ns, stop_ns)

    def read_events(
        self, stream: str, start_ns: int | None = None, stop_ns: int | None = None
    ) -> list[LogEvent]:
        if stream not in self.events:
            raise StreamNotFoundError(f"episode {self.info.id} has no event stream {stream!r}")
        return _events_in(self.events[stream], start_ns, stop_ns)

    def video(self, stream: str) -> _Frames:  # type: ignore[override]
        if stream not in self.frames:
            raise StreamNotFoundError(f"episode {self.info.id} has no video stream {stream!r}")
        return _Frames(self.frames[stream])


def _sliced(chunk: SignalChunk, start_ns: int | None, stop_ns: int | None) -> SignalChunk:
    if start_ns is None and stop_ns is None:
        return chunk
    sel = time_mask(chunk.t_ns, start_ns, stop_ns)
    times = {clock: t[sel] for clock, t in chunk.times.items()}  # every clock a reader kept
    return SignalChunk(chunk.stream, chunk.channels, chunk.t_ns[sel], chunk.values[sel], times)


def _events_in(events: list[LogEvent], start_ns: int | None, stop_ns: int | None) -> list[LogEvent]:
    lo = -(2**62) if start_ns is None else start_ns
    hi = 2**62 if stop_ns is None else stop_ns
    return [e for e in events if lo <= e.t_ns < hi]


# ---------------------------------------------------------------- the fault


@dataclass
class Fault:
    """One injected fault: what, where, when, and the answer expected from Explain."""

    kind: str
    t0_ns: int
    stream: str | None = None
    channel: str | None = None
    #: stream -> chunk -> modified chunk (several streams for faults that move a pair)
    edits: dict[str, Callable[[SignalChunk], SignalChunk]] = field(default_factory=dict)
    frame_edits: dict[str, Callable[[np.ndarray], np.ndarray]] = field(default_factory=dict)
    added_signals: dict[str, SignalChunk] = field(default_factory=dict)
    added_events: list[LogEvent] = field(default_factory=list)
    failure_reason: str = "TaskFailure: the task monitor stopped the episode"
    #: False: the run keeps its recorded status/outcome (most public datasets say nothing)
    labelled: bool = True
    #: applied to every event stream (a gap removes log lines too)
    event_edit: Callable[[list[LogEvent]], list[LogEvent]] | None = None
    detail: str = ""  # which variant of the kind (for the record)

    @property
    def expected(self) -> frozenset[str]:
        return EXPECTED[self.kind]

    @property
    def module(self) -> str:
        return MODULE[self.kind]

    def describe(self) -> str:
        where = "/".join(p for p in (self.stream, self.channel) if p) or "-"
        return f"{self.kind} on {where} at {self.t0_ns / NS:.2f} s"


class FaultySource(EpisodeSource):
    """``inner`` with ``fault`` applied to what the analyzers read."""

    def __init__(self, inner: MemorySource, fault: Fault, info: EpisodeInfo | None = None) -> None:
        self.inner = inner
        self.fault = fault
        self.info = info or faulty_info(inner, fault)
        self._cache: dict[str, SignalChunk] = {}

    def _full(self, stream: str) -> SignalChunk:
        if stream not in self._cache:
            if stream in self.fault.added_signals:
                chunk = self.fault.added_signals[stream]
            else:
                chunk = self.inner.read_signal(stream)
                edit = self.fault.edits.get(stream)
                if edit is not None:
                    chunk = edit(chunk)
            self._cache[stream] = chunk
        return self._cache[stream]

    def read_signal(
        self, stream: str, start_ns: int | None = None, stop_ns: int | None = None
    ) -> SignalChunk:
        return _sliced(self._full(stream), start_ns, stop_ns)

    def read_events(
        self, stream: str, start_ns: int | None = None, stop_ns: int | None = None
    ) -> list[LogEvent]:
        events = list(self.inner.events.get(stream, []))
        if stream == _event_stream(self.inner.info):
            events = sorted(events + self.fault.added_events, key=lambda e: e.t_ns)
        elif stream not in self.inner.events:
            raise StreamNotFoundError(f"episode {self.info.id} has no event stream {stream!r}")
        if self.fault.event_edit is not None:
            events = self.fault.event_edit(events)
        return _events_in(events, start_ns, stop_ns)

    def video(self, stream: str) -> _Frames:  # type: ignore[override]
        times = self.inner.video(stream).frame_times_ns()
        edit = self.fault.frame_edits.get(stream)
        return _Frames(edit(times) if edit else times)


def _event_stream(info: EpisodeInfo) -> str:
    """The stream the failure is logged to: the episode's own log, or a new ``/log``."""
    names = [s.name for s in info.streams_of(StreamKind.EVENT) if s.name != "/robot_description"]
    for preferred in ("/log", "/rosout"):
        if preferred in names:
            return preferred
    return names[0] if names else "/log"


def faulty_info(inner: MemorySource, fault: Fault) -> EpisodeInfo:
    """The EpisodeInfo of the failed run: status/outcome/metadata and stream summaries updated."""
    info = inner.info
    metadata = copy.deepcopy(info.metadata)
    if fault.kind != "gripper_empty_close" and fault.labelled:
        metadata["failure_reason"] = fault.failure_reason
    streams: list[StreamInfo] = []
    for stream in info.streams:
        if stream.kind == StreamKind.SIGNAL and stream.name in fault.edits:
            chunk = fault.edits[stream.name](inner.read_signal(stream.name))
            stream = _summary(stream, chunk)
        elif stream.kind == StreamKind.VIDEO and stream.name in fault.frame_edits:
            times = fault.frame_edits[stream.name](inner.frames[stream.name])
            stream = dataclasses.replace(
                stream, count=len(times), t_start_ns=int(times[0]), t_end_ns=int(times[-1])
            )
        streams.append(stream)
    for name, chunk in fault.added_signals.items():
        streams.append(
            _summary(
                StreamInfo(name, StreamKind.SIGNAL, 0, message_type="sensor_msgs/msg/BatteryState"),
                chunk,
            )
        )
    log_stream = _event_stream(info)
    if fault.added_events and log_stream not in inner.events:
        times = [e.t_ns for e in fault.added_events]
        streams.append(
            StreamInfo(
                log_stream,
                StreamKind.EVENT,
                len(times),
                t_start_ns=min(times),
                t_end_ns=max(times),
                message_type="log",
            )
        )
    return dataclasses.replace(
        info,
        status=Status.FAILED if fault.labelled else info.status,
        outcome=Outcome.FAILURE if fault.labelled else info.outcome,
        metadata=metadata,
        streams=streams,
        problems=list(info.problems),
    )


def _summary(stream: StreamInfo, chunk: SignalChunk) -> StreamInfo:
    t = chunk.t_ns
    return dataclasses.replace(
        stream,
        count=len(t),
        channels=tuple(chunk.channels),
        t_start_ns=int(t.min()) if len(t) else None,
        t_end_ns=int(t.max()) if len(t) else None,
    )


# ---------------------------------------------------------------- building faults


def _replace(chunk: SignalChunk, t_ns: np.ndarray, values: np.ndarray) -> SignalChunk:
    return SignalChunk(chunk.stream, chunk.channels, t_ns, values)


def _is_hand(channel: str) -> bool:
    return any(w in channel.lower() for w in _HAND_WORDS)


def _moving(chunk: SignalChunk, channels: list[str], lo_ns: int, hi_ns: int) -> list[str]:
    """Channels that move over [lo, hi), most moving first."""
    sel = (chunk.t_ns >= lo_ns) & (chunk.t_ns < hi_ns)
    scored = []
    for name in channels:
        col = chunk.channel(name)
        full = np.nanmax(col) - np.nanmin(col)
        if not np.isfinite(full) or full <= 1e-9 or sel.sum() < 2:
            continue
        scored.append((float(np.ptp(col[sel]) / full), name))
    return [name for score, name in sorted(scored, reverse=True) if score > 0.05]


def _pick_t0(rng: np.random.Generator, lo_ns: int, hi_ns: int) -> int:
    return int(lo_ns + (hi_ns - lo_ns) * rng.uniform(0.4, 0.7))


def _span(chunk: SignalChunk) -> tuple[int, int]:
    return int(chunk.t_ns[0]), int(chunk.t_ns[-1])


def _streams_with_role(src: MemorySource, role: str) -> list[SignalChunk]:
    found = []
    for name, chunk in src.signals.items():
        if stream_role(src.info.stream(name)) == role and len(chunk) >= 20:
            found.append(chunk)
    return found


def _pair_of(info: EpisodeInfo, stream: str, channel: str) -> tuple[str, str] | None:
    """The other side of a (commanded, measured) pair, when the two are the same quantity."""
    for (cs, cc), (ms, mc) in overlay_pairs(info):
        same = split_channel(cc)[0] in (None, split_channel(mc)[0]) or (
            split_channel(mc)[0] == "position" and split_channel(cc)[0] == "joint_position"
        )
        if not same:
            continue
        if (cs, cc) == (stream, channel):
            return ms, mc
        if (ms, mc) == (stream, channel):
            return cs, cc
    return None


def _add_delta(
    chunk: SignalChunk, channel: str, t_ref: np.ndarray, delta_ref: np.ndarray
) -> SignalChunk:
    """Add a delta given at times t_ref (interpolated) to one channel."""
    values = chunk.values.copy()
    i = chunk.channels.index(channel)
    values[:, i] += np.interp(chunk.t_ns, t_ref, delta_ref, left=0.0, right=0.0)
    return _replace(chunk, chunk.t_ns, values)


def _failure_event(fault: Fault, rng: np.random.Generator, duration_ns: int) -> None:
    delay = int(rng.uniform(0.5, 2.0) * NS)
    t_fail = min(fault.t0_ns + delay, max(duration_ns - NS // 20, fault.t0_ns + NS // 2))
    fault.added_events.append(
        LogEvent(t_fail, "ERROR", "task monitor: episode failed, aborting", "task_monitor")
    )


def make_fault(
    kind: str,
    src: MemorySource,
    seed: int,
    *,
    history: Callable[[str, str], tuple[float, float] | None] | None = None,
) -> Fault | None:
    """A fault of ``kind`` for this episode, or None when the episode cannot carry it (no
    efforts, no camera, no moving command...). ``history(stream, channel)`` gives the range the
    channel reaches across the dataset (for joint-limit breaches without declared limits)."""
    rng = np.random.default_rng([seed, sum(map(ord, kind))])
    builder = _BUILDERS[kind]
    fault = builder(src, rng, history)
    if fault is None:
        return None
    if kind not in ("raised_exception", "gripper_empty_close"):
        _failure_event(fault, rng, src.info.duration_ns)
    return fault


Builder = Callable[
    [MemorySource, np.random.Generator, Callable[[str, str], Any] | None], Fault | None
]


def _action_saturation(src: MemorySource, rng: np.random.Generator, history: Any) -> Fault | None:
    for chunk in _streams_with_role(src, "command"):
        lo, hi = _span(chunk)
        t0 = _pick_t0(rng, lo, hi)
        candidates = [c for c in chunk.channels if not _is_hand(c)]
        moving = _moving(chunk, candidates, t0, min(t0 + 2 * NS, hi))
        if not moving:
            continue
        first = int(rng.integers(0, min(3, len(moving))))
        t1 = t0 + int(rng.uniform(1.5, 2.5) * NS)
        window = (chunk.t_ns >= t0) & (chunk.t_ns < t1)
        for channel in moving[first:] + moving[:first]:
            col = chunk.channel(channel)
            known = history(chunk.stream, channel) if history else None
            top = max(float(np.nanmax(col)), known[1] if known else -np.inf)
            delta = np.where(window, top - col, 0.0)
            # a joint already resting at its maximum when the fault starts would not change
            # there: the pin must start at t0 with a jump the analyzer can date
            first_delta = delta[window][:1]
            if len(first_delta) and first_delta[0] >= 0.1 * (np.nanmax(col) - np.nanmin(col)):
                break
        else:
            continue
        pair = _pair_of(src.info, chunk.stream, channel)

        def edit(c: SignalChunk, channel: str = channel, delta: np.ndarray = delta) -> SignalChunk:
            values = c.values.copy()
            values[:, c.channels.index(channel)] += delta
            return _replace(c, c.t_ns, values)

        fault = Fault("action_saturation", t0, chunk.stream, channel, {chunk.stream: edit})
        if pair is not None and pair[0] in src.signals:
            # the robot follows its saturated command: the measured joint moves the same way
            t_ref = chunk.t_ns
            fault.edits[pair[0]] = lambda c, p=pair[1], d=delta, t=t_ref: _add_delta(c, p, t, d)
        return fault
    return None


def _state_position_channels(chunk: SignalChunk) -> list[str]:
    names = []
    for c in chunk.channels:
        family, _ = split_channel(c)
        if family in (None, "position") and not _is_hand(c):
            names.append(c)
    return names


def _joint_limit_breach(src: MemorySource, rng: np.random.Generator, history: Any) -> Fault | None:
    limits = src.info.metadata.get("joint_limits") or {}
    for chunk in _streams_with_role(src, "state"):
        channels = _state_position_channels(chunk)
        if not channels:
            continue
        lo_t, hi_t = _span(chunk)
        order = rng.permutation(len(channels))
        for k in order:
            channel = channels[int(k)]
            joint = split_channel(channel)[1]
            col = chunk.channel(channel)
            if joint in limits:
                upper = float(limits[joint]["upper"])
                lower = float(limits[joint]["lower"])
                target = upper + 0.1 * (upper - lower)
            else:
                known = history(chunk.stream, channel) if history else None
                lo, hi = known if known else (float(np.nanmin(col)), float(np.nanmax(col)))
                if hi - lo <= 1e-6:
                    continue
                target = hi + 0.45 * (hi - lo)  # clearly beyond the 30 % margin
            t0 = _pick_t0(rng, lo_t, hi_t)
            t1 = t0 + int(rng.uniform(1.0, 2.0) * NS)
            ramp = np.clip((chunk.t_ns - t0) / (0.1 * NS), 0.0, 1.0) * (chunk.t_ns < t1)
            delta = ramp * (target - col)
            pair = _pair_of(src.info, chunk.stream, channel)

            def edit(c: SignalChunk, channel: str = channel, d: np.ndarray = delta) -> SignalChunk:
                values = c.values.copy()
                values[:, c.channels.index(channel)] += d
                return _replace(c, c.t_ns, values)

            fault = Fault("joint_limit_breach", t0, chunk.stream, channel, {chunk.stream: edit})
            if pair is not None and pair[0] in src.signals:
                # commanded there: the command leads the measured joint beyond the limit
                t_ref = chunk.t_ns
                fault.edits[pair[0]] = lambda c, p=pair[1], d=delta, t=t_ref: _add_delta(c, p, t, d)
            return fault
    return None


def _effort_spike(src: MemorySource, rng: np.random.Generator, history: Any) -> Fault | None:
    for chunk in _streams_with_role(src, "state"):
        efforts = [
            c
            for c in chunk.channels
            if split_channel(c)[0] == "effort" and not _is_hand(c) and np.ptp(chunk.channel(c)) > 0
        ]
        if not efforts:
            continue
        channel = efforts[int(rng.integers(0, len(efforts)))]
        col = chunk.channel(channel)
        lo_t, hi_t = _span(chunk)
        t0 = _pick_t0(rng, lo_t, hi_t)
        size = 4.0 * max(float(np.nanmax(np.abs(col))), 1e-3) * (1 if rng.random() < 0.5 else -1)
        length = int(rng.uniform(0.2, 0.8) * NS)
        bump = ((chunk.t_ns >= t0) & (chunk.t_ns < t0 + length)) * size

        def edit(c: SignalChunk, channel: str = channel, d: np.ndarray = bump) -> SignalChunk:
            values = c.values.copy()
            values[:, c.channels.index(channel)] += d
            return _replace(c, c.t_ns, values)

        return Fault("effort_spike", t0, chunk.stream, channel, {chunk.stream: edit})
    return None


def _tracking_error(src: MemorySource, rng: np.random.Generator, history: Any) -> Fault | None:
    """A joint that can no longer follow its command (a slipping transmission, a weak gain):
    from t0 it moves only a fifth of what it did, sensor noise and all. Not a frozen value —
    a reading repeated bit for bit is a sensor that stopped (a stall), and a joint held still
    while its command runs on is a hard stop. The joint is one whose command, from t0 on, goes
    far from where it was (most of its range, and at least 0.1): a weak joint is only visible
    when it is asked to move."""
    pairs = []
    for (cs, cc), (ms, mc) in overlay_pairs(src.info):
        both = cs in src.signals and ms in src.signals and not _is_hand(cc)
        if both and _pair_of(src.info, ms, mc) == (cs, cc):
            pairs.append(((cs, cc), (ms, mc)))
    if not pairs:
        return None
    command = src.signals[pairs[0][0][0]]
    lo_t, hi_t = _span(command)
    for _ in range(12):  # a t0 where some commanded joint really moves, soon and far
        t0 = _pick_t0(rng, lo_t, hi_t)
        scored = []
        for (cs, cc), (ms, mc) in pairs:
            cmd = src.signals[cs]
            col = cmd.channel(cc)
            later = cmd.t_ns >= t0
            soon = later & (cmd.t_ns < t0 + NS // 2)
            full = float(np.nanmax(col) - np.nanmin(col))
            if soon.sum() < 2 or full <= 1e-6:
                continue
            start = col[int(np.argmax(later))]
            away = float(np.nanmax(np.abs(col[later] - start)))
            if away >= max(0.6 * full, 0.1):
                scored.append((float(np.ptp(col[soon])) / full, (ms, mc)))
        scored.sort(reverse=True)
        if scored and scored[0][0] >= 0.15:
            ms, mc = scored[0][1]
            break
    else:
        return None

    def edit(c: SignalChunk, channel: str = mc, t0: int = t0) -> SignalChunk:
        values = c.values.copy()
        i = c.channels.index(channel)
        after = c.t_ns >= t0
        if after.any():
            held = values[int(np.argmax(after)), i]
            values[after, i] = held + 0.2 * (values[after, i] - held)  # a fifth of the motion
        return _replace(c, c.t_ns, values)

    return Fault("tracking_error", t0, ms, mc, {ms: edit})


def _state_stream(src: MemorySource, rng: np.random.Generator) -> SignalChunk | None:
    states = _streams_with_role(src, "state")
    if not states:
        return None
    states.sort(key=lambda c: -len(c))
    return states[0]


def _sensor_stall(src: MemorySource, rng: np.random.Generator, history: Any) -> Fault | None:
    chunk = _state_stream(src, rng)
    if chunk is None:
        return None
    lo_t, hi_t = _span(chunk)
    t0 = _pick_t0(rng, lo_t, hi_t)
    drop = bool(rng.random() < 0.5)

    def edit(c: SignalChunk, t0: int = t0, drop: bool = drop) -> SignalChunk:
        after = c.t_ns >= t0
        if drop:  # the stream stops publishing
            return _replace(c, c.t_ns[~after], c.values[~after])
        values = c.values.copy()  # still publishing, every value frozen
        if after.any():
            values[after] = values[int(np.argmax(after))]
        return _replace(c, c.t_ns, values)

    return Fault(
        "sensor_stall", t0, chunk.stream, "drop" if drop else "freeze", {chunk.stream: edit}
    )


def _timestamp_gap(src: MemorySource, rng: np.random.Generator, history: Any) -> Fault | None:
    chunk = _state_stream(src, rng)
    if chunk is None:
        return None
    t0 = _pick_t0(rng, *_span(chunk))

    def edit(c: SignalChunk, t0: int = t0) -> SignalChunk:
        keep = (c.t_ns < t0) | (c.t_ns >= t0 + NS)
        return _replace(c, c.t_ns[keep], c.values[keep])

    return Fault("timestamp_gap", t0, chunk.stream, None, {chunk.stream: edit})


def _dropped_frames(src: MemorySource, rng: np.random.Generator, history: Any) -> Fault | None:
    cameras = [name for name, t in src.frames.items() if len(t) >= 30]
    if not cameras:
        return None
    camera = cameras[int(rng.integers(0, len(cameras)))]
    times = src.frames[camera]
    t0 = _pick_t0(rng, int(times[0]), int(times[-1]))
    length = int(rng.uniform(0.3, 0.8) * NS)

    def edit(t: np.ndarray, t0: int = t0, length: int = length) -> np.ndarray:
        return t[(t < t0) | (t >= t0 + length)]

    return Fault("dropped_frames", t0, camera, None, frame_edits={camera: edit})


def _clock_jump(src: MemorySource, rng: np.random.Generator, history: Any) -> Fault | None:
    chunk = _state_stream(src, rng)
    if chunk is None:
        return None
    t0 = _pick_t0(rng, *_span(chunk))
    back = int(rng.uniform(0.3, 1.0) * NS)

    def edit(c: SignalChunk, t0: int = t0, back: int = back) -> SignalChunk:
        t = c.t_ns.copy()
        t[t >= t0] -= back  # the clock steps backwards; samples keep their order
        return _replace(c, t, c.values)

    return Fault("clock_jump", t0, chunk.stream, None, {chunk.stream: edit})


def _nan_inf(src: MemorySource, rng: np.random.Generator, history: Any) -> Fault | None:
    chunk = _state_stream(src, rng)
    if chunk is None:
        return None
    channel = chunk.channels[int(rng.integers(0, len(chunk.channels)))]
    t0 = _pick_t0(rng, *_span(chunk))
    bad = np.nan if rng.random() < 0.7 else np.inf

    def edit(c: SignalChunk, channel: str = channel, t0: int = t0) -> SignalChunk:
        values = c.values.copy()
        values[c.t_ns >= t0, c.channels.index(channel)] = bad
        return _replace(c, c.t_ns, values)

    return Fault("nan_inf", t0, chunk.stream, channel, {chunk.stream: edit})


def _battery_brownout(src: MemorySource, rng: np.random.Generator, history: Any) -> Fault | None:
    duration = src.info.duration_ns
    if duration < 2 * NS:
        return None
    t = np.arange(0, duration, NS // 10, dtype=np.int64)
    t0 = _pick_t0(rng, 0, duration)
    nominal = rng.uniform(24.0, 25.5)
    volts = nominal - 0.02 * t / NS + rng.normal(0, 0.03, len(t))
    sag = np.clip((t - t0) / (0.3 * NS), 0.0, 1.0) * rng.uniform(5.0, 7.0)
    volts -= sag
    percentage = np.clip((volts - 19.0) / 6.3, 0.0, 1.0)
    current = 8.0 + rng.normal(0, 0.2, len(t))
    chunk = SignalChunk(
        BATTERY_STREAM,
        ("voltage", "current", "percentage"),
        t,
        np.column_stack([volts, current, percentage]),
    )
    return Fault(
        "battery_brownout", t0, BATTERY_STREAM, "voltage", added_signals={BATTERY_STREAM: chunk}
    )


def _raised_exception(src: MemorySource, rng: np.random.Generator, history: Any) -> Fault | None:
    t0 = _pick_t0(rng, 0, src.info.duration_ns)
    fault = Fault("raised_exception", t0, None, None, failure_reason="RuntimeError: IK failed")
    fault.added_events.append(
        LogEvent(t0, "ERROR", "RuntimeError: inverse kinematics failed to converge", "planner")
    )
    return fault


def _gripper_empty_close(src: MemorySource, rng: np.random.Generator, history: Any) -> Fault | None:
    truth = src.info.metadata.get("demo_truth")
    if not truth:
        return None
    return Fault(
        "gripper_empty_close", int(truth["gripper_close_command_ns"]), "/action", "gripper"
    )


_BUILDERS: dict[str, Builder] = {
    "action_saturation": _action_saturation,
    "joint_limit_breach": _joint_limit_breach,
    "effort_spike": _effort_spike,
    "tracking_error": _tracking_error,
    "sensor_stall": _sensor_stall,
    "timestamp_gap": _timestamp_gap,
    "dropped_frames": _dropped_frames,
    "clock_jump": _clock_jump,
    "nan_inf": _nan_inf,
    "battery_brownout": _battery_brownout,
    "raised_exception": _raised_exception,
    "gripper_empty_close": _gripper_empty_close,
}
KINDS = tuple(_BUILDERS)


# ---------------------------------------------------------------- a successful demo


def clean_demo(src: MemorySource) -> MemorySource:
    """The demo with its fault removed: the gripper closes when the cube is reached (5.6 s),
    holds it (width 4 cm, grasp force), no error logged, status ready, outcome success."""
    from robotrace_desktop import demo

    truth = src.info.metadata["demo_truth"]
    close_s = truth["cube_reached_ns"] / NS + 0.1
    open_s = truth["gripper_open_command_ns"] / NS
    signals = dict(src.signals)
    action = signals["/action"]
    t = action.t_ns / NS
    values = action.values.copy()
    values[:, action.channels.index("gripper")] = ((t >= close_s) & (t < open_s)).astype(float)
    signals["/action"] = _replace(action, action.t_ns, values)

    sensor = signals["/joint_states"]
    t = sensor.t_ns / NS
    cube = 0.04
    width = np.full(len(t), demo.GRIPPER_OPEN_M)
    closing = t >= close_s + 0.02
    width[closing] = cube + (demo.GRIPPER_OPEN_M - cube) * np.exp(
        -(t[closing] - close_s - 0.02) / 0.12
    )
    opening = t >= open_s + 0.02
    width[opening] = demo.GRIPPER_OPEN_M + (cube - demo.GRIPPER_OPEN_M) * np.exp(
        -(t[opening] - open_s - 0.02) / 0.12
    )
    holding = (t >= close_s + 0.15) & (t < open_s)
    values = sensor.values.copy()
    values[:, sensor.channels.index("position/gripper")] = width
    values[:, sensor.channels.index("velocity/gripper")] = np.gradient(width, t)
    effort = values[:, sensor.channels.index("effort/gripper")]
    effort[holding] -= 25.0 * np.clip((t[holding] - close_s - 0.15) / 0.4, 0, 1)  # grip force
    signals["/joint_states"] = _replace(sensor, sensor.t_ns, values)

    keep = ("episode start", "policy", "approach", "grasp pose", "lift")
    events = {name: [e for e in evs if e.text.startswith(keep)] for name, evs in src.events.items()}
    events["/log"].append(LogEvent(int(close_s * NS), "INFO", "gripper: close command", "policy"))
    events["/log"].sort(key=lambda e: e.t_ns)
    metadata = copy.deepcopy(src.info.metadata)
    metadata.pop("failure_reason", None)
    metadata.pop("demo_truth", None)
    info = dataclasses.replace(
        src.info, status=Status.READY, outcome=Outcome.SUCCESS, metadata=metadata
    )
    return MemorySource(info, signals, events, dict(src.frames))


# ---------------------------------------------------------------- the evaluation harness


@dataclass
class Base:
    """One untouched episode, loaded once, with the dataset family it belongs to."""

    name: str
    family: str
    source: MemorySource


@dataclass
class Case:
    base: Base
    fault: Fault
    top_cause: str | None = None
    top_t_ns: int | None = None
    confidence: float = 0.0

    @property
    def time_error_s(self) -> float | None:
        if self.top_t_ns is None:
            return None
        return abs(self.top_t_ns - self.fault.t0_ns) / NS

    @property
    def hit(self) -> bool:
        error = self.time_error_s
        return self.top_cause in self.fault.expected and error is not None and error <= 0.5


LEROBOT = "lerobot/g1_pick_bottle_v21"
IIWA = "rosbag2/iiwa7_gazebo_joint_torque_sqlite3"
EXAMPLE_BAG = "ros1/example.bag"
LEROBOT_FAULT_EPISODES = (1, 2, 4, 5, 12, 37, 63, 88)
LEROBOT_CLEAN_EPISODES = tuple(range(0, 100, 5))  # 20 episodes spread over the dataset
DEMO_SEEDS = (1, 2, 3)


def load_lerobot(data: Any, indices: tuple[int, ...]) -> list[Base]:
    from pathlib import Path

    from robotrace_desktop.readers.lerobot.reader import LeRobotReader

    reader = LeRobotReader()
    path = Path(data) / LEROBOT
    infos = {i.episode_index: i for i in reader.index(path)}
    return [
        Base(f"lerobot#{k}", "lerobot", MemorySource.load(infos[k], reader.open(path, k)))
        for k in indices
    ]


def load_single(path: Any, name: str, family: str) -> Base:
    from robotrace_desktop.episodes import resolve

    resolved = resolve(str(path), None)
    return Base(name, family, MemorySource.load(resolved.info, resolved.open()))


def load_demos(folder: Any, seeds: tuple[int, ...] = DEMO_SEEDS) -> list[Base]:
    """The demo bundle written for each seed (raw: it carries the early gripper close)."""
    from pathlib import Path

    from tests.demo_cache import demo_copy

    bases = []
    for seed in seeds:
        dest = demo_copy(Path(folder) / f"demo-{seed}", seed=seed)
        bases.append(load_single(dest, f"demo-seed{seed}", "demo"))
    return bases


class History:
    """Channel ranges across a family's other episodes (what the catalog knows): leave-one-out,
    so an episode's own fault never widens the range it is judged against."""

    def __init__(self, bases: list[Base]) -> None:
        self._ranges: dict[tuple[str, str], dict[str, tuple[float, float]]] = {}
        for base in bases:
            for stream, chunk in base.source.signals.items():
                with np.errstate(all="ignore"):
                    lo = np.nanmin(chunk.values, axis=0) if len(chunk) else []
                    hi = np.nanmax(chunk.values, axis=0) if len(chunk) else []
                for channel, a, b in zip(chunk.channels, lo, hi, strict=False):
                    if np.isfinite(a) and np.isfinite(b):
                        self._ranges.setdefault((stream, channel), {})[base.name] = (
                            float(a),
                            float(b),
                        )

    def for_episode(self, name: str) -> Callable[[str, str], tuple[float, float] | None]:
        def lookup(stream: str, channel: str, successful_only: bool = True) -> Any:
            seen = [r for k, r in self._ranges.get((stream, channel), {}).items() if k != name]
            if not seen:
                return None
            return min(r[0] for r in seen), max(r[1] for r in seen)

        return lookup


def context_for(base: Base, history: History | None) -> Any:
    from robotrace_desktop.analysis import thresholds
    from robotrace_desktop.analysis.data import ExplainContext
    from robotrace_desktop.analysis.registry import analyzers

    analyzers()  # registers every analyzer's thresholds
    lookup = history.for_episode(base.name) if history else None
    return ExplainContext(thresholds=thresholds.load(None), history=lookup)


def build_cases(bases: list[Base], histories: dict[str, History], seed: int = 0) -> list[Case]:
    cases = []
    for i, base in enumerate(bases):
        history = histories.get(base.family)
        lookup = history.for_episode(base.name) if history else None
        raw_demo = base.family == "demo" and "demo_truth" in base.source.info.metadata
        for kind in KINDS:
            if (kind == "gripper_empty_close") != raw_demo:
                continue  # the raw demo carries only its own fault
            fault = make_fault(kind, base.source, seed * 1000 + i, history=lookup)
            if fault is not None:
                cases.append(Case(base, fault))
    return cases


def run_case(case: Case, history: History | None) -> Case:
    from robotrace_desktop.analysis.explain import explain_source

    source = FaultySource(case.base.source, case.fault)
    findings = explain_source(source.info, source, context=context_for(case.base, history))
    if findings:
        case.top_cause = findings[0].cause
        case.top_t_ns = findings[0].t_start_ns
        case.confidence = findings[0].confidence
    return case


def false_alarms(base: Base, history: History | None) -> list[Any]:
    """Confident (≥ 0.5) specific findings on an untouched episode."""
    from robotrace_desktop.analysis.explain import explain_source
    from robotrace_desktop.analysis.ranking import CONFIDENT, SYMPTOMS

    findings = explain_source(base.source.info, base.source, context=context_for(base, history))
    return [f for f in findings if f.confidence >= CONFIDENT and f.cause not in SYMPTOMS]


@dataclass
class Evaluation:
    cases: list[Case]
    #: untouched real episode -> its confident specific findings (false alarms)
    alarms: dict[str, list[Any]]

    @property
    def top1(self) -> float:
        return sum(c.hit for c in self.cases) / len(self.cases) if self.cases else 0.0

    @property
    def false_alarm_rate(self) -> float:
        return sum(bool(a) for a in self.alarms.values()) / len(self.alarms) if self.alarms else 0.0


def load_all(data: Any, work: Any) -> tuple[list[Base], list[Base], dict[str, History]]:
    """(fault bases, untouched real bases, histories per family)."""
    from pathlib import Path

    data = Path(data)
    indices = tuple(sorted(set(LEROBOT_FAULT_EPISODES) | set(LEROBOT_CLEAN_EPISODES)))
    lerobot = {b.source.info.episode_index: b for b in load_lerobot(data, indices)}
    iiwa = load_single(data / IIWA, "iiwa", "iiwa")
    example = load_single(data / EXAMPLE_BAG, "example.bag", "turtlesim")
    raw_demos = load_demos(work)
    clean = [Base(f"{b.name}-clean", "demo", clean_demo(b.source)) for b in raw_demos]
    histories = {
        "lerobot": History(list(lerobot.values())),
        "iiwa": History([iiwa]),
        "demo": History(clean),
    }
    fault_bases = [lerobot[k] for k in LEROBOT_FAULT_EPISODES] + [iiwa, *clean, *raw_demos]
    untouched = [lerobot[k] for k in LEROBOT_CLEAN_EPISODES] + [iiwa, example]
    return fault_bases, untouched, histories


def evaluate(data: Any, work: Any, seed: int = 0) -> Evaluation:
    fault_bases, untouched, histories = load_all(data, work)
    cases = [
        run_case(c, histories.get(c.base.family)) for c in build_cases(fault_bases, histories, seed)
    ]
    alarms = {b.name: false_alarms(b, histories.get(b.family)) for b in untouched}
    return Evaluation(cases, alarms)
