"""``open EPISODE [--t TIME] [--screenshot OUT.png]``: the viewer on one moment of an episode.

With ``--screenshot`` the window is rendered offscreen at that moment (no EPISODE: the catalog)
and the command exits — for bug reports and CI. Qt is imported only here, when a window is
actually wanted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from robotrace_desktop import paths
from robotrace_desktop.core.timebase import parse_time_ns
from robotrace_desktop.errors import ValidationError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("open", help="open the viewer on an episode (or take a screenshot)")
    parser.add_argument(
        "episode", nargs="?", metavar="EPISODE", help="id, path, DATASET#index or link"
    )
    parser.add_argument("--t", metavar="TIME", help="playhead time, e.g. 12.84s or 12840ms")
    parser.add_argument("--screenshot", type=Path, metavar="OUT.png", help="render and exit")
    parser.add_argument("--size", default="1600x1000", help="window size for --screenshot")
    parser.add_argument(
        "--new-window", action="store_true", help="do not hand over to a running window"
    )
    parser.set_defaults(handler=run)


def catalog_of(args: argparse.Namespace) -> Path:
    return Path(args.catalog) if args.catalog else paths.catalog_path()


def run(args: argparse.Namespace) -> int:
    from robotrace_desktop.ui.app import OpenRequest, has_display

    t_ns = parse_time_ns(args.t) if args.t else None
    requests = [OpenRequest(args.episode, t_ns)] if args.episode else []
    if args.screenshot is not None:  # no EPISODE: the catalog window
        from robotrace_desktop.ui.app import screenshot

        request = requests[0] if requests else None
        out = screenshot(catalog_of(args), request, args.screenshot, size=_size(args.size))
        print(out)
        return 0
    if not has_display():
        print(
            "robotrace-desktop: no display (DISPLAY/WAYLAND_DISPLAY unset); use --screenshot "
            "OUT.png to render offscreen",
            file=sys.stderr,
        )
        return 1
    from robotrace_desktop.ui.app import run as run_gui

    return run_gui(catalog_of(args), requests, new_window=args.new_window)


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValidationError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 1600x1000") from None
    return width, height
