"""ROS message → numeric channels, log events or video: the per-type table lives here.

A flattener is built from the FIRST message of a topic (that is where joint names and array
lengths come from) and then maps every later message to a float64 row of the same channels.

Layouts (``flattener_for``):
- ``SPECIAL`` types: JointState ("position/<joint>"…, matched by name on every message, missing
  joints NaN, a field empty in the first message has no channels); JointTrajectory (the FIRST
  point of each message — the command to execute next — as "position/<joint>", "velocity/…",
  "acceleration/…", "effort/…"); std_msgs ``*MultiArray`` ("data[i]").
- ``FIELD_LAYOUTS``: fixed field lists (Imu, BatteryState, Twist, Wrench, Pose, their Stamped
  forms, Odometry) — covariances and headers left out on purpose.
- everything else: the generic walker. Nested fields are joined with "." ("linear.x"), arrays
  become "field[i]", bool → 0/1, strings are skipped, ``header`` fields and covariances are
  skipped (the header stamp is the stream's clock), builtin Time/Duration become one channel in
  seconds. Variable-length arrays are sized from the first message; later messages are padded
  with NaN or truncated. At most ``MAX_ARRAY`` elements per array and ``MAX_CHANNELS`` channels.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

MAX_ARRAY = 256
MAX_CHANNELS = 2048

VIDEO_TYPES = frozenset({"sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage"})
# Log levels of the two ROS log message types → our level names.
_RCL_LEVELS = {10: "DEBUG", 20: "INFO", 30: "WARN", 40: "ERROR", 50: "FATAL"}
_ROS1_LEVELS = {1: "DEBUG", 2: "INFO", 4: "WARN", 8: "ERROR", 16: "FATAL"}
_TIME_TYPES = frozenset({"builtin_interfaces/msg/Time", "builtin_interfaces/msg/Duration"})


def _xyz(prefix: str) -> tuple[str, ...]:
    return tuple(f"{prefix}.{a}" for a in "xyz")


def _xyzw(prefix: str) -> tuple[str, ...]:
    return tuple(f"{prefix}.{a}" for a in "xyzw")


def _pose(prefix: str) -> tuple[str, ...]:
    return (*_xyz(f"{prefix}position"), *_xyzw(f"{prefix}orientation"))


def _twist(prefix: str) -> tuple[str, ...]:
    return (*_xyz(f"{prefix}linear"), *_xyz(f"{prefix}angular"))


def _wrench(prefix: str) -> tuple[str, ...]:
    return (*_xyz(f"{prefix}force"), *_xyz(f"{prefix}torque"))


FIELD_LAYOUTS: dict[str, tuple[str, ...]] = {
    "sensor_msgs/msg/Imu": (
        *_xyzw("orientation"),
        *_xyz("angular_velocity"),
        *_xyz("linear_acceleration"),
    ),
    "sensor_msgs/msg/BatteryState": (
        "voltage",
        "temperature",
        "current",
        "charge",
        "capacity",
        "design_capacity",
        "percentage",
        "power_supply_status",
        "power_supply_health",
        "power_supply_technology",
        "present",
    ),
    "geometry_msgs/msg/Twist": _twist(""),
    "geometry_msgs/msg/TwistStamped": _twist("twist."),
    "geometry_msgs/msg/Wrench": _wrench(""),
    "geometry_msgs/msg/WrenchStamped": _wrench("wrench."),
    "geometry_msgs/msg/Pose": _pose(""),
    "geometry_msgs/msg/PoseStamped": _pose("pose."),
    "nav_msgs/msg/Odometry": (*_pose("pose.pose."), *_twist("twist.twist.")),
}


def message_kind(msgtype: str) -> str:
    """ "video", "event" or "signal" for a ROS message type name."""
    if msgtype in VIDEO_TYPES:
        return "video"
    if msgtype in EVENT_TYPES:
        return "event"
    return "signal"


# -- stamps ---------------------------------------------------------------------------------------


def _time_ns(stamp: Any) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def stamp_ns(msg: Any) -> int | None:
    """header.stamp (or the ``stamp`` of rcl_interfaces/Log) in ns, None when the type has none."""
    header = getattr(msg, "header", None)
    stamp = getattr(header, "stamp", None) if header is not None else getattr(msg, "stamp", None)
    if stamp is None or not hasattr(stamp, "nanosec"):
        return None
    return _time_ns(stamp)


# -- events ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventFields:
    level: str
    text: str
    source: str


def _rcl_log(msg: Any, topic: str) -> EventFields:
    return EventFields(_RCL_LEVELS.get(int(msg.level), str(msg.level)), msg.msg, msg.name)


def _ros1_log(msg: Any, topic: str) -> EventFields:
    return EventFields(_ROS1_LEVELS.get(int(msg.level), str(msg.level)), msg.msg, msg.name)


def _string(msg: Any, topic: str) -> EventFields:
    # A std_msgs/String has no numbers to plot: show it as an INFO line of the topic's log.
    return EventFields("INFO", msg.data, topic)


def _strings(msg: Any, prefix: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for name in getattr(msg, "__dataclass_fields__", ()):
        if name == "__msgtype__" or _skip_field(name):
            continue
        value = getattr(msg, name)
        if isinstance(value, str):
            found.append((prefix + name, value))
        elif _is_msg(value):
            found.extend(_strings(value, f"{prefix}{name}."))
    return found


def has_text(msg: Any) -> bool:
    return bool(_strings(msg))


def text_event(msg: Any, topic: str) -> EventFields:
    """Messages with text but no numbers (test_msgs/Strings…): one INFO line per message."""
    found = _strings(msg)
    if len(found) == 1:
        return EventFields("INFO", found[0][1], topic)
    return EventFields("INFO", "; ".join(f"{k}={v}" for k, v in found), topic)


EVENT_TYPES: dict[str, Callable[[Any, str], EventFields]] = {
    "rcl_interfaces/msg/Log": _rcl_log,
    "rosgraph_msgs/msg/Log": _ros1_log,
    "std_msgs/msg/String": _string,
}


# -- signals --------------------------------------------------------------------------------------

Step = str | int
Getter = Callable[[Any], Any]


def _getter(path: Sequence[Step]) -> Getter:
    steps = tuple(path)
    names = tuple(step for step in steps if isinstance(step, str))
    if steps and len(names) == len(steps):
        # attribute steps only: the same lookups, done in C (this runs once per channel and
        # message: ~150,000 times for a 4 MB bag)
        return operator.attrgetter(".".join(names))

    def get(msg: Any) -> Any:
        value = msg
        for step in steps:
            if isinstance(step, int):
                if step >= len(value):
                    return None
                value = value[step]
            else:
                value = getattr(value, step)
        return value

    return get


def _parse_path(text: str) -> tuple[Step, ...]:
    return tuple(text.split("."))


@dataclass(frozen=True, slots=True)
class _Block:
    """``width`` consecutive channels filled from one getter (a scalar when width is 0)."""

    get: Getter
    width: int  # 0: scalar channel
    path: str | None = None  # "a.b.c" when the getter is plain attribute access
    #: the attribute names and indices the getter follows (None: a getter of another kind);
    #: ``ros_columns`` finds the channel's bytes by them
    steps: tuple[Step, ...] | None = None


def _block(path: Sequence[Step], width: int) -> _Block:
    steps = tuple(path)
    names = [step for step in steps if isinstance(step, str)]
    plain = bool(steps) and len(names) == len(steps)
    return _Block(_getter(steps), width, ".".join(names) if plain else None, steps)


class Flattener:
    """Maps a message to a float64 row. Built from the topic's first message."""

    def __init__(self, channels: Sequence[str], blocks: Sequence[_Block]) -> None:
        self.channels = tuple(channels)
        self._blocks = tuple(blocks)
        #: every channel a plain numeric attribute (Imu, Odometry, BatteryState, custom
        #: messages…): one C-level call fetches the whole row
        self._row: Getter | None = None
        paths = [b.path for b in self._blocks if b.path is not None]
        if paths and all(b.width == 0 for b in self._blocks) and len(paths) == len(self._blocks):
            get = operator.attrgetter(*paths)
            self._row = get if len(paths) > 1 else (lambda msg: (get(msg),))

    @property
    def blocks(self) -> tuple[_Block, ...]:
        return self._blocks

    def values(self, msg: Any) -> np.ndarray:
        if self._row is not None:
            row = self._row(msg)
            if all(type(v) is float or type(v) is int for v in row):
                return np.array(row, dtype=np.float64)
        return self._values(msg)

    def _values(self, msg: Any) -> np.ndarray:
        """The message's row: a Python list filled block by block, made an array once (setting
        numpy elements one at a time cost as much as decoding the message). Missing values and
        the tail of a short array are NaN."""
        row: list[Any] = []
        for block in self._blocks:
            value = block.get(msg)
            width = block.width
            if width == 0:
                row.append(_NAN if value is None else _scalar(value))
            elif value is None or not len(value):
                row.extend(_NAN for _ in range(width))
            else:
                part = value[:width]
                row.extend(part.tolist() if isinstance(part, np.ndarray) else part)
                row.extend(_NAN for _ in range(width - len(part)))
        return np.array(row, dtype=np.float64) if row else np.full(len(self.channels), np.nan)


