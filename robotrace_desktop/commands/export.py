"""``export EPISODE --streams ... --format csv|parquet -o OUT``: a slice of signals as a table."""

from __future__ import annotations

import argparse
from pathlib import Path

from robotrace_desktop.commands.common import open_catalog, print_json
from robotrace_desktop.core.timebase import parse_time_ns
from robotrace_desktop.episodes import resolve
from robotrace_desktop.slices import FORMATS, format_for, slice_table, write_table


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("export", help="write signal or event streams to CSV or parquet")
    parser.add_argument("episode", metavar="EPISODE")
    parser.add_argument(
        "--streams", nargs="+", metavar="STREAM", help="default: every signal stream"
    )
    parser.add_argument("--format", choices=FORMATS, default=None)
    parser.add_argument("--grid", metavar="PERIOD", help="resample onto one grid, e.g. 10ms")
    parser.add_argument("--start", metavar="TIME", help="slice start (default: episode start)")
    parser.add_argument("--end", metavar="TIME", help="slice end, exclusive (default: the end)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT")
    parser.add_argument("--json", action="store_true", help="print what was written as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    fmt = format_for(args.output, args.format)
    with open_catalog(args) as catalog:
        resolved = resolve(args.episode, catalog)
        offsets = catalog.stream_offsets(resolved.info.id) if resolved.in_catalog else {}
    with resolved.open() as source:
        table = slice_table(
            source,
            resolved.info,
            args.streams,
            start_ns=parse_time_ns(args.start) if args.start else None,
            stop_ns=parse_time_ns(args.end) if args.end else None,
            grid_ns=parse_time_ns(args.grid) if args.grid else None,
            offsets=offsets,
        )
    write_table(table, args.output, fmt)
    if args.json:
        print_json(
            {
                "episode": resolved.info.id,
                "path": str(args.output),
                "rows": table.num_rows,
                "columns": table.column_names,
            }
        )
    else:
        print(f"{args.output}: {table.num_rows} rows × {table.num_columns} columns ({fmt})")
    return 0
