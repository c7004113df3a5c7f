"""What analyzers read: an episode's streams, loaded once and shared by every analyzer.

Signals are loaded whole (an episode is tens of seconds; a 60 s × 30 channels × 500 Hz run is
under 8 MB) and cached; cameras contribute only their frame times (no decoding).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from robotrace_desktop.core.channels import overlay_pairs, stream_role
from robotrace_desktop.core.episode import (
    EpisodeInfo,
    EpisodeSource,
    LogEvent,
    SignalChunk,
    StreamInfo,
    StreamKind,
)
from robotrace_desktop.errors import RobotraceError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Signal:
    stream: str
    channels: tuple[str, ...]
    t_ns: np.ndarray  # int64, episode time (stream offset applied), sorted
    values: np.ndarray  # float64 (N, C)
    role: str  # "command" (actions), "state", "noise" or "other" (core.channels.stream_role)
    #: the other clocks the reader kept, row-aligned with t_ns (ROS "record"/"header",
    #: LeRobot "timestamp"), offset applied like t_ns: every clock is timing evidence
    times: Mapping[str, np.ndarray] = field(default_factory=dict)

    def column(self, channel: str) -> np.ndarray:
        return self.values[:, self.channels.index(channel)]


class EpisodeData:
    """Lazy, cached access to one opened episode for the analyzers.

    The first question about signals or events loads every signal and event stream of the
    episode with ONE ``source.read_streams`` call: the analyzers ask stream by stream, and a
    ROS bag read stream by stream is one pass over the file per topic. If that batch read
    fails, each stream is read on its own, so one unreadable stream costs only itself (and is
    named in ``problems``).
    """

    def __init__(
        self, info: EpisodeInfo, source: EpisodeSource, offsets: dict[str, int] | None = None
    ) -> None:
        self.info = info
        self.source = source
        self.offsets = offsets or {}
        self._signals: dict[str, Signal | None] = {}
        self._events: list[LogEvent] | None = None
        self._frames: dict[str, np.ndarray] | None = None
        self._batch_tried = False
        self._pairs: list[tuple[tuple[str, str], tuple[str, str]]] | None = None
        self.problems: list[str] = []  # streams that could not be read, for the record

    @property
    def duration_ns(self) -> int:
        return self.info.duration_ns

    def signal(self, stream: str) -> Signal | None:
        if stream not in self._signals:
            self._load_batch()
        if stream not in self._signals:
            self._signals[stream] = self._load(stream)
        return self._signals[stream]

    def signals(self) -> list[Signal]:
        found = []
        for info in self._signal_streams():
            signal = self.signal(info.name)
            if signal is not None and len(signal.t_ns):
                found.append(signal)
        return found

    def loaded_signals(self) -> list[Signal]:
        """The signals read so far (reads nothing): what an explained episode can hand on
        without another pass over its recording."""
        return [s for s in self._signals.values() if s is not None and len(s.t_ns)]

    def signals_with_role(self, role: str) -> list[Signal]:
        """``role`` as stream_role names it; "action" is accepted for "command"."""
        wanted = "command" if role == "action" else role
        return [s for s in self.signals() if s.role == wanted]

    def events(self) -> list[LogEvent]:
        """Every event stream's entries, in time order (episode time)."""
        if self._events is None:
            self._load_batch()
        if self._events is None:
            by_stream: dict[str, list[LogEvent]] = {}
            for info in self.info.streams_of(StreamKind.EVENT):
                try:
                    by_stream[info.name] = self.source.read_events(info.name)
                except RobotraceError as exc:
                    self.problems.append(str(exc))
            self._events = self._merged_events(by_stream)
        return self._events

    def frame_times(self) -> dict[str, np.ndarray]:
        """Camera → frame times (episode time). Cameras that cannot be opened are skipped."""
        if self._frames is None:
            self._frames = {}
            for info in self.info.streams_of(StreamKind.VIDEO):
                if info.details.get("missing"):
                    continue
                try:
                    times = self.source.video(info.name).frame_times_ns()
                except RobotraceError as exc:
                    self.problems.append(str(exc))
                    continue
                self._frames[info.name] = np.asarray(times) + self.offsets.get(info.name, 0)
        return self._frames

    def pairs(self) -> list[tuple[tuple[str, str], tuple[str, str]]]:
        """(commanded, measured) channel pairs matched by joint name (computed once: several
        analyzers ask)."""
        if self._pairs is None:
            self._pairs = overlay_pairs(self.info)
        return self._pairs

    def _signal_streams(self) -> list[StreamInfo]:
        return [s for s in self.info.streams_of(StreamKind.SIGNAL) if s.count and s.channels]

    def _load_batch(self) -> None:
        """Every signal and event stream in one read, once; on failure nothing is kept and the
        callers fall back to reading stream by stream."""
        if self._batch_tried:
            return
        self._batch_tried = True
        signals = [s.name for s in self._signal_streams() if s.name not in self._signals]
        events = [s.name for s in self.info.streams_of(StreamKind.EVENT)]
        if self._events is not None:
            events = []
        if not signals and not events:
            return
        try:
            chunks, logs = self.source.read_streams(signals, events)
        except RobotraceError as exc:
            log.debug("%s: batch read failed, reading stream by stream (%s)", self.info.id, exc)
            return
        for name, chunk in chunks.items():
            self._signals[name] = self._signal_from(name, chunk)
        if events:
            self._events = self._merged_events(logs)

    def _merged_events(self, by_stream: dict[str, list[LogEvent]]) -> list[LogEvent]:
        events: list[LogEvent] = []
        for info in self.info.streams_of(StreamKind.EVENT):
            if info.name not in by_stream:
                continue
            offset = self.offsets.get(info.name, 0)
            events += [
                LogEvent(e.t_ns + offset, e.level, e.text, e.source or info.name)
                for e in by_stream[info.name]
            ]
        return sorted(events, key=lambda e: e.t_ns)

    def _load(self, stream: str) -> Signal | None:
        try:
            chunk = self.source.read_signal(stream)
        except RobotraceError as exc:
            self.problems.append(str(exc))
            return None
        return self._signal_from(stream, chunk)

    def _signal_from(self, stream: str, chunk: SignalChunk) -> Signal:
        info = self.info.stream(stream)
        values = np.asarray(chunk.values, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        offset = self.offsets.get(stream, 0)
        t_ns = np.asarray(chunk.t_ns, dtype=np.int64) + offset
        times = {k: np.asarray(v, dtype=np.int64) + offset for k, v in chunk.times.items()}
        return Signal(stream, tuple(chunk.channels), t_ns, values, stream_role(info), times)


@dataclass(slots=True)
class ExplainContext:
    """What an analyzer may know beyond the episode itself."""

    thresholds: dict[str, dict[str, Any]]
    #: channel ranges seen across the robot's other episodes (successful ones for joint limits):
    #: history(stream, channel, successful_only) -> (low, high) or None
    history: Callable[[str, str, bool], tuple[float, float] | None] | None = None
    #: the nearest successful episode of the same task/env, loaded on demand (or None)
    baseline: Callable[[], EpisodeData | None] | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def t(self, cause: str, key: str) -> Any:
        return self.thresholds[cause][key]
