"""LeRobot datasets (v2.0, v2.1, v3.0): one episode per trajectory, read through pyarrow.

Indexing reads only metadata — info.json, the episode list and per-episode statistics
(episodes.jsonl + episodes_stats.jsonl, or v3's meta/episodes parquet) — plus one directory
listing per folder to learn which data and video files exist. Parquet footers are read only
when the metadata lacks what is needed (v2.0 has no per-episode stats). So a 1,000-episode
dataset indexes without opening a single data file.

Time: frame i of an episode is at ``frame_time_ns(i) = round(i / fps s)``, for signals and
video frames alike; an episode of N frames lasts N/fps (its last frame is shown for one period),
so 393 frames at 30 fps last exactly 13.1 s while the last sample sits at 13.0667 s.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

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
from robotrace_desktop.core.fields import Fields, parse_fields, problem_lines
from robotrace_desktop.errors import RecordingError, StreamNotFoundError, reader_guard, source_guard
from robotrace_desktop.readers.base import Reader
from robotrace_desktop.readers.lerobot.features import (
    OUTCOME_FEATURES,
    clock_details,
    duration_ns,
    first_frame_at_or_after,
    first_stat_value,
    frame_time_ns,
    outcome_from_stats,
    video_details,
)
from robotrace_desktop.readers.lerobot.load import load_dataset
from robotrace_desktop.readers.lerobot.meta import (
    INFO_REL,
    DatasetMeta,
    EpisodeMeta,
)
from robotrace_desktop.readers.permission import problem as permission_problem
from robotrace_desktop.readers.sanity import check_episode
from robotrace_desktop.video.frames import FrameSource

#: folder path -> ((inode, mtime_ns, ctime_ns) when listed, its file names, listing denied)
_FOLDERS: dict[str, tuple[tuple[int, int, int], frozenset[str], bool]] = {}
_FOLDERS_KEPT = 256


class _Listing:
    """Which files exist, one ``os.scandir`` per directory instead of a stat per file."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._dirs: dict[str, frozenset[str]] = {}
        self._denied: set[str] = set()  # folders this user may not list

    def exists(self, rel: str) -> bool:
        folder, _, name = rel.rpartition("/")
        names = self._dirs.get(folder)
        if names is None:
            names = self._dirs[folder] = self._list(folder)
        return name in names

    def _list(self, folder: str) -> frozenset[str]:
        """The folder's file names: from the process's last listing of it while the folder is
        unchanged since (opening one episode of a 10,000-episode dataset listed its chunk
        folder of 1,000 files every time), else listed now."""
        path = os.path.join(self._root, folder)
        try:
            st = os.stat(path)
            key: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
        except OSError:
            key = None
        kept = _FOLDERS.get(path) if key is not None else None
        if kept is not None and kept[0] == key:
            if kept[2]:
                self._denied.add(folder)
            return kept[1]
        listed_at = time.time_ns()
        denied = False
        try:
            with os.scandir(path) as entries:
                names = frozenset(e.name for e in entries if e.is_file())
        except PermissionError:
            names, denied = frozenset(), True
            self._denied.add(folder)
        except OSError:
            names = frozenset()
        # a listing taken within a second of the folder's last change may miss a file written
        # in that same timestamp tick: such a listing is not kept
        if key is not None and listed_at - max(key[1], key[2]) > 1_000_000_000:
            if len(_FOLDERS) >= _FOLDERS_KEPT:
                _FOLDERS.pop(next(iter(_FOLDERS)))
            _FOLDERS[path] = (key, names, denied)
        return names

    def denied(self, rel: str) -> str | None:
        """The unreadable folder or file in the way of ``rel`` (call after ``exists``)."""
        folder = rel.rpartition("/")[0]
        for parent in self._denied:
            if folder == parent or folder.startswith(parent + "/"):
                return parent
        if self._dirs.get(folder) and rel.rpartition("/")[2] in self._dirs[folder]:
            return rel if not os.access(os.path.join(self._root, rel), os.R_OK) else None
        return None


