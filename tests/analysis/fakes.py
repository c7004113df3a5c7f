"""Tiny in-memory episodes for analyzer tests: inject a signal, an event or a camera in one line.

``make_data`` builds an :class:`EpisodeInfo` plus an :class:`EpisodeSource` serving the given
arrays and wraps them in :class:`EpisodeData`, so an analyzer sees exactly what a reader would
give it. Stream roles come from the names, as for real recordings (``core.channels.stream_role``):
``/joint_states`` or ``observation.state`` are measured state, ``/action`` or ``/cmd`` are
commands, ``/tf`` is noise; pass ``details={"/x": {"role": "sensor"}}`` to force one.

Example::

    t = ns(np.arange(0, 10, 0.01))  # 100 Hz for 10 s
    data = make_data(
        {"/joint_states": (t, {"position/j1": np.sin(t / 1e9)}),
         "/action": (t, {"joint_position/j1": np.sin(t / 1e9)})},
        events=[(7.5, "ERROR", "GraspError: slipped")],
        cameras={"front": ns(np.arange(0, 10, 1 / 30))},
        status="failed",
    )

``streams_of(info, source)`` copies a real episode's signals into the same dict form, so a test
can edit them (inject a fault) and rebuild with ``make_data(streams, base=info)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext
from robotrace_desktop.analysis.registry import analyzers
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
from robotrace_desktop.errors import StreamNotFoundError
from robotrace_desktop.video.frames import FrameSource, VideoFrame

NS = 1_000_000_000
StreamSpec = tuple[Any, Mapping[str, Any]]  # (t_ns, {channel: values})
EventSpec = LogEvent | tuple[float, str, str]  # LogEvent or (t seconds, level, text)


def ns(seconds: Any) -> np.ndarray:
    """Seconds (scalar or array) -> int64 nanoseconds."""
    return np.round(np.asarray(seconds, dtype=np.float64) * NS).astype(np.int64)


class FakeFrames(FrameSource):
    """A camera that only knows its frame times (analyzers never decode)."""

    def __init__(self, name: str, times: np.ndarray) -> None:
        self.name = name
        self._times = np.asarray(times, dtype=np.int64)

    def frame_times_ns(self) -> np.ndarray:
        return self._times

    def frame(self, index: int) -> VideoFrame:
        raise NotImplementedError("fake camera: no pixels")


class FakeSource(EpisodeSource):
    """Serves in-memory arrays with the reader contract (time-bounded reads, errors by name)."""

    def __init__(
        self,
        info: EpisodeInfo,
        signals: Mapping[str, tuple[np.ndarray, tuple[str, ...], np.ndarray]],
        events: Mapping[str, list[LogEvent]],
        cameras: Mapping[str, np.ndarray],
    ) -> None:
        self.info = info
        self._signals = dict(signals)
        self._events = dict(events)
        self._cameras = dict(cameras)

    def read_signal(
        self, stream: str, start_ns: int | None = None, stop_ns: int | None = None
    ) -> SignalChunk:
        if stream not in self._signals:
            raise StreamNotFoundError(f"fake episode has no signal stream {stream!r}")
        t_ns, channels, values = self._signals[stream]
        # Readers return sorted times; a fake may deliberately not (clock-jump tests), so the
        # mask is only applied when a range is asked for.
        if start_ns is None and stop_ns is None:
            return SignalChunk(stream, channels, t_ns, values)
        sel = time_mask(t_ns, start_ns, stop_ns)
        return SignalChunk(stream, channels, t_ns[sel], values[sel])

    def read_events(
        self, stream: str, start_ns: int | None = None, stop_ns: int | None = None
    ) -> list[LogEvent]:
        if stream not in self._events:
            raise StreamNotFoundError(f"fake episode has no event stream {stream!r}")
        return [
            e
            for e in self._events[stream]
            if (start_ns is None or e.t_ns >= start_ns) and (stop_ns is None or e.t_ns < stop_ns)
        ]

    def video(self, stream: str) -> FrameSource:
        if stream not in self._cameras:
            raise StreamNotFoundError(f"fake episode has no video stream {stream!r}")
        return FakeFrames(stream, self._cameras[stream])


def _event(spec: EventSpec) -> LogEvent:
    if isinstance(spec, LogEvent):
        return spec
    t_s, level, text = spec
    return LogEvent(round(t_s * NS), level, text, "test")


def make_episode(
    streams: Mapping[str, StreamSpec] | None = None,
    *,
    events: Iterable[EventSpec] = (),
    events_stream: str = "/rosout",
    cameras: Mapping[str, Any] | None = None,
    message_types: Mapping[str, str] | None = None,
    details: Mapping[str, Mapping[str, Any]] | None = None,
    duration_s: float | None = None,
    base: EpisodeInfo | None = None,
    **info_overrides: Any,
) -> tuple[EpisodeInfo, FakeSource]:
    """(EpisodeInfo, EpisodeSource) for the given arrays.

    ``streams``: name -> (t_ns, {channel: values}); ``events``: LogEvents or (seconds, level,
    text) on ``events_stream``; ``cameras``: name -> frame times (ns); ``message_types`` /
    ``details``: per stream name; ``duration_s``: default the last sample of anything;
    ``base``: copy catalog fields from a real EpisodeInfo; other keywords set EpisodeInfo fields
    (``status="failed"``, ``outcome="failure"``, ``metadata={...}``, ``problems=[...]``).
    """
    types_by_stream: dict[str, str | None] = dict(message_types or {})
    details = dict(details or {})
    for known in base.streams if base is not None else ():  # keep a real episode's types
        types_by_stream.setdefault(known.name, known.message_type)
        details.setdefault(known.name, known.details)
    signals: dict[str, tuple[np.ndarray, tuple[str, ...], np.ndarray]] = {}
    infos: list[StreamInfo] = []
    last = 0
    for name, (t, channels) in (streams or {}).items():
        t_ns = np.asarray(t, dtype=np.int64)
        names = tuple(channels)
        columns = [np.asarray(channels[c], dtype=np.float64).reshape(-1) for c in names]
        values = np.column_stack(columns) if columns else np.zeros((len(t_ns), 0))
        if values.shape[0] != len(t_ns):
            raise ValueError(f"{name}: {values.shape[0]} values for {len(t_ns)} times")
        signals[name] = (t_ns, names, values)
        if len(t_ns):
            last = max(last, int(t_ns.max()))
        infos.append(
            StreamInfo(
                name,
                StreamKind.SIGNAL,
                len(t_ns),
                names,
                int(t_ns.min()) if len(t_ns) else None,
                int(t_ns.max()) if len(t_ns) else None,
                types_by_stream.get(name),
                details.get(name, {}),
            )
        )
    event_list = sorted((_event(e) for e in events), key=lambda e: e.t_ns)
    event_map: dict[str, list[LogEvent]] = {}
    if event_list:
        event_map[events_stream] = event_list
        last = max(last, event_list[-1].t_ns)
        infos.append(
            StreamInfo(
                events_stream,
                StreamKind.EVENT,
                len(event_list),
                (),
                event_list[0].t_ns,
                event_list[-1].t_ns,
                types_by_stream.get(events_stream),
                details.get(events_stream, {}),
            )
        )
    camera_map = {k: np.asarray(v, dtype=np.int64) for k, v in (cameras or {}).items()}
    for name, times in camera_map.items():
        if len(times):
            last = max(last, int(times.max()))
        infos.append(
            StreamInfo(
                name,
                StreamKind.VIDEO,
                len(times),
                (),
                int(times[0]) if len(times) else None,
                int(times[-1]) if len(times) else None,
                "video",
                details.get(name, {}),
            )
        )
    duration = round(duration_s * NS) if duration_s is not None else last
    fields: dict[str, Any] = dict(info_overrides)
    if "status" in fields:
        fields["status"] = Status(fields["status"])
    if "outcome" in fields:
        fields["outcome"] = Outcome(fields["outcome"])
    if base is not None:
        info = replace(base, streams=infos, duration_ns=duration, **fields)
    else:
        info = EpisodeInfo(
            id=fields.pop("id", "fake0000episode0"),
            kind=fields.pop("kind", "bundle"),
            path=fields.pop("path", "/tmp/fake-episode"),
            episode_index=fields.pop("episode_index", None),
            name=fields.pop("name", "fake"),
            duration_ns=duration,
            streams=infos,
            **fields,
        )
    return info, FakeSource(info, signals, event_map, camera_map)


def make_data(
    streams: Mapping[str, StreamSpec] | None = None,
    **kwargs: Any,
) -> EpisodeData:
    """EpisodeData over :func:`make_episode` (same arguments); ``offsets=`` is passed on."""
    offsets = kwargs.pop("offsets", None)
    info, source = make_episode(streams, **kwargs)
    return EpisodeData(info, source, offsets)


def streams_of(
    info: EpisodeInfo, source: EpisodeSource, names: Sequence[str] | None = None
) -> dict[str, StreamSpec]:
    """A real episode's signal streams as ``make_data`` input (copies; edit them freely)."""
    out: dict[str, StreamSpec] = {}
    for stream in info.streams_of(StreamKind.SIGNAL):
        if not stream.count or not stream.channels or (names and stream.name not in names):
            continue
        chunk = source.read_signal(stream.name)
        values = np.array(chunk.values, dtype=np.float64).reshape(len(chunk), -1)
        out[stream.name] = (
            np.array(chunk.t_ns, dtype=np.int64),
            {c: values[:, i].copy() for i, c in enumerate(chunk.channels)},
        )
    return out


def context(**overrides: dict[str, Any]) -> ExplainContext:
    """An ExplainContext with every analyzer's default thresholds; ``cause={key: value}``
    overrides single values."""
    analyzers()  # import the cause modules so their thresholds are registered
    values = thresholds.defaults()
    for cause, keys in overrides.items():
        values[cause].update(keys)
    return ExplainContext(thresholds=values)
