"""Loads a LeRobot dataset's metadata (v2.0, v2.1, v3.0) into one version-neutral shape.

v2.x keeps one parquet and one mp4 per episode and describes episodes in JSON lines
(meta/episodes.jsonl, meta/episodes_stats.jsonl in v2.1). v3.0 packs many episodes into shared
parquet and mp4 files and describes them in parquet (meta/episodes/chunk-*/file-*.parquet) with
per-episode row ranges and per-camera clip times. After loading, the reader sees the same
``EpisodeMeta`` for both, so nothing downstream branches on the version except row selection.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from robotrace_desktop.core.fields import RECORDING_KEYS
from robotrace_desktop.errors import CorruptRecordingError, RecordingError, UnsupportedFormatError
from robotrace_desktop.readers.lerobot.claims import (
    chunks_size,
    count_claim_problem,
    data_indices_on_disk,
)
from robotrace_desktop.readers.lerobot.features import (
    OUTCOME_FEATURES,
    Feature,
    fps_fraction,
    parse_feature,
)
from robotrace_desktop.readers.lerobot.stats import EpisodeStats, read_optional

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

INFO_REL = "meta/info.json"
EXTRA_KEYS = RECORDING_KEYS  # parsed by core/fields.py
_STAT_FEATURES = (*OUTCOME_FEATURES, "task_index")


@dataclass(slots=True)
class VideoRef:
    """Where one camera's frames of one episode live. v3 clips are [from_s, to_s) of a
    shared file; v2 files hold just the episode (from_s None)."""

    rel: str
    from_s: float | None = None
    to_s: float | None = None


@dataclass(slots=True)
class EpisodeMeta:
    index: int
    length: int | None  # None: unknown from metadata, ask the parquet footer
    tasks: list[str]
    data_rel: str
    row_range: tuple[int, int] | None = None  # v3: global "index" rows [from, to)
    videos: dict[str, VideoRef] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@dataclass(slots=True)
class DatasetMeta:
    root: Path  # resolved
    info: dict[str, Any]
    version: str
    fps: Fraction
    fps_value: float | int  # as written in info.json (30, 29.97)
    features: dict[str, Feature]
    problems: list[str]  # dataset-wide, repeated on every episode
    episodes: dict[int, EpisodeMeta]
    tasks: dict[int, str]
    #: v2.1 stats still to parse, episode by episode (``load.load_dataset(lazy_stats=True)``)
    pending_stats: EpisodeStats | None = None

    def stats_of(self, episode: EpisodeMeta) -> dict[str, Any]:
        """The episode's stats, parsing its line of episodes_stats.jsonl on first use."""
        if self.pending_stats is not None and not episode.stats:
            episode.stats = self.pending_stats.get(episode.index)
        return episode.stats

    @property
    def is_v3(self) -> bool:
        return self.version.startswith("v3")

    @property
    def robot_type(self) -> str | None:
        robot = self.info.get("robot_type")
        return str(robot) if robot not in (None, "") else None

    def signal_features(self) -> list[Feature]:
        return [f for f in self.features.values() if f.is_signal]

    def video_features(self) -> list[Feature]:
        return [f for f in self.features.values() if f.is_video]


def read_info(root: Path) -> dict[str, Any]:
    """meta/info.json as a dict; a RecordingError naming it when missing or not JSON."""
    path = root / INFO_REL
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise RecordingError(path, "missing: not a LeRobot dataset (no meta/info.json)") from None
    except OSError as exc:
        raise RecordingError(path, f"cannot read: {exc.strerror or exc}") from exc
    try:
        info = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # nested past the stack
        raise CorruptRecordingError(path, f"not valid JSON ({exc})") from exc
    if not isinstance(info, dict):
        raise CorruptRecordingError(path, "not a JSON object")
    return info


def read_dataset_header(root: Path) -> DatasetMeta:
    """The dataset's ``info.json`` checked and parsed — version, rate, features, path
    templates — with no episode yet (``load.load_dataset`` fills them in by version)."""
    root = root.resolve()
    info_path = root / INFO_REL
    info = read_info(root)
    version = info.get("codebase_version")
    if not isinstance(version, str) or not version.startswith(("v2", "v3")):
        raise UnsupportedFormatError(
            info_path,
            f"LeRobot codebase_version {version!r} is not supported (v2.0, v2.1 and v3.0 are)",
        )
    try:
        fps = fps_fraction(info.get("fps"))
    except (TypeError, ValueError, OverflowError):  # OverflowError: inf / nan
        raise CorruptRecordingError(info_path, f"invalid fps {info.get('fps')!r}") from None
    raw_features = info.get("features")
    if not isinstance(raw_features, dict) or not raw_features:
        raise CorruptRecordingError(info_path, "no 'features' object describing the columns")
    features: dict[str, Feature] = {}
    problems: list[str] = []
    for key, raw in raw_features.items():
        feature, reason = parse_feature(str(key), raw)
        if feature is None:
            problems.append(f"{INFO_REL}: {reason}; the feature is left out")
        else:
            features[feature.key] = feature
    for name in ("data_path",) + (
        ("video_path",) if any(f.is_video for f in features.values()) else ()
    ):
        if not isinstance(info.get(name), str) or not info[name]:
            raise CorruptRecordingError(info_path, f"no {name!r} template")
    return DatasetMeta(
        root=root,
        info=info,
        version=version,
        fps=fps,
        fps_value=info["fps"],
        features=features,
        problems=problems,
        episodes={},
        tasks={},
    )


