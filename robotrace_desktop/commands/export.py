"""``export EPISODE --streams ... --format csv|parquet -o OUT``: a slice of signals as a table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from robotrace_desktop.commands.common import open_catalog, print_json
from robotrace_desktop.core.timebase import parse_episode_time_ns, parse_period_ns
from robotrace_desktop.episodes import resolve
from robotrace_desktop.errors import ValidationError
from robotrace_desktop.slices import FORMATS, format_for, slice_table, write_table

EXIT_USAGE = 2


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
    """Exit 2 on a usage error (a bad TIME or grid), as the README's exit codes promise."""
    try:
        return _export(args)
    except ValidationError as exc:
        print(f"robotrace-desktop: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _export(args: argparse.Namespace) -> int:
    fmt = format_for(args.output, args.format)
    with open_catalog(args) as catalog:
        resolved = resolve(args.episode, catalog)
        offsets = catalog.stream_offsets(resolved.info.id) if resolved.in_catalog else {}
    duration = resolved.info.duration_ns
    start_ns = _episode_time("--start", args.start, duration)
    stop_ns = _episode_time("--end", args.end, duration)
    grid_ns = parse_period_ns("--grid", args.grid) if args.grid else None
    with resolved.open() as source:
        table = slice_table(
            source,
            resolved.info,
            args.streams,
            start_ns=start_ns,
            stop_ns=stop_ns,
            grid_ns=grid_ns,
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


def _episode_time(flag: str, text: str | None, duration_ns: int) -> int | None:
    return None if text is None else parse_episode_time_ns(flag, text, duration_ns)
