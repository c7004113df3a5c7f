"""``frame EPISODE --t TIME ... -o OUT``: the exact frame shown at each time, as PNG.

Each line names the frame and its own start time in episode time, to the nanosecond
(``frame 241 at 8.033333333s``): two frames never print alike, and the time pastes back as a
TIME that lands on that frame.

All times of one call share one process, one opened episode and one decoder per camera, so
asking for many frames costs one index build, not one per frame.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from robotrace_desktop.commands.common import catalog_for_reading, print_json
from robotrace_desktop.core.episode import StreamKind
from robotrace_desktop.core.timebase import (
    FrameRef,
    format_seconds,
    format_seconds_exact,
    parse_time,
)
from robotrace_desktop.episodes import resolve
from robotrace_desktop.errors import StreamNotFoundError, ValidationError
from robotrace_desktop.video.images import write_png

if TYPE_CHECKING:
    from robotrace_desktop.video.frames import FrameSource


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("frame", help="save the exact video frame shown at given times")
    parser.add_argument("episode", metavar="EPISODE")
    parser.add_argument(
        "--t",
        action="append",
        metavar="TIME",
        help="12840ms, 12.84s, 12.84 or frame:385 "
        "(relative to the episode start; repeatable; default: the link's time)",
    )
    parser.add_argument(
        "--camera", action="append", metavar="NAME", help="video stream (repeatable; default all)"
    )
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT")
    parser.add_argument("--json", action="store_true", help="print what was written as JSON")
    parser.set_defaults(handler=run)


def safe_name(camera: str) -> str:
    return camera.strip("/").replace("/", "_").replace("\\", "_") or "camera"


def run(args: argparse.Namespace) -> int:
    with catalog_for_reading(args) as catalog:
        resolved = resolve(args.episode, catalog)
        offsets = catalog.stream_offsets(resolved.info.id) if resolved.in_catalog else {}
    info = resolved.info
    videos = [s.name for s in info.streams_of(StreamKind.VIDEO)]
    if not videos:
        raise StreamNotFoundError(f"episode {info.id} ({info.name}) has no video stream")
    cameras = args.camera or videos
    for camera in cameras:
        if camera not in videos:
            raise StreamNotFoundError(
                f"episode {info.id} has no camera {camera!r} (cameras: {', '.join(videos)})"
            )
    texts = args.t or ([] if resolved.t_ns is None else [f"{resolved.t_ns}ns"])
    if not texts:
        raise ValidationError("frame: give --t TIME (or an EPISODE link with ?t=)")
    times = [parse_time(t) for t in texts]
    single = len(times) == 1 and (len(cameras) == 1 or args.output.suffix.lower() == ".png")
    if single and len(cameras) > 1:
        cameras = cameras[:1]
        print(f"one time, several cameras: writing {cameras[0]} (use --camera)", file=sys.stderr)

    written: list[dict[str, object]] = []
    failures: list[str] = []
    lines: list[str] = []
    with resolved.open() as source:
        sources: dict[str, FrameSource] = {c: source.video(c) for c in cameras}
        reference = sources[cameras[0]]
        for text, value in zip(texts, times, strict=True):
            t_ns = _resolve_time(value, reference, offsets.get(cameras[0], 0))
            for camera in cameras:
                target = sources[camera]
                local = t_ns - offsets.get(camera, 0)
                index = target.frame_index_at(local)
                if index is None:
                    failures.append(
                        f"{camera}: no frame at {text} ({format_seconds(t_ns)}); video covers "
                        f"{_coverage(target)}"
                    )
                    continue
                frame = target.frame(index)
                start_ns = frame.t_ns + offsets.get(camera, 0)  # episode time
                out = args.output if single else args.output / f"{safe_name(camera)}_{t_ns}.png"
                write_png(out, frame.rgb)
                written.append(
                    {
                        "camera": camera,
                        "t_ns": t_ns,
                        "frame_index": index,
                        "frame_t_ns": start_ns,
                        "path": str(out),
                    }
                )
                lines.append(f"{out}  {camera} frame {index} at {format_seconds_exact(start_ns)}")
    if args.json:
        print_json({"episode": info.id, "frames": written, "errors": failures})
    else:
        for line in lines:
            print(line)
    for failure in failures:
        print(f"robotrace-desktop: error: {failure}", file=sys.stderr)
    return 0 if not failures else 1


def _resolve_time(value: int | FrameRef, camera: FrameSource, offset_ns: int) -> int:
    if isinstance(value, int):
        return value
    times = camera.frame_times_ns()
    if value.index >= len(times):
        raise ValidationError(
            f"frame:{value.index} is past the last frame of {camera.name} ({len(times)} frames)"
        )
    return int(times[value.index]) + offset_ns


def _coverage(camera: FrameSource) -> str:
    times = camera.frame_times_ns()
    if len(times) == 0:
        return "no frames"
    end = int(times[-1]) + camera.nominal_frame_ns()
    return f"{format_seconds(int(times[0]))}–{format_seconds(end)}"
