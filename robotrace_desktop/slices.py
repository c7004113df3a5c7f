"""A time slice of an episode as a table (CSV or parquet): the CLI's ``export`` and the viewer's
"Export time slice…" share this, so both write the same columns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from robotrace_desktop.core.episode import EpisodeInfo, EpisodeSource, SignalChunk, StreamKind
from robotrace_desktop.core.timebase import format_seconds_exact
from robotrace_desktop.errors import UsageError, ValidationError

if TYPE_CHECKING:
    import pyarrow as pa

FORMATS = ("csv", "parquet")
#: A grid export larger than this is a mistake (``--grid 1ns`` over 13 s asked numpy for
#: 97 GiB): refused up front with the number of rows it would make.
MAX_GRID_ROWS = 10_000_000


def format_for(path: Path, requested: str | None = None) -> str:
    if requested:
        return requested
    return "parquet" if path.suffix.lower() == ".parquet" else "csv"


def slice_table(
    source: EpisodeSource,
    info: EpisodeInfo,
    streams: Sequence[str] | None = None,
    *,
    start_ns: int | None = None,
    stop_ns: int | None = None,
    grid_ns: int | None = None,
    offsets: Mapping[str, int] | None = None,
) -> pa.Table:
    """Signals on the union of their sample times (or on a grid, sample-and-hold), or one event
    stream's log lines. Times are episode time: stream time + the stream's offset."""
    import numpy as np
    import pyarrow as pa

    from robotrace_desktop.core.align import align_on_grid, align_raw, column_names, grid

    offsets = offsets or {}
    if grid_ns is not None:
        check_grid(
            start_ns if start_ns is not None else 0,
            stop_ns if stop_ns is not None else info.duration_ns + 1,
            grid_ns,
        )
    names = list(streams or [s.name for s in info.streams_of(StreamKind.SIGNAL)])
    if not names:
        raise ValidationError(f"episode {info.id} has no signal streams to export")
    kinds = {name: info.stream(name).kind for name in names}
    events = [n for n, k in kinds.items() if k == StreamKind.EVENT]
    if any(k == StreamKind.VIDEO for k in kinds.values()):
        raise ValidationError("a table holds signals and events; export frames as PNG instead")
    if events and len(names) > 1:
        raise ValidationError("export an event stream on its own (one stream)")

    if events:
        offset = offsets.get(events[0], 0)
        rows = source.read_events(
            events[0],
            None if start_ns is None else start_ns - offset,
            None if stop_ns is None else stop_ns - offset,
        )
        return pa.table(
            {
                "t_ns": pa.array([e.t_ns + offset for e in rows], pa.int64()),
                "level": [e.level for e in rows],
                "source": [e.source for e in rows],
                "text": [e.text for e in rows],
            }
        )

    chunks: list[SignalChunk] = []
    for name in names:
        offset = offsets.get(name, 0)
        chunk = source.read_signal(
            name,
            None if start_ns is None else start_ns - offset,
            None if stop_ns is None else stop_ns - offset,
        )
        if offset:
            chunk = SignalChunk(
                chunk.stream, chunk.channels, chunk.t_ns + offset, chunk.values, chunk.times
            )
        chunks.append(chunk)
    if grid_ns is not None:
        first = start_ns if start_ns is not None else 0
        last = stop_ns if stop_ns is not None else info.duration_ns + 1
        times = grid(first, last, grid_ns)
        values = align_on_grid(chunks, times)
    else:
        times, values = align_raw(chunks)
    columns: dict[str, pa.Array] = {
        "t_ns": pa.array(times, pa.int64()),
        "t_s": pa.array(times / 1e9),
    }
    for i, name in enumerate(column_names(chunks)):
        columns[name] = pa.array(np.ascontiguousarray(values[:, i]))
    return pa.table(columns)


def check_grid(first_ns: int, last_ns: int, grid_ns: int) -> int:
    """The number of rows a grid from ``first_ns`` to ``last_ns`` makes; a ValidationError
    saying how many when the period is not positive or the rows exceed MAX_GRID_ROWS."""
    if grid_ns <= 0:
        raise UsageError(f"grid period {grid_ns}ns: a period must be longer than zero")
    rows = max(0, -(-(last_ns - first_ns) // grid_ns))
    if rows > MAX_GRID_ROWS:
        raise UsageError(
            f"a grid of {format_seconds_exact(grid_ns)} over "
            f"{format_seconds_exact(max(0, last_ns - first_ns))} would make {rows} rows "
            f"(at most {MAX_GRID_ROWS}): choose a coarser grid or a shorter --start/--end"
        )
    return rows


def write_table(table: pa.Table, path: Path, fmt: str) -> Path:
    if fmt not in FORMATS:
        raise ValidationError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    else:
        import pyarrow.csv as pacsv

        from robotrace_desktop.core.csv_safe import csv_safe_table

        pacsv.write_csv(csv_safe_table(table), path)
    return path
