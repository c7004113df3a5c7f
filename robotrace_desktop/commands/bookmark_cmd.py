"""``bookmark add|list|export|delete``: the viewer's bookmarks from the shell.

The same store (``catalog.bookmarks``) and the same exports (``catalog.bookmark_export``) as the
viewer's Bookmarks panel: a bookmark added here shows in the panel, and an export lists the same
values, frame per camera included (stream clock offsets applied, as the panes show them).
Times are kept to the nanosecond, so every exported time and link reopens on the same frame.

Exit codes as the rest of the CLI: 0 done, 1 failure (the catalog could not be written…),
2 usage error (an unknown episode or bookmark, a bad time, ``--end`` not after ``--t``, a time
outside the episode, a format that does not match ``-o``).
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from robotrace_desktop.catalog import bookmarks as store
from robotrace_desktop.catalog.bookmark_export import (
    FRAME_KEY,
    bookmark_rows,
    bookmarks_markdown,
    to_csv,
    to_json,
)
from robotrace_desktop.catalog.bookmarks import Bookmark
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.commands.common import open_catalog, print_json, print_table
from robotrace_desktop.commands.terminal_text import terminal_safe, write_literal
from robotrace_desktop.core.episode import EpisodeInfo, StreamKind
from robotrace_desktop.core.timebase import (
    FrameRef,
    check_in_episode,
    format_seconds_exact,
    parse_episode_time_ns,
    parse_time,
)
from robotrace_desktop.episodes import ResolvedEpisode, resolve
from robotrace_desktop.errors import (
    EpisodeNotFoundError,
    RobotraceError,
    StorageError,
    StreamNotFoundError,
    ValidationError,
)

EXIT_OK, EXIT_USAGE = 0, 2
USAGE_ERRORS = (EpisodeNotFoundError, StreamNotFoundError, ValidationError)
FORMAT_SUFFIXES = {"json": (".json",), "csv": (".csv",), "md": (".md", ".markdown")}
FrameTimes = dict[str, np.ndarray]


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "bookmark", help="add, list, export or delete bookmarks (the viewer's, in the catalog)"
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="bookmark a moment (or a range) of an episode")
    add.add_argument("episode", metavar="EPISODE", help="catalog id, path, DATASET#index or link")
    add.add_argument(
        "--t",
        metavar="TIME",
        help="12840ms, 12.84s, 8033.333333ms or frame:385, relative to the episode start "
        "(default: the link's time)",
    )
    add.add_argument("--end", metavar="TIME", help="end of a range (after --t)")
    add.add_argument("--note", default="", metavar="TEXT")
    add.add_argument(
        "--camera", metavar="NAME", help="the camera frame:N counts frames of (default: the first)"
    )
    add.add_argument("--json", action="store_true", help="print the bookmark as its export row")
    add.set_defaults(handler=_usage_exit(run_add))

    lister = actions.add_parser("list", help="the bookmarks of one episode, or of every one")
    lister.add_argument("episode", nargs="?", metavar="EPISODE")
    lister.add_argument("--json", action="store_true")
    lister.set_defaults(handler=_usage_exit(run_list))

    export = actions.add_parser("export", help="bookmarks as JSON, CSV or Markdown")
    export.add_argument("episodes", nargs="*", metavar="EPISODE")
    export.add_argument("--all", action="store_true", help="every episode with bookmarks")
    export.add_argument(
        "--format", choices=list(FORMAT_SUFFIXES), help="json, csv or md (default: from -o)"
    )
    export.add_argument(
        "-o", "--output", type=Path, metavar="OUT", help="file to write (default: stdout)"
    )
    export.set_defaults(handler=_usage_exit(run_export))

    delete = actions.add_parser("delete", help="delete bookmarks by id (see bookmark list)")
    delete.add_argument("ids", nargs="+", type=int, metavar="ID")
    delete.set_defaults(handler=_usage_exit(run_delete))


def _usage_exit(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Mistakes in what was typed exit 2 like argparse's own; other errors reach cli.main (1)."""

    @functools.wraps(run)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except USAGE_ERRORS as exc:
            print(f"robotrace-desktop bookmark {args.action}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE

    return wrapper


# --- add ----------------------------------------------------------------------------------


def run_add(args: argparse.Namespace) -> int:
    with open_catalog(args) as catalog:
        resolved = _catalog_episode(args.episode, catalog)
        info = resolved.info
        frame_times = _frame_times_of(catalog, info)
        text = args.t or (None if resolved.t_ns is None else f"{resolved.t_ns}ns")
        if text is None:
            raise ValidationError("give --t TIME (or an EPISODE link with ?t=)")
        if args.camera is not None and args.camera not in frame_times:
            raise StreamNotFoundError(
                f"episode {info.id} has no readable camera {args.camera!r} "
                f"(cameras: {', '.join(frame_times) or 'none'})"
            )
        t_ns = _episode_time("--t", text, info, frame_times, args.camera)
        end_ns = None
        if args.end is not None:
            end_ns = _episode_time("--end", args.end, info, frame_times, args.camera)
            if end_ns <= t_ns:
                raise ValidationError(
                    f"--end {args.end} ({format_seconds_exact(end_ns)}) must be after "
                    f"--t {text} ({format_seconds_exact(t_ns)})"
                )
        mark = store.add_bookmark(catalog, info.id, t_ns, args.note, end_ns)
    (row,) = bookmark_rows(info, [mark], frame_times)
    if args.json:
        print_json(row)
    else:
        _print_bookmark(info, mark, row)
    return EXIT_OK


def _episode_time(
    flag: str, text: str, info: EpisodeInfo, frame_times: FrameTimes, camera: str | None
) -> int:
    """TIME → episode ns; ``frame:N`` is frame N's start on ``camera`` (default the first)."""
    if not text.strip().lower().startswith("frame:"):
        return parse_episode_time_ns(flag, text, info.duration_ns)
    value = parse_time(text)
    if isinstance(value, FrameRef):
        name = camera or next(iter(frame_times), None)
        if name is None:
            raise StreamNotFoundError(
                f"{flag} {text}: episode {info.id} has no readable camera to count frames of"
            )
        times = frame_times[name]
        if value.index >= len(times):
            raise ValidationError(f"{flag} {text}: {name} has {len(times)} frames")
        value = int(times[value.index])
    return check_in_episode(flag, text, value, info.duration_ns)


def _print_bookmark(info: EpisodeInfo, mark: Bookmark, row: dict[str, Any]) -> None:
    print(f"bookmark {mark.id} on {terminal_safe(info.name)} ({info.id})")
    print(f"  at     {format_seconds_exact(mark.t_ns)}")
    if mark.t_end_ns is not None:
        print(f"  until  {format_seconds_exact(mark.t_end_ns)}")
    print(f"  link   {row['link']}")
    for camera, index in row[FRAME_KEY].items():
        shown = "— (outside the video)" if index is None else f"#{index}"
        print(f"  frame  {terminal_safe(camera)} {shown}")
    if mark.note:
        print(f"  note   {terminal_safe(mark.note)}")


# --- list ---------------------------------------------------------------------------------


def run_list(args: argparse.Namespace) -> int:
    with open_catalog(args) as catalog:
        if args.episode:
            info = _catalog_episode(args.episode, catalog).info
            groups = [(info, store.list_bookmarks(catalog, info.id))]
        else:
            groups = _by_episode(catalog, store.all_bookmarks(catalog))
    rows = [row for info, marks in groups for row in bookmark_rows(info, marks)]
    if args.json:
        print_json([{k: v for k, v in row.items() if k != FRAME_KEY} for row in rows])
        return EXIT_OK
    if not rows:
        where = f" on {groups[0][0].id}" if args.episode else ""
        print(f"no bookmarks{where} (`robotrace-desktop bookmark add` adds one)", file=sys.stderr)
        return EXIT_OK
    print_table(
        ["ID", "EPISODE", "NAME", "AT", "UNTIL", "NOTE"],
        [
            [
                str(mark.id),
                info.id,
                terminal_safe(info.name),
                format_seconds_exact(mark.t_ns),
                "-" if mark.t_end_ns is None else format_seconds_exact(mark.t_end_ns),
                terminal_safe(mark.note),
            ]
            for info, marks in groups
            for mark in marks
        ],
    )
    return EXIT_OK


# --- export -------------------------------------------------------------------------------


def run_export(args: argparse.Namespace) -> int:
    if args.all == bool(args.episodes):
        raise ValidationError("give one or more EPISODEs or --all")
    fmt = _export_format(args.format, args.output)
    with open_catalog(args) as catalog:
        if args.all:
            groups = _by_episode(catalog, store.all_bookmarks(catalog))
        else:
            infos = {}
            for argument in args.episodes:
                info = _catalog_episode(argument, catalog).info
                infos[info.id] = info
            groups = [(i, store.list_bookmarks(catalog, i.id)) for i in infos.values()]
        timed = [
            (info, marks, _frame_times_of(catalog, info) if marks else {}) for info, marks in groups
        ]
    if fmt == "md":
        text = "\n".join(bookmarks_markdown(info, marks, times) for info, marks, times in timed)
    else:
        rows = [row for info, marks, times in timed for row in bookmark_rows(info, marks, times)]
        text = to_json(rows) if fmt == "json" else to_csv(rows)
    count = sum(len(marks) for _, marks, _ in timed)
    if args.output is None:
        write_literal(text)
    else:
        try:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            with args.output.open("w", encoding="utf-8", newline="") as handle:
                handle.write(text)
        except OSError as exc:
            raise StorageError(f"{args.output}: cannot write: {exc.strerror or exc}") from exc
        print(f"{args.output}: {count} bookmark(s) ({fmt})", file=sys.stderr)
    if count == 0:
        print("no bookmarks to export", file=sys.stderr)
    return EXIT_OK


def _export_format(fmt: str | None, output: Path | None) -> str:
    """--format, else the suffix of -o; a suffix that names another format is a usage error
    (never a CSV silently written to ``bookmarks.json``)."""
    suffix = output.suffix.lower() if output is not None else ""
    by_suffix = next((f for f, s in FORMAT_SUFFIXES.items() if suffix in s), None)
    if fmt is None:
        if by_suffix is None:
            raise ValidationError(
                "give --format json|csv|md"
                + (f" (the suffix of {output} names none of them)" if output else "")
            )
        return by_suffix
    if suffix and by_suffix != fmt:
        raise ValidationError(
            f"-o {output} does not match --format {fmt}: use a {FORMAT_SUFFIXES[fmt][0]} file"
        )
    return fmt


# --- delete -------------------------------------------------------------------------------


def run_delete(args: argparse.Namespace) -> int:
    with open_catalog(args) as catalog:
        marks = [store.get_bookmark(catalog, i) for i in dict.fromkeys(args.ids)]  # all exist
        for mark in marks:
            store.delete_bookmark(catalog, mark.id)
            print(f"deleted bookmark {mark.id} ({mark.episode_id} at {_at(mark)})")
    return EXIT_OK


def _at(mark: Bookmark) -> str:
    start = format_seconds_exact(mark.t_ns)
    return start if mark.t_end_ns is None else f"{start}–{format_seconds_exact(mark.t_end_ns)}"


# --- shared -------------------------------------------------------------------------------


def _catalog_episode(argument: str, catalog: Catalog) -> ResolvedEpisode:
    resolved = resolve(argument, catalog)
    if not resolved.in_catalog:
        raise EpisodeNotFoundError(
            f"{argument} is not in the catalog {catalog.path}; bookmarks are kept there: "
            "scan the recording first (robotrace-desktop scan PATH)"
        )
    return resolved


def _by_episode(
    catalog: Catalog, marks: Iterable[Bookmark]
) -> list[tuple[EpisodeInfo, list[Bookmark]]]:
    """Bookmarks grouped under their episode. An episode the index lost (a rebuilt catalog)
    keeps its bookmarks under a placeholder naming its id: user data is never dropped."""
    groups: dict[str, list[Bookmark]] = {}
    for mark in marks:
        groups.setdefault(mark.episode_id, []).append(mark)
    out = []
    for episode_id, group in groups.items():
        try:
            info = catalog.get(episode_id)
        except EpisodeNotFoundError:
            print(
                f"warning: episode {episode_id} is not in the catalog (rescan its recording); "
                f"its {len(group)} bookmark(s) are listed without episode details",
                file=sys.stderr,
            )
            info = EpisodeInfo(episode_id, "unknown", "", None, f"(episode {episode_id})")
        out.append((info, group))
    return out


def _frame_times_of(catalog: Catalog, info: EpisodeInfo) -> FrameTimes:
    """camera → frame start times in episode time (the catalog's stream offsets applied), as
    the viewer's panes have them. A camera whose video is missing or unreadable has none (a
    warning says why); a placeholder episode (no recording) has no cameras."""
    videos = [s.name for s in info.streams_of(StreamKind.VIDEO) if not s.details.get("missing")]
    times: FrameTimes = {}
    if not videos or not info.path:
        return times
    offsets = catalog.stream_offsets(info.id)
    try:
        with ResolvedEpisode(info, in_catalog=True).open() as source:
            for name in videos:
                try:
                    starts = np.asarray(source.video(name).frame_times_ns(), dtype=np.int64)
                except RobotraceError as exc:
                    _warn_frames(info, str(exc))
                    continue
                if len(starts):
                    times[name] = starts + np.int64(offsets.get(name, 0))
    except RobotraceError as exc:
        _warn_frames(info, str(exc))
    return times


def _warn_frames(info: EpisodeInfo, reason: str) -> None:
    print(
        f"warning: {info.id}: frame indices unknown: {terminal_safe(reason)}",
        file=sys.stderr,
    )
