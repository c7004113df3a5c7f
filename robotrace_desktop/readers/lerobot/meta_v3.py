"""LeRobot v3.0 metadata: meta/tasks.parquet and meta/episodes/chunk-*/file-*.parquet.

Each episode row says which shared data file holds it (``data/chunk_index``,
``data/file_index``), which global rows (``dataset_from_index``..``dataset_to_index``), and per
camera which shared mp4 and which clip of it (``videos/<key>/from_timestamp``..``to_timestamp``).
Statistics are flattened into ``stats/<feature>/<stat>`` columns; only the few that decide the
outcome are read, so indexing reads one small parquet per metadata shard and nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from robotrace_desktop.errors import CorruptRecordingError
from robotrace_desktop.readers.lerobot.claims import chunks_size, count_claim_problem
from robotrace_desktop.readers.lerobot.meta import (
    _STAT_FEATURES,
    EXTRA_KEYS,
    DatasetMeta,
    EpisodeMeta,
    VideoRef,
    format_rel,
    read_parquet_table,
    table_column,
)

_STAT_SUFFIXES = ("min", "max")


def load_v3(meta: DatasetMeta) -> None:
    meta.tasks = _load_tasks(meta.root / "meta" / "tasks.parquet")
    folder = meta.root / "meta" / "episodes"
    files = sorted(folder.glob("*/*.parquet")) if folder.is_dir() else []
    if not files:
        raise CorruptRecordingError(
            folder, "no episode metadata (meta/episodes/chunk-*/file-*.parquet)"
        )
    chunk_size = chunks_size(meta.info.get("chunks_size"), meta.problems)
    for path in files:
        _load_episode_file(meta, path, chunk_size)
    meta.episodes = dict(sorted(meta.episodes.items()))
    disagreement = count_claim_problem(
        _claimed(meta.info.get("total_episodes")), len(meta.episodes)
    )
    if disagreement is not None:
        meta.problems.append(disagreement)


def _load_tasks(path: Path) -> dict[int, str]:
    """task_index -> task. pandas writes the task string as the index (a column named
    ``task`` or ``__index_level_0__``, named in the pandas schema metadata) or as a column."""
    if not path.is_file():
        return {}
    table = read_parquet_table(path)
    indices = table_column(table, "task_index")
    if indices is None:
        raise CorruptRecordingError(path, "no task_index column")
    candidates = ["task"]
    pandas_meta = (table.schema.metadata or {}).get(b"pandas")
    if pandas_meta:
        try:
            index_columns = json.loads(pandas_meta).get("index_columns", [])
        except ValueError:
            index_columns = []
        candidates += [c for c in index_columns if isinstance(c, str)]
    candidates.append("__index_level_0__")
    candidates += [f.name for f in table.schema if f.type == "string" or str(f.type) == "string"]
    for name in candidates:
        tasks = table_column(table, name)
        if tasks is not None:
            return {int(i): str(t) for i, t in zip(indices, tasks, strict=True) if i is not None}
    raise CorruptRecordingError(path, "no task column (expected 'task' or a pandas index)")


def _wanted_columns(schema_names: list[str]) -> list[str]:
    wanted = {f"stats/{f}/{s}" for f in _STAT_FEATURES for s in _STAT_SUFFIXES}
    return [n for n in schema_names if not n.startswith("stats/") or n in wanted]


def _claimed(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return int(value) if float(value).is_integer() else None


def _load_episode_file(meta: DatasetMeta, path: Path, chunk_size: int) -> None:
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except (OSError, ValueError) as exc:  # ArrowInvalid is a ValueError
        raise CorruptRecordingError(path, f"cannot read parquet: {exc}") from exc
    for required in ("episode_index", "length"):
        if required not in names:
            raise CorruptRecordingError(path, f"no {required!r} column")
    table = read_parquet_table(path, _wanted_columns(names))
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    info = meta.info
    data_template = info["data_path"]
    video_template = info.get("video_path") or ""
    cameras = [f.key for f in meta.video_features()]
    rel_file = path.relative_to(meta.root).as_posix()
    for row in range(table.num_rows):
        index = columns["episode_index"][row]
        if index is None:
            continue
        index = int(index)

        def get(name: str, row: int = row) -> Any:
            values = columns.get(name)
            return None if values is None else values[row]

        length = get("length")
        tasks = get("tasks")
        problems: list[str] = []
        data_chunk, data_file = get("data/chunk_index"), get("data/file_index")
        if data_chunk is None or data_file is None:
            # Older v3 writers: one file per chunk, derived from the episode index.
            data_chunk, data_file = index // chunk_size, 0
            problems.append(f"{rel_file} gives no data file for this episode; guessed one")
        data_rel = format_rel(
            meta.root, data_template, chunk_index=int(data_chunk), file_index=int(data_file)
        )
        row_from, row_to = get("dataset_from_index"), get("dataset_to_index")
        row_range = None if row_from is None or row_to is None else (int(row_from), int(row_to))
        if row_range is None:
            problems.append(f"{rel_file} gives no row range (dataset_from_index) for this episode")
        episode = EpisodeMeta(
            index=index,
            length=None if length is None else int(length),
            tasks=[str(t) for t in tasks] if isinstance(tasks, list) else [],
            data_rel=data_rel,
            row_range=row_range,
            extra={k: get(k) for k in EXTRA_KEYS if get(k) not in (None, "")},
            problems=problems,
        )
        for key in cameras:
            chunk = get(f"videos/{key}/chunk_index")
            file_index = get(f"videos/{key}/file_index")
            if chunk is None or file_index is None:
                problems.append(f"{rel_file} gives no video file for camera {key}")
                continue
            rel = format_rel(
                meta.root,
                video_template,
                video_key=key,
                chunk_index=int(chunk),
                file_index=int(file_index),
            )
            start, stop = get(f"videos/{key}/from_timestamp"), get(f"videos/{key}/to_timestamp")
            episode.videos[key] = VideoRef(
                rel, None if start is None else float(start), None if stop is None else float(stop)
            )
        for feature in _STAT_FEATURES:
            entry = {s: get(f"stats/{feature}/{s}") for s in _STAT_SUFFIXES}
            if any(v is not None for v in entry.values()):
                episode.stats[feature] = entry
        meta.episodes[index] = episode
