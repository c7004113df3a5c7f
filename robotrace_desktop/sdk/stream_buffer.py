"""One logged stream of a recorder: rows buffered in lists, flushed to parquet part files.

Why lists: ``log()`` is called once per control step, so appending a Python float is the
cheapest thing it can do; a flush turns the buffer into one Arrow table and writes it. Scalar
channels are float64 columns, vector channels fixed-size lists of float64 (K values, K fixed
per channel). A channel first logged after some rows is NaN before; a row without it is NaN.
``finish`` joins the parts into one parquet file, one part in memory at a time.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from robotrace_desktop.errors import ValidationError
from robotrace_desktop.sdk.signal_input import SignalInput

_NAN = math.nan
_UNSET = -1  # widths sentinel: a channel not seen yet (None = scalar, K >= 0 = vector)
ROW_GROUP_ROWS = 65_536


def _arrow_type(width: int | None) -> pa.DataType:
    return pa.float64() if width is None else pa.list_(pa.float64(), width)


def _shape(width: int | None) -> str:
    return "a number" if width is None else f"a vector of {width}"


def _nan_column(width: int | None, rows: int) -> pa.Array:
    if width is None:
        return pa.array(np.full(rows, np.nan))
    return pa.FixedSizeListArray.from_arrays(pa.array(np.full(rows * width, np.nan)), width)


class StreamBuffer:
    """Samples of one stream (``name``, role ``sensor``/``action``) on their way to parquet."""

    def __init__(self, name: str, role: str, folder: Path) -> None:
        self.name = name
        self.role = role
        self.folder = folder
        self.widths: dict[str, int | None] = {}  # channel field -> None (scalar) or K
        self._times: list[int] = []
        self._columns: dict[str, list[Any]] = {}
        self._parts: list[Path] = []
        self._last_t: int | None = None
        self._first_t: int | None = None

    @property
    def rows(self) -> int:
        """Rows buffered in memory (not yet in a part file)."""
        return len(self._times)

    def _value(self, field: str, value: Any) -> tuple[Any, int | None]:
        """(a float, None) for a number, (a float64 vector, K) for a 1-D array."""
        kind = type(value)
        if kind is float or kind is int or kind is bool:
            return float(value), None
        if isinstance(value, numbers.Real):  # numpy scalars
            return float(value), None
        if isinstance(value, (str, bytes)):
            raise ValidationError(f"log: {self.name}/{field} must be a number, got {value!r}")
        try:
            out = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValidationError(
                f"log: {self.name}/{field} must be a number or a 1-D array of numbers, "
                f"got {type(value).__name__}"
            ) from None
        if out.ndim == 0:
            return float(out), None
        if out.ndim != 1:
            raise ValidationError(f"log: {self.name}/{field} must be 1-D, got shape {out.shape}")
        return out, len(out)

    def append(self, t: int, row: dict[str, Any]) -> None:
        """One row; every value is checked before any is stored (a bad row changes nothing)."""
        if self._last_t is not None and t < self._last_t:
            raise ValidationError(
                f"log: t_ns={t} for stream {self.name!r} is before its previous sample "
                f"({self._last_t}); times must not go backwards"
            )
        widths = self.widths
        converted: list[tuple[str, Any, int | None]] = []
        for field, value in row.items():
            out, width = self._value(field, value)
            known = widths.get(field, _UNSET)
            if known != width and known != _UNSET:
                raise ValidationError(
                    f"log: {self.name}/{field} was {_shape(known)}, now {_shape(width)}"
                )
            converted.append((field, out, width))
        n = len(self._times)
        columns = self._columns
        for field, out, width in converted:
            column = columns.get(field)
            if column is None:
                widths[field] = width
                column = columns[field] = [None] * n
            column.append(out)
        self._times.append(t)
        if len(row) != len(columns):
            for column in columns.values():
                if len(column) == n:
                    column.append(None)
        self._last_t = t
        if self._first_t is None:
            self._first_t = t

    def _table(self) -> pa.Table:
        n = len(self._times)
        arrays: list[pa.Array] = [pa.array(np.asarray(self._times, dtype=np.int64))]
        fields = [pa.field("t_ns", pa.int64(), nullable=False)]
        for name, width in self.widths.items():
            column = self._columns.get(name, [None] * n)
            if width is None:
                values = np.array([_NAN if v is None else v for v in column], dtype=np.float64)
                arrays.append(pa.array(values))
            else:
                block = np.full((n, width), np.nan)
                for i, v in enumerate(column):
                    if v is not None:
                        block[i] = v
                arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(block.ravel()), width))
            fields.append(pa.field(name, _arrow_type(width)))
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))

    def flush(self) -> None:
        """Write the buffered rows as the next part file and empty the buffer."""
        if not self._times:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        part = self.folder / f"part-{len(self._parts):06d}.parquet"
        pq.write_table(self._table(), part)
        self._parts.append(part)
        self._times = []
        self._columns = {name: [] for name in self._columns}

    def finish(self) -> SignalInput | None:
        """Join the parts into ``<folder>/stream.parquet``; the input the bundle moves in
        (None when no row was ever logged)."""
        self.flush()
        if not self._parts:
            return None
        out = self.folder / "stream.parquet"
        schema = pa.schema(
            [pa.field("t_ns", pa.int64(), nullable=False)]
            + [pa.field(name, _arrow_type(width)) for name, width in self.widths.items()]
        )
        with pq.ParquetWriter(out, schema) as writer:
            for part in self._parts:
                table = pq.read_table(part)
                columns = []
                for fld in schema:
                    if fld.name in table.column_names:
                        columns.append(table.column(fld.name))
                    else:  # a channel first logged after this part was written
                        columns.append(_nan_column(self.widths[fld.name], table.num_rows))
                writer.write_table(
                    pa.Table.from_arrays(columns, schema=schema), row_group_size=ROW_GROUP_ROWS
                )
                part.unlink()
        self._parts = []

        def load() -> pa.Table:
            return pq.read_table(out)

        return SignalInput(
            name=self.name,
            role=self.role,
            origin=f"logged stream {self.name!r}",
            load=load,
            source=out,
            format="parquet",
            t_start_ns=self._first_t,
            t_end_ns=self._last_t,
            owned=True,
        )
