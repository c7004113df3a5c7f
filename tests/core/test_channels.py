"""Default channels and commanded/measured pairs, on the demo and on real recordings."""

from __future__ import annotations

from pathlib import Path

import pytest

from robotrace_desktop.core.channels import (
    MAX_CHANNELS,
    default_selection,
    overlay_pairs,
    plot_group,
    split_channel,
    stream_role,
)
from robotrace_desktop.core.episode import EpisodeInfo, StreamInfo, StreamKind
from robotrace_desktop.readers.registry import reader_for
from tests.demo_cache import demo_copy


def _info(path: Path, index: int | None = None) -> EpisodeInfo:
    return next(i for i in reader_for(path).index(path) if i.episode_index == index)


@pytest.fixture(scope="module")
def demo_info(tmp_path_factory: pytest.TempPathFactory) -> EpisodeInfo:
    return _info(demo_copy(tmp_path_factory.mktemp("demo") / "demo"))


def test_demo_defaults_positions_efforts_and_actions(demo_info: EpisodeInfo) -> None:
    selection = default_selection(demo_info)
    joints = [f"joint_{i}" for i in range(1, 8)]
    assert selection == (
        [("/joint_states", f"position/{j}") for j in [*joints, "gripper"]]
        + [("/joint_states", f"effort/{j}") for j in [*joints, "gripper"]]
        + [("/action", f"joint_position/{j}") for j in joints]
        + [("/action", "gripper")]
    )
    assert not any("velocity/" in channel for _, channel in selection)


def test_demo_pairs_action_with_measured_position(demo_info: EpisodeInfo) -> None:
    pairs = overlay_pairs(demo_info)
    assert pairs == [
        (("/action", f"joint_position/joint_{i}"), ("/joint_states", f"position/joint_{i}"))
        for i in range(1, 8)
    ]
    # the gripper command is open/closed (0/1), the measured gripper is a width in metres:
    # drawing one over the other would be misleading, so it is not paired
    assert ("/action", "gripper") not in dict(pairs)


def test_lerobot_g1_state_and_action(shared_data: Path) -> None:
    info = _info(shared_data / "lerobot" / "g1_pick_bottle_v21", 1)
    selection = default_selection(info)
    arm = [
        f"k{side}{joint}"
        for side in ("Left", "Right")
        for joint in (
            "ShoulderPitch",
            "ShoulderRoll",
            "ShoulderYaw",
            "Elbow",
            "WristRoll",
            "WristPitch",
            "WristYaw",
        )
    ]
    # both arms (14 joints) of state and action; the 12 hand joints are one click away
    assert selection == [("observation.state", j) for j in arm] + [("action", j) for j in arm]
    pairs = dict(overlay_pairs(info))
    assert len(pairs) == 26
    assert pairs[("action", "kLeftElbow")] == ("observation.state", "kLeftElbow")
    assert pairs[("action", "kRightHandThumbRotation")] == (
        "observation.state",
        "kRightHandThumbRotation",
    )
    assert all(cmd[1] == meas[1] for cmd, meas in pairs.items())


def test_iiwa_bag_effort_commands_pair_with_joint_efforts(shared_data: Path) -> None:
    info = _info(shared_data / "rosbag2" / "iiwa7_gazebo_joint_torque_sqlite3")
    joints = [f"joint_a{i}" for i in range(1, 8)]
    assert default_selection(info) == (
        [("/joint_states", f"position/{j}") for j in joints]
        + [("/joint_states", f"effort/{j}") for j in joints]
        + [("/effort_controller/commands", f"data[{i}]") for i in range(7)]
    )
    # Float64MultiArray has no joint names: index i ↔ the i-th JointState joint, and the
    # topic says the commands are efforts
    assert overlay_pairs(info) == [
        (("/effort_controller/commands", f"data[{i}]"), ("/joint_states", f"effort/{j}"))
        for i, j in enumerate(joints)
    ]
    roles = {s.name: stream_role(s) for s in info.streams_of(StreamKind.SIGNAL)}
    assert roles["/tf"] == "noise" and roles["/parameter_events"] == "noise"


def test_turtlesim_bag_without_joints(shared_data: Path) -> None:
    info = _info(shared_data / "ros1" / "example.bag")
    selection = default_selection(info)
    streams = list(dict.fromkeys(s for s, _ in selection))
    assert streams == ["/turtle1/pose", "/turtle2/pose", "/turtle2/cmd_vel", "/turtle1/cmd_vel"]
    assert ("/turtle1/pose", "theta") in selection
    assert overlay_pairs(info) == []  # Twist and Pose share no joint names


def test_jointtrajectory_commands_and_caps() -> None:
    names = [f"j{i}" for i in range(40)]
    state = StreamInfo(
        "/arm/joint_states",
        StreamKind.SIGNAL,
        100,
        tuple(f"{f}/{n}" for f in ("position", "velocity", "effort") for n in names),
        0,
        10,
        "sensor_msgs/msg/JointState",
    )
    traj = StreamInfo(
        "/arm_controller/joint_trajectory",
        StreamKind.SIGNAL,
        10,
        tuple(f"position/{n}" for n in names[:6]),
        0,
        10,
        "trajectory_msgs/msg/JointTrajectory",
    )
    info = EpisodeInfo("x", "rosbag2", "/x", None, "x", streams=[state, traj])
    pairs = overlay_pairs(info)
    assert pairs[0] == (
        ("/arm_controller/joint_trajectory", "position/j0"),
        ("/arm/joint_states", "position/j0"),
    )
    assert len(pairs) == 6
    selection = default_selection(info)
    assert len(selection) <= MAX_CHANNELS
    assert selection[0] == ("/arm/joint_states", "position/j0")
    assert ("/arm_controller/joint_trajectory", "position/j0") in selection


def test_group_names() -> None:
    assert split_channel("position/joint_3") == ("position", "joint_3")
    assert split_channel("kLeftElbow") == (None, "kLeftElbow")
    assert plot_group(("/joint_states", "effort/joint_1")) == "/joint_states effort"
    assert plot_group(("action", "kLeftElbow")) == "action"


def test_auv_bag_defaults_to_battery_and_commands_without_timestamps(shared_data: Path) -> None:
    """The CougUV: battery voltage/current and the actuator commands are on screen; epoch
    "time" fields and the 1–3-message odometry topics are not (they flattened the plots)."""
    path = shared_data / "rosbag2/cougars_auv/SO_lastbag_mcap"
    info = next(reader_for(path).index(path))
    selection = default_selection(info)
    assert ("/coug2/battery/data", "voltage") in selection
    assert ("/coug2/battery/data", "current") in selection
    assert ("/coug2/kinematics/command", "thruster") in selection
    assert not any(channel in ("time", "timestamp") for _, channel in selection)
    assert not {"/coug2/odom", "/coug2/gps_odom"} & {stream for stream, _ in selection}
