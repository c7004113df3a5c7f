"""Reader for RoboTrace's native episode bundle (a folder with ``robotrace_episode.json``).

Indexing reads the manifest and file headers only: parquet footers, feather batch ranges,
npz/npy headers, video container headers. A referenced file that is missing or unreadable
becomes a problem sentence; the rest of the bundle still opens. A manifest that is not JSON,
breaks the schema or points outside the folder is a RecordingError naming the manifest.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pyarrow as pa

from robotrace_desktop.bundle.confine import resolve_in_bundle
from robotrace_desktop.bundle.events import read_events_jsonl
from robotrace_desktop.bundle.manifest import (
    BundleManifest,
    SignalEntry,
    VideoEntry,
    read_manifest,
)
from robotrace_desktop.core.episode import (
    EpisodeInfo,
    EpisodeSource,
    LogEvent,
    Outcome,
    SignalChunk,
    Status,
    StreamInfo,
    StreamKind,
    episode_id,
)
from robotrace_desktop.errors import (
    RecordingError,
    StreamNotFoundError,
    recording_errors,
    source_guard,
)
from robotrace_desktop.readers.bundle.sniff import folder_of
from robotrace_desktop.readers.tabular import SignalTable, npz_stream_names, open_table
from robotrace_desktop.video.frames import FrameSource

# What a damaged referenced file can raise while its header is read: it becomes a problem
# sentence for that stream, never an exception out of index().
_FILE_ERRORS = (RecordingError, OSError, ValueError, pa.ArrowException, av.FFmpegError)


@dataclass(slots=True)
class _SignalPlan:
    entry: SignalEntry
    file: Path
    npz_stream: str | None
    channels: tuple[str, ...]


@dataclass(slots=True)
class _VideoPlan:
    entry: VideoEntry
    file: Path
    times_ns: np.ndarray | None


@dataclass(slots=True)
class _Description:
    info: EpisodeInfo
    signals: dict[str, _SignalPlan]
    videos: dict[str, _VideoPlan]
    events: dict[str, list[LogEvent]]


def _load_timestamps(file: Path) -> np.ndarray:
    try:
        times = np.asarray(np.load(file, allow_pickle=False))  # an .npz archive: 0-d, refused below
    except (ValueError, OSError, EOFError) as exc:
        raise RecordingError(file, f"cannot read frame timestamps: {exc}") from exc
    if times.ndim != 1 or times.dtype.kind not in "iu":
        raise RecordingError(file, f"frame timestamps must be 1-D int64 ns, got {times.dtype}")
    times = times.astype(np.int64)
    if len(times) > 1 and np.any(np.diff(times) <= 0):
        raise RecordingError(file, "frame timestamps must be strictly increasing")
    return times


def _describe_video(
    folder: Path, entry: VideoEntry
) -> tuple[StreamInfo, _VideoPlan, int, list[str]]:
    """StreamInfo from the container header, the plan for opening it, its end time and any
    problems (a timestamps file that does not match the frame count)."""
    from robotrace_desktop.video.container import probe_video

    file = resolve_in_bundle(folder, entry.path)
    if not file.is_file():
        raise RecordingError(file, f"video of camera {entry.camera!r} not found")
    probe = probe_video(file)
    times = None
    if entry.timestamps:
        times = _load_timestamps(resolve_in_bundle(folder, entry.timestamps))
    frame_ns = round(1e9 / probe.fps) if probe.fps else 1_000_000_000 // 30
    estimated = probe.frame_count is None
    count = (
        int(probe.frame_count)
        if probe.frame_count is not None
        else round(probe.duration_ns * probe.fps / 1e9)
    )
    problems: list[str] = []
    if times is not None:
        if not estimated and len(times) != count:
            problems.append(
                f"{file}: {len(times)} frame timestamps in {entry.timestamps} for {count} "
                f"video frames; only the first {min(count, len(times))} are shown"
            )
            times = times[:count]
        count = len(times)
        estimated = False
        t0 = int(times[0]) if count else entry.t0_ns
        t1 = int(times[-1]) if count else entry.t0_ns
    else:
        t0 = entry.t0_ns
        t1 = entry.t0_ns + (round((count - 1) * 1e9 / probe.fps) if count and probe.fps else 0)
    end = t1 + frame_ns if count else t0
    if times is None and probe.duration_ns:
        end = max(end, entry.t0_ns + int(probe.duration_ns))
    details = {
        "file": entry.path,
        "codec": probe.codec,
        "width": probe.width,
        "height": probe.height,
        "fps": probe.fps,
        "t0_ns": entry.t0_ns,
        "clock": "timestamps file" if times is not None else "container pts + t0_ns",
    }
    if estimated:
        details["count_estimated"] = True
    info = StreamInfo(entry.camera, StreamKind.VIDEO, count, (), t0, t1, probe.codec, details)
    return info, _VideoPlan(entry, file, times), end, problems


def _signal_streams(
    folder: Path, entry: SignalEntry
) -> Iterator[tuple[StreamInfo, _SignalPlan, list[str]]]:
    file = resolve_in_bundle(folder, entry.path)
    if not file.is_file():
        raise RecordingError(file, f"signal file of stream {entry.name or entry.path!r} not found")
    if entry.format == "npz" and entry.name is None:
        streams: list[tuple[str, str | None]] = [(s, s) for s in npz_stream_names(file)]
        if not streams:
            raise RecordingError(file, "npz has no '<stream>/_t_ns' arrays and no stream name")
    else:
        streams = [(entry.name or "", entry.name)]
    for name, npz_stream in streams:
        table = open_table(file, entry.format, time_column=entry.time_column, stream=npz_stream)
        try:
            summary = table.summary()
        finally:
            table.close()
        problems = list(summary.problems)
        channels = summary.channels
        if entry.channels is not None:
            if len(entry.channels) == len(channels):
                channels = entry.channels
            else:
                problems.append(
                    f"{file}: manifest lists {len(entry.channels)} channels for stream "
                    f"{name!r} but the file has {len(channels)}; using the file's names"
                )
        details = {"file": entry.path, "format": entry.format, **summary.details}
        if entry.role:
            details["role"] = entry.role
        info = StreamInfo(
            name,
            StreamKind.SIGNAL,
            summary.count,
            channels,
            summary.t_start_ns,
            summary.t_end_ns,
            None,
            details,
        )
        yield info, _SignalPlan(entry, file, npz_stream, channels), problems


def _reason(exc: Exception, rel: str) -> str:
    """A problem sentence that always names the file."""
    text = str(exc)
    return text if isinstance(exc, RecordingError) or rel in text else f"{rel}: {text}"


def _describe(folder: Path) -> _Description:
    manifest = read_manifest(folder)
    root = folder.resolve()
    problems: list[str] = list(manifest.problems)
    streams: list[StreamInfo] = []
    signals: dict[str, _SignalPlan] = {}
    videos: dict[str, _VideoPlan] = {}
    events: dict[str, list[LogEvent]] = {}
    ends: list[int] = []
    for ventry in manifest.videos:
        try:
            with recording_errors(root / ventry.path, "cannot read video"):
                vinfo, vplan, end, more = _describe_video(root, ventry)
        except _FILE_ERRORS as exc:
            problems.append(f"video {ventry.camera!r}: {_reason(exc, ventry.path)}")
            continue
        streams.append(vinfo)
        problems += more
        videos[ventry.camera] = vplan
        ends.append(end)
    for sentry in manifest.signals:
        try:
            with recording_errors(root / sentry.path, "cannot read signals"):
                described = list(_signal_streams(root, sentry))
            for sinfo, splan, more in described:
                if sinfo.name in signals or sinfo.name in videos:
                    problems.append(f"{splan.file}: stream {sinfo.name!r} repeated; skipped")
                    continue
                streams.append(sinfo)
                signals[sinfo.name] = splan
                problems += more
                if sinfo.t_end_ns is not None:
                    ends.append(sinfo.t_end_ns)
        except _FILE_ERRORS as exc:
            problems.append(f"signal {sentry.name or sentry.path!r}: {_reason(exc, sentry.path)}")
    for eentry in manifest.events:
        file = resolve_in_bundle(root, eentry.path)
        try:
            with recording_errors(file, "cannot read events"):
                try:
                    items, more = read_events_jsonl(file)
                except OSError as exc:
                    reason = "file not found" if not file.exists() else (exc.strerror or str(exc))
                    raise RecordingError(file, reason) from exc
        except RecordingError as exc:
            problems.append(f"events {eentry.name!r}: {exc}")
            continue
        problems += more
        events[eentry.name] = items
        t0 = items[0].t_ns if items else None
        t1 = items[-1].t_ns if items else None
        streams.append(
            StreamInfo(
                eentry.name, StreamKind.EVENT, len(items), (), t0, t1, None, {"file": eentry.path}
            )
        )
        if t1 is not None:
            ends.append(t1)
    info = _episode_info(root, manifest, streams, problems, ends)
    return _Description(info, signals, videos, events)


def _episode_info(
    root: Path,
    manifest: BundleManifest,
    streams: list[StreamInfo],
    problems: list[str],
    ends: list[int],
) -> EpisodeInfo:
    duration = manifest.duration_ns if manifest.duration_ns is not None else max([0, *ends])
    status = Status.FAILED if manifest.status == "failed" else Status.READY
    declared = len(manifest.videos) + len(manifest.signals) + len(manifest.events)
    if declared and not streams:
        status = Status.FAILED
    metadata = dict(manifest.metadata)
    metadata.setdefault("bundle_format_version", manifest.format_version)
    return EpisodeInfo(
        id=manifest.id or episode_id(str(root), None),
        kind="bundle",
        path=str(root),
        episode_index=None,
        name=manifest.name or root.name,
        duration_ns=max(0, int(duration)),
        start_time_ns=manifest.start_time_ns,
        source=manifest.source,
        robot=manifest.robot,
        policy_version=manifest.policy_version,
        env_version=manifest.env_version,
        git_sha=manifest.git_sha,
        seed=manifest.seed,
        task=manifest.task,
        outcome=Outcome.from_success(manifest.success),
        status=status,
        problems=problems,
        metadata=metadata,
        streams=streams,
    )


class BundleEpisode(EpisodeSource):
    """An opened bundle: tables are opened on first read and kept until close()."""

    def __init__(self, description: _Description) -> None:
        self.info = description.info
        self._plans = description.signals
        self._videos = description.videos
        self._events = description.events
        self._tables: dict[str, SignalTable] = {}
        self._frame_sources: list[FrameSource] = []

    def _table(self, stream: str) -> tuple[SignalTable, _SignalPlan]:
        plan = self._plans.get(stream)
        if plan is None:
            known = ", ".join(self._plans) or "none"
            raise StreamNotFoundError(
                f"episode {self.info.id} has no signal stream {stream!r} (signals: {known})"
            )
        table = self._tables.get(stream)
        if table is None:
            entry = plan.entry
            table = open_table(
                plan.file, entry.format, time_column=entry.time_column, stream=plan.npz_stream
            )
            self._tables[stream] = table
        return table, plan

    @source_guard("cannot read stream")
    def read_signal(
        self, stream: str, start_ns: int | None = None, stop_ns: int | None = None
    ) -> SignalChunk:
        table, plan = self._table(stream)
        t_ns, values = table.read(start_ns, stop_ns)
        return SignalChunk(stream, plan.channels, t_ns, values)

    @source_guard("cannot read stream")
    def read_events(
        self, stream: str, start_ns: int | None = None, stop_ns: int | None = None
    ) -> list[LogEvent]:
        if stream not in self._events:
            return super().read_events(stream, start_ns, stop_ns)
        return [
            e
            for e in self._events[stream]
            if (start_ns is None or e.t_ns >= start_ns) and (stop_ns is None or e.t_ns < stop_ns)
        ]

    @source_guard("cannot open camera")
    def video(self, stream: str) -> FrameSource:
        from robotrace_desktop.video.container import ContainerVideo
        from robotrace_desktop.video.packet_index import load_index

        plan = self._videos.get(stream)
        if plan is None:
            return super().video(stream)
        # t0_ns is the episode time of the FIRST frame, whatever pts the container starts at.
        frame_ns = load_index(plan.file).frame_ns
        first_pts = int(frame_ns[0]) if len(frame_ns) else 0
        source = ContainerVideo(
            plan.file,
            stream,
            clip_start_ns=first_pts,
            offset_ns=plan.entry.t0_ns,
            override_times_ns=plan.times_ns,
        )
        self._frame_sources.append(source)
        return source

    def close(self) -> None:
        for table in self._tables.values():
            table.close()
        self._tables.clear()
        for source in self._frame_sources:
            source.close()
        self._frame_sources.clear()


def index_bundle(path: Path) -> Iterator[EpisodeInfo]:
    yield _describe(folder_of(path)).info


def open_bundle(path: Path, episode_index: int | None = None) -> EpisodeSource:
    if episode_index not in (None, 0):
        raise RecordingError(path, f"a bundle holds one episode; no episode {episode_index}")
    return BundleEpisode(_describe(folder_of(path)))
