"""``catalog check | backup | restore [FILE] | rebuild``: look after the catalog itself.

Exit codes: 0 done / healthy, 1 a problem found or the operation failed (the message says what
to do), 2 a usage error (argparse).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from robotrace_desktop import paths
from robotrace_desktop.catalog import recovery
from robotrace_desktop.commands.common import print_json
from robotrace_desktop.commands.terminal_text import terminal_safe as safe
from robotrace_desktop.library.catalog_rebuild import rebuild_catalog


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "catalog",
        help="check, back up, restore or rebuild the catalog",
        description="Look after the catalog: your tags, bookmarks and notes live in it and in "
        "its journal (catalog.journal.jsonl beside it).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    checker = actions.add_parser("check", help="integrity report, journal and backups")
    checker.add_argument("--json", action="store_true")
    checker.set_defaults(handler=run_check)
    backup = actions.add_parser("backup", help="take a backup now (into backups/ beside it)")
    backup.set_defaults(handler=run_backup)
    restore = actions.add_parser(
        "restore",
        help="replace the catalog with the newest good backup (or FILE), then re-apply the "
        "journal records written since",
    )
    restore.add_argument("file", nargs="?", type=Path, metavar="FILE")
    restore.set_defaults(handler=run_restore)
    rebuild = actions.add_parser(
        "rebuild",
        help="a new catalog: rescan the known recordings and re-apply the whole journal",
    )
    rebuild.add_argument("--explain", action="store_true", help="also run Explain")
    rebuild.set_defaults(handler=run_rebuild)


def catalog_of(args: argparse.Namespace) -> Path:
    return Path(args.catalog) if args.catalog else paths.catalog_path()


def run_check(args: argparse.Namespace) -> int:
    report = recovery.check(catalog_of(args))
    if args.json:
        print_json(
            {
                "catalog": str(report.catalog),
                "ok": report.ok,
                "problem": report.problem,
                "schema": report.schema,
                "episodes": report.episodes,
                "bookmarks": report.bookmarks,
                "journal": str(report.journal),
                "journal_records": report.journal_records,
                "journal_unreadable_lines": report.journal_unreadable,
                "journal_incomplete_last_line": report.journal_incomplete,
                "journal_records_not_in_catalog": report.not_in_catalog,
                "backups": [{"file": str(p), "problem": why} for p, why in report.backups],
            }
        )
        return 0 if report.ok else 1
    if report.problem is None:
        print(
            f"catalog   {safe(str(report.catalog))}: ok (integrity_check ok, schema "
            f"v{report.schema}, {report.episodes} episode(s), {report.bookmarks} bookmark(s))"
        )
    else:
        state = "MISSING" if not report.catalog.exists() else "DAMAGED"
        print(f"catalog   {safe(str(report.catalog))}: {state} — {safe(report.problem)}")
    line = f"journal   {safe(str(report.journal))}: {report.journal_records} change(s)"
    if report.not_in_catalog:
        line += f", {report.not_in_catalog} not in the catalog"
    elif report.not_in_catalog == 0:
        line += ", all in the catalog"
    if report.journal_unreadable:
        line += f", {report.journal_unreadable} unreadable line(s) skipped"
    if report.journal_incomplete:
        line += ", last line cut short (a write was interrupted; it was never reported saved)"
    print(line)
    if not report.backups:
        print("backups   none yet")
    for path, why in report.backups:
        age = _age(path)
        print(f"backup    {safe(str(path))}: {'ok' if why is None else safe(why)} ({age})")
    if not report.ok:
        option = "" if args.catalog is None else f" --catalog {safe(str(args.catalog))}"
        good = [p for p, why in report.backups if why is None]
        if good:
            print(f"to recover: robotrace-desktop{option} catalog restore   (from {good[0].name})")
        print(f"        or: robotrace-desktop{option} catalog rebuild   (rescan + journal)")
    return 0 if report.ok else 1


def run_backup(args: argparse.Namespace) -> int:
    print(recovery.backup_now(catalog_of(args)))
    return 0


def run_restore(args: argparse.Namespace) -> int:
    done = recovery.restore(catalog_of(args), args.file)
    print(f"restored {safe(str(done.catalog))} from {safe(str(done.source))}")
    print(f"re-applied {done.reapplied} change(s) from the journal written after that backup")
    _print_aside(done)
    print("run `robotrace-desktop scan PATH` to index recordings added since the backup")
    return 0


def run_rebuild(args: argparse.Namespace) -> int:
    rebuilt = rebuild_catalog(catalog_of(args), explain=args.explain)
    done, summary = rebuilt.replaced, rebuilt.summary
    indexed = 0 if summary is None else summary.indexed
    print(
        f"rebuilt {safe(str(done.catalog))}: rescanned {len(done.scanned)} known path(s), "
        f"{indexed} episode(s) indexed"
        + (f", {summary.errors} error(s)" if summary is not None and summary.errors else "")
    )
    for gone in done.gone:
        print(f"  gone: {safe(str(gone))} (its tags and bookmarks are kept)")
    print(f"re-applied {done.reapplied} change(s) from the journal")
    _print_aside(done)
    return 0


def _print_aside(done: recovery.Replaced) -> None:
    for path in done.moved_aside:
        print(f"the previous file was moved aside (not deleted): {safe(str(path))}")


def _age(path: Path) -> str:
    try:
        hours = (time.time() - path.stat().st_mtime) / 3600
    except OSError:
        return "age unknown"
    return f"{hours * 60:.0f} min old" if hours < 1 else f"{hours:.1f} h old"
