"""Writers of small LeRobot datasets (v2.0, v2.1, v3.0) with pyarrow and PyAV, for tests and
benchmarks.

Every value is a known function of (episode, frame, channel) so tests can assert exact reads,
and every video frame is a flat gray whose level encodes its position in its mp4
(``gray = 8 * k + 4 * camera``), so a test can tell which frame of which file it got.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FPS = 10
STATE_NAMES = ("shoulder", "elbow", "wrist")
ACTION_DIM = 2
CAMERAS = ("observation.images.top", "observation.images.wrist")
TASKS = ("Pick up the cube.", "Place the cube in the bin.")
VIDEO_SIZE = (64, 48)  # width, height
OUTCOMES = ("next.reward", "next.done", "next.success")


@dataclass(frozen=True, slots=True)
class EpisodeSpec:
    length: int
    task: int
    success: bool


#: Four short episodes: success, failure, success, success; tasks alternate.
EPISODES = (
    EpisodeSpec(6, 0, True),
    EpisodeSpec(8, 1, False),
    EpisodeSpec(7, 0, True),
    EpisodeSpec(5, 1, True),
)


def state_value(episode: int, frame: int, channel: int) -> float:
    """Exact in float32 (quarters of small integers)."""
    return episode * 100 + frame + channel / 4


def action_value(episode: int, frame: int, channel: int) -> float:
    return -(episode * 100 + frame) - channel / 8


def gray_level(k: int, camera: int) -> int:
    """Gray level of frame ``k`` of a camera's mp4 (k counts from the file's start)."""
    return (8 * k + 4 * camera) % 256


def decode_position(rgb: np.ndarray, camera: int) -> int:
    """Inverse of gray_level (frames up to 31 per file)."""
    return round((float(rgb.mean()) - 4 * camera) / 8) % 32


# -- parquet rows -----------------------------------------------------------------------------


def episode_table(
    episode: int,
    spec: EpisodeSpec,
    global_start: int,
    *,
    state_dim: int = len(STATE_NAMES),
    action_dim: int = ACTION_DIM,
    outcome_columns: Sequence[str] = OUTCOMES,
    fps: int = FPS,
    rng: np.random.Generator | None = None,
    values: tuple[np.ndarray, np.ndarray] | None = None,
) -> pa.Table:
    """One episode's rows. ``values`` = (state, action), float32 arrays shaped (length, dim),
    replaces the test pattern / noise."""
    n = spec.length
    frames = np.arange(n, dtype=np.int64)
    if values is not None:
        state = np.asarray(values[0], dtype=np.float32).reshape(n, state_dim)
        action = np.asarray(values[1], dtype=np.float32).reshape(n, action_dim)
    elif rng is None:
        state = np.array(
            [[state_value(episode, f, c) for c in range(state_dim)] for f in range(n)],
            dtype=np.float32,
        ).reshape(n, state_dim)
        action = np.array(
            [[action_value(episode, f, c) for c in range(action_dim)] for f in range(n)],
            dtype=np.float32,
        ).reshape(n, action_dim)
    else:
        state = rng.standard_normal((n, state_dim), dtype=np.float32)
        action = rng.standard_normal((n, action_dim), dtype=np.float32)
    last = frames == n - 1
    columns: dict[str, pa.Array] = {
        "observation.state": pa.FixedSizeListArray.from_arrays(pa.array(state.ravel()), state_dim),
        "action": pa.FixedSizeListArray.from_arrays(pa.array(action.ravel()), action_dim),
    }
    if "next.reward" in outcome_columns:
        columns["next.reward"] = pa.array((last & spec.success).astype(np.float32))
    if "next.done" in outcome_columns:
        columns["next.done"] = pa.array(last)
    if "next.success" in outcome_columns:
        columns["next.success"] = pa.array(last & spec.success)
    columns["timestamp"] = pa.array((frames / fps).astype(np.float32))
    columns["frame_index"] = pa.array(frames)
    columns["episode_index"] = pa.array(np.full(n, episode, dtype=np.int64))
    columns["index"] = pa.array(frames + global_start)
    columns["task_index"] = pa.array(np.full(n, spec.task, dtype=np.int64))
    return pa.table(columns)


def _stats(table: pa.Table) -> dict[str, dict[str, list[Any]]]:
    """Per-feature min/max/mean/std/count like LeRobot's episodes_stats."""
    out: dict[str, dict[str, list[Any]]] = {}
    for name in table.column_names:
        column = table.column(name).combine_chunks()
        if pa.types.is_struct(column.type):  # images: LeRobot keeps pixel stats, not needed here
            continue
        if pa.types.is_fixed_size_list(column.type):
            data = column.flatten().to_numpy().reshape(len(column), column.type.list_size)
        else:
            data = column.to_numpy(zero_copy_only=False).reshape(len(column), 1)
        as_float = data.astype(np.float64)
        if data.dtype == bool:
            low, high = data.min(axis=0).tolist(), data.max(axis=0).tolist()
        else:
            low, high = as_float.min(axis=0).tolist(), as_float.max(axis=0).tolist()
        out[name] = {
            "min": low,
            "max": high,
            "mean": as_float.mean(axis=0).tolist(),
            "std": as_float.std(axis=0).tolist(),
            "count": [len(column)],
        }
    return out


