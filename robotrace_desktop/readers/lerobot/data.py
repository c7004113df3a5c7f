"""Row data of LeRobot episodes: parquet footers for indexing, bounded row reads for opening.

v2 keeps an episode in its own parquet; v3 shares a parquet between episodes and names the
episode's rows by the global ``index`` column. Either way a read asks for a few columns and a
frame range, prunes row groups by their footer statistics (``index``, ``frame_index``), reads
only the surviving row groups' needed columns, and filters the remainder in Arrow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from robotrace_desktop.errors import CorruptRecordingError, RecordingError
from robotrace_desktop.readers.lerobot.features import frame_times_ns


def _parquet_error(path: Path, exc: BaseException) -> RecordingError:
    if isinstance(exc, FileNotFoundError):
        return RecordingError(path, "data file is missing")
    if isinstance(exc, PermissionError):
        return RecordingError(path, "cannot read data file: permission denied")
    return CorruptRecordingError(path, f"cannot read parquet: {exc}")


def footer_summary(path: Path, keys: Iterable[str]) -> tuple[int, dict[str, dict[str, Any]]]:
    """Row count and {feature: {"min": [v], "max": [v]}} from the footer's row-group
    statistics — what indexing needs when metadata has no per-episode stats (v2.0).
    A feature is left out when any row group lacks statistics for it."""
    try:
        footer = pq.read_metadata(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise _parquet_error(path, exc) from exc
    wanted = list(keys)
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    unknown: set[str] = set()
    for group_index in range(footer.num_row_groups):
        group = footer.row_group(group_index)
        if group.num_rows == 0:
            continue
        for column_index in range(group.num_columns):
            column = group.column(column_index)
            name = column.path_in_schema
            key = next((k for k in wanted if name == k or name.startswith(k + ".")), None)
            if key is None or key in unknown:
                continue
            stats = column.statistics
            if stats is None or not stats.has_min_max:
                unknown.add(key)
                continue
            low, high = stats.min, stats.max
            mins[key] = low if key not in mins else min(mins[key], low)
            maxs[key] = high if key not in maxs else max(maxs[key], high)
    summary = {
        key: {"min": [mins[key]], "max": [maxs[key]]}
        for key in wanted
        if key in maxs and key not in unknown
    }
    return footer.num_rows, summary


@dataclass(frozen=True, slots=True)
class Rows:
    """Columns of one episode's rows, in frame order."""

    frames: np.ndarray  # int64 frame index within the episode
    t_ns: np.ndarray  # int64, on the frame grid
    timestamp_ns: np.ndarray | None  # the stored float timestamp, as ns (alternative clock)
    columns: dict[str, pa.ChunkedArray]


