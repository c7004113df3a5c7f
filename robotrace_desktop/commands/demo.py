"""``demo``: generate the built-in demo episode, index it, and show it — the first thing a new
user runs, so it must work on a fresh machine with nothing downloaded."""

from __future__ import annotations

import argparse
from pathlib import Path

from robotrace_desktop.commands import episode_cmds
from robotrace_desktop.commands.common import open_catalog, print_json
from robotrace_desktop.core.episode import StreamKind
from robotrace_desktop.core.links import EpisodeLink
from robotrace_desktop.core.timebase import format_ms, format_seconds
from robotrace_desktop.episodes import resolve
from robotrace_desktop.errors import RobotraceError
from robotrace_desktop.library.scanner import scan
from robotrace_desktop.video.images import write_png


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo", help="create the built-in demo episode, index it and show what went wrong"
    )
    parser.add_argument("--json", action="store_true", help="print the episode as JSON, no window")
    parser.add_argument("--no-gui", action="store_true", help="print the summary, no window")
    parser.add_argument(
        "--screenshot",
        type=Path,
        metavar="OUT.png",
        help="render the viewer on the failure offscreen into OUT.png and exit (no display needed)",
    )
    parser.add_argument("--size", default="1600x1000", help="window size for --screenshot")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from robotrace_desktop.commands.open_cmd import _size
    from robotrace_desktop.demo import ensure_demo_bundle

    size = _size(args.size)  # a bad --size fails before any work
    bundle = ensure_demo_bundle()
    with open_catalog(args) as catalog:
        # explained like any scan, so `list --cause` and the Findings column know the fault
        summary = scan(catalog, [bundle], explain=True)
        if summary.indexed == 0:
            raise RobotraceError("; ".join(summary.problems) or f"{bundle}: demo did not index")
        resolved = resolve(str(bundle), catalog)
    info = resolved.info
    truth = info.metadata.get("demo_truth", {})
    failure_ns = int(truth.get("failure_ns", 0)) or None
    frame_path = None
    cameras = info.streams_of(StreamKind.VIDEO)
    if failure_ns is not None and cameras:
        camera = cameras[0].name
        with resolved.open() as source:
            frame = source.video(camera).frame_at(failure_ns)
        if frame is not None:
            frame_path = write_png(bundle.parent / "failure_frame.png", frame.rgb)
    link = EpisodeLink(info.id, failure_ns).url()
    if args.json:
        data = info.to_dict()
        data.update(link=link, frame=None if frame_path is None else str(frame_path))
        print_json(data)
        return 0
    args.episode, args.json = info.id, False
    episode_cmds.run_show(args)
    print()
    if failure_ns is not None:
        print(f"failure at {format_seconds(failure_ns)}: {link}")
    if frame_path is not None:
        print(f"frame at the failure: {frame_path}")
    print(f"catalog: {catalog.path}")
    if args.screenshot is not None:
        from robotrace_desktop.ui.app import OpenRequest, screenshot

        out = screenshot(catalog.path, OpenRequest(info.id, failure_ns), args.screenshot, size=size)
        print(f"screenshot: {out}")
        return 0
    if args.no_gui:
        return 0
    from robotrace_desktop.ui.app import OpenRequest, has_display

    if not has_display():
        print(
            "no display here, so no window; render one offscreen with\n"
            f"  robotrace-desktop open {info.id} --t {format_ms(failure_ns or 0)} "
            "--screenshot demo.png"
        )
        return 0
    from robotrace_desktop.ui.app import run as run_gui

    return run_gui(catalog.path, [OpenRequest(info.id, failure_ns)])
