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

from pathlib import Path

from robotrace_desktop.errors import RecordingError, UnsupportedFormatError
from robotrace_desktop.readers.tabular.base import (
    SignalTable,
    TableSummary,
    channel_names,
    select_range,
)

__all__ = [
    "SignalTable",
    "TableSummary",
    "channel_names",
    "npz_stream_names",
    "open_table",
    "select_range",
]


def open_table(
    path: Path, fmt: str, *, time_column: str = "t_ns", stream: str | None = None
) -> SignalTable:
    """Open one signal table. Raises RecordingError naming the file."""
    from robotrace_desktop.readers.tabular.arrow import FeatherTable, ParquetTable
    from robotrace_desktop.readers.tabular.npz import NpzTable

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
    from robotrace_desktop.readers.tabular.npz import npz_stream_names as names

    return names(path)