class _InfoBuilder:
    """Turns EpisodeMeta into EpisodeInfo; per-dataset work (features, channels) done once."""

    def __init__(self, meta: DatasetMeta) -> None:
        self.meta = meta
        self.root = str(meta.root)
        self.listing = _Listing(meta.root)  # opening an episode gives each build its own
        self.signals = [(f.key, f.channels(), f.summary()) for f in meta.signal_features()]
        self.clock = clock_details("timestamp" in meta.features)
        self.cameras = [(f.key, video_details(f, meta.fps_value)) for f in meta.video_features()]
        self.images = [f for f in meta.features.values() if f.is_image]
        self.outcome_keys = [k for k in OUTCOME_FEATURES if k in meta.features]
        self.features = {k: f.summary() for k, f in meta.features.items()}
        self.dataset_fields = parse_fields(meta.info, origin=f"{meta.root / INFO_REL}")
        # an episode stating no field of its own (nearly all) gets the dataset's as they are
        self._dataset_problems = problem_lines(self.dataset_fields[1])
        self._dataset_assignments = self.dataset_fields[0].assignments()

    def build(self, episode: EpisodeMeta, listing: _Listing | None = None) -> EpisodeInfo:
        meta = self.meta
        listing = listing or self.listing
        problems = [*meta.problems, *episode.problems]
        status = Status.READY
        length, stats = episode.length, meta.stats_of(episode)
        data_exists = listing.exists(episode.data_rel)
        blocked = listing.denied(episode.data_rel)
        if blocked is not None:
            problems.append(permission_problem(blocked))
            status, data_exists = Status.FAILED, False
        elif not data_exists:
            problems.append(f"data file {episode.data_rel} is missing")
            status = Status.FAILED
        needs_stats = (
            bool(self.outcome_keys)
            and not meta.is_v3
            and not any(k in stats for k in self.outcome_keys)
        )
        if data_exists and (length is None or needs_stats):
            from robotrace_desktop.readers.lerobot.data import footer_summary

            try:
                rows, footer_stats = footer_summary(meta.root / episode.data_rel, self.outcome_keys)
            except RecordingError as exc:
                problems.append(f"data file {episode.data_rel}: {exc.reason}")
                status = Status.FAILED
            else:
                length = rows if length is None else length
                stats = {**footer_stats, **stats}
        if length is None:
            length = 0
            status = Status.FAILED
        fps = meta.fps
        t_end = frame_time_ns(length - 1, fps) if length else None
        t_start = 0 if length else None
        streams: list[StreamInfo] = [
            StreamInfo(
                name=key,
                kind=StreamKind.SIGNAL,
                count=length,
                channels=channels,
                t_start_ns=t_start,
                t_end_ns=t_end,
                message_type=summary["dtype"],
                details={"shape": summary["shape"], "file": episode.data_rel, **self.clock},
            )
            for key, channels, summary in self.signals
        ]
        video_files: dict[str, str] = {}
        for key, base_details in self.cameras:
            ref = episode.videos.get(key)
            if ref is None:
                continue
            details: dict[str, Any] = {**base_details, "file": ref.rel}
            if ref.from_s is not None:
                details["from_timestamp"], details["to_timestamp"] = ref.from_s, ref.to_s
            present = listing.exists(ref.rel)
            video_blocked = listing.denied(ref.rel)
            if video_blocked is not None:
                details["missing"] = True
                problems.append(permission_problem(video_blocked))
            elif not present:
                details["missing"] = True
                problems.append(f"video file {ref.rel} is missing")
            video_files[key] = ref.rel
            streams.append(
                StreamInfo(key, StreamKind.VIDEO, length, (), t_start, t_end, "video", details)
            )
        for feature in self.images:
            streams.append(
                StreamInfo(
                    feature.key,
                    StreamKind.VIDEO,
                    length,
                    (),
                    t_start,
                    t_end,
                    "image",
                    {"storage": "parquet", "file": episode.data_rel},
                )
            )
        if episode.extra:
            assignments = self._fields(episode, problems).assignments()
        else:
            problems.extend(self._dataset_problems)
            assignments = self._dataset_assignments
        metadata: dict[str, Any] = {
            "codebase_version": meta.version,
            "fps": meta.fps_value,
            "dataset_root": self.root,
            "data_file": episode.data_rel,
            "video_files": video_files,
            "length": length,
            "tasks": list(episode.tasks) or self._tasks_from_stats(stats),
            "features": self.features,
        }
        if episode.row_range is not None:
            metadata["row_range"] = list(episode.row_range)
        tasks = metadata["tasks"]
        info = EpisodeInfo(
            id=episode_id(self.root, episode.index),
            kind="lerobot",
            path=self.root,
            episode_index=episode.index,
            name=f"{meta.root.name} #{episode.index}",
            duration_ns=duration_ns(length, fps),
            robot=meta.robot_type,
            task=" | ".join(tasks) if tasks else None,
            outcome=outcome_from_stats(stats) if stats else Outcome.UNKNOWN,
            status=status,
            problems=problems,
            metadata=metadata,
            streams=streams,
        )
        for name, value in assignments:  # stated fields win over what the format implies
            setattr(info, name, value)  # (robot_type, stats): Fields.apply's assignments
        return info

    def _fields(self, episode: EpisodeMeta, problems: list[str]) -> Fields:
        """The episode's stated fields over the dataset's (meta/info.json); each rejected
        value becomes a problem naming the file it came from."""
        dataset, dataset_problems = self.dataset_fields
        where = "meta/episodes" if self.meta.is_v3 else "meta/episodes.jsonl"
        origin = f"{self.meta.root / where} (episode {episode.index})"
        own, own_problems = parse_fields(episode.extra, origin=origin)
        problems.extend(problem_lines([*dataset_problems, *own_problems]))
        return own.over(dataset)

    def _tasks_from_stats(self, stats: dict[str, Any]) -> list[str]:
        entry = stats.get("task_index")
        low = first_stat_value(entry, "min")
        high = first_stat_value(entry, "max")
        if low is None or low != high:
            return []
        task = self.meta.tasks.get(int(low))
        return [task] if task else []


