"""Every exported time reopens on the same frame, for every frame of every camera.

For each frame of the real videos in ../shared/data (G1 LeRobot v2.1 AV1 episodes 1, 2, 4, 5;
the SO-101 v3.0 wrist video whose six episodes share one file) and of generated ones (variable
frame rate, H.264 B-frames, HEVC open GOP, ROS image topics, the demo's two cameras at
different rates with a clock offset): frame start → every export form (deep link, bookmark JSON
/ CSV / Markdown, the time ``frame`` prints) → the link / TIME parser → the frame lookups the
viewer, ``frame`` and the exports use → the same frame, and the same frame on every other
camera. Only frame times are read (the packet index); no pixel is decoded here.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.catalog.bookmark_export import (
    bookmark_rows,
    bookmarks_markdown,
    frame_indices,
    to_csv,
    to_json,
)
from robotrace_desktop.catalog.bookmarks import Bookmark
from robotrace_desktop.core.episode import EpisodeInfo, StreamKind
from robotrace_desktop.core.frame_lookup import frame_index_at
from robotrace_desktop.core.links import EpisodeLink, parse_link
from robotrace_desktop.core.timebase import (
    format_ms,
    format_seconds_exact,
    parse_time,
    parse_time_ns,
)
from robotrace_desktop.readers.registry import reader_for
from robotrace_desktop.video.cache import FrameCache
from robotrace_desktop.video.container import ContainerVideo
from robotrace_desktop.video.frames import FrameSource
from tests.readers.ros_fixtures import write_rosbag2
from tests.video.video_fixtures import packet_order, write_video

G1 = "lerobot/g1_pick_bottle_v21"
SO101 = "lerobot/so101_v30"
G1_CAMERA = "observation.images.cam_high"
# camera → (frame source, clock offset added to its times, as the catalog's stream offsets)
Cameras = dict[str, tuple[FrameSource, int]]


# --- the formatter and the parser ---------------------------------------------------------


@pytest.mark.parametrize(
    ("t_ns", "link_form", "seconds_form"),
    [
        (8_033_333_333, "8033.333333ms", "8.033333333s"),
        (12_840_000_000, "12840ms", "12.840s"),
        (0, "0ms", "0.000s"),
        (1, "0.000001ms", "0.000000001s"),
        (66_666_667, "66.666667ms", "0.066666667s"),
        (-1_500_000, "-1.5ms", "-0.0015s"),
    ],
)
def test_exported_times_are_exact_and_parse_back(
    t_ns: int, link_form: str, seconds_form: str
) -> None:
    assert format_ms(t_ns) == link_form
    assert format_seconds_exact(t_ns) == seconds_form
    assert parse_time(link_form) == parse_time(seconds_form) == t_ns
    link = EpisodeLink("a8f6747b12416c42", t_ns).url()
    assert link == f"robotrace://episode/a8f6747b12416c42?t={link_form}"
    assert parse_link(link).t_ns == t_ns


def test_old_link_forms_still_open() -> None:
    for text, t_ns in [
        ("12840ms", 12_840_000_000),
        ("12.84s", 12_840_000_000),
        ("12.84", 12_840_000_000),
        ("8033333333ns", 8_033_333_333),
        ("8033333.333us", 8_033_333_333),
    ]:
        assert parse_link(f"robotrace://episode/abc123?t={text}").t_ns == t_ns


def test_the_issue_example_frame_241_of_a_30_fps_video(shared_data: Path) -> None:
    """A bookmark on frame 241 (8033.33 ms) exported ``?t=8033ms`` and reopened on frame 240."""
    reader = reader_for(shared_data / G1)
    with reader.open(shared_data / G1, 1) as episode:
        video = episode.video(G1_CAMERA)
        t_ns = int(video.frame_times_ns()[241])
        assert t_ns == 8_033_333_333
        assert video.frame_index_at(parse_time_ns("8033ms")) == 240  # the old, rounded link
        link = EpisodeLink("6b1a2cb18bd04cee", t_ns).url()
        assert link.endswith("?t=8033.333333ms")
        assert video.frame_index_at(parse_link(link).t_ns) == 241


# --- every frame of every camera ----------------------------------------------------------


def check_every_frame(info: EpisodeInfo, cameras: Cameras) -> int:
    """Round-trip every frame start of every camera through every export form; returns the
    number of frames checked."""
    frame_times = {
        name: np.asarray(source.frame_times_ns(), dtype=np.int64) + np.int64(offset)
        for name, (source, offset) in cameras.items()
    }
    checked = 0
    for camera, times in frame_times.items():
        source, offset = cameras[camera]
        assert len(times) > 1 and np.all(np.diff(times) > 0), camera
        marks = [Bookmark(i + 1, info.id, int(t), None, "", 0.0) for i, t in enumerate(times)]
        rows = json.loads(to_json(bookmark_rows(info, marks, frame_times)))
        table = list(csv.DictReader(io.StringIO(to_csv(bookmark_rows(info, marks, frame_times)))))
        markdown = bookmarks_markdown(info, marks, frame_times)
        md_links = re.findall(r"^Link: `(robotrace://[^`]+)`$", markdown, re.MULTILINE)
        md_times = re.findall(r"^\*\*Time:\*\* \S+ \(`([^`]+)`", markdown, re.MULTILINE)
        assert len(rows) == len(table) == len(md_links) == len(md_times) == len(times)
        for i, t in enumerate(int(v) for v in times):
            forms = {
                "copy link": EpisodeLink(info.id, t).url(),
                "json link": rows[i]["link"],
                "json t": rows[i]["t"],
                "csv link": table[i]["link"],
                "csv t": table[i]["t"],
                "markdown link": md_links[i],
                "markdown time": md_times[i],
                "frame output": format_seconds_exact(t),
            }
            expected_frames = frame_indices(frame_times, t)
            assert expected_frames[camera] == i
            assert rows[i]["frame_index"] == expected_frames  # what the export says it shows
            for form, text in forms.items():
                parsed = (
                    parse_link(text).t_ns if text.startswith("robotrace:") else parse_time(text)
                )
                assert parsed == t, (camera, i, form, text)
                assert isinstance(parsed, int)
                where = (camera, i, form, text)
                assert source.frame_index_at(parsed - offset) == i, where  # `frame`
                assert frame_index_at(times, parsed) == i, where  # the viewer's panes
                assert frame_indices(frame_times, parsed) == expected_frames, where  # all cameras
            checked += 1
    return checked


@contextmanager
def episode_cameras(path: Path, index: int | None) -> Iterator[tuple[EpisodeInfo, Cameras]]:
    reader = reader_for(path)
    (info,) = [e for e in reader.index(path) if e.episode_index == index]
    with reader.open(path, index) as episode:
        names = [s.name for s in info.streams_of(StreamKind.VIDEO) if not s.details.get("missing")]
        yield info, {name: (episode.video(name), 0) for name in names}


@pytest.mark.parametrize("index", [1, 2, 4, 5])
def test_every_frame_of_the_g1_av1_episodes(shared_data: Path, index: int) -> None:
    with episode_cameras(shared_data / G1, index) as (info, cameras):
        assert list(cameras) == [G1_CAMERA]
        count = check_every_frame(info, cameras)
    assert count == {1: 393, 2: 343, 4: 357, 5: 368}[index]


@pytest.mark.parametrize("index", range(6))
def test_every_frame_of_the_so101_episodes_in_one_file(shared_data: Path, index: int) -> None:
    with episode_cameras(shared_data / SO101, index) as (info, cameras):
        assert list(cameras) == ["observation.images.wrist"]
        count = check_every_frame(info, cameras)
    assert count == (383, 386, 379, 382, 90, 162)[index]


def _generated_info(path: Path) -> EpisodeInfo:
    return EpisodeInfo(f"gen-{path.stem}", "bundle", str(path), None, path.name)


def _single(path: Path) -> tuple[EpisodeInfo, Cameras, ExitStack]:
    stack = ExitStack()
    video = stack.enter_context(ContainerVideo(path, "cam", cache=FrameCache(0)))
    return _generated_info(path), {"cam": (video, 0)}, stack


def test_every_frame_of_a_variable_frame_rate_video(tmp_path: Path) -> None:
    """Irregular steps on a 90 kHz clock: no frame starts on a whole millisecond grid."""
    steps = np.random.default_rng(12).integers(1_000, 8_000, size=150)  # 11–89 ms
    pts = np.concatenate([[0], np.cumsum(steps)[:-1]])
    path = write_video(
        tmp_path / "vfr.mp4", "libx264", 150, pts=pts.tolist(), time_base=Fraction(1, 90_000)
    )
    info, cameras, stack = _single(path)
    with stack:
        times = cameras["cam"][0].frame_times_ns()
        assert np.any(times % 1_000_000 != 0), "fixture has only whole-ms frame times"
        assert check_every_frame(info, cameras) == 150


@pytest.mark.parametrize(
    ("codec", "name"), [("libx264", "bframes.mp4"), ("libx265-open-gop", "open_gop.mkv")]
)
def test_every_frame_of_b_frame_and_open_gop_videos(tmp_path: Path, codec: str, name: str) -> None:
    path = write_video(tmp_path / name, codec, 90)
    pts = packet_order(path)[0]
    assert pts != sorted(pts), "fixture has no reordered (B-) frames"
    info, cameras, stack = _single(path)
    with stack:
        assert check_every_frame(info, cameras) == 90


def test_every_frame_of_ros_image_topics(tmp_path: Path) -> None:
    """Four cameras of one bag (raw rgb8/bgr8/mono8 and JPEG), each frame on all four."""
    bag = write_rosbag2(
        tmp_path / "cams",
        "mcap",
        ks=range(30),
        only=("/camera/rgb", "/camera/bgr", "/camera/mono", "/camera/jpeg"),
    )
    with episode_cameras(bag, None) as (info, cameras):
        assert len(cameras) == 4
        assert check_every_frame(info, cameras) == 4 * 30


def test_every_frame_of_two_cameras_at_different_rates_with_an_offset(tmp_path: Path) -> None:
    """The demo: front 30 fps, wrist 15 fps starting 20 ms late, plus a user clock offset of
    12.345678 ms on the wrist — a time must land on the stepped camera's frame and on the frame
    every other camera shows at that moment."""
    from tests.demo_cache import demo_copy

    bundle = demo_copy(tmp_path / "demo")
    with episode_cameras(bundle, None) as (info, cameras):
        cameras["wrist"] = (cameras["wrist"][0], 12_345_678)
        assert check_every_frame(info, cameras) == 360 + 180
