"""``export EPISODE --streams ... --format csv|parquet -o OUT``: a slice of signals as a table."""

from __future__ import annotations

import argparse
from pathlib import Path

from robotrace_desktop.commands.common import open_catalog, print_json
from robotrace_desktop.core.episode import StreamKind
from robotrace_desktop.core.timebase import parse_time_ns
from robotrace_desktop.episodes import resolve
from robotrace_desktop.errors import ValidationError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("export", help="write signal or event streams to CSV or parquet")
    parser.add_argument("episode", metavar="EPISODE")
    parser.add_argument(
        "--streams", nargs="+", metavar="STREAM", help="default: every signal stream"
    )
    parser.add_argument("--format", choices=["csv", "parquet"], default=None)
    parser.add_argument("--grid", metavar="PERIOD", help="resample onto one grid, e.g. 10ms")
    parser.add_argument("--start", metavar="TIME", help="slice start (default: episode start)")
    parser.add_argument("--end", metavar="TIME", help="slice end, exclusive (default: the end)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT")
    parser.add_argument("--json", action="store_true", help="print what was written as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import pyarrow as pa

    from robotrace_desktop.core.align import align_on_grid, align_raw, column_names, grid

    fmt = args.format or ("parquet" if args.output.suffix.lower() == ".parquet" else "csv")
    start = parse_time_ns(args.start) if args.start else None
    stop = parse_time_ns(args.end) if args.end else None
    with open_catalog(args) as catalog:
        resolved = resolve(args.episode, catalog)
        offsets = catalog.stream_offsets(resolved.info.id) if resolved.in_catalog else {}
    info = resolved.info
    names = args.streams or [s.name for s in info.streams_of(StreamKind.SIGNAL)]
    if not names:
        raise ValidationError(f"episode {info.id} has no signal streams to export")
    kinds = {name: info.stream(name).kind for name in names}
    events = [n for n, k in kinds.items() if k == StreamKind.EVENT]
    if any(k == StreamKind.VIDEO for k in kinds.values()):
        raise ValidationError("export writes signals and events; use `frame` for video")
    if events and len(names) > 1:
        raise ValidationError("export an event stream on its own (one --streams value)")

    with resolved.open() as source:
        if events:
            rows = source.read_events(events[0], start, stop)
            table = pa.table(
                {
                    "t_ns": pa.array([e.t_ns for e in rows], pa.int64()),
                    "level": [e.level for e in rows],
                    "source": [e.source for e in rows],
                    "text": [e.text for e in rows],
                }
            )
        else:
            chunks = []
            for name in names:
                offset = offsets.get(name, 0)
                lo = None if start is None else start - offset
                hi = None if stop is None else stop - offset
                chunk = source.read_signal(name, lo, hi)
                if offset:
                    chunk = type(chunk)(
                        chunk.stream, chunk.channels, chunk.t_ns + offset, chunk.values, chunk.times
                    )
                chunks.append(chunk)
            if args.grid:
                period = parse_time_ns(args.grid)
                first = start if start is not None else 0
                last = stop if stop is not None else info.duration_ns + 1
                times = grid(first, last, period)
                values = align_on_grid(chunks, times)
            else:
                times, values = align_raw(chunks)
            columns: dict[str, pa.Array] = {
                "t_ns": pa.array(times, pa.int64()),
                "t_s": pa.array(times / 1e9),
            }
            for i, name in enumerate(column_names(chunks)):
                columns[name] = pa.array(np.ascontiguousarray(values[:, i]))
            table = pa.table(columns)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, args.output)
    else:
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, args.output)
    if args.json:
        print_json(
            {
                "episode": info.id,
                "path": str(args.output),
                "rows": table.num_rows,
                "columns": table.column_names,
            }
        )
    else:
        print(f"{args.output}: {table.num_rows} rows × {table.num_columns} columns ({fmt})")
    return 0
