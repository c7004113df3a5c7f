"""Signal tables on disk: parquet, Arrow IPC (feather v2) and npz with an int64-ns time column.

Shared by the bundle reader and the writers (demo, later the logging SDK), so both sides agree
on one rule set:

- a time column (default ``t_ns``) of integers, episode-relative nanoseconds (Arrow
  ``timestamp`` columns are accepted and converted to ns);
- every numeric or boolean column is one channel named after the column;
- a fixed-size-list / list column of K numbers is K channels ``col[i]``, or ``col/<name>`` when
  the Arrow field metadata ``names`` (a JSON list of K strings) names them;
- npz: ``<stream>/_t_ns`` + ``<stream>/<field>`` (several streams per file), or a flat file with
  the time column and fields; a 2-D field (N, K) expands like a list column, names coming from
  ``<stream>/_names/<field>`` or ``<stream>/_names`` (when its length is K). Loaded with
  ``allow_pickle=False``; object arrays are refused.

Summaries read footers / zip directories / npy headers only; parquet and feather reads touch
only the row groups / record batches overlapping the requested time range.
"""

from __future__ import annotations

import json
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq

from robotrace_desktop.errors import RecordingError, UnsupportedFormatError

NAMES_METADATA_KEY = b"names"
NPZ_TIME_KEY = "_t_ns"
NPZ_NAMES_KEY = "_names"


def channel_names(field_name: str, width: int | None, names: Sequence[str] | None) -> list[str]:
    """Channels of one column/field: scalar → its name; K-vector → ``f[i]`` or ``f/<name>``."""
    if width is None:
        return [field_name]
    if names is not None and len(names) == width:
        return [f"{field_name}/{n}" for n in names]
    return [f"{field_name}[{i}]" for i in range(width)]


@dataclass(frozen=True, slots=True)
class TableSummary:
    channels: tuple[str, ...]
    count: int
    t_start_ns: int | None
    t_end_ns: int | None
    details: dict[str, Any] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


class SignalTable(ABC):
    """One signal stream stored in a file; reads by time range."""

    path: Path

    @abstractmethod
    def summary(self) -> TableSummary: ...

    @abstractmethod
    def read(self, start_ns: int | None, stop_ns: int | None) -> tuple[np.ndarray, np.ndarray]:
        """(t_ns int64 (N,), values float64 (N, C)) for start_ns <= t < stop_ns, sorted."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


def select_range(
    t: np.ndarray, values: np.ndarray, start_ns: int | None, stop_ns: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Rows with start_ns <= t < stop_ns, sorted by time (stable)."""
    keep = np.ones(len(t), dtype=bool)
    if start_ns is not None:
        keep &= t >= start_ns
    if stop_ns is not None:
        keep &= t < stop_ns
    t, values = t[keep], values[keep]
    if len(t) > 1 and np.any(np.diff(t) < 0):
        order = np.argsort(t, kind="stable")
        t, values = t[order], values[order]
    return t, values


def open_table(
    path: Path, fmt: str, *, time_column: str = "t_ns", stream: str | None = None
) -> SignalTable:
    """Open one signal table. Raises RecordingError naming the file."""
    from robotrace_desktop.readers.tabular_arrow import FeatherTable, ParquetTable
    from robotrace_desktop.readers.tabular_npz import NpzTable

    if not path.is_file():
        raise RecordingError(path, "file not found")
    if fmt == "parquet":
        return ParquetTable(path, time_column)
    if fmt == "feather":
        return FeatherTable(path, time_column)
    if fmt == "npz":
        return NpzTable(path, stream, time_column)
    raise UnsupportedFormatError(path, f"unknown signal table format {fmt!r}")


def npz_stream_names(path: Path) -> list[str]:
    """Streams of the ``<stream>/_t_ns`` layout in an npz, in file order (headers only)."""
    from robotrace_desktop.readers.tabular_npz import npz_stream_names as names

    return names(path)


# ---------------------------------------------------------------- writing


@dataclass(slots=True)
class SignalData:
    """A stream to write: int64 episode-relative times and (N,) or (N, K) numeric fields;
    ``names`` optionally names the K entries of a 2-D field."""

    t_ns: np.ndarray
    fields: dict[str, np.ndarray]
    names: dict[str, Sequence[str]] = field(default_factory=dict)

    def checked(self) -> SignalData:
        t = np.asarray(self.t_ns)
        if t.ndim != 1 or t.dtype.kind not in "iu":
            raise ValueError("t_ns must be a 1-D integer array of nanoseconds")
        for key, arr in self.fields.items():
            a = np.asarray(arr)
            if a.ndim not in (1, 2) or a.shape[0] != len(t) or a.dtype.kind not in "biuf":
                raise ValueError(f"field {key!r} must be numeric (N,) or (N, K) with N={len(t)}")
            if key.startswith("_") or "/" in key:
                raise ValueError(f"field name {key!r} may not start with '_' or contain '/'")
        return self


def _arrow_table(data: SignalData, time_column: str) -> pa.Table:
    data.checked()
    arrays: list[pa.Array] = [pa.array(np.asarray(data.t_ns, dtype=np.int64))]
    fields: list[pa.Field] = [pa.field(time_column, pa.int64(), nullable=False)]
    for key, raw in data.fields.items():
        arr = np.ascontiguousarray(raw)
        if arr.ndim == 1:
            arrays.append(pa.array(arr))
            fields.append(pa.field(key, arrays[-1].type))
            continue
        flat = pa.array(arr.reshape(-1))
        arrays.append(pa.FixedSizeListArray.from_arrays(flat, arr.shape[1]))
        meta = None
        if key in data.names:
            meta = {NAMES_METADATA_KEY: json.dumps(list(data.names[key])).encode("utf-8")}
        fields.append(pa.field(key, arrays[-1].type, metadata=meta))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def write_parquet(
    path: Path, data: SignalData, *, time_column: str = "t_ns", row_group_size: int = 65536
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(_arrow_table(data, time_column), path, row_group_size=row_group_size)
    return path


def write_feather(path: Path, data: SignalData, *, time_column: str = "t_ns") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    feather.write_feather(_arrow_table(data, time_column), str(path), compression="uncompressed")
    return path


def write_npz(path: Path, streams: Mapping[str, SignalData]) -> Path:
    """Several streams in one npz, layout ``<stream>/_t_ns`` + ``<stream>/<field>``."""
    arrays: dict[str, np.ndarray] = {}
    for name, data in streams.items():
        stream = name.lstrip("/")  # "/action" is read back from "action/..." members
        if not stream:
            raise ValueError(f"npz stream name {name!r} is empty")
        data.checked()
        arrays[f"{stream}/{NPZ_TIME_KEY}"] = np.asarray(data.t_ns, dtype=np.int64)
        for key, arr in data.fields.items():
            arrays[f"{stream}/{key}"] = np.asarray(arr)
        for key, names in data.names.items():
            arrays[f"{stream}/{NPZ_NAMES_KEY}/{key}"] = np.asarray(list(names), dtype=str)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Like np.savez (stored, one .npy per key) but with a fixed member date, so the same data
    # always gives the same bytes.
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, arr in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(arr), allow_pickle=False)
    return path
