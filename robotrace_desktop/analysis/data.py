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
    """Lazy, cached access to one opened episode for the analyzers."""

    def __init__(
        self, info: EpisodeInfo, source: EpisodeSource, offsets: dict[str, int] | None = None
    ) -> None:
        self.info = info
        self.source = source
        self.offsets = offsets or {}
        self._signals: dict[str, Signal | None] = {}
        self._events: list[LogEvent] | None = None
        self._frames: dict[str, np.ndarray] | None = None
        self.problems: list[str] = []  # streams that could not be read, for the record

    @property
    def duration_ns(self) -> int:
        return self.info.duration_ns

    def signal(self, stream: str) -> Signal | None:
        if stream not in self._signals:
            self._signals[stream] = self._load(stream)
        return self._signals[stream]

    def signals(self) -> list[Signal]:
        found = []
        for info in self.info.streams_of(StreamKind.SIGNAL):
            if info.count and info.channels:
                signal = self.signal(info.name)
                if signal is not None and len(signal.t_ns):
                    found.append(signal)
        return found

    def signals_with_role(self, role: str) -> list[Signal]:
        """``role`` as stream_role names it; "action" is accepted for "command"."""
        wanted = "command" if role == "action" else role
        return [s for s in self.signals() if s.role == wanted]

    def events(self) -> list[LogEvent]:
        """Every event stream's entries, in time order (episode time)."""
        if self._events is None:
            events: list[LogEvent] = []
            for info in self.info.streams_of(StreamKind.EVENT):
                try:
                    offset = self.offsets.get(info.name, 0)
                    events += [
                        LogEvent(e.t_ns + offset, e.level, e.text, e.source or info.name)
                        for e in self.source.read_events(info.name)
                    ]
                except RobotraceError as exc:
                    self.problems.append(str(exc))
            self._events = sorted(events, key=lambda e: e.t_ns)
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
        """(commanded, measured) channel pairs matched by joint name."""
        return overlay_pairs(self.info)

    def _load(self, stream: str) -> Signal | None:
        try:
            chunk = self.source.read_signal(stream)
        except RobotraceError as exc:
            self.problems.append(str(exc))
            return None
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
