"""``import`` on the real third-party recordings: the bundle reads back exactly like the source."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from robotrace_desktop.bundle.manifest import read_manifest
from tests.convert.compare import (
    assert_frames_equal,
    assert_signals_equal,
    do_import,
    open_pair,
    signal_names,
    snapshot,
)

IIWA = "rosbag2/iiwa7_gazebo_joint_torque_sqlite3"
G1 = "lerobot/g1_pick_bottle_v21"
CAMERA = "observation.images.cam_high"


def test_iiwa_rosbag2_signals_events_clocks_and_problems(shared_data: Path, tmp_path: Path) -> None:
    bag = shared_data / IIWA
    before = snapshot(bag.parent)
    resolved, result = do_import(str(bag), tmp_path / "lib")
    assert result.status == "imported"
    assert result.folder.parent == tmp_path / "lib"
    assert result.episode_id != resolved.info.id
    src, dst = open_pair(resolved, result)
    with src, dst:
        names = signal_names(src)
        assert "/joint_states" in names and "/effort_controller/commands" in names
        assert sorted(signal_names(dst)) == sorted(names)
        assert_signals_equal(src, dst, names)
        joints = dst.read_signal("/joint_states")
        assert len(joints) == 1941 and "position/joint_a1" in joints.channels
        assert len(dst.read_signal("/effort_controller/commands")) == 759
        rosout = dst.read_events("/rosout")
        assert len(rosout) == 36 and rosout == src.read_events("/rosout")
        assert {e.level for e in rosout} <= {"DEBUG", "INFO", "WARN", "ERROR", "FATAL"}
        assert all(e.source for e in rosout)
        # the header clock (simulation time) is kept beside the record time
        header = src.read_signal("/joint_states").times["header"]
        table = pq.read_table(result.folder / dst.info.stream("/joint_states").details["file"])
        np.testing.assert_array_equal(table.column("clock/header").cast("int64").to_numpy(), header)
        roles = {s.name: s.details.get("role") for s in dst.info.streams}
        assert roles["/effort_controller/commands"] == "action"
        assert roles["/joint_states"] == "sensor"
        assert dst.info.duration_ns == src.info.duration_ns
        assert dst.info.start_time_ns == src.info.start_time_ns
        assert dst.info.robot == src.info.robot == "iiwa"
    problems = dst.info.metadata["import_problems"]
    assert any("/dynamic_joint_states" in p for p in problems)
    assert dst.info.metadata["imported_from"] == {
        "path": str(bag.resolve()),
        "kind": "rosbag2",
        "episode_index": None,
        "episode_id": resolved.info.id,
    }
    assert dst.info.metadata["joint_limits"] == src.info.metadata["joint_limits"]
    assert snapshot(bag.parent) == before


def test_ros1_example_bag(shared_data: Path, tmp_path: Path) -> None:
    bag = shared_data / "ros1" / "example.bag"
    before = snapshot(bag.parent)
    resolved, result = do_import(str(bag), tmp_path)
    src, dst = open_pair(resolved, result)
    with src, dst:
        assert_signals_equal(src, dst, signal_names(src))
        assert len(dst.read_signal("/turtle1/pose")) == 1344
        assert dst.read_signal("/turtle1/cmd_vel").channels[0] == "linear.x"
        assert dst.read_events("/rosout") == src.read_events("/rosout")
        assert dst.info.duration_ns == src.info.duration_ns == 21_700_086_256
        assert dst.info.problems == []
    assert snapshot(bag.parent) == before


def test_lerobot_g1_episode_1_av1_video_copied_frame_exact(
    shared_data: Path, tmp_path: Path
) -> None:
    dataset = shared_data / G1
    before = snapshot(dataset)
    resolved, result = do_import(f"{dataset}#1", tmp_path)
    manifest = read_manifest(result.folder)
    (video,) = manifest.videos
    assert video.camera == CAMERA
    source_mp4 = dataset / resolved.info.metadata["video_files"][CAMERA]
    assert filecmp.cmp(result.folder / video.path, source_mp4, shallow=False)  # byte for byte
    src, dst = open_pair(resolved, result)
    with src, dst:
        assert_signals_equal(src, dst, ["observation.state", "action"])
        assert dst.read_signal("action").channels[0] == "kLeftShoulderPitch"
        assert dst.info.stream(CAMERA).count == 393
        assert dst.info.stream(CAMERA).details["codec"] == "av1"
        times = [0, 33_333_333, 4_000_000_000, 6_533_333_334, 13_066_666_666, 13_099_999_999]
        assert assert_frames_equal(src, dst, CAMERA, [*times, 13_200_000_000]) == len(times)
    assert dst.info.duration_ns == 13_100_000_000
    assert dst.info.task == resolved.info.task == "Pick up the yellow bottle on the table."
    assert dst.info.robot == resolved.info.robot
    assert dst.info.metadata["imported_from"]["episode_index"] == 1
    assert snapshot(dataset) == before


def test_lerobot_g1_episode_3_missing_video_is_a_problem(shared_data: Path, tmp_path: Path) -> None:
    resolved, result = do_import(f"{shared_data / G1}#3", tmp_path)
    src, dst = open_pair(resolved, result)
    with src, dst:
        assert_signals_equal(src, dst, ["observation.state", "action"])
        assert len(dst.read_signal("observation.state")) == 459
        assert [s.name for s in dst.info.streams if s.kind.value == "video"] == []
    missing = [p for p in dst.info.metadata["import_problems"] if "episode_000003.mp4" in p]
    assert missing and all("missing" in p for p in missing)
    assert any(CAMERA in p and "not imported" in p for p in result.problems)
    data = json.loads((result.folder / "robotrace_episode.json").read_text())
    assert data["videos"] == []


@pytest.mark.parametrize("replace", [False, True])
def test_importing_twice_refuses_or_replaces(
    shared_data: Path, tmp_path: Path, replace: bool
) -> None:
    bag = str(shared_data / "ros1" / "example.bag")
    _, first = do_import(bag, tmp_path)
    manifest = first.folder / "robotrace_episode.json"
    manifest.write_text(manifest.read_text().replace('"example"', '"renamed"'))
    _, again = do_import(bag, tmp_path, replace=replace)
    assert again.folder == first.folder and again.episode_id == first.episode_id
    assert again.status == ("replaced" if replace else "exists")
    assert ('"renamed"' in manifest.read_text()) is not replace
    assert sorted(p.name for p in tmp_path.iterdir()) == [first.folder.name]  # no temp left
