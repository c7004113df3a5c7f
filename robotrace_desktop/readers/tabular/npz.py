"""npz signal tables: ``<stream>/_t_ns`` + ``<stream>/<field>`` (several streams in one file)
or a flat file with a time array; see ``tabular`` for the naming rules.

Summaries read the zip directory and the npy headers (plus the first and last time value), never
the data; arrays are loaded with ``allow_pickle=False`` and object arrays are refused.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robotrace_desktop.bundle.tables import NPZ_NAMES_KEY, NPZ_TIME_KEY
from robotrace_desktop.errors import CorruptRecordingError
from robotrace_desktop.readers.tabular.base import (
    SignalTable,
    TableSummary,
    channel_names,
    select_range,
)


@dataclass(frozen=True, slots=True)
class _NpyHeader:
    shape: tuple[int, ...]
    dtype: np.dtype
    member: str
    data_offset: int


def _npz_headers(path: Path) -> dict[str, _NpyHeader]:
    """Shape and dtype of every array in an npz, from the npy headers (no data read)."""
    headers: dict[str, _NpyHeader] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with zf.open(info) as handle:
                    version = np.lib.format.read_magic(handle)
                    if version == (1, 0):
                        shape, _fortran, dtype = np.lib.format.read_array_header_1_0(handle)
                    else:
                        shape, _fortran, dtype = np.lib.format.read_array_header_2_0(handle)
                    offset = handle.tell()
                headers[info.filename[:-4]] = _NpyHeader(tuple(shape), dtype, info.filename, offset)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise CorruptRecordingError(path, f"cannot read npz file: {exc}") from exc
    return headers


def npz_stream_names(path: Path) -> list[str]:
    """Streams of the ``<stream>/_t_ns`` layout in an npz, in file order."""
    suffix = "/" + NPZ_TIME_KEY
    return [k[: -len(suffix)] for k in _npz_headers(path) if k.endswith(suffix)]


def _first_last(path: Path, header: _NpyHeader) -> tuple[int, int] | None:
    n = header.shape[0] if header.shape else 0
    if n == 0:
        return None
    size = header.dtype.itemsize
    with zipfile.ZipFile(path) as zf, zf.open(header.member) as handle:
        handle.seek(header.data_offset)
        first = np.frombuffer(handle.read(size), dtype=header.dtype)[0]
        handle.seek(header.data_offset + (n - 1) * size)
        last = np.frombuffer(handle.read(size), dtype=header.dtype)[0]
    return int(first), int(last)


class NpzTable(SignalTable):
    """One stream of an npz. Arrays are loaded whole on first read (npz cannot be sliced) and
    kept: use parquet for long streams."""

    def __init__(self, path: Path, stream: str | None = None, time_column: str = "t_ns") -> None:
        self.path = path
        headers = _npz_headers(path)
        # Writers store "/action" as "action/..." (no absolute member names in the zip).
        prefixes = [] if stream is None else [stream, stream.lstrip("/")]
        found = next((p for p in prefixes if f"{p}/{NPZ_TIME_KEY}" in headers), None)
        if found is not None:
            self._prefix = f"{found}/"
            self._time_key = f"{found}/{NPZ_TIME_KEY}"
        elif time_column in headers:
            self._prefix = ""
            self._time_key = time_column
        else:
            wanted = f"'{stream}/{NPZ_TIME_KEY}' or " if stream else ""
            raise CorruptRecordingError(
                path, f"no time array {wanted}{time_column!r} (arrays: {', '.join(headers)})"
            )
        t_head = headers[self._time_key]
        if len(t_head.shape) != 1 or t_head.dtype.kind not in "iu":
            raise CorruptRecordingError(
                path,
                f"time array {self._time_key!r} must be 1-D int64 ns, found "
                f"{t_head.dtype} {t_head.shape}",
            )
        self._t_header = t_head
        n = t_head.shape[0]
        self._fields: list[tuple[str, int | None]] = []
        self._names: dict[str, tuple[str, ...]] = {}
        self._skipped: list[str] = []
        problems: list[str] = []
        for key, head in headers.items():
            if not key.startswith(self._prefix):
                continue
            fname = key[len(self._prefix) :]
            if "/" in fname or fname.startswith("_") or key == self._time_key:
                continue
            if head.dtype.hasobject or head.dtype.kind not in "biuf":
                self._skipped.append(fname)
            elif not head.shape or head.shape[0] != n or len(head.shape) > 2:
                self._skipped.append(fname)
                problems.append(
                    f"{path}: array {key!r} has shape {head.shape}, expected ({n},) or ({n}, K)"
                )
            else:
                self._fields.append((fname, head.shape[1] if len(head.shape) == 2 else None))
        self._problems = tuple(problems)
        self._load_names(headers)
        self._cache: dict[str, np.ndarray] | None = None

    def _load_names(self, headers: Mapping[str, _NpyHeader]) -> None:
        keys = [k for k in headers if k.startswith(f"{self._prefix}{NPZ_NAMES_KEY}")]
        if not keys:
            return
        with np.load(self.path, allow_pickle=False) as npz:
            loaded = {}
            for key in keys:
                if headers[key].dtype.kind not in "US" or len(headers[key].shape) != 1:
                    continue
                arr = npz[key]
                loaded[key] = tuple(
                    v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                    for v in arr.tolist()
                )
        common = loaded.get(f"{self._prefix}{NPZ_NAMES_KEY}")
        for fname, width in self._fields:
            own = loaded.get(f"{self._prefix}{NPZ_NAMES_KEY}/{fname}")
            for names in (own, common):
                if names is not None and width is not None and len(names) == width:
                    self._names[fname] = names
                    break

    def _channels(self) -> tuple[str, ...]:
        out: list[str] = []
        for fname, width in self._fields:
            out += channel_names(fname, width, self._names.get(fname))
        return tuple(out)

    def summary(self) -> TableSummary:
        ends = _first_last(self.path, self._t_header)
        details: dict[str, Any] = {"time_array": self._time_key}
        if self._skipped:
            details["skipped_arrays"] = list(self._skipped)
        if ends is not None and ends[1] < ends[0]:  # unsorted: fall back to the real min/max
            t = self._arrays()[self._time_key]
            ends = int(t.min()), int(t.max())
        return TableSummary(
            self._channels(),
            self._t_header.shape[0],
            None if ends is None else ends[0],
            None if ends is None else ends[1],
            details,
            self._problems,
        )

    def _arrays(self) -> dict[str, np.ndarray]:
        if self._cache is None:
            try:
                with np.load(self.path, allow_pickle=False) as npz:
                    keys = [self._time_key] + [self._prefix + f for f, _ in self._fields]
                    self._cache = {k: npz[k] for k in keys}
            except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
                raise CorruptRecordingError(self.path, f"cannot read npz data: {exc}") from exc
        return self._cache

    def read(self, start_ns: int | None, stop_ns: int | None) -> tuple[np.ndarray, np.ndarray]:
        arrays = self._arrays()
        t = arrays[self._time_key].astype(np.int64)
        parts = []
        for fname, _width in self._fields:
            arr = np.asarray(arrays[self._prefix + fname], dtype=np.float64)
            parts.append(arr.reshape(len(t), -1))
        values = np.hstack(parts) if parts else np.zeros((len(t), 0))
        return select_range(t, values, start_ns, stop_ns)

    def close(self) -> None:
        self._cache = None