_NAN = float("nan")


def _scalar(value: Any) -> float:
    if type(value) is float:
        return value
    if hasattr(value, "nanosec"):
        return _time_ns(value) / 1e9
    return float(value)


def _is_msg(value: Any) -> bool:
    return hasattr(value, "__msgtype__")


def _skip_field(name: str) -> bool:
    return name == "header" or name.endswith("covariance")


class _Walker:
    def __init__(self) -> None:
        self.channels: list[str] = []
        self.blocks: list[_Block] = []
        self.truncated = False

    def full(self, extra: int = 1) -> bool:
        if len(self.channels) + extra > MAX_CHANNELS:
            self.truncated = True
            return True
        return False

    def walk(self, value: Any, path: tuple[Step, ...], name: str) -> None:
        if isinstance(value, (str, bytes)) or value is None:
            return
        if _is_msg(value):
            if value.__msgtype__ in _TIME_TYPES:
                self._scalar(path, name)
                return
            for field in value.__dataclass_fields__:
                if field == "__msgtype__" or _skip_field(field):
                    continue
                self.walk(
                    getattr(value, field), (*path, field), f"{name}.{field}" if name else field
                )
            return
        if isinstance(value, (bool, int, float, np.number, np.bool_)):
            self._scalar(path, name)
            return
        if isinstance(value, np.ndarray):
            if value.ndim == 1 and value.dtype.kind in "biuf" and len(value):
                self._array(path, name, len(value))
            return
        if isinstance(value, (list, tuple)) and value:
            if all(isinstance(v, (bool, int, float, np.number)) for v in value):
                self._array(path, name, len(value))
                return
            if len(value) > MAX_ARRAY:
                self.truncated = True
            for i, item in enumerate(value[:MAX_ARRAY]):
                if self.full():
                    return
                self.walk(item, (*path, i), f"{name}[{i}]")

    def _scalar(self, path: tuple[Step, ...], name: str) -> None:
        if not self.full():
            self.channels.append(name)
            self.blocks.append(_block(path, 0))

    def _array(self, path: tuple[Step, ...], name: str, length: int) -> None:
        width = min(length, MAX_ARRAY, MAX_CHANNELS - len(self.channels))
        if width < length:
            self.truncated = True
        if width <= 0:
            return
        self.channels.extend(f"{name}[{i}]" for i in range(width))
        self.blocks.append(_block(path, width))