def _png_column(count: int) -> pa.Array:
    """LeRobot's image struct {bytes, path}, frame k a flat gray of gray_level(k, 0)."""
    from robotrace_desktop.video.images import encode_png

    width, height = VIDEO_SIZE
    images = [
        {"bytes": encode_png(np.full((height, width, 3), gray_level(k, 0), np.uint8)), "path": None}
        for k in range(count)
    ]
    return pa.array(images, pa.struct([("bytes", pa.binary()), ("path", pa.string())]))


# -- videos -----------------------------------------------------------------------------------


def write_mp4(path: Path, grays: Iterable[int], fps: int = FPS) -> Path:
    """An H.264 (lossless, GOP 4, no B-frames) mp4 of flat gray frames."""
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = VIDEO_SIZE
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "0", "g": "4", "bf": "0"}
        for k, gray in enumerate(grays):
            frame = av.VideoFrame.from_ndarray(
                np.full((height, width, 3), gray, dtype=np.uint8), format="rgb24"
            )
            frame.pts, frame.time_base = k, Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


# -- info.json --------------------------------------------------------------------------------


def _features(
    version: str,
    cameras: Sequence[str],
    state_names: Sequence[str],
    action_dim: int,
    outcome_columns: Sequence[str],
    fps: int,
    action_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    width, height = VIDEO_SIZE

    def names_of(channels: Sequence[str]) -> Any:
        if version == "v3.0":
            return {"motors": list(channels)}
        return [list(channels)] if version == "v2.1" else list(channels)

    features: dict[str, Any] = {
        "observation.state": {
            "dtype": "float32",
            "shape": [len(state_names)],
            "names": names_of(state_names),
        },
        "action": {
            "dtype": "float32",
            "shape": [action_dim],
            "names": None if action_names is None else names_of(action_names),
        },
    }
    video_info = {
        "video.height": height,
        "video.width": width,
        "video.codec": "h264",
        "video.pix_fmt": "yuv420p",
        "video.fps": fps,
        "has_audio": False,
    }
    for camera in cameras:
        features[camera] = {
            "dtype": "video",
            "shape": [height, width, 3],
            "names": ["height", "width", "channel"],
            ("video_info" if version == "v2.0" else "info"): dict(video_info),
        }
    scalar = {"next.reward": "float32", "next.done": "bool", "next.success": "bool"}
    for name in outcome_columns:
        features[name] = {"dtype": scalar[name], "shape": [1], "names": None}
    for name, dtype in (
        ("timestamp", "float32"),
        ("frame_index", "int64"),
        ("episode_index", "int64"),
        ("index", "int64"),
        ("task_index", "int64"),
    ):
        features[name] = {"dtype": dtype, "shape": [1], "names": None}
    return features


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def _write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for record in records:
            out.write(json.dumps(record) + "\n")


# -- v2.0 / v2.1 ------------------------------------------------------------------------------


def write_v2(
    root: Path,
    version: str = "v2.1",
    *,
    episodes: Sequence[EpisodeSpec] = EPISODES,
    cameras: Sequence[str] = CAMERAS,
    video_episodes: Iterable[int] | None = None,
    state_names: Sequence[str] = STATE_NAMES,
    action_dim: int = ACTION_DIM,
    outcome_columns: Sequence[str] = OUTCOMES,
    chunks_size: int = 1000,
    fps: int = FPS,
    info_extra: dict[str, Any] | None = None,
    episode_extra: dict[int, dict[str, Any]] | None = None,
    random_values: bool = False,
    shared_video: bool = False,
    image_camera: str | None = None,
    values: Callable[[int, EpisodeSpec], tuple[np.ndarray, np.ndarray]] | None = None,
    action_names: Sequence[str] | None = None,
) -> Path:
    """A v2.0 or v2.1 dataset. ``video_episodes`` limits which episodes get mp4s (None: all);
    ``shared_video`` writes one mp4 and copies it (fast, for benchmarks);
    ``random_values`` fills state/action with noise instead of the exact test pattern;
    ``image_camera`` adds an ``image`` feature: PNG frames stored in the parquet rows;
    ``values(episode index, spec) -> (state, action)`` supplies each episode's arrays;
    ``action_names`` names the action channels (default: unnamed, ``action[i]``)."""
    assert version in ("v2.0", "v2.1")
    rng = np.random.default_rng(0) if random_values else None
    with_video = set(range(len(episodes)) if video_episodes is None else video_episodes)
    info: dict[str, Any] = {
        "codebase_version": version,
        "robot_type": "so100",
        "total_episodes": len(episodes),
        "total_frames": sum(s.length for s in episodes),
        "total_tasks": len(TASKS),
        "total_videos": len(with_video) * len(cameras),
        "total_chunks": (len(episodes) - 1) // chunks_size + 1,
        "chunks_size": chunks_size,
        "fps": fps,
        "splits": {"train": f"0:{len(episodes)}"},
        "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
        "video_path": (
            "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
        ),
        "features": _features(
            version, cameras, state_names, action_dim, outcome_columns, fps, action_names
        ),
        **(info_extra or {}),
    }
    if image_camera is not None:
        width, height = VIDEO_SIZE
        info["features"][image_camera] = {
            "dtype": "image",
            "shape": [height, width, 3],
            "names": ["height", "width", "channel"],
        }
    _write_json(root / "meta" / "info.json", info)
    _write_jsonl(
        root / "meta" / "tasks.jsonl", ({"task_index": i, "task": t} for i, t in enumerate(TASKS))
    )
    episode_records, stats_records = [], []
    template: Path | None = None
    start = 0
    for index, spec in enumerate(episodes):
        chunk = index // chunks_size
        table = episode_table(
            index,
            spec,
            start,
            state_dim=len(state_names),
            action_dim=action_dim,
            outcome_columns=outcome_columns,
            fps=fps,
            rng=rng,
            values=None if values is None else values(index, spec),
        )
        start += spec.length
        if image_camera is not None:
            table = table.append_column(image_camera, _png_column(spec.length))
        data = root / "data" / f"chunk-{chunk:03d}" / f"episode_{index:06d}.parquet"
        data.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, data)
        record = {"episode_index": index, "tasks": [TASKS[spec.task]], "length": spec.length}
        episode_records.append({**record, **(episode_extra or {}).get(index, {})})
        stats_records.append({"episode_index": index, "stats": _stats(table)})
        if index not in with_video:
            continue
        for camera_number, camera in enumerate(cameras):
            path = root / "videos" / f"chunk-{chunk:03d}" / camera / f"episode_{index:06d}.mp4"
            if shared_video and template is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(template, path)
                continue
            grays = (gray_level(k, camera_number) for k in range(spec.length))
            template = write_mp4(path, grays, fps)
    _write_jsonl(root / "meta" / "episodes.jsonl", episode_records)
    if version == "v2.1":
        _write_jsonl(root / "meta" / "episodes_stats.jsonl", stats_records)
    else:
        _write_json(root / "meta" / "stats.json", {})
    return root


