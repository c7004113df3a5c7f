"""ROS 2 bags (rosbag2 folders with metadata.yaml — sqlite3 or mcap, single or split — and lone
.mcap / .db3 files) and ROS 1 bags (uncompressed, lz4, bz2), one episode per bag.

Indexing reads the connection list, counts and time range (metadata.yaml, MCAP summary, sqlite
tables, ROS 1 chunk index) plus the first message of each topic — never every message: each
first message is located through the container's index and read chunk by chunk (``ros_first``).
Container access lives in ``ros_bagfile``, decoders in ``ros_typestore`` (deserializers generated
lazily, ``ros_lazy_serde``; parsed definitions kept on disk, ``ros_msg_cache``), per-type layouts
in ``ros_flatten``, signal topics of one layout decoded as numpy columns in ``ros_columns``,
topic → stream decisions in ``ros_topics``, cameras in ``ros_images``. Opening the same
unchanged bag again in a process (the viewer's cameras, one file handle per decode thread)
reuses its plan (``ros_plan_cache``).

Stream times are relative to the bag's first record time. Per-topic time ranges are not in the
rosbag2 summaries, so rosbag2 streams span the bag (details["rate_basis"] = "bag duration");
ROS 1 chunk indexes hold every record time in memory already, so those ranges are exact.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.interfaces import Connection

from robotrace_desktop.core.episode import (
    EpisodeInfo,
    EpisodeSource,
    LogEvent,
    SignalChunk,
    Status,
    StreamInfo,
    StreamKind,
    episode_id,
)
from robotrace_desktop.core.fields import parse_fields, problem_lines
from robotrace_desktop.errors import (
    CorruptRecordingError,
    RecordingError,
    StreamNotFoundError,
    source_guard,
)
from robotrace_desktop.readers.rosbag import plan_cache
from robotrace_desktop.readers.rosbag.bagfile import open_bag
from robotrace_desktop.readers.rosbag.columns import decode_rows
from robotrace_desktop.readers.rosbag.flatten import stamp_ns
from robotrace_desktop.readers.rosbag.images import RosImageFrames
from robotrace_desktop.readers.rosbag.topics import (
    HEADER_TOLERANCE_NS,
    TopicPlan,
    plan_bag,
)
from robotrace_desktop.readers.rosbag.typestore import Decoder, build_decoders
from robotrace_desktop.readers.rosbag.urdf import parse_urdf
from robotrace_desktop.video.frames import FrameSource

log = logging.getLogger(__name__)
_UNDECODABLE = object()
#: raw messages kept for decoding as columns: up to this size each, this many bytes in all
COLUMNAR_MAX_MESSAGE = 4096
COLUMNAR_BUDGET = 64 * 1024 * 1024


class _Opened:
    """A bag plus its decoders and topic plans: what index() and open() both need."""

    def __init__(self, path: Path) -> None:
        self.path = path
        key = plan_cache.plan_key(path)
        self.bag = open_bag(path)
        try:
            cached = plan_cache.get(key)
            if cached is not None:  # the same bag opened again (the viewer's cameras)
                self.decoders, self.plan = cached
            else:
                ros1 = self.bag.kind == "rosbag1"
                self.decoders = build_decoders(
                    self.bag.connections, ros1=ros1, ros_distro=self.bag.ros_distro
                )
                self.plan = plan_bag(self.bag, self.decoders)
                plan_cache.put(key, self.decoders, self.plan)
        except RecordingError:
            self.bag.close()
            raise
        except Exception as exc:
            self.bag.close()
            raise CorruptRecordingError(path, f"cannot read bag: {exc}") from exc
        self.t0 = self.bag.first_ns if self.bag.first_ns is not None else 0

    def decode(self, conn: Connection, raw: bytes) -> Any:
        decoder: Decoder = self.decoders.by_id[conn.id]
        return decoder(raw)

    def info(self) -> EpisodeInfo:
        bag, path = self.bag, self.path
        first_ns, last_ns = bag.first_ns, bag.last_ns
        empty = first_ns is None or last_ns is None
        duration = 0
        if first_ns is not None and last_ns is not None:
            duration = max(0, int(last_ns) - int(first_ns))
        problems = [*bag.problems, *self.plan.problems]
        if empty:
            problems.insert(0, f"{path}: no messages (empty bag)")
        info = EpisodeInfo(
            id=episode_id(str(path.resolve()), None),
            kind=bag.kind,
            path=str(path.resolve()),
            episode_index=None,
            name=path.name if path.is_dir() else path.stem,
            duration_ns=duration,
            start_time_ns=None if empty else bag.first_ns,
            problems=problems,
        )
        info.metadata = {
            "storage": bag.storage,
            "ros_distro": bag.ros_distro,
            "files": list(bag.files),
            "compression": bag.compression,
            "message_count": bag.message_count,
            "topics": [dict(t) for t in self.plan.catalog],  # the plan may be shared
            "header_tolerance_ns": HEADER_TOLERANCE_NS,
        }
        if bag.custom_data:
            info.metadata["custom_data"] = dict(bag.custom_data)
            origin = f"custom_data in {path / 'metadata.yaml' if path.is_dir() else path}"
            fields, bad = parse_fields(bag.custom_data, origin=origin)
            fields.apply(info)
            info.problems.extend(problem_lines(bad))
        self._robot_description(info)
        info.streams = [self._stream_info(plan, duration) for plan in self.plan.topics.values()]
        if bag.message_count and not any(p.count for p in self.plan.topics.values()):
            info.status = Status.FAILED
            skipped = [
                f"{t['name']} ({t['type']}: {t.get('note', 'not read')})"
                for t in self.plan.catalog
                if t["count"]
            ]
            info.problems.append(
                f"{path}: none of its {len(skipped)} topic(s) with messages could be read: "
                + "; ".join(skipped)
            )
        return info

    def _robot_description(self, info: EpisodeInfo) -> None:
        for topic, plan in self.plan.topics.items():
            if not topic.endswith("robot_description") or plan.first is None:
                continue
            text = getattr(plan.first, "data", None)
            if not isinstance(text, str):
                continue
            try:
                urdf = parse_urdf(text)
            except ValueError as exc:
                info.problems.append(f"topic {topic}: {exc}")
                return
            if urdf.robot and not info.robot:
                info.robot = urdf.robot
            info.metadata["robot_description_topic"] = topic
            if urdf.joint_limits:
                info.metadata["joint_limits"] = urdf.joint_limits
            if urdf.joint_types:  # prismatic joints are in m, not rad (core.units)
                info.metadata["joint_types"] = urdf.joint_types
            return

    def _stream_info(self, plan: TopicPlan, duration: int) -> StreamInfo:
        details = dict(plan.details)
        details["topic"] = plan.topic
        if len(plan.connections) > 1:
            details["connections"] = len(plan.connections)
        t_start: int | None = 0
        t_end: int | None = duration
        if plan.count == 0:
            t_start = t_end = None
        elif self.bag.kind == "rosbag1":
            times = self.bag.timestamps(plan.connections)
            t_start, t_end = int(times[0] - self.t0), int(times[-1] - self.t0)
            details["rate_basis"] = "topic messages"
        else:
            details["rate_basis"] = "bag duration"
        return StreamInfo(
            name=plan.topic,
            kind=plan.kind,
            count=plan.count,
            channels=plan.channels,
            t_start_ns=t_start,
            t_end_ns=t_end,
            message_type=plan.msgtype,
            details=details,
        )

    def close(self) -> None:
        self.bag.close()


class _Collected:
    """One topic's messages in arrival order — a signal's flattened rows, an event topic's
    decoded messages — with their record and header times (the record time standing in for a
    missing header)."""

    __slots__ = ("headers", "items", "records")

    def __init__(self) -> None:
        self.records: list[int] = []
        self.headers: list[int] = []
        self.items: list[Any] = []

    def add(self, record: int, header: int | None, item: Any) -> None:
        self.records.append(record)
        self.headers.append(header if header is not None else record)
        self.items.append(item)


class RosEpisodeSource(EpisodeSource):
    """An opened bag: reads topics by time window, decoding only the messages inside it."""

    def __init__(self, opened: _Opened) -> None:
        self._opened = opened
        self.info = opened.info()
        self._frames: list[FrameSource] = []

    def _plan(self, stream: str, kind: StreamKind) -> TopicPlan:
        plan = self._opened.plan.topics.get(stream)
        if plan is None or plan.kind != kind:
            names = ", ".join(p.topic for p in self._opened.plan.topics.values() if p.kind == kind)
            raise StreamNotFoundError(
                f"episode {self.info.id} has no {kind.value} stream {stream!r} "
                f"({kind.value} streams: {names or 'none'})"
            )
        return plan

    def _window(
        self, plan: TopicPlan, start_ns: int | None, stop_ns: int | None
    ) -> Iterator[tuple[int, int | None, Any]]:
        """(record ns, header ns or None, message) of messages possibly inside the window."""
        pad = HEADER_TOLERANCE_NS if plan.clock == "header" else 0
        t0 = self._opened.t0
        start = None if start_ns is None else t0 + start_ns - pad
        stop = None if stop_ns is None else t0 + stop_ns + pad
        for _, record, header, msg in self._messages([plan], start, stop):
            yield record, header, msg

    def _select(
        self,
        plan: TopicPlan,
        record: np.ndarray,
        header: np.ndarray,
        start_ns: int | None,
        stop_ns: int | None,
    ) -> np.ndarray:
        t = header if plan.clock == "header" else record
        keep = np.ones(len(t), bool)
        if start_ns is not None:
            keep &= t >= start_ns
        if stop_ns is not None:
            keep &= t < stop_ns
        idx = np.flatnonzero(keep)
        return idx[np.argsort(t[idx], kind="stable")]

    @source_guard("cannot read stream")
    def read_signal(
        self, stream: str, start_ns: int | None = None, stop_ns: int | None = None
    ) -> SignalChunk:
        plan = self._plan(stream, StreamKind.SIGNAL)
        got = _Collected()
        if plan.flattener is not None:
            for record, header, msg in self._window(plan, start_ns, stop_ns):
                got.add(record, header, plan.flattener.values(msg))
        return self._signal_chunk(plan, got, start_ns, stop_ns)

    @source_guard("cannot read stream")
    def read_events(
        self, stream: str, start_ns: int | None = None, stop_ns: int | None = None
    ) -> list[LogEvent]:
        plan = self._plan(stream, StreamKind.EVENT)
        if plan.event is None or plan.count == 0:
            return []
        got = _Collected()
        for record, header, msg in self._window(plan, start_ns, stop_ns):
            got.add(record, header, msg)
        return self._event_list(plan, got, start_ns, stop_ns)

    @source_guard("cannot read streams")
    def read_streams(
        self, signals: Sequence[str], events: Sequence[str] = ()
    ) -> tuple[dict[str, SignalChunk], dict[str, list[LogEvent]]]:
        """Every wanted topic from ONE iteration over the bag, restricted to their connections
        (a 23-topic bag read topic by topic is 23 passes over every chunk). Each stream comes
        out exactly as ``read_signal`` / ``read_events`` make it: same rows, same order."""
        signal_plans = [self._plan(name, StreamKind.SIGNAL) for name in signals]
        event_plans = [self._plan(name, StreamKind.EVENT) for name in events]
        wanted = [p for p in signal_plans if p.flattener is not None]
        wanted += [p for p in event_plans if p.event is not None and p.count]
        collected = {p.topic: _Collected() for p in wanted}
        # signal topics whose connections share one decoder keep their raw messages, to be
        # decoded as columns at the end (``ros_columns``); the others are decoded as they come
        raw: dict[str, tuple[Decoder, list[int], list[bytes]]] = {}
        for plan in wanted:
            decoders = {id(self._opened.decoders.by_id.get(c.id)) for c in plan.connections}
            first = self._opened.decoders.by_id.get(plan.connections[0].id)
            if plan.kind == StreamKind.SIGNAL and len(decoders) == 1 and first is not None:
                raw[plan.topic] = (first, [], [])
        by_topic = {p.topic: p for p in wanted}
        connections = [c for p in wanted for c in p.connections]
        held = 0  # bytes of raw messages kept
        for conn, record, data in self._opened.bag.messages(connections):
            plan = by_topic[conn.topic]
            kept = raw.get(conn.topic)
            if kept is not None:
                if len(data) <= COLUMNAR_MAX_MESSAGE and held + len(data) <= COLUMNAR_BUDGET:
                    kept[1].append(record)
                    kept[2].append(data)
                    held += len(data)
                    continue
                # big messages: this topic is decoded one by one from here, what was kept first
                del raw[conn.topic]
                self._collect_raw(plan, kept[0], kept[1], kept[2], collected[plan.topic], False)
            msg = self._decoded(plan, conn, record, data)
            if msg is _UNDECODABLE:
                continue
            header = stamp_ns(msg)
            if plan.kind == StreamKind.SIGNAL and plan.flattener is not None:
                msg = plan.flattener.values(msg)  # keep the row, not the message object
            collected[plan.topic].add(record, header, msg)
        for topic, (decoder, records, messages) in raw.items():
            self._collect_raw(by_topic[topic], decoder, records, messages, collected[topic])
        chunks = {
            p.topic: self._signal_chunk(p, collected.get(p.topic, _Collected()), None, None)
            for p in signal_plans
        }
        logs = {
            p.topic: self._event_list(p, collected[p.topic], None, None)
            if p.topic in collected
            else []
            for p in event_plans
        }
        return chunks, logs

    def _messages(
        self, plans: Sequence[TopicPlan], start: int | None = None, stop: int | None = None
    ) -> Iterator[tuple[TopicPlan, int, int | None, Any]]:
        """(plan, record ns, header ns or None, message) of every message of ``plans``' topics
        with start <= record time < stop (absolute ns): one iteration over the bag."""
        by_topic = {p.topic: p for p in plans}
        connections = [c for p in plans for c in p.connections]
        for conn, record, raw in self._opened.bag.messages(connections, start, stop):
            plan = by_topic[conn.topic]
            msg = self._decoded(plan, conn, record, raw)
            if msg is not _UNDECODABLE:
                yield plan, record, stamp_ns(msg), msg

    def _decoded(self, plan: TopicPlan, conn: Connection, record: int, raw: bytes) -> Any:
        """The message, or _UNDECODABLE (logged): one bad message must not hide the rest of
        the topic."""
        try:
            return self._opened.decode(conn, raw)
        except Exception as exc:
            log.warning(
                "%s %s: message at %d undecodable: %s", self.info.path, plan.topic, record, exc
            )
            return _UNDECODABLE

    def _collect_raw(
        self,
        plan: TopicPlan,
        decoder: Decoder,
        records: list[int],
        messages: list[bytes],
        got: _Collected,
        columnar: bool = True,
    ) -> None:
        """A signal topic's raw messages as rows: all at once when its layout allows
        (``ros_columns``), else message by message — the same rows either way."""
        assert plan.flattener is not None
        columns = None
        try:
            if columnar:
                columns = decode_rows(decoder, plan.flattener, messages)
        except Exception:  # a surprise in the fast way costs speed, never rows
            log.debug("%s %s: columnar decoding failed", self.info.path, plan.topic, exc_info=True)
        if columns is not None:
            rows, stamps = columns
            got.records = records
            got.headers = records if stamps is None else stamps.tolist()
            got.items = rows  # type: ignore[assignment]  # an (N, channels) array of the rows
            return
        conn = plan.connections[0]
        for record, raw in zip(records, messages, strict=True):
            msg = self._decoded(plan, conn, record, raw)
            if msg is not _UNDECODABLE:
                got.add(record, stamp_ns(msg), plan.flattener.values(msg))

    def _signal_chunk(
        self, plan: TopicPlan, got: _Collected, start_ns: int | None, stop_ns: int | None
    ) -> SignalChunk:
        channels = plan.channels
        has_header = plan.first is not None and stamp_ns(plan.first) is not None
        rows = got.items
        t0 = np.int64(self._opened.t0)
        record_rel = np.asarray(got.records, np.int64) - t0
        header_rel = np.asarray(got.headers, np.int64) - t0
        order = self._select(plan, record_rel, header_rel, start_ns, stop_ns)
        if isinstance(rows, np.ndarray):  # decoded as columns: already one (N, C) array
            values = rows[order]
        else:
            values = np.vstack(rows)[order] if rows else np.zeros((0, len(channels)))
        t_ns = (header_rel if plan.clock == "header" else record_rel)[order]
        times = {"record": record_rel[order]}
        if has_header:
            times["header"] = header_rel[order]
        return SignalChunk(plan.topic, channels, t_ns, values, times)

    def _event_list(
        self, plan: TopicPlan, got: _Collected, start_ns: int | None, stop_ns: int | None
    ) -> list[LogEvent]:
        assert plan.event is not None
        t0 = self._opened.t0
        record_rel = np.asarray(got.records, np.int64) - t0
        header_rel = np.asarray(got.headers, np.int64) - t0
        order = self._select(plan, record_rel, header_rel, start_ns, stop_ns)
        t = header_rel if plan.clock == "header" else record_rel
        events = []
        for i in order:
            fields = plan.event(got.items[i], plan.topic)
            events.append(LogEvent(int(t[i]), fields.level, fields.text, fields.source))
        return events

    @source_guard("cannot open camera")
    def video(self, stream: str) -> FrameSource:
        plan = self._plan(stream, StreamKind.VIDEO)
        frames = RosImageFrames(
            plan.topic,
            self._opened.bag,
            plan.connections,
            self._opened.decode,
            plan.msgtype,
            self._opened.t0,
        )
        self._frames.append(frames)
        return frames

    def close(self) -> None:
        self._opened.close()


def index_bag(path: Path) -> Iterator[EpisodeInfo]:
    opened = _Opened(path)
    try:
        info = opened.info()
    finally:
        opened.close()
    yield info


def open_bag_episode(path: Path, episode_index: int | None = None) -> RosEpisodeSource:
    if episode_index not in (None, 0):
        raise StreamNotFoundError(f"{path}: a bag has one episode, not #{episode_index}")
    return RosEpisodeSource(_Opened(path))