def generic_flattener(first: Any) -> tuple[Flattener, bool]:
    """The generic numeric walker; the bool says whether channels were capped."""
    walker = _Walker()
    walker.walk(first, (), "")
    return Flattener(walker.channels, walker.blocks), walker.truncated


def _layout_flattener(paths: Sequence[str]) -> Flattener:
    return Flattener(paths, [_block(_parse_path(p), 0) for p in paths])


class JointStateFlattener(Flattener):
    """position/velocity/effort per joint, matched by name on every message.

    Joints without a name (an empty ``name[]``, as the dVRK MTM publishes, or fewer names than
    values) are channels by index, ``position[3]``, read positionally: a JointState is never
    dropped for lack of names. Each field is as wide as in the first message."""

    #: (message attribute, channel prefix) of each field, in channel order
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("position", "position"),
        ("velocity", "velocity"),
        ("effort", "effort"),
    )

    def __init__(self, first: Any, names_attr: str = "name", source: Getter | None = None) -> None:
        self._names_attr = names_attr
        self._source = source or (lambda m: m)
        self.names = [str(n) for n in getattr(first, names_attr)]
        self._index = {n: i for i, n in enumerate(self.names)}
        src = self._source(first)
        #: (message attribute, first channel, width) of each field the first message carries
        self.fields: list[tuple[str, int, int]] = []
        channels: list[str] = []
        for attr, label in self.FIELDS:
            length = len(getattr(src, attr, ())) if src is not None else 0
            if not length:
                continue
            width = max(len(self.names), min(length, MAX_ARRAY))
            self.fields.append((attr, len(channels), width))
            channels += [
                f"{label}/{self.names[i]}" if i < len(self.names) else f"{label}[{i}]"
                for i in range(width)
            ]
        super().__init__(channels, ())

    def values(self, msg: Any) -> np.ndarray:
        out = np.full(len(self.channels), np.nan)
        src = self._source(msg)
        if src is None:
            return out
        names = [str(x) for x in getattr(msg, self._names_attr)]
        same = names == self.names
        for attr, offset, width in self.fields:
            data = np.asarray(getattr(src, attr, ()), dtype=np.float64)
            if same:
                count = min(len(data), width)
                out[offset : offset + count] = data[:count]
                continue
            for j, value in enumerate(data):
                # a named value goes to its joint's channel; an unnamed one to its index
                i = self._index.get(names[j]) if j < len(names) else None
                if i is None and j >= len(names) and len(self.names) <= j < width:
                    i = j
                if i is not None and i < width:
                    out[offset + i] = value
        return out


