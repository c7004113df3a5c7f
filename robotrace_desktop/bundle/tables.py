"""Signal tables a bundle stores: parquet, Arrow IPC (feather v2) and npz, written.

The layout (see ``docs/bundle-format.md``) is defined here, beside the writers, and read by
``readers.tabular``: an int64 ``t_ns`` column of episode-relative nanoseconds; one channel per
numeric column; a K-wide field as a fixed-size list column whose Arrow field metadata
``names`` holds its K entry names; npz as ``<stream>/_t_ns`` + ``<stream>/<field>`` (+
``<stream>/_names/<field>``), stored uncompressed with fixed member dates so the same data
always gives the same bytes (the demo is byte-compared).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq

NAMES_METADATA_KEY = b"names"
NPZ_TIME_KEY = "_t_ns"
NPZ_NAMES_KEY = "_names"
#: rows per parquet row group: several groups for long streams, so a reader skips by time range
ROW_GROUP_ROWS = 65_536


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
    path: Path, data: SignalData, *, time_column: str = "t_ns", row_group_size: int = ROW_GROUP_ROWS
) -> Path:
    return write_parquet_table(path, _arrow_table(data, time_column), row_group_size=row_group_size)


def write_parquet_table(
    path: Path, table: pa.Table, *, row_group_size: int = ROW_GROUP_ROWS
) -> Path:
    """An Arrow table already in the bundle layout (a user's table, an imported stream) as
    parquet, in row groups a reader can skip by time range."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def write_frame_times(path: Path, times_ns: np.ndarray) -> Path:
    """A video's ``timestamps`` file: int64 episode-relative times as a plain .npy."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.ascontiguousarray(times_ns, dtype=np.int64), allow_pickle=False)
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
