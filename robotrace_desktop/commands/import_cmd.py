"""``import PATH``: convert any recording RoboTrace reads into self-contained native bundles.

PATH is anything ``episodes.resolve`` accepts (a bag, a LeRobot dataset with ``DATASET#N`` or
``--episode N``, an HDF5 file, a bundle, a catalog id, a ``robotrace://`` link); ``--all``
imports every episode of the recording, with a progress bar on a terminal. One bundle per
episode goes to ``<library>/imported/<name>-<id>/`` (or under ``--dest``), is indexed into the
catalog (``--no-index`` skips that) and explained like a scan does (``--no-explain``). An
episode imported before is left alone and reported as ``exists`` unless ``--replace``.
Exit codes: 0 when every episode was imported (or already was), 1 when one failed, 2 on usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.commands.common import open_catalog, print_json, progress_bar
from robotrace_desktop.episodes import ResolvedEpisode, resolve
from robotrace_desktop.errors import EpisodeNotFoundError, RobotraceError

if TYPE_CHECKING:  # numpy, pyarrow and PyAV load only when something is imported
    from robotrace_desktop.convert.to_bundle import ImportResult


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "import",
        help="convert a recording's episodes into self-contained RoboTrace bundles",
        description="Write each episode of PATH as a native bundle in the library (signals, "
        "events, cameras on the same clock; the recording itself is only read), then index it.",
    )
    parser.add_argument(
        "path", metavar="PATH", help="recording path, DATASET#index, catalog id or link"
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--episode", type=_index_arg, metavar="N", help="episode index in a dataset")
    which.add_argument("--all", action="store_true", help="every episode of the recording")
    parser.add_argument(
        "--dest", type=Path, metavar="DIR", help="folder for the bundles (default: library)"
    )
    parser.add_argument("--replace", action="store_true", help="re-import episodes imported before")
    parser.add_argument("--no-index", action="store_true", help="do not add them to the catalog")
    parser.add_argument("--no-explain", action="store_true", help="index without running Explain")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    with open_catalog(args) as catalog:
        episodes = _episodes(args, catalog)
        results, errors = _import_all(args, episodes)
        indexed, warnings = _index(args, catalog, results, errors)
    if args.json:
        print_json(
            {
                "episodes": [r.to_dict() | {"indexed": r.episode_id in indexed} for r in results],
                "errors": errors,
                "warnings": warnings,
            }
        )
    else:
        _print(results, errors, indexed)
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
    if not episodes:
        print(f"{args.path}: no episodes to import", file=sys.stderr)
        return 1
    return 1 if errors else 0


def _index_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an episode index (0, 1, ...), got {text!r}")
    return value


def _episodes(args: argparse.Namespace, catalog: Catalog) -> list[ResolvedEpisode]:
    if args.episode is not None:
        return [resolve(f"{args.path}#{args.episode}", catalog)]
    path = Path(args.path).expanduser()
    if not args.all or not path.exists():
        try:
            return [resolve(args.path, catalog)]
        except EpisodeNotFoundError as exc:
            if not path.exists():
                raise
            raise EpisodeNotFoundError(f"{exc}, or pass --episode N or --all") from exc
    from robotrace_desktop.readers.registry import reader_for

    path = path.resolve()
    found = []
    for info in reader_for(path).index(path):
        row = catalog.find(info.path, info.episode_index)  # the user's overrides, if scanned
        found.append(
            ResolvedEpisode(row, True) if row is not None else ResolvedEpisode(info, False)
        )
    return found


def _import_all(
    args: argparse.Namespace, episodes: list[ResolvedEpisode]
) -> tuple[list[ImportResult], list[str]]:
    from robotrace_desktop.bundle.stale import clean_stale_leftovers
    from robotrace_desktop.convert.to_bundle import (
        check_destination,
        default_import_root,
        import_episode,
    )

    for resolved in episodes:  # one clear refusal before anything is written
        check_destination(resolved.info, args.dest or default_import_root())
    clean_stale_leftovers(args.dest or default_import_root())  # left by a kill -9
    results: list[ImportResult] = []
    errors: list[str] = []
    update, close = progress_bar(
        enabled=args.all and sys.stderr.isatty() and not args.json, unit="ep"
    )
    try:
        for done, resolved in enumerate(episodes):
            if update is not None:
                update(done, len(episodes), resolved.info.name)
            try:
                results.append(
                    import_episode(resolved.info, resolved.open, args.dest, replace=args.replace)
                )
            except RobotraceError as exc:
                if not args.all:
                    raise
                errors.append(str(exc))
        if update is not None:
            update(len(episodes), len(episodes), "")
    finally:
        close()
    return results, errors


def _index(
    args: argparse.Namespace, catalog: Catalog, results: list[ImportResult], errors: list[str]
) -> tuple[set[str], list[str]]:
    """Index the written bundles like a scan (fingerprints, so a later scan sees them as
    unchanged); returns the ids now in the catalog and Explain's complaints (warnings: the
    import itself succeeded)."""
    if args.no_index or not results:
        return set(), []
    from robotrace_desktop.library.scanner import scan

    try:
        summary = scan(catalog, [r.folder for r in results], explain=not args.no_explain)
    except RobotraceError as exc:
        summary = None
        reason = f"the catalog could not index it: {exc}"
    wanted = {r.episode_id for r in results}
    indexed = {i for i in wanted if _in_catalog(catalog, i)}
    if summary is None:
        _undo_unindexed(results, indexed, reason, errors)
        return indexed, []
    errors.extend(summary.problems)
    return indexed, [f"explain {e}" for e in summary.explain_errors]


def _undo_unindexed(
    results: list[ImportResult], indexed: set[str], reason: str, errors: list[str]
) -> None:
    """Never a bundle outside the catalog: a new bundle the catalog refused (disk full) is
    removed again, and each such episode is reported on its own line. A bundle that replaced
    or already was an earlier import stays: removing it would lose the earlier one."""
    from robotrace_desktop.bundle.writer import remove_bundle

    for result in list(results):
        if result.episode_id in indexed:
            continue
        if result.status == "imported":
            remove_bundle(result.folder)
            results.remove(result)
            errors.append(f"{result.source.name}: not imported (bundle removed): {reason}")
        else:
            errors.append(f"{result.source.name}: bundle {result.folder} not indexed: {reason}")


def _in_catalog(catalog: Catalog, episode: str) -> bool:
    try:
        catalog.get(episode)
    except RobotraceError:
        return False
    return True


def _print(results: list[ImportResult], errors: list[str], indexed: set[str]) -> None:
    for result in results:
        verb = {"exists": "already imported (use --replace to redo)"}.get(result.status, "")
        print(f"{result.source.name}: {verb or result.status}")
        print(f"  bundle: {result.folder}")
        note = "" if result.episode_id in indexed else " (not in the catalog)"
        print(f"  episode: {result.episode_id}{note}")
        for problem in result.problems:
            print(f"  problem: {problem}")
    if len(results) + len(errors) > 1:
        counts: dict[str, int] = {}
        for result in results:
            counts[result.status] = counts.get(result.status, 0) + 1
        parts = [f"{n} {status}" for status, n in sorted(counts.items())]
        print(", ".join([*parts, f"{len(errors)} error(s)"]))
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