class EpisodeRows:
    """Reads an episode's rows from its parquet file, opened lazily and kept open."""

    def __init__(self, path: Path, row_range: tuple[int, int] | None, fps: Fraction) -> None:
        self.path = path
        self.row_range = row_range
        self.fps = fps
        self._file: pq.ParquetFile | None = None
        self._column_of: dict[str, int] = {}

    def _open(self) -> pq.ParquetFile:
        if self._file is None:
            try:
                self._file = pq.ParquetFile(self.path)
            except (OSError, ValueError, pa.ArrowException) as exc:
                raise _parquet_error(self.path, exc) from exc
            footer = self._file.metadata
            if footer.num_row_groups:
                group = footer.row_group(0)
                for i in range(group.num_columns):
                    self._column_of[group.column(i).path_in_schema] = i
        return self._file

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def names(self) -> list[str]:
        return list(self._open().schema_arrow.names)

    def read(self, columns: list[str], frame_lo: int = 0, frame_hi: int | None = None) -> Rows:
        """``columns`` for frames [frame_lo, frame_hi) of this episode."""
        file = self._open()
        names = set(file.schema_arrow.names)
        for name in columns:
            if name not in names:
                raise CorruptRecordingError(self.path, f"no column {name!r}")
        conditions: list[tuple[str, int, int | None]] = []
        if self.row_range is not None:
            if "index" not in names:
                raise CorruptRecordingError(self.path, "no 'index' column to find episode rows")
            conditions.append(("index", *self.row_range))
        has_frames = "frame_index" in names
        if has_frames and (frame_lo > 0 or frame_hi is not None):
            conditions.append(("frame_index", frame_lo, frame_hi))
        extra = [c for c in ("frame_index", "timestamp") if c in names and c not in columns]
        wanted = list(dict.fromkeys([*columns, *extra, *(c for c, _, _ in conditions)]))
        groups = self._groups(file, conditions)
        try:
            if groups:
                table = file.read_row_groups(groups, columns=wanted)
            else:
                table = file.schema_arrow.empty_table().select(wanted)
            mask = None
            for name, low, high in conditions:
                column = table.column(name)
                part = pc.greater_equal(column, low)
                if high is not None:
                    part = pc.and_(part, pc.less(column, high))
                mask = part if mask is None else pc.and_(mask, part)
            if mask is not None:
                table = table.filter(mask)
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise _parquet_error(self.path, exc) from exc
        timestamps = None
        if "timestamp" in table.column_names:
            timestamps = table.column("timestamp").to_numpy().astype(np.float64)
        if has_frames:
            frames = table.column("frame_index").to_numpy().astype(np.int64)
        elif timestamps is not None:
            frames = np.rint(timestamps * float(self.fps)).astype(np.int64)
        else:
            frames = np.arange(table.num_rows, dtype=np.int64)
        if not has_frames and (frame_lo > 0 or frame_hi is not None):
            keep = frames >= frame_lo
            if frame_hi is not None:
                keep &= frames < frame_hi
            table, frames = table.filter(pa.array(keep)), frames[keep]
            timestamps = None if timestamps is None else timestamps[keep]
        if len(frames) > 1 and np.any(np.diff(frames) < 0):
            order = np.argsort(frames, kind="stable")
            table, frames = table.take(pa.array(order)), frames[order]
            timestamps = None if timestamps is None else timestamps[order]
        timestamp_ns = None if timestamps is None else np.rint(timestamps * 1e9).astype(np.int64)
        return Rows(
            frames=frames,
            t_ns=frame_times_ns(frames, self.fps),
            timestamp_ns=timestamp_ns,
            columns={name: table.column(name) for name in columns},
        )

    def _groups(
        self, file: pq.ParquetFile, conditions: list[tuple[str, int, int | None]]
    ) -> list[int]:
        """Row groups whose footer statistics may hold rows matching every condition."""
        footer = file.metadata
        selected: list[int] = []
        for group_index in range(footer.num_row_groups):
            group = footer.row_group(group_index)
            if group.num_rows == 0:
                continue
            keep = True
            for name, low, high in conditions:
                column_index = self._column_of.get(name)
                if column_index is None:
                    continue
                stats = group.column(column_index).statistics
                if stats is None or not stats.has_min_max:
                    continue
                if stats.max < low or (high is not None and stats.min >= high):
                    keep = False
                    break
            if keep:
                selected.append(group_index)
        return selected


def to_matrix(column: pa.ChunkedArray, width: int, origin: Path, key: str) -> np.ndarray:
    """A (N, C) float64 matrix of a scalar, list or fixed-size-list column (nulls -> NaN)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    rows = len(array)
    while (
        pa.types.is_list(array.type)
        or pa.types.is_large_list(array.type)
        or (pa.types.is_fixed_size_list(array.type))
    ):
        array = array.flatten()
    try:
        flat = pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowException, ValueError) as exc:
        raise CorruptRecordingError(origin, f"column {key!r} is not numeric: {exc}") from exc
    if rows == 0:
        return np.zeros((0, width), dtype=np.float64)
    if flat.shape[0] != rows * width:
        if flat.shape[0] % rows:
            raise CorruptRecordingError(origin, f"column {key!r} has rows of varying length")
        width = flat.shape[0] // rows
    return np.ascontiguousarray(flat.reshape(rows, width), dtype=np.float64)