def format_rel(meta_root: Path, template: str, **values: Any) -> str:
    """A file's dataset-relative path from an info.json template; refuses escapes."""
    try:
        rel = template.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        raise CorruptRecordingError(
            meta_root / INFO_REL, f"cannot use path template {template!r}: {exc!r}"
        ) from exc
    parts = PurePosixPath(rel).parts
    if rel.startswith(("/", "\\")) or ".." in parts or not parts:
        raise CorruptRecordingError(
            meta_root / INFO_REL, f"path template {template!r} points outside the dataset"
        )
    return rel


def read_jsonl(path: Path) -> tuple[list[dict[str, Any]], list[str]] | None:
    """Records of a JSON-lines file and descriptions of its unreadable lines; None if absent."""
    data = read_optional(path)
    if data is None:
        return None
    records: list[dict[str, Any]] = []
    bad: list[str] = []
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # nested past the stack
            bad.append(f"line {number} is not JSON ({exc})")
            continue
        if isinstance(record, dict):
            records.append(record)
        else:
            bad.append(f"line {number} is not a JSON object")
    return records, bad


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if float(value).is_integer() else None


def extra_fields(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record[k] for k in EXTRA_KEYS if record.get(k) not in (None, "")}


def load_v2(meta: DatasetMeta, *, lazy_stats: bool) -> None:
    root, info = meta.root, meta.info
    chunk_size = chunks_size(info.get("chunks_size"), meta.problems)
    tasks_file = read_jsonl(root / "meta" / "tasks.jsonl")
    if tasks_file is not None:
        for record in tasks_file[0]:
            index = _as_int(record.get("task_index"))
            if index is not None and isinstance(record.get("task"), str):
                meta.tasks[index] = record["task"]
    episodes_path = root / "meta" / "episodes.jsonl"
    episodes_file = read_jsonl(episodes_path)
    records, bad = episodes_file if episodes_file is not None else ([], [])
    missing_reason = (
        "meta/episodes.jsonl is missing"
        if episodes_file is None
        else "meta/episodes.jsonl has no valid entry for this episode"
        + (f" ({'; '.join(bad[:3])})" if bad else "")
    )
    for record in records:
        index = _as_int(record.get("episode_index"))
        if index is None or index < 0:
            continue
        length = _as_int(record.get("length"))
        tasks = record.get("tasks")
        tasks = [str(t) for t in tasks] if isinstance(tasks, list) else []
        meta.episodes[index] = EpisodeMeta(
            index=index,
            length=length if length is not None and length >= 0 else None,
            tasks=tasks,
            data_rel="",
            extra=extra_fields(record),
        )
    total = _as_int(info.get("total_episodes"))
    if episodes_file is None and total is None:
        raise CorruptRecordingError(episodes_path, "missing, and info.json has no total_episodes")
    if episodes_file is None or (total is not None and total > len(meta.episodes)):
        # episodes claimed but not listed: only those whose data file is on disk get a row
        limit = total if total is not None and total > 0 else None  # -5 claims nothing
        for index in sorted(data_indices_on_disk(root, info["data_path"])):
            if (limit is None or index < limit) and index not in meta.episodes:
                meta.episodes[index] = EpisodeMeta(
                    index=index, length=None, tasks=[], data_rel="", problems=[missing_reason]
                )
    disagreement = count_claim_problem(total, len(meta.episodes))
    if disagreement is not None:
        meta.problems.append(disagreement)
    meta.episodes = dict(sorted(meta.episodes.items()))
    data_template = info["data_path"]
    video_template = info.get("video_path") or ""
    cameras = [f.key for f in meta.video_features()]
    for episode in meta.episodes.values():
        chunk = episode.index // chunk_size
        values = {"episode_chunk": chunk, "episode_index": episode.index}
        episode.data_rel = format_rel(root, data_template, **values)
        for key in cameras:
            rel = format_rel(root, video_template, video_key=key, **values)
            episode.videos[key] = VideoRef(rel)
    _load_v2_stats(meta, lazy=lazy_stats)


def _load_v2_stats(meta: DatasetMeta, *, lazy: bool) -> None:
    """Per-episode stats (v2.1) — only when something needs them (outcome, task fallback)."""
    wanted = [k for k in OUTCOME_FEATURES if k in meta.features]
    needs_tasks = any(not e.tasks for e in meta.episodes.values())
    if not wanted and not needs_tasks:
        return
    path = meta.root / "meta" / "episodes_stats.jsonl"
    scanned = EpisodeStats.scan(path, _STAT_FEATURES)
    if scanned is None:
        return
    stats, data = scanned
    if lazy:
        meta.pending_stats = stats
        return
    bulk = stats.all_bulk(data)  # a large file in one pyarrow call when it reads the same
    for index, found in bulk.items() if bulk is not None else stats.all(data):
        episode = meta.episodes.get(index)
        if episode is not None:
            episode.stats = found
    if stats.bad:
        log.warning("%s: %d unreadable line(s)", path, len(stats.bad))


def table_column(table: pa.Table, name: str) -> list[Any] | None:
    """A column as Python values, or None when the table has no such column."""
    return table.column(name).to_pylist() if name in table.column_names else None


def read_parquet_table(path: Path, columns: list[str] | None = None) -> pa.Table:
    """A small metadata parquet, read whole (selected columns) with errors naming the file.
    pyarrow is imported here, not at module level, so sniffing and v2 indexing stay light."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path, columns=columns)
    except FileNotFoundError:
        raise RecordingError(path, "missing") from None
    except (OSError, pa.ArrowException) as exc:
        raise CorruptRecordingError(path, f"cannot read parquet: {exc}") from exc
