"""Units of a channel, from what the recording says about it — never guessed from the numbers.

A ROS message type fixes the unit of most of its fields (REP 103: SI units, radians):
``sensor_msgs/JointState`` positions are rad (m for a prismatic joint), velocities rad/s (m/s),
efforts N·m (N); ``Imu`` angular velocity rad/s and linear acceleration m/s²; ``BatteryState``
V, A, Ah, °C; ``Twist`` m/s and rad/s; ``Pose`` m (quaternions have none). Nested fields keep
their meaning (``Odometry`` ``twist.twist.linear.x`` is m/s). A recording may also state units
itself: ``metadata["units"] = {stream: {channel or field family: unit}}`` (native bundles, the
SDK) wins over the message type, and ``metadata["joint_types"]`` (from the URDF) tells prismatic
joints from revolute ones. Anything else — LeRobot features, custom messages — has no unit:
an empty axis label is honest, a wrong one is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any

from robotrace_desktop.core.episode import StreamInfo

# Fields of the common geometry types, relative to where the type sits in a message.
_POSE = (("position.*", "m"),)
_TWIST = (("linear.*", "m/s"), ("angular.*", "rad/s"))
_ACCEL = (("linear.*", "m/s²"), ("angular.*", "rad/s²"))
_WRENCH = (("force.*", "N"), ("torque.*", "N·m"))
_TRANSFORM = (("translation.*", "m"),)


def _under(prefix: str, rules: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    return tuple((f"{prefix}.{pattern}", unit) for pattern, unit in rules)


# message type (without "/msg/") → (channel glob, unit); the first match wins
_BY_TYPE: dict[str, tuple[tuple[str, str], ...]] = {
    "sensor_msgs/JointState": (
        ("position/*", "rad"),
        ("velocity/*", "rad/s"),
        ("effort/*", "N·m"),
        ("position[[]*", "rad"),
        ("velocity[[]*", "rad/s"),
        ("effort[[]*", "N·m"),
    ),
    "sensor_msgs/Imu": (("angular_velocity.*", "rad/s"), ("linear_acceleration.*", "m/s²")),
    "sensor_msgs/BatteryState": (
        ("voltage", "V"),
        ("current", "A"),
        ("charge", "Ah"),
        ("capacity", "Ah"),
        ("design_capacity", "Ah"),
        ("temperature", "°C"),
        ("cell_voltage*", "V"),
        ("cell_temperature*", "°C"),
    ),
    "sensor_msgs/FluidPressure": (("fluid_pressure", "Pa"),),
    "sensor_msgs/Temperature": (("temperature", "°C"),),
    "sensor_msgs/Range": (("range", "m"), ("min_range", "m"), ("max_range", "m")),
    "sensor_msgs/MagneticField": (("magnetic_field.*", "T"),),
    "sensor_msgs/NavSatFix": (("latitude", "°"), ("longitude", "°"), ("altitude", "m")),
    "geometry_msgs/Pose": _POSE,
    "geometry_msgs/PoseStamped": _under("pose", _POSE),
    "geometry_msgs/PoseWithCovariance": _under("pose", _POSE),
    "geometry_msgs/PoseWithCovarianceStamped": _under("pose.pose", _POSE),
    "geometry_msgs/Point": (("x", "m"), ("y", "m"), ("z", "m")),
    "geometry_msgs/PointStamped": (("point.*", "m"),),
    "geometry_msgs/Twist": _TWIST,
    "geometry_msgs/TwistStamped": _under("twist", _TWIST),
    "geometry_msgs/TwistWithCovariance": _under("twist", _TWIST),
    "geometry_msgs/TwistWithCovarianceStamped": _under("twist.twist", _TWIST),
    "geometry_msgs/Accel": _ACCEL,
    "geometry_msgs/AccelStamped": _under("accel", _ACCEL),
    "geometry_msgs/Wrench": _WRENCH,
    "geometry_msgs/WrenchStamped": _under("wrench", _WRENCH),
    "geometry_msgs/Transform": _TRANSFORM,
    "geometry_msgs/TransformStamped": _under("transform", _TRANSFORM),
    "nav_msgs/Odometry": _under("pose.pose", _POSE) + _under("twist.twist", _TWIST),
    "tf2_msgs/TFMessage": (("transforms[[]*].transform.translation.*", "m"),),
    "tf/tfMessage": (("transforms[[]*].transform.translation.*", "m"),),
    "turtlesim/Pose": (
        ("x", "m"),
        ("y", "m"),
        ("theta", "rad"),
        ("linear_velocity", "m/s"),
        ("angular_velocity", "rad/s"),
    ),
}
_PRISMATIC = {"rad": "m", "rad/s": "m/s", "N·m": "N"}


def normalized_type(message_type: str | None) -> str:
    """``sensor_msgs/msg/JointState`` (ROS 2) and ``sensor_msgs/JointState`` (ROS 1) alike."""
    return (message_type or "").replace("/msg/", "/")


def channel_unit(
    stream: StreamInfo, channel: str, metadata: Mapping[str, Any] | None = None
) -> str | None:
    """The unit of ``channel`` of ``stream``, or None when the recording does not say."""
    metadata = metadata or {}
    stated = _stated_unit(metadata.get("units"), stream.name, channel)
    if stated is not None:
        return stated or None
    rules = _BY_TYPE.get(normalized_type(stream.message_type), ())
    for pattern, unit in rules:
        if fnmatchcase(channel, pattern):
            if normalized_type(stream.message_type) == "sensor_msgs/JointState":
                return _joint_unit(unit, channel, metadata.get("joint_types"))
            return unit
    return None


def _stated_unit(units: object, stream: str, channel: str) -> str | None:
    """The unit the recording states for the channel ("" = stated unitless), else None."""
    if not isinstance(units, Mapping):
        return None
    per_stream = units.get(stream)
    if not isinstance(per_stream, Mapping):
        return None
    family = channel.split("/", 1)[0] if "/" in channel else None
    for key in (channel, family):
        if key is not None and isinstance(per_stream.get(key), str):
            return str(per_stream[key])
    return None


def _joint_unit(unit: str, channel: str, joint_types: object) -> str:
    joint = channel.split("/", 1)[1] if "/" in channel else channel
    if isinstance(joint_types, Mapping) and joint_types.get(joint) == "prismatic":
        return _PRISMATIC.get(unit, unit)
    return unit


def axis_units(units: Iterable[str | None]) -> str | None:
    """The units of one plot axis: the distinct known units in order ("rad", "m, rad"), or
    None when no channel has a known unit."""
    known = list(dict.fromkeys(u for u in units if u))
    return ", ".join(known) if known else None


def axis_name(stream: str, family: str | None) -> str:
    """What a plot's y axis is called: the field family ("position", "effort") or the feature
    (LeRobot "observation.state", "action"); a ROS topic's last segment otherwise."""
    if family:
        return family
    name = stream.strip("/")
    return name.rsplit("/", 1)[-1] if "/" in name else name
