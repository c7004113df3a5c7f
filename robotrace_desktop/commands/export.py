"""``export EPISODE --streams ... --format csv|parquet -o OUT``: a slice of signals as a table."""

from __future__ import annotations

import argparse
from pathlib import Path

from robotrace_desktop.commands.common import open_catalog, print_json
from robotrace_desktop.core.timebase import parse_episode_time_ns, parse_period_ns, parse_time_ns
from robotrace_desktop.episodes import resolve
from robotrace_desktop.errors import UsageError
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


#: output extension -> the format it implies
EXTENSIONS = {".csv": "csv", ".parquet": "parquet"}


def output_format(output: Path, requested: str | None) -> str:
    """The format to write: an extension that names another format (``g1.xlsx``, or
    ``a.parquet --format csv``) is a usage error, never a file whose content lies about its
    name. An unknown extension with an explicit --format is taken as asked; no extension at
    all writes CSV."""
    implied = EXTENSIONS.get(output.suffix.lower())
    supported = ", ".join(EXTENSIONS)
    if requested is None and implied is None and output.suffix:
        raise UsageError(
            f"{output}: no format writes {output.suffix} files; supported extensions: "
            f"{supported} (or give --format {'|'.join(FORMATS)})"
        )
    if requested is not None and implied is not None and implied != requested:
        raise UsageError(f"{output}: the extension says {implied} but --format is {requested}")
    return format_for(output, requested)


def slice_bounds(
    start: str | None, end: str | None, duration_ns: int | None = None
) -> tuple[int | None, int | None]:
    """--start/--end in ns; an end at or before the start selects nothing and is a usage error
    (a time before the episode start clamps to the start, as slicing does). With the episode's
    ``duration_ns``, a time after its end (or past the int64 range) is a usage error naming
    the episode's span."""
    start_ns = _time("--start", start, duration_ns)
    end_ns = _time("--end", end, duration_ns)
    if start_ns is not None and end_ns is not None and end_ns <= start_ns:
        raise UsageError(f"--end {end} is not after --start {start}: the slice would be empty")
    return start_ns, end_ns


def _time(flag: str, text: str | None, duration_ns: int | None) -> int | None:
    if not text:
        return None
    if duration_ns is None:
        return parse_time_ns(text)
    return parse_episode_time_ns(flag, text, duration_ns, before_start=True)


def run(args: argparse.Namespace) -> int:
    fmt = output_format(args.output, args.format)
    grid_ns = parse_period_ns("--grid", args.grid) if args.grid else None
    with open_catalog(args) as catalog:
        resolved = resolve(args.episode, catalog)
        offsets = catalog.stream_offsets(resolved.info.id) if resolved.in_catalog else {}
    start_ns, stop_ns = slice_bounds(args.start, args.end, resolved.info.duration_ns)
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