class JointTrajectoryFlattener(JointStateFlattener):
    """The first point of a JointTrajectory, per joint name."""

    FIELDS = (
        ("positions", "position"),
        ("velocities", "velocity"),
        ("accelerations", "acceleration"),
        ("effort", "effort"),
    )

    def __init__(self, first: Any) -> None:
        super().__init__(first, "joint_names", lambda m: m.points[0] if len(m.points) else None)


def _multiarray(first: Any) -> Flattener:
    width = min(len(first.data), MAX_CHANNELS)
    channels = [f"data[{i}]" for i in range(width)]
    return Flattener(channels, [_block(("data",), width)] if width else [])


SPECIAL: dict[str, Callable[[Any], Flattener]] = {
    "sensor_msgs/msg/JointState": JointStateFlattener,
    "trajectory_msgs/msg/JointTrajectory": JointTrajectoryFlattener,
    **{
        f"std_msgs/msg/{t}MultiArray": _multiarray
        for t in (
            "Float32",
            "Float64",
            "Int8",
            "Int16",
            "Int32",
            "Int64",
            "UInt8",
            "UInt16",
            "UInt32",
            "UInt64",
            "Byte",
        )
    },
}


def flattener_for(msgtype: str, first: Any) -> tuple[Flattener, dict[str, Any]]:
    """The flattener for ``msgtype`` built from its first message, plus details to show."""
    if msgtype in SPECIAL:
        return SPECIAL[msgtype](first), {"layout": msgtype.rsplit("/", 1)[-1]}
    if msgtype in FIELD_LAYOUTS:
        return _layout_flattener(FIELD_LAYOUTS[msgtype]), {"layout": "fixed fields"}
    flat, truncated = generic_flattener(first)
    details: dict[str, Any] = {"layout": "generic"}
    if truncated:
        details["note"] = (
            f"channels capped at {MAX_ARRAY} per array / {MAX_CHANNELS} in all; "
            "variable-length arrays sized from the first message"
        )
    return flat, details