#: the per-dataset part of building an episode's info (features, channels, the dataset's
#: fields), by the id of the cached DatasetMeta it was made for (kept with it)
_BUILDERS: dict[int, tuple[DatasetMeta, _InfoBuilder]] = {}


def _builder_for(meta: DatasetMeta) -> _InfoBuilder:
    kept = _BUILDERS.get(id(meta))
    if kept is None or kept[0] is not meta:
        if len(_BUILDERS) >= _DATASETS_KEPT * 2:
            _BUILDERS.clear()
        kept = _BUILDERS[id(meta)] = (meta, _InfoBuilder(meta))
    return kept[1]


#: parsed dataset metadata per root, valid while every file under meta/ is unchanged: verify and
#: Explain open thousands of episodes of one dataset, and parsing a 3,000-episode
#: episodes.jsonl + episodes_stats.jsonl per open (~0.1 s) would dominate their run time
_DATASETS: dict[Path, tuple[tuple[tuple[str, int, int], ...], DatasetMeta]] = {}
_DATASETS_KEPT = 4
# The viewer opens one episode from several workers at once (signals, each camera): without
# this lock each of them parsed the same 10,000-episode metadata in parallel (2-3x the time and
# the memory; benchmarks/bench_scale.py). Held while parsing, so the others wait for the result.
_DATASETS_LOCK = threading.Lock()


def _cached_dataset(path: Path) -> DatasetMeta:
    root = Path(path).resolve()
    with _DATASETS_LOCK:
        signature = _meta_signature(root)
        hit = _DATASETS.get(root)
        if hit is not None and hit[0] == signature:
            return hit[1]
        meta = load_dataset(root, lazy_stats=True)  # opening one episode parses its stats only
        while len(_DATASETS) >= _DATASETS_KEPT:
            _DATASETS.pop(next(iter(_DATASETS)))
        _DATASETS[root] = (signature, meta)
        return meta


def _meta_signature(root: Path) -> tuple[tuple[str, int, int], ...]:
    """(relative path, size, mtime) of every file under meta/: any edit invalidates."""
    found: list[tuple[str, int, int]] = []
    for dirpath, _dirs, files in os.walk(root / "meta"):
        for name in files:
            try:
                st = os.stat(os.path.join(dirpath, name))
            except OSError:
                continue
            found.append((os.path.join(dirpath, name), st.st_size, st.st_mtime_ns))
    return tuple(sorted(found))


class LeRobotReader(Reader):
    kind = "lerobot"
    folder_format = True

    def sniff(self, path: Path) -> float | None:
        info = path / "meta" / "info.json"
        if not info.is_file():
            return None
        try:
            version = json.loads(info.read_bytes()).get("codebase_version")
        except (OSError, ValueError, AttributeError, RecursionError):
            return 0.6  # ours, but broken: index() explains why
        if isinstance(version, str) and version.startswith(("v2", "v3")):
            return 0.95
        return 0.6

    @reader_guard("cannot index", each=check_episode)
    def index(self, path: Path) -> Iterator[EpisodeInfo]:
        meta = load_dataset(path)
        builder = _InfoBuilder(meta)
        for episode in meta.episodes.values():
            yield builder.build(episode)

    @reader_guard("cannot open")
    def open(self, path: Path, episode_index: int | None = None) -> EpisodeSource:
        if episode_index is None:
            raise RecordingError(path, "a LeRobot dataset holds many episodes: give an index")
        meta = _cached_dataset(path)
        episode = meta.episodes.get(episode_index)
        if episode is None:
            known = f"{min(meta.episodes)}..{max(meta.episodes)}" if meta.episodes else "none"
            raise RecordingError(
                path, f"no episode {episode_index} in this dataset (episodes {known})"
            )
        return LeRobotEpisode(meta, episode, _builder_for(meta).build(episode, _Listing(meta.root)))

    def fingerprint_files(self, path: Path) -> list[Path]:
        """meta/, data/ and videos/ files: a video or parquet appearing or changing re-indexes."""
        found: list[Path] = []
        for folder in ("meta", "data", "videos"):
            for dirpath, _dirs, files in os.walk(path / folder):
                found.extend(Path(dirpath, name) for name in files)
        if not found:
            found.append(path / INFO_REL)
        return sorted(found)


