"""Parquet and Arrow IPC (feather) signal tables; see ``tabular`` for the column rules.

Parquet reads skip row groups whose time statistics lie outside the range; feather files are
memory-mapped and only the record batches overlapping the range are converted.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather
import pyarrow.parquet as pq

from robotrace_desktop.bundle.tables import NAMES_METADATA_KEY
from robotrace_desktop.errors import CorruptRecordingError
from robotrace_desktop.readers.tabular.base import (
    SignalTable,
    TableSummary,
    channel_names,
    select_range,
)


@dataclass(frozen=True, slots=True)
class _ArrowColumn:
    name: str
    width: int | None  # None: scalar column
    names: tuple[str, ...] | None


def _is_number(typ: pa.DataType) -> bool:
    return bool(pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_boolean(typ))


def _field_names(fld: pa.Field) -> tuple[str, ...] | None:
    raw = (fld.metadata or {}).get(NAMES_METADATA_KEY)
    if raw is None:
        return None
    try:
        names = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if isinstance(names, list) and all(isinstance(n, str) for n in names):
        return tuple(names)
    return None


def _time_numpy(column: pa.Array | pa.ChunkedArray, path: Path, name: str) -> np.ndarray:
    typ = column.type
    if pa.types.is_timestamp(typ):
        column = pc.cast(pc.cast(column, pa.timestamp("ns")), pa.int64())
    elif not pa.types.is_integer(typ):
        raise CorruptRecordingError(path, f"time column {name!r} must be int64 ns, found {typ}")
    if column.null_count:
        raise CorruptRecordingError(path, f"time column {name!r} has null values")
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.int64)


def _values_numpy(column: pa.ChunkedArray | pa.Array, col: _ArrowColumn, path: Path) -> np.ndarray:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    n = len(column)
    if col.width is None:
        values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        return np.asarray(values, dtype=np.float64).reshape(n, 1)
    out = np.full((n, col.width), np.nan)
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    if np.any(lengths[valid] != col.width):
        raise CorruptRecordingError(
            path, f"list column {col.name!r} has rows whose length is not {col.width}"
        )
    flat = pc.cast(pc.list_flatten(column), pa.float64()).to_numpy(zero_copy_only=False)
    out[valid] = flat.reshape(-1, col.width)
    return out


class _ArrowTable(SignalTable):
    """Shared schema handling for parquet and feather."""

    def __init__(self, path: Path, time_column: str) -> None:
        self.path = path
        self.time_column = time_column
        self._columns: list[_ArrowColumn] = []
        self._skipped: list[str] = []

    def _plan(self, schema: pa.Schema) -> None:
        if schema.get_field_index(self.time_column) < 0:
            found = ", ".join(schema.names) or "none"
            raise CorruptRecordingError(
                self.path, f"no time column {self.time_column!r} (columns: {found})"
            )
        for fld in schema:
            if fld.name == self.time_column:
                continue
            typ = fld.type
            if _is_number(typ):
                self._columns.append(_ArrowColumn(fld.name, None, None))
            elif pa.types.is_fixed_size_list(typ) and _is_number(typ.value_type):
                self._columns.append(_ArrowColumn(fld.name, typ.list_size, _field_names(fld)))
            elif (pa.types.is_list(typ) or pa.types.is_large_list(typ)) and _is_number(
                typ.value_type
            ):
                width = self._list_width(fld.name)
                if width is None:
                    self._skipped.append(fld.name)
                else:
                    self._columns.append(_ArrowColumn(fld.name, width, _field_names(fld)))
            else:
                self._skipped.append(fld.name)

    @abstractmethod
    def _list_width(self, name: str) -> int | None:
        """Length of the first non-null row of a variable list column."""

    def _channels(self) -> tuple[str, ...]:
        out: list[str] = []
        for col in self._columns:
            out += channel_names(col.name, col.width, col.names)
        return tuple(out)

    def _columns_to_values(self, table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        t = _time_numpy(table.column(self.time_column), self.path, self.time_column)
        parts = [_values_numpy(table.column(c.name), c, self.path) for c in self._columns]
        values = np.hstack(parts) if parts else np.zeros((len(t), 0))
        return t, values

    def _details(self) -> dict[str, Any]:
        details: dict[str, Any] = {"time_column": self.time_column}
        if self._skipped:
            details["skipped_columns"] = list(self._skipped)
        return details


def _first_width(column: pa.ChunkedArray) -> int | None:
    lengths = pc.drop_null(pc.list_value_length(column))
    return int(lengths[0].as_py()) if len(lengths) else None


class ParquetTable(_ArrowTable):
    def __init__(self, path: Path, time_column: str = "t_ns") -> None:
        super().__init__(path, time_column)
        try:
            self._file = pq.ParquetFile(path)
            schema = self._file.schema_arrow
        except (pa.ArrowException, OSError) as exc:
            raise CorruptRecordingError(path, f"cannot read parquet footer: {exc}") from exc
        self._plan(schema)

    def _list_width(self, name: str) -> int | None:
        if self._file.metadata.num_row_groups == 0:
            return None
        return _first_width(self._file.read_row_group(0, columns=[name]).column(0))

    def _time_stats(self) -> list[tuple[int, int] | None]:
        meta = self._file.metadata
        leaf = next(
            (j for j in range(meta.num_columns) if meta.schema.column(j).path == self.time_column),
            None,
        )
        stats: list[tuple[int, int] | None] = []
        for i in range(meta.num_row_groups):
            st = None if leaf is None else meta.row_group(i).column(leaf).statistics
            if st is not None and st.has_min_max and isinstance(st.min, int):
                stats.append((int(st.min), int(st.max)))
            else:
                stats.append(None)
        return stats

    def summary(self) -> TableSummary:
        count = int(self._file.metadata.num_rows)
        stats = self._time_stats()
        t0 = t1 = None
        if count and all(s is not None for s in stats):
            known = [s for s in stats if s is not None]
            t0, t1 = min(s[0] for s in known), max(s[1] for s in known)
        elif count:
            t = _time_numpy(
                self._file.read(columns=[self.time_column]).column(0), self.path, self.time_column
            )
            t0, t1 = int(t.min()), int(t.max())
        details = self._details() | {"row_groups": self._file.metadata.num_row_groups}
        return TableSummary(self._channels(), count, t0, t1, details)

    def read(self, start_ns: int | None, stop_ns: int | None) -> tuple[np.ndarray, np.ndarray]:
        groups = []
        for i, st in enumerate(self._time_stats()):
            if st is not None and (
                (stop_ns is not None and st[0] >= stop_ns)
                or (start_ns is not None and st[1] < start_ns)
            ):
                continue
            groups.append(i)
        columns = [self.time_column, *(c.name for c in self._columns)]
        try:
            table = self._file.read_row_groups(groups, columns=columns)
        except (pa.ArrowException, OSError) as exc:
            raise CorruptRecordingError(self.path, f"cannot read parquet data: {exc}") from exc
        return select_range(*self._columns_to_values(table), start_ns, stop_ns)


class FeatherTable(_ArrowTable):
    """Arrow IPC file (feather v2), memory-mapped; reads only the batches a range needs."""

    def __init__(self, path: Path, time_column: str = "t_ns") -> None:
        super().__init__(path, time_column)
        self._batches: list[pa.RecordBatch] = []
        try:
            self._source = pa.memory_map(str(path), "r")
            reader = pa.ipc.open_file(self._source)
            self._batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
            schema = reader.schema
        except (pa.ArrowException, OSError):
            try:  # feather v1 has no IPC footer; read it whole
                table = feather.read_table(str(path))
            except (pa.ArrowException, OSError) as exc:
                raise CorruptRecordingError(path, f"cannot read feather file: {exc}") from exc
            self._batches = table.to_batches()
            schema = table.schema
        self._plan(schema)
        self._ranges = [self._batch_range(b) for b in self._batches]

    def _batch_range(self, batch: pa.RecordBatch) -> tuple[int, int] | None:
        if batch.num_rows == 0:
            return None
        t = _time_numpy(batch.column(self.time_column), self.path, self.time_column)
        return int(t.min()), int(t.max())

    def _list_width(self, name: str) -> int | None:
        for batch in self._batches:
            width = _first_width(pa.chunked_array([batch.column(name)]))
            if width is not None:
                return width
        return None

    def summary(self) -> TableSummary:
        ranges = [r for r in self._ranges if r is not None]
        count = sum(b.num_rows for b in self._batches)
        t0 = min(r[0] for r in ranges) if ranges else None
        t1 = max(r[1] for r in ranges) if ranges else None
        details = self._details() | {"record_batches": len(self._batches)}
        return TableSummary(self._channels(), count, t0, t1, details)

    def read(self, start_ns: int | None, stop_ns: int | None) -> tuple[np.ndarray, np.ndarray]:
        picked = [
            b
            for b, r in zip(self._batches, self._ranges, strict=True)
            if r is not None
            and not (stop_ns is not None and r[0] >= stop_ns)
            and not (start_ns is not None and r[1] < start_ns)
        ]
        if not picked:
            return np.zeros(0, dtype=np.int64), np.zeros((0, len(self._channels())))
        table = pa.Table.from_batches(picked)
        return select_range(*self._columns_to_values(table), start_ns, stop_ns)

    def close(self) -> None:
        self._batches = []
        source = getattr(self, "_source", None)
        if source is not None:
            source.close()