# -- v3.0 -------------------------------------------------------------------------------------


def write_v3(
    root: Path,
    *,
    episodes: Sequence[EpisodeSpec] = EPISODES,
    cameras: Sequence[str] = CAMERAS,
    episodes_per_data_file: int = 2,
    episodes_per_video_file: int = 3,
    row_group_size: int = 4,
    task_column: str = "task",
    fps: int = FPS,
) -> Path:
    """A v3.0 dataset: episodes share data files (``episodes_per_data_file``) and mp4 files
    (``episodes_per_video_file``) independently. ``task_column`` "task" writes the task string
    as a column; "pandas" writes it as a pandas index (``__index_level_0__`` + pandas metadata)."""
    info = {
        "codebase_version": "v3.0",
        "robot_type": "koch",
        "total_episodes": len(episodes),
        "total_frames": sum(s.length for s in episodes),
        "total_tasks": len(TASKS),
        "chunks_size": 1000,
        "data_files_size_in_mb": 100,
        "video_files_size_in_mb": 500,
        "fps": fps,
        "splits": {"train": f"0:{len(episodes)}"},
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
        "features": _features(
            "v3.0",
            cameras,
            STATE_NAMES,
            ACTION_DIM,
            ("next.reward", "next.done", "next.success"),
            fps,
        ),
    }
    _write_json(root / "meta" / "info.json", info)
    _write_tasks_parquet(root / "meta" / "tasks.parquet", task_column)

    rows: dict[str, list[Any]] = {}

    def add(name: str, value: Any) -> None:
        rows.setdefault(name, []).append(value)

    tables: dict[int, list[pa.Table]] = {}
    video_frames: dict[int, int] = {}  # video file -> frames written so far
    start = 0
    for index, spec in enumerate(episodes):
        table = episode_table(index, spec, start, fps=fps)
        data_file = index // episodes_per_data_file
        tables.setdefault(data_file, []).append(table)
        add("episode_index", index)
        add("tasks", [TASKS[spec.task]])
        add("length", spec.length)
        add("data/chunk_index", 0)
        add("data/file_index", data_file)
        add("dataset_from_index", start)
        add("dataset_to_index", start + spec.length)
        video_file = index // episodes_per_video_file
        first = video_frames.get(video_file, 0)
        video_frames[video_file] = first + spec.length
        for camera in cameras:
            add(f"videos/{camera}/chunk_index", 0)
            add(f"videos/{camera}/file_index", video_file)
            add(f"videos/{camera}/from_timestamp", first / fps)
            add(f"videos/{camera}/to_timestamp", (first + spec.length) / fps)
        stats = _stats(table)
        for feature in ("observation.state", "next.reward", "next.done", "next.success"):
            for stat in ("min", "max", "mean"):
                add(f"stats/{feature}/{stat}", stats[feature][stat])
        add("meta/episodes/chunk_index", 0)
        add("meta/episodes/file_index", 0)
        start += spec.length
    for data_file, parts in tables.items():
        path = root / "data" / "chunk-000" / f"file-{data_file:03d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.concat_tables(parts), path, row_group_size=row_group_size)
    for video_file, total in video_frames.items():
        for camera_number, camera in enumerate(cameras):
            path = root / "videos" / camera / "chunk-000" / f"file-{video_file:03d}.mp4"
            write_mp4(path, (gray_level(k, camera_number) for k in range(total)), fps)
    episodes_path = root / "meta" / "episodes" / "chunk-000" / "file-000.parquet"
    episodes_path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(rows), episodes_path)
    return root


def _write_tasks_parquet(path: Path, task_column: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    indices = pa.array(range(len(TASKS)), pa.int64())
    if task_column == "task":
        pq.write_table(pa.table({"task_index": indices, "task": list(TASKS)}), path)
        return
    pandas_meta = {
        "index_columns": ["__index_level_0__"],
        "columns": [
            {"name": "task_index", "field_name": "task_index", "pandas_type": "int64"},
            {"name": None, "field_name": "__index_level_0__", "pandas_type": "unicode"},
        ],
    }
    table = pa.table({"task_index": indices, "__index_level_0__": list(TASKS)})
    table = table.replace_schema_metadata({"pandas": json.dumps(pandas_meta)})
    pq.write_table(table, path)