class LeRobotEpisode(EpisodeSource):
    """One opened episode: rows from its (possibly shared) parquet, cameras from mp4 clips."""

    def __init__(self, meta: DatasetMeta, episode: EpisodeMeta, info: EpisodeInfo) -> None:
        from robotrace_desktop.readers.lerobot.data import EpisodeRows

        self.info = info
        self._meta = meta
        self._episode = episode
        self._rows = EpisodeRows(meta.root / episode.data_rel, episode.row_range, meta.fps)
        self._videos: list[FrameSource] = []

    def close(self) -> None:
        self._rows.close()
        for video in self._videos:
            video.close()
        self._videos.clear()

    @source_guard("cannot read stream")
    def read_signal(
        self, stream: str, start_ns: int | None = None, stop_ns: int | None = None
    ) -> SignalChunk:
        self._signal_feature(stream)
        fps = self._meta.fps
        low = 0 if start_ns is None else first_frame_at_or_after(start_ns, fps)
        high = None if stop_ns is None else first_frame_at_or_after(stop_ns, fps)
        rows = self._rows.read([stream], low, high)
        return self._chunk(stream, rows)

    @source_guard("cannot read streams")
    def read_streams(
        self, signals: Sequence[str], events: Sequence[str] = ()
    ) -> tuple[dict[str, SignalChunk], dict[str, list[LogEvent]]]:
        """Every wanted column from ONE read of the episode's rows (read stream by stream, the
        row groups of the file were decoded once per stream: five times for a G1 episode).
        Each stream comes out exactly as ``read_signal`` makes it."""
        for stream in signals:
            self._signal_feature(stream)
        wanted = list(dict.fromkeys(signals))
        chunks: dict[str, SignalChunk] = {}
        if wanted:
            rows = self._rows.read(wanted)
            chunks = {name: self._chunk(name, rows) for name in signals}
        logs = {name: self.read_events(name) for name in events}
        return chunks, logs

    def _signal_feature(self, stream: str) -> Any:
        feature = self._meta.features.get(stream)
        if feature is None or not feature.is_signal:
            signals = ", ".join(f.key for f in self._meta.signal_features()) or "none"
            raise StreamNotFoundError(
                f"episode {self.info.id} has no signal stream {stream!r} (signals: {signals})"
            )
        return feature

    def _chunk(self, stream: str, rows: Any) -> SignalChunk:
        from robotrace_desktop.readers.lerobot.data import to_matrix

        feature = self._meta.features[stream]
        values = to_matrix(rows.columns[stream], feature.width, self._rows.path, stream)
        channels = feature.channels()
        if values.shape[1] != len(channels):
            channels = tuple(f"{stream}[{i}]" for i in range(values.shape[1]))
        times = {} if rows.timestamp_ns is None else {"timestamp": rows.timestamp_ns}
        return SignalChunk(stream, channels, rows.t_ns, values, times)

    @source_guard("cannot open camera")
    def video(self, stream: str) -> FrameSource:
        feature = self._meta.features.get(stream)
        if feature is not None and feature.is_image:
            from robotrace_desktop.readers.lerobot.images import ParquetImages

            source: FrameSource = ParquetImages(self._rows, stream, self._meta.fps)
        else:
            ref = self._episode.videos.get(stream)
            if feature is None or not feature.is_video or ref is None:
                cameras = ", ".join(self._episode.videos) or "none"
                raise StreamNotFoundError(
                    f"episode {self.info.id} has no video stream {stream!r} (cameras: {cameras})"
                )
            from robotrace_desktop.readers.lerobot.video import open_camera

            source = open_camera(self._meta.root / ref.rel, stream, ref, self._meta.fps)
        self._videos.append(source)
        return source
