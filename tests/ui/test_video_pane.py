"""Frame accuracy THROUGH the video pane: at playhead t the pane shows (and paints) the frame a
sequential decode shows at t — for long-GOP H.264 with B-frames, VFR, AV1, MJPEG, a ROS
CompressedImage topic and the real LeRobot AV1 file — after hundreds of random seeks forward and
backward, each time waiting until the pane has settled (decoding happens in its worker)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from pytestqt.qtbot import QtBot
from rosbags.rosbag2 import StoragePlugin
from rosbags.rosbag2 import Writer as Writer2

from robotrace_desktop.readers.registry import reader_for
from robotrace_desktop.ui.qimage import qimage_to_rgb
from robotrace_desktop.ui.video_pane import VideoPane
from robotrace_desktop.video.cache import FrameCache
from robotrace_desktop.video.container import ContainerVideo
from robotrace_desktop.video.frames import FrameSource
from robotrace_desktop.video.owned import camera_opener
from tests.readers.ros_fixtures import encode_jpeg, ros2_store
from tests.ui.pane_helpers import (
    Panes,
    expected_index,
    nominal_ns,
    painted,
    random_times,
    settle,
    write_long_gop_h264,
)
from tests.video.video_fixtures import (
    frame_number,
    packet_order,
    paint_index,
    sequential_decode,
    write_video,
)

NS = 1_000_000_000


@pytest.fixture
def make_pane(qtbot: QtBot) -> Iterator[Panes]:
    panes = Panes(qtbot)
    yield panes
    panes.close_all()


def reference_times_ns(path: Path) -> np.ndarray:
    """Presentation times (ns) of a plain sequential PyAV decode, in output order."""
    pts, _ = sequential_decode(path)
    with av.open(str(path)) as container:
        tb = container.streams.video[0].time_base
    return np.array([round(p * tb * NS) for p in pts], dtype=np.int64)


def check_seeks(qtbot: QtBot, pane: VideoPane, times_list: list[int]) -> None:
    """Every playhead time: settled pane shows exactly the sequential-decode frame (index in
    shown_frame AND the number painted in the pixels), or the no-frame state outside."""
    times = pane.frame_times_ns()
    assert times is not None
    step = nominal_ns(times)
    for t in times_list:
        settle(qtbot, pane, t)
        want = expected_index(times, step, t)
        shown = pane.shown_frame()
        if want is None:
            assert shown is None, f"t={t}: expected no frame, pane shows {shown}"
            assert pane.current_image() is None
            assert "no frame at this time" in (pane.status_text() or "")
            continue
        assert shown == (want, int(times[want]), True), f"t={t}: want frame {want}, got {shown}"
        assert painted(pane) == want, f"t={t}: pixels show another frame than {want}"
        assert pane.status_text() is None


def cross_check_sequential(path: Path, pane: VideoPane, qtbot: QtBot, samples: int = 12) -> None:
    """The pane's frame times are the sequential decode's, and at the middle of sampled frame
    intervals the pane's pixels equal the sequentially decoded frame exactly."""
    ref_ns = reference_times_ns(path)
    _, ref_frames = sequential_decode(path)
    times = pane.frame_times_ns()
    assert times is not None and len(times) == len(ref_ns)
    assert np.max(np.abs(times - ref_ns)) <= 1_000  # same clock (ns rounding only)
    for i in random.Random(5).sample(range(len(ref_ns) - 1), min(samples, len(ref_ns) - 1)):
        settle(qtbot, pane, (int(ref_ns[i]) + int(ref_ns[i + 1])) // 2)
        image = pane.current_image()
        assert image is not None
        assert np.array_equal(qimage_to_rgb(image), ref_frames[i]), f"frame {i} pixels differ"


def container_opener(path: Path, budget: int = 2 << 20) -> Callable[[], FrameSource]:
    """A small cache so the seeks really decode (and evict) instead of hitting the cache."""
    return lambda: ContainerVideo(path, "cam", cache=FrameCache(budget))


def test_h264_long_gop_b_frames_300_random_seeks(
    tmp_path: Path, qtbot: QtBot, make_pane: Panes
) -> None:
    path = write_long_gop_h264(tmp_path / "long_gop.mp4", 360, gop=120)
    pts, _, keys = packet_order(path)
    assert pts != sorted(pts), "fixture has no B-frames"
    assert sum(keys) == 3, "fixture should have three 120-frame GOPs"
    pane = make_pane("cam", container_opener(path))
    times = pane.frame_times_ns()
    assert times is not None and len(times) == 360
    check_seeks(qtbot, pane, random_times(times, 300, seed=1))
    cross_check_sequential(path, pane, qtbot)


def test_variable_frame_rate(tmp_path: Path, qtbot: QtBot, make_pane: Panes) -> None:
    steps = np.random.default_rng(3).integers(12, 90, size=90)  # ms between frames
    pts_ms = np.concatenate([[0], np.cumsum(steps)[:-1]])
    path = write_video(
        tmp_path / "vfr.mkv", "libx264", 90, pts=pts_ms.tolist(), time_base=Fraction(1, 1000)
    )
    pane = make_pane("cam", container_opener(path))
    times = pane.frame_times_ns()
    assert times is not None
    np.testing.assert_array_equal(times, pts_ms * 1_000_000)
    longest = int(np.argmax(steps[:-1]))  # late in the longest gap: still the earlier frame
    check_seeks(qtbot, pane, [int(times[longest + 1]) - 1, *random_times(times, 100, seed=2)])
    cross_check_sequential(path, pane, qtbot, samples=8)


@pytest.mark.parametrize(
    ("codec", "name"),
    [
        ("libsvtav1", "av1.mp4"),
        ("mjpeg", "mjpeg.avi"),
        ("libx265", "hevc.mp4"),
        ("libx265-open-gop", "hevc_open_gop.mkv"),
        ("libvpx-vp9", "vp9.webm"),
    ],
)
def test_other_codecs(
    tmp_path: Path, qtbot: QtBot, make_pane: Panes, codec: str, name: str
) -> None:
    path = write_video(tmp_path / name, codec, 64)
    pane = make_pane("cam", container_opener(path))
    times = pane.frame_times_ns()
    assert times is not None and len(times) == 64
    check_seeks(qtbot, pane, random_times(times, 70, seed=3))
    cross_check_sequential(path, pane, qtbot, samples=6)


def write_compressed_image_bag(path: Path, count: int) -> tuple[Path, np.ndarray]:
    """A rosbag2 (mcap) with one CompressedImage topic (JPEG of paint_index(k)) recorded at
    irregular times; returns the path and the record times relative to the first message."""
    ts = ros2_store()
    msgtype = "sensor_msgs/msg/CompressedImage"
    rel = np.concatenate([[0], np.cumsum(np.random.default_rng(4).integers(20, 120, count - 1))])
    rel_ns = rel.astype(np.int64) * 1_000_000
    t0 = 1_700_000_000 * NS
    with Writer2(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conn = writer.add_connection("/cam/image/compressed", msgtype, typestore=ts)
        for k in range(count):
            stamp = t0 + int(rel_ns[k])
            header = ts.types["std_msgs/msg/Header"](
                stamp=ts.types["builtin_interfaces/msg/Time"](sec=stamp // NS, nanosec=stamp % NS),
                frame_id="cam",
            )
            msg = ts.types[msgtype](
                header=header,
                format="jpeg",
                data=np.frombuffer(encode_jpeg(paint_index(k)), np.uint8).copy(),
            )
            writer.write(conn, stamp, ts.serialize_cdr(msg, msgtype))
    return path, rel_ns


def test_ros_compressed_image_topic(tmp_path: Path, qtbot: QtBot, make_pane: Panes) -> None:
    bag, rel_ns = write_compressed_image_bag(tmp_path / "cam_bag", 40)
    reader = reader_for(bag)
    opener = camera_opener(lambda: reader.open(bag), "/cam/image/compressed")
    pane = make_pane("/cam/image/compressed", opener)
    times = pane.frame_times_ns()
    assert times is not None
    np.testing.assert_array_equal(times - times[0], rel_ns)
    check_seeks(qtbot, pane, random_times(times, 60, seed=6))
    # reference "sequential decode" of a topic: message k, decoded on its own
    with reader.open(bag) as episode:
        source = episode.video("/cam/image/compressed")
        for i in (0, 17, 39):
            settle(qtbot, pane, int(times[i]))
            assert np.array_equal(qimage_to_rgb(pane.current_image()), source.frame(i).rgb)
            assert frame_number(source.frame(i).rgb) == i


def test_real_lerobot_av1_through_the_pane(
    shared_data: Path, qtbot: QtBot, make_pane: Panes
) -> None:
    path = (
        shared_data / "lerobot/g1_pick_bottle_v21/videos/chunk-000/"
        "observation.images.cam_high/episode_000001.mp4"
    )
    wanted = [392, 0, 200, 199, 57, 301, 120, 121, 7, 388]
    reference: dict[int, np.ndarray] = {}
    with av.open(str(path)) as container:
        for k, frame in enumerate(container.decode(video=0)):
            if k in wanted:
                reference[k] = frame.to_ndarray(format="rgb24")
    pane = make_pane("observation.images.cam_high", container_opener(path, 64 << 20))
    times = pane.frame_times_ns()
    assert times is not None and len(times) == 393
    for i in wanted:
        settle(qtbot, pane, int(times[i]) + 10_000_000)  # 10 ms into frame i's interval
        assert pane.shown_frame() == (i, int(times[i]), True)
        assert np.array_equal(qimage_to_rgb(pane.current_image()), reference[i]), f"frame {i}"
    settle(qtbot, pane, int(times[-1]) + pane_nominal(pane))
    assert pane.shown_frame() is None and "video ended at 13.100 s" in pane.status_text()


def pane_nominal(pane: VideoPane) -> int:
    times = pane.frame_times_ns()
    assert times is not None
    return nominal_ns(times)
