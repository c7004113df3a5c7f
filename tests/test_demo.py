"""The built-in demo episode: deterministic, indexable, and carrying the fault it promises."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop import demo as demo_module
from robotrace_desktop import paths
from robotrace_desktop.bundle.manifest import MANIFEST_NAME
from robotrace_desktop.catalog.findings import findings_for, top_findings
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.cli import main
from robotrace_desktop.core import colors
from robotrace_desktop.core.episode import Outcome, Status, StreamKind
from robotrace_desktop.demo import (
    demo_episode_dir,
    ensure_demo_bundle,
    read_frame_number,
    write_demo_bundle,
)
from robotrace_desktop.errors import ConfigurationError, StorageError
from robotrace_desktop.readers.bundle.reader import BundleReader
from robotrace_desktop.video.images import decode_image_bytes
from tests.demo_cache import demo_copy

MS = 1_000_000
READER = BundleReader()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo_bundle(tmp_path_factory.mktemp("demo") / "bundle")


def test_index_reports_the_failed_run(demo: Path) -> None:
    assert READER.sniff(demo) == 1.0
    info = next(READER.index(demo))
    assert info.status == Status.FAILED and info.outcome == Outcome.FAILURE
    assert not info.problems
    assert (info.source, info.robot) == ("sim", "demo-arm-7dof")
    assert (info.policy_version, info.env_version, info.seed) == ("pick-v0.3.1", "tabletop-v2", 7)
    assert info.git_sha is not None and len(info.git_sha) == 40
    int(info.git_sha, 16)
    assert info.task == "pick the red cube and place it in the bin"
    assert info.metadata["failure_reason"].startswith("GraspError: object slipped")
    assert info.duration_ns == 12_000 * MS
    kinds = {s.name: s.kind for s in info.streams}
    assert kinds == {
        "front": StreamKind.VIDEO,
        "wrist": StreamKind.VIDEO,
        "/joint_states": StreamKind.SIGNAL,
        "/action": StreamKind.SIGNAL,
        "/log": StreamKind.EVENT,
    }
    joints = info.stream("/joint_states")
    assert joints.count == 1200 and joints.rate_hz == pytest.approx(100.0)
    assert "position/joint_7" in joints.channels and "effort/gripper" in joints.channels
    assert len(joints.channels) == 24
    action = info.stream("/action")
    assert action.count == 360 and action.rate_hz == pytest.approx(30.0)
    assert action.channels[-1] == "gripper" and action.details["role"] == "action"
    front = info.stream("front")
    assert front.count == 360 and (front.details["width"], front.details["height"]) == (320, 240)
    assert front.details["codec"] == "h264"
    assert [s.name for s in info.streams_of(StreamKind.VIDEO)] == ["front", "wrist"]
    wrist = info.stream("wrist")
    assert wrist.count == 180 and wrist.rate_hz == pytest.approx(15.0)
    assert (wrist.details["width"], wrist.details["height"]) == (240, 180)
    assert (wrist.t_start_ns, wrist.t_end_ns) == (20 * MS, 20 * MS + 179 * 1_000_000_000 // 15)


def test_the_fault_is_in_the_data(demo: Path) -> None:
    info = next(READER.index(demo))
    truth = info.metadata["demo_truth"]
    assert truth["gripper_close_command_ns"] == 3_900 * MS
    assert truth["cube_reached_ns"] == 5_600 * MS and truth["failure_ns"] == 7_500 * MS
    with READER.open(demo) as episode:
        action = episode.read_signal("/action")
        gripper = action.channel("gripper")
        first_closed = int(action.t_ns[np.argmax(gripper > 0.5)])
        assert first_closed == truth["gripper_close_command_ns"]
        assert set(np.unique(gripper).tolist()) == {0.0, 1.0}
        sensors = episode.read_signal("/joint_states", 3_900 * MS, 7_500 * MS)
        assert np.abs(sensors.channel("effort/gripper")).max() < 0.3  # nothing grasped
        width = sensors.channel("position/gripper")
        assert width[sensors.t_ns >= 4_500 * MS].max() < 0.005  # closed on air before the cube
        events = episode.read_events("/log")
        levels = {e.level for e in events}
        assert {"INFO", "WARN", "ERROR"} <= levels
        error = next(e for e in events if e.level == "ERROR")
        assert error.t_ns == truth["failure_ns"] and error.text.startswith("GraspError")
        assert any(e.level == "WARN" and "gripper closed early" in e.text for e in events)

        video = episode.video("front")
        frame = video.frame_at(3_900 * MS)
        assert frame is not None and frame.index == 117 and frame.t_ns == 3_900 * MS
        assert read_frame_number(frame.rgb) == 117
        last = video.frame(359)
        assert read_frame_number(last.rgb) == 359
        assert last.rgb[0, 160].tolist()[0] > 180  # red failure border after 7.5 s
        assert read_frame_number(video.frame(100).rgb) == 100


def _jaw_tips(rgb: np.ndarray) -> tuple[int, int]:
    """x of the left jaw's inner edge and the right jaw's, read on the wrist image's bottom row
    (the jaws are the dark blocks filling in from the image edges)."""
    dark = np.flatnonzero(rgb[-10].astype(int).sum(axis=1) < 200)
    left = dark[dark < rgb.shape[1] // 2]
    right = dark[dark >= rgb.shape[1] // 2]
    return int(left.max()), int(right.min())


def test_wrist_camera_runs_at_its_own_rate_and_sees_the_early_close(demo: Path) -> None:
    with READER.open(demo) as episode:
        wrist = episode.video("wrist")
        times = wrist.frame_times_ns()
        assert len(times) == 180 and int(times[0]) == 20 * MS
        assert int(times[1]) - int(times[0]) == pytest.approx(1e9 / 15, abs=1)
        assert wrist.frame_index_at(10 * MS) is None  # before the wrist camera's first frame
        frame = wrist.frame_at(3_900 * MS)
        assert frame is not None and frame.index == 58  # 20 ms + 58/15 s = 3.8867 s
        assert frame.t_ns == 20 * MS + round(58e9 / 15)
        assert frame.rgb.shape == (180, 240, 3)
        assert read_frame_number(frame.rgb) == 58
        front = episode.video("front").frame_at(3_900 * MS)
        assert front is not None and front.index == 117  # the cameras step differently
        # Jaws wide open before the command, shut by 4.5 s: long before the cube (5.6 s).
        open_l, open_r = _jaw_tips(wrist.frame_at(3_000 * MS).rgb)
        shut_l, shut_r = _jaw_tips(wrist.frame_at(4_500 * MS).rgb)
        assert open_r - open_l > 150 and shut_r - shut_l < 40

        # The cube grows as the hand descends onto it.
        def red_area(t_ns: int) -> int:
            rgb = wrist.frame_at(t_ns).rgb.astype(int)
            return int(((rgb[..., 0] > 170) & (rgb[..., 1] < 80)).sum())

        assert red_area(5_600 * MS) > 4 * red_area(3_000 * MS) > 0
        for index in (0, 1, 90, 179):
            assert read_frame_number(wrist.frame(index).rgb) == index


def test_joint_torques_are_gravity_loaded_and_spike_free(demo: Path) -> None:
    with READER.open(demo) as episode:
        sensors = episode.read_signal("/joint_states")
        shoulder = sensors.channel("effort/joint_2")
        assert np.abs(shoulder).min() > 5.0 and np.abs(shoulder).max() < 40.0  # holds the arm
        efforts = np.column_stack([sensors.channel(f"effort/joint_{i}") for i in range(1, 8)])
        assert np.abs(efforts).max() < 40.0  # no start-up spike from a t < 0 plan
        position = sensors.channel("position/joint_4")
        assert abs(position[0] - (-2.0)) < 0.01  # the arm starts at home, not at zero


def test_same_seed_same_values(tmp_path: Path, demo: Path) -> None:
    """``demo`` is written by this module; the second write of seed 7 and the seed-8 bundle are
    the run's shared ones (``demo_copy``: written once per run by whichever test process first
    needed them, a separate ``write_demo_bundle`` call each), so this checks that two writes of
    one seed, perhaps in two processes, give the same bytes without two more H.264 encodes."""
    again = demo_copy(tmp_path / "again")
    other_seed = demo_copy(tmp_path / "other", seed=8)
    with READER.open(demo) as a, READER.open(again) as b, READER.open(other_seed) as c:
        for stream in ("/joint_states", "/action"):
            np.testing.assert_array_equal(
                a.read_signal(stream).values, b.read_signal(stream).values
            )
            np.testing.assert_array_equal(a.read_signal(stream).t_ns, b.read_signal(stream).t_ns)
        assert not np.array_equal(
            a.read_signal("/joint_states").values, c.read_signal("/joint_states").values
        )
    for name in (
        "video/front.mp4",
        "video/wrist.mp4",
        "signals/actions.npz",
        "signals/joint_states.parquet",
    ):
        assert (demo / name).read_bytes() == (again / name).read_bytes()


def test_frames_handed_to_the_encoder_have_no_stale_bytes_in_their_row_padding() -> None:
    """The wrist camera's 120-px chroma rows sit in 128-byte lines; x264 reads the padding, so
    stale bytes there (left by frames freed earlier) made the same demo encode to different
    bytes in a process that had done other work first (the suite's byte-equality check failed
    on a busy worker)."""
    import av

    for _ in range(20):  # freed frames full of 0xFF, which the next allocation may reuse
        stale = av.VideoFrame(demo_module.WRIST_WIDTH, demo_module.WRIST_HEIGHT, "yuv420p")
        for plane in stale.planes:
            plane.update(np.full(plane.buffer_size, 255, np.uint8))
        del stale
        rgb = np.full((demo_module.WRIST_HEIGHT, demo_module.WRIST_WIDTH, 3), 90, np.uint8)
        frame = demo_module.yuv420p_frame(rgb)
        for plane in frame.planes:
            lines = np.frombuffer(bytes(plane), np.uint8).reshape(plane.height, plane.line_size)
            assert not lines[:, plane.width :].any()


def test_the_same_frames_encode_to_the_same_bytes_after_the_heap_held_other_frames(
    tmp_path: Path,
) -> None:
    """With x264's macroblock-tree rate control the demo's front video came out in one of two
    encodings depending on what the process had allocated and freed before (the byte-equality
    check above failed on a busy test worker)."""
    import av

    frames = list(demo_module.render_frames())
    first = demo_module.encode_video(tmp_path / "a.mp4", frames).read_bytes()
    for size in ((240, 180), (320, 240), (640, 480)) * 60:  # freed frames full of 0xFF
        stale = av.VideoFrame(*size, "yuv420p")
        for plane in stale.planes:
            plane.update(np.full(plane.buffer_size, 255, np.uint8))
        del stale
    junk = [np.full(n, 255, np.uint8) for n in range(1000, 400_000, 9_000)]
    del junk
    for k in range(3):
        again = demo_module.encode_video(tmp_path / f"b{k}.mp4", frames).read_bytes()
        assert again == first


def test_rewrite_replaces_only_a_bundle(tmp_path: Path) -> None:
    dest = demo_copy(tmp_path / "d")  # an earlier demo (a write's exact bytes); then rewrite it
    (dest / "stale.txt").write_text("old")
    write_demo_bundle(dest)
    assert not (dest / "stale.txt").exists() and (dest / MANIFEST_NAME).is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("keep me")
    with pytest.raises(ConfigurationError, match="not an episode bundle"):
        write_demo_bundle(precious)
    assert (precious / "thesis.tex").read_text() == "keep me"


def test_a_failed_rewrite_keeps_the_earlier_demo_and_leaves_no_temp_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = demo_copy(tmp_path / "d")  # the earlier demo (a write's exact bytes)
    before = {p.relative_to(dest): p.read_bytes() for p in dest.rglob("*") if p.is_file()}

    def disk_full(path: Path, *args: object, **kwargs: object) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(demo_module, "encode_video", disk_full)
    with pytest.raises(StorageError, match="disk full"):
        write_demo_bundle(dest)
    assert {p.relative_to(dest): p.read_bytes() for p in dest.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["d"]


def test_demo_episode_dir_is_in_the_library(robotrace_home: Path) -> None:
    target = demo_episode_dir()
    assert target == paths.library_dir() / "demo" / "pick-and-place-seed7"
    assert target.is_relative_to(robotrace_home)
    assert ensure_demo_bundle() == target and (target / MANIFEST_NAME).is_file()
    mtime = (target / MANIFEST_NAME).stat().st_mtime_ns
    assert ensure_demo_bundle() == target
    assert (target / MANIFEST_NAME).stat().st_mtime_ns == mtime  # not rewritten


def test_demo_screenshot_renders_the_failure_offscreen(tmp_path: Path) -> None:
    """``demo --screenshot`` (what packaging/build_linux.sh runs on the built app) in a fresh
    process without a display: the window at the failure moment, with real camera frames."""
    out = tmp_path / "shots" / "demo.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "ROBOTRACE_HOME": str(tmp_path / "home")}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    result = subprocess.run(
        [sys.executable, "-m", "robotrace_desktop", "demo", "--screenshot", str(out),
         "--size", "1280x800"],
        capture_output=True, text=True, timeout=180, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"screenshot: {out}" in result.stdout
    assert "failure at 7.500s: robotrace://episode/" in result.stdout
    assert "not every pane settled" not in result.stderr
    assert (tmp_path / "home" / "library" / "demo" / "pick-and-place-seed7").is_dir()
    image = decode_image_bytes(out.read_bytes()).astype(int)
    assert image.shape == (800, 1280, 3)
    # The timeline playhead (red, core.colors) stands at the failure, 7.5 s of 12 s, in the
    # bottom bar.
    red_head = np.array([int(colors.PLAYHEAD[i : i + 2], 16) for i in (1, 3, 5)])
    hits = np.argwhere(np.abs(image[650:] - red_head).sum(axis=2) < 40)
    assert len(hits) > 20
    expected_x = 12 + (1280 - 24) * 7.5 / 12
    assert abs(np.median(hits[:, 1]) - expected_x) < 15
    # The front camera shows the failure frame: its red border (drawn after 7.5 s) is there.
    red = (image[100:420, :470, 0] > 170) & (image[100:420, :470, 1] < 60)
    assert red.sum() > 500
    assert image[100:420].std() > 20  # real frames, not a flat placeholder


def test_demo_screenshot_bad_size_fails_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], robotrace_home: Path
) -> None:
    code = main(["demo", "--screenshot", str(tmp_path / "x.png"), "--size", "huge"])
    assert code != 0
    assert "--size 'huge': expected WIDTHxHEIGHT" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
    assert not (robotrace_home / "library").exists()


def test_demo_stores_its_findings_like_a_scan(
    capsys: pytest.CaptureFixture[str], robotrace_home: Path
) -> None:
    """After ``demo`` the README's ``list --cause gripper_empty_close`` finds the demo and the
    catalog's Findings column names the fault (the demo used to index without Explain)."""
    demo_copy(demo_episode_dir())  # the generator is tested above; this is about the command
    assert main(["demo", "--no-gui"]) == 0
    capsys.readouterr()
    assert main(["list", "--cause", "gripper_empty_close", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["path"] == str(demo_episode_dir().resolve())
    with Catalog(paths.catalog_path()) as catalog:
        top = top_findings(catalog)[row["id"]]
        ranked = findings_for(catalog, row["id"])
    assert ranked[0].cause == "gripper_empty_close"
    assert (top.cause, top.title) == ("gripper_empty_close", "Gripper closed on nothing")
    assert top.confidence >= 0.5
