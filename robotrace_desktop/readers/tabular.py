"""Signal tables on disk: parquet, Arrow IPC (feather v2) and npz with an int64-ns time column.

The reading side of ``bundle.tables`` (which defines the layout and writes the files), used by
the bundle reader; both sides follow one rule set:

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

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from robotrace_desktop.errors import RecordingError, UnsupportedFormatError


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
