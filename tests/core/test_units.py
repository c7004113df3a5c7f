"""Units from what a recording says: ROS message types and fields, a URDF's joint types, a
bundle's own ``metadata["units"]`` — and nothing for LeRobot features nobody described."""

from __future__ import annotations

from pathlib import Path

from robotrace_desktop.core.episode import StreamInfo, StreamKind
from robotrace_desktop.core.units import axis_name, axis_units, channel_unit
from robotrace_desktop.readers.registry import reader_for


def stream(message_type: str | None, name: str = "/s") -> StreamInfo:
    return StreamInfo(name, StreamKind.SIGNAL, 10, message_type=message_type)


def test_joint_state_units_revolute_and_prismatic() -> None:
    js = stream("sensor_msgs/msg/JointState", "/joint_states")
    assert channel_unit(js, "position/joint_a1") == "rad"
    assert channel_unit(js, "velocity/joint_a1") == "rad/s"
    assert channel_unit(js, "effort/joint_a1") == "N·m"
    assert channel_unit(js, "position[0]") == "rad"  # unnamed joints keep their field's unit
    prismatic = {"joint_types": {"slider": "prismatic", "joint_a1": "revolute"}}
    assert channel_unit(js, "position/slider", prismatic) == "m"
    assert channel_unit(js, "velocity/slider", prismatic) == "m/s"
    assert channel_unit(js, "effort/slider", prismatic) == "N"
    assert channel_unit(js, "position/joint_a1", prismatic) == "rad"
    ros1 = stream("sensor_msgs/JointState")
    assert channel_unit(ros1, "effort/j") == "N·m"


def test_sensor_and_geometry_message_units() -> None:
    imu = stream("sensor_msgs/msg/Imu")
    assert channel_unit(imu, "angular_velocity.z") == "rad/s"
    assert channel_unit(imu, "linear_acceleration.x") == "m/s²"
    assert channel_unit(imu, "orientation.w") is None  # a quaternion has no unit
    battery = stream("sensor_msgs/msg/BatteryState")
    assert channel_unit(battery, "voltage") == "V"
    assert channel_unit(battery, "current") == "A"
    assert channel_unit(battery, "percentage") is None
    twist = stream("geometry_msgs/Twist")
    assert channel_unit(twist, "linear.x") == "m/s" and channel_unit(twist, "angular.z") == "rad/s"
    odom = stream("nav_msgs/msg/Odometry")
    assert channel_unit(odom, "pose.pose.position.x") == "m"
    assert channel_unit(odom, "twist.twist.angular.z") == "rad/s"
    assert channel_unit(odom, "pose.pose.orientation.x") is None
    dvl = stream("geometry_msgs/msg/TwistWithCovarianceStamped")
    assert channel_unit(dvl, "twist.twist.linear.y") == "m/s"
    pose = stream("geometry_msgs/msg/PoseWithCovarianceStamped")
    assert channel_unit(pose, "pose.pose.position.z") == "m"
    turtle = stream("turtlesim/msg/Pose")
    assert [channel_unit(turtle, c) for c in ("x", "theta", "linear_velocity")] == [
        "m",
        "rad",
        "m/s",
    ]
    assert channel_unit(stream("frost_interfaces/msg/UCommand"), "fin[0]") is None


def test_lerobot_features_have_no_unit_unless_the_recording_says() -> None:
    state = stream("float32", "observation.state")
    assert channel_unit(state, "kLeftElbow") is None
    stated = {"units": {"observation.state": {"kLeftElbow": "rad"}, "/js": {"effort": "N"}}}
    assert channel_unit(state, "kLeftElbow", stated) == "rad"
    js = stream("sensor_msgs/msg/JointState", "/js")
    assert channel_unit(js, "effort/j1", stated) == "N"  # a family entry covers its channels
    assert channel_unit(js, "position/j1", stated) == "rad"
    unitless = {"units": {"/action": {"gripper": ""}}}
    assert channel_unit(stream(None, "/action"), "gripper", unitless) is None


def test_axis_units_and_names() -> None:
    assert axis_units(["rad", "rad", None]) == "rad"
    assert axis_units(["rad", "m", "rad"]) == "rad, m"
    assert axis_units([None, None]) is None
    assert axis_name("/joint_states", "position") == "position"
    assert axis_name("observation.state", None) == "observation.state"
    assert axis_name("action", None) == "action"
    assert axis_name("/turtle1/pose", None) == "pose"


def test_real_recordings_carry_their_units(shared_data: Path) -> None:
    """The iiwa's URDF says its joints are revolute; the AUV's battery is a BatteryState."""
    iiwa = shared_data / "rosbag2/iiwa7_gazebo_joint_torque_sqlite3"
    info = next(reader_for(iiwa).index(iiwa))
    assert info.metadata["joint_types"]["joint_a4"] == "revolute"
    joints = info.stream("/joint_states")
    assert channel_unit(joints, "position/joint_a4", info.metadata) == "rad"
    assert channel_unit(joints, "effort/joint_a4", info.metadata) == "N·m"
    auv = shared_data / "rosbag2/cougars_auv/SO_lastbag_mcap"
    info = next(reader_for(auv).index(auv))
    battery = info.stream("/coug2/battery/data")
    assert channel_unit(battery, "voltage", info.metadata) == "V"
    imu = info.stream("/coug2/modem_imu")
    assert channel_unit(imu, "linear_acceleration.z", info.metadata) == "m/s²"
