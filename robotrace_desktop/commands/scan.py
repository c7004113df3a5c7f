"""``scan PATH...``: index recordings into the catalog, with a progress bar on a terminal."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from robotrace_desktop.commands.common import open_catalog, print_json, progress_bar
from robotrace_desktop.library.scanner import ScanSummary, scan


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "scan",
        help="index recordings (files or folders) into the catalog",
        description="Find every recording under PATH and index new or changed ones.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    parser.add_argument("--force", action="store_true", help="re-index unchanged recordings too")
    parser.add_argument(
        "--no-explain",
        action="store_true",
        help="only index: do not run Explain on the new and updated episodes",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    with open_catalog(args) as catalog:
        bars = sys.stderr.isatty() and not args.json
        progress, close = progress_bar(enabled=bars)
        explain_progress, close_explain = progress_bar(enabled=bars, unit="ep")
        try:
            summary = scan(
                catalog,
                args.paths,
                progress=progress,
                force=args.force,
                explain=not args.no_explain,
                explain_progress=explain_progress,
            )
        finally:
            close()
            close_explain()
    if args.json:
        print_json(summary.to_dict())
    else:
        _print_summary(summary)
    return 0 if summary.indexed > 0 else 1


def _print_summary(summary: ScanSummary) -> None:
    print(
        f"{summary.recordings} recording(s): {summary.new} new, {summary.updated} updated, "
        f"{summary.unchanged} unchanged, {summary.errors} error(s)"
        + (f", {summary.missing} missing" if summary.missing else "")
    )
    for problem in summary.problems:
        print(f"  error: {problem}")
    if summary.explained or summary.explain_errors:
        print(
            f"explained {summary.explained} episode(s)"
            + (f", {len(summary.explain_errors)} error(s)" if summary.explain_errors else "")
            + " — see `robotrace-desktop explain EPISODE`"
        )
    for problem in summary.explain_errors:
        print(f"  explain error: {problem}")
    if summary.indexed == 0:
        print("nothing could be indexed", file=sys.stderr)
