"""Generators of ROS bags with known contents, written with rosbags' own writers.

Plain functions (no pytest) so benchmarks can import them. Every value is a function of the
message index ``k`` so tests can assert exact numbers; see ``expected_*`` helpers.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
from rosbags.rosbag1 import Writer as Writer1
from rosbags.rosbag2 import StoragePlugin
from rosbags.rosbag2 import Writer as Writer2
from rosbags.typesys import Stores, get_typestore
from rosbags.typesys.store import Typestore
from ruamel.yaml import YAML

T0 = 1_700_000_000_000_000_000  # absolute record time of the first message (ns)
PERIOD = 100_000_000  # 10 Hz
HEADER_DELAY = 5_000_000  # header.stamp = record time - 5 ms (a sane header)
SIM_T0 = 12_000_000_000  # header stamps of /sim_joint_states: simulation time, 12 s
JOINTS = ("shoulder", "elbow", "wrist")
IMAGE_H, IMAGE_W = 24, 32
N = 5  # messages per topic in the standard fixture


def ros2_store() -> Typestore:
    return get_typestore(Stores.ROS2_HUMBLE)


def ros1_store() -> Typestore:
    return get_typestore(Stores.ROS1_NOETIC)


def record_time(k: int) -> int:
    return T0 + k * PERIOD


# -- message builders -----------------------------------------------------------------------------


def _time(ts: Typestore, ns: int) -> Any:
    return ts.types["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9)


def _header(ts: Typestore, ns: int, ros1: bool = False) -> Any:
    cls = ts.types["std_msgs/msg/Header"]
    if ros1:
        return cls(seq=0, stamp=_time(ts, ns), frame_id="base")
    return cls(stamp=_time(ts, ns), frame_id="base")


def _vec(ts: Typestore, x: float, y: float, z: float) -> Any:
    return ts.types["geometry_msgs/msg/Vector3"](x=x, y=y, z=z)


def _quat(ts: Typestore, k: int) -> Any:
    return ts.types["geometry_msgs/msg/Quaternion"](x=0.1 * k, y=0.2, z=0.3, w=1.0)


def _pose(ts: Typestore, k: int) -> Any:
    point = ts.types["geometry_msgs/msg/Point"](x=float(k), y=2.0 * k, z=3.0)
    return ts.types["geometry_msgs/msg/Pose"](position=point, orientation=_quat(ts, k))


def _twist(ts: Typestore, k: int) -> Any:
    return ts.types["geometry_msgs/msg/Twist"](
        linear=_vec(ts, 0.5 * k, 0.0, -1.0), angular=_vec(ts, 0.0, 0.0, 0.25 * k)
    )


def joint_values(k: int) -> dict[str, tuple[float, float, float]]:
    """(position, velocity, effort) per joint for message k."""
    return {j: (k + 0.1 * i, -k - i * 1.0, 10.0 * k + i) for i, j in enumerate(JOINTS)}


def _joint_state(ts: Typestore, k: int, stamp: int, ros1: bool = False) -> Any:
    names = list(JOINTS) if k % 2 == 0 else list(reversed(JOINTS))  # odd: other name order
    vals = joint_values(k)
    return ts.types["sensor_msgs/msg/JointState"](
        header=_header(ts, stamp, ros1),
        name=names,
        position=np.array([vals[n][0] for n in names]),
        velocity=np.array([vals[n][1] for n in names]),
        effort=np.array([vals[n][2] for n in names]),
    )


def image_pixels(k: int, channels: int = 3) -> np.ndarray:
    """(H, W, channels) uint8 pattern of frame k (the bytes as stored)."""
    yy, xx = np.mgrid[0:IMAGE_H, 0:IMAGE_W]
    planes = [(xx * 7 + k * 20) % 256, (yy * 9 + k * 3) % 256, (xx + yy + 50 * k) % 256]
    return np.stack(planes[:channels], axis=2).astype(np.uint8)


def _image(ts: Typestore, k: int, stamp: int, encoding: str, ros1: bool = False) -> Any:
    channels = 1 if encoding == "mono8" else 3
    pixels = image_pixels(k, channels)
    return ts.types["sensor_msgs/msg/Image"](
        header=_header(ts, stamp, ros1),
        height=IMAGE_H,
        width=IMAGE_W,
        encoding=encoding,
        is_bigendian=0,
        step=IMAGE_W * channels,
        data=pixels.reshape(-1).copy(),
    )


def smooth_rgb(k: int) -> np.ndarray:
    """A smooth RGB image (JPEG keeps it within a few levels)."""
    yy, xx = np.mgrid[0:IMAGE_H, 0:IMAGE_W]
    img = np.stack([xx * 4 + 10 * k, yy * 5 + 20, 128 + 0 * xx + k * 5], axis=2)
    return np.clip(img, 0, 255).astype(np.uint8)


def encode_jpeg(rgb: np.ndarray) -> bytes:
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuvj444p")
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = rgb.shape[1], rgb.shape[0], "yuvj444p"
    codec.options = {"qscale": "2"}
    codec.qmin = codec.qmax = 2
    packets = [*codec.encode(frame), *codec.encode(None)]
    return b"".join(bytes(p) for p in packets)


def _compressed(ts: Typestore, k: int, stamp: int) -> Any:
    return ts.types["sensor_msgs/msg/CompressedImage"](
        header=_header(ts, stamp),
        format="rgb8; jpeg compressed bgr8",
        data=np.frombuffer(encode_jpeg(smooth_rgb(k)), np.uint8).copy(),
    )


def _rcl_log(ts: Typestore, k: int, stamp: int) -> Any:
    return ts.types["rcl_interfaces/msg/Log"](
        stamp=_time(ts, stamp),
        level=[10, 20, 30, 40, 50][k % 5],
        name="policy_node",
        msg=f"step {k}",
        file="policy.py",
        function="step",
        line=k,
    )


def _trajectory(ts: Typestore, k: int, stamp: int) -> Any:
    point = ts.types["trajectory_msgs/msg/JointTrajectoryPoint"]
    duration = ts.types["builtin_interfaces/msg/Duration"]
    points = [
        point(
            positions=np.array([k + 0.5 * i + 100 * p for i in range(len(JOINTS))]),
            velocities=np.array([0.1 * k] * len(JOINTS)),
            accelerations=np.zeros(0),
            effort=np.zeros(0),
            time_from_start=duration(sec=p, nanosec=0),
        )
        for p in range(2)
    ]
    return ts.types["trajectory_msgs/msg/JointTrajectory"](
        header=_header(ts, stamp), joint_names=list(JOINTS), points=points
    )


def ros2_topics(ts: Typestore) -> dict[str, tuple[str, Callable[[int, int], Any]]]:
    """topic → (type, builder(k, header_stamp_ns))."""
    t = ts.types
    return {
        "/joint_states": ("sensor_msgs/msg/JointState", lambda k, s: _joint_state(ts, k, s)),
        "/imu": (
            "sensor_msgs/msg/Imu",
            lambda k, s: t["sensor_msgs/msg/Imu"](
                header=_header(ts, s),
                orientation=_quat(ts, k),
                orientation_covariance=np.zeros(9),
                angular_velocity=_vec(ts, 0.01 * k, 0.02, 0.03),
                angular_velocity_covariance=np.zeros(9),
                linear_acceleration=_vec(ts, 0.0, 0.0, 9.81),
                linear_acceleration_covariance=np.zeros(9),
            ),
        ),
        "/battery": (
            "sensor_msgs/msg/BatteryState",
            lambda k, s: t["sensor_msgs/msg/BatteryState"](
                header=_header(ts, s),
                voltage=24.0 - 0.5 * k,
                temperature=30.0,
                current=-2.0,
                charge=float("nan"),
                capacity=float("nan"),
                design_capacity=10.0,
                percentage=1.0 - 0.1 * k,
                power_supply_status=2,
                power_supply_health=1,
                power_supply_technology=3,
                present=True,
                cell_voltage=np.zeros(0, np.float32),
                cell_temperature=np.zeros(0, np.float32),
                location="base",
                serial_number="B-1",
            ),
        ),
        "/cmd_vel": ("geometry_msgs/msg/Twist", lambda k, s: _twist(ts, k)),
        "/wrench": (
            "geometry_msgs/msg/Wrench",
            lambda k, s: t["geometry_msgs/msg/Wrench"](
                force=_vec(ts, 1.0 * k, 2.0, 3.0), torque=_vec(ts, 0.1, 0.2, -0.3 * k)
            ),
        ),
        "/pose": (
            "geometry_msgs/msg/PoseStamped",
            lambda k, s: t["geometry_msgs/msg/PoseStamped"](
                header=_header(ts, s), pose=_pose(ts, k)
            ),
        ),
        "/twist": (
            "geometry_msgs/msg/TwistStamped",
            lambda k, s: t["geometry_msgs/msg/TwistStamped"](
                header=_header(ts, s), twist=_twist(ts, k)
            ),
        ),
        "/odom": (
            "nav_msgs/msg/Odometry",
            lambda k, s: t["nav_msgs/msg/Odometry"](
                header=_header(ts, s),
                child_frame_id="base_link",
                pose=t["geometry_msgs/msg/PoseWithCovariance"](
                    pose=_pose(ts, k), covariance=np.zeros(36)
                ),
                twist=t["geometry_msgs/msg/TwistWithCovariance"](
                    twist=_twist(ts, k), covariance=np.zeros(36)
                ),
            ),
        ),
        "/trajectory": ("trajectory_msgs/msg/JointTrajectory", lambda k, s: _trajectory(ts, k, s)),
        "/action": (
            "std_msgs/msg/Float64MultiArray",
            lambda k, s: t["std_msgs/msg/Float64MultiArray"](
                layout=t["std_msgs/msg/MultiArrayLayout"](dim=[], data_offset=0),
                data=np.array([k * 1.5, -k * 1.0, 0.25]),
            ),
        ),
        "/scalar": ("std_msgs/msg/Float64", lambda k, s: t["std_msgs/msg/Float64"](data=k / 4)),
        "/count": ("std_msgs/msg/Int32", lambda k, s: t["std_msgs/msg/Int32"](data=-k)),
        "/flag": ("std_msgs/msg/Bool", lambda k, s: t["std_msgs/msg/Bool"](data=k % 2 == 1)),
        "/camera/rgb": ("sensor_msgs/msg/Image", lambda k, s: _image(ts, k, s, "rgb8")),
        "/camera/bgr": ("sensor_msgs/msg/Image", lambda k, s: _image(ts, k, s, "bgr8")),
        "/camera/mono": ("sensor_msgs/msg/Image", lambda k, s: _image(ts, k, s, "mono8")),
        "/camera/jpeg": ("sensor_msgs/msg/CompressedImage", lambda k, s: _compressed(ts, k, s)),
        "/rosout": ("rcl_interfaces/msg/Log", lambda k, s: _rcl_log(ts, k, s)),
        "/sim_joint_states": (
            "sensor_msgs/msg/JointState",
            lambda k, s: _joint_state(ts, k, SIM_T0 + k * PERIOD),
        ),
    }


def _messages(
    topics: dict[str, tuple[str, Callable[[int, int], Any]]], ks: range
) -> Iterator[tuple[str, str, int, Any]]:
    for k in ks:
        for topic, (msgtype, build) in topics.items():
            rec = record_time(k)
            yield topic, msgtype, rec, build(k, rec - HEADER_DELAY)


# -- writers --------------------------------------------------------------------------------------


def write_rosbag2(
    path: Path,
    storage: str = "sqlite3",
    *,
    ks: range = range(N),
    custom_data: dict[str, str] | None = None,
    only: tuple[str, ...] | None = None,
) -> Path:
    """A rosbag2 folder with every topic of ``ros2_topics`` (or ``only`` those)."""
    ts = ros2_store()
    topics = ros2_topics(ts)
    if only is not None:
        topics = {k: v for k, v in topics.items() if k in only}
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    with Writer2(path, version=9, storage_plugin=plugin) as writer:
        conns = {
            topic: writer.add_connection(topic, msgtype, typestore=ts)
            for topic, (msgtype, _) in topics.items()
        }
        for key, value in (custom_data or {}).items():
            writer.set_custom_data(key, value)
        for topic, msgtype, rec, msg in _messages(topics, ks):
            writer.write(conns[topic], rec, ts.serialize_cdr(msg, msgtype))
    return path


def write_rosbag2_split(path: Path, storage: str = "mcap") -> Path:
    """ONE rosbag2 folder whose messages k=0..4 and k=5..9 sit in two storage files."""
    tmp = path.parent / f"{path.name}_parts"
    first = write_rosbag2(tmp / "a", storage, ks=range(0, 5), only=("/joint_states", "/cmd_vel"))
    second = write_rosbag2(tmp / "b", storage, ks=range(5, 10), only=("/joint_states", "/cmd_vel"))
    path.mkdir(parents=True)
    yaml = YAML(typ="safe")
    meta_a = yaml.load((first / "metadata.yaml").read_text())
    meta_b = yaml.load((second / "metadata.yaml").read_text())
    info_a = meta_a["rosbag2_bagfile_information"]
    info_b = meta_b["rosbag2_bagfile_information"]
    suffix = ".mcap" if storage == "mcap" else ".db3"
    names = []
    for i, (folder, info) in enumerate(((first, info_a), (second, info_b))):
        (src,) = [folder / Path(p).name for p in info["relative_file_paths"]]
        name = f"{path.name}_{i}{suffix}"
        shutil.move(src, path / name)
        names.append(name)
    counts_b = {
        t["topic_metadata"]["name"]: t["message_count"] for t in info_b["topics_with_message_count"]
    }
    for topic in info_a["topics_with_message_count"]:
        topic["message_count"] += counts_b[topic["topic_metadata"]["name"]]
    end = info_b["starting_time"]["nanoseconds_since_epoch"] + info_b["duration"]["nanoseconds"]
    info_a["duration"]["nanoseconds"] = end - info_a["starting_time"]["nanoseconds_since_epoch"]
    info_a["message_count"] += info_b["message_count"]
    info_a["relative_file_paths"] = names
    info_a["files"] = [
        {**f, "path": n} for f, n in zip(info_a["files"] + info_b["files"], names, strict=True)
    ]
    with (path / "metadata.yaml").open("w") as fh:
        yaml.dump(meta_a, fh)
    shutil.rmtree(tmp)
    return path


def write_lone_mcap(path: Path) -> Path:
    """A bare .mcap file (no metadata.yaml next to it)."""
    folder = write_rosbag2(path.parent / f"{path.stem}_dir", "mcap")
    (src,) = folder.glob("*.mcap")
    shutil.move(src, path)
    shutil.rmtree(folder)
    return path


def write_lone_db3(path: Path) -> Path:
    folder = write_rosbag2(path.parent / f"{path.stem}_dir", "sqlite3")
    (src,) = folder.glob("*.db3")
    shutil.move(src, path)
    shutil.rmtree(folder)
    return path


def ros1_topics(ts: Typestore) -> dict[str, tuple[str, Callable[[int, int], Any]]]:
    t = ts.types
    return {
        "/joint_states": (
            "sensor_msgs/msg/JointState",
            lambda k, s: _joint_state(ts, k, s, ros1=True),
        ),
        "/cmd_vel": ("geometry_msgs/msg/Twist", lambda k, s: _twist(ts, k)),
        "/scalar": ("std_msgs/msg/Float64", lambda k, s: t["std_msgs/msg/Float64"](data=k / 4)),
        "/camera/rgb": ("sensor_msgs/msg/Image", lambda k, s: _image(ts, k, s, "rgb8", True)),
        "/rosout": (
            "rosgraph_msgs/msg/Log",
            lambda k, s: t["rosgraph_msgs/msg/Log"](
                header=_header(ts, s, True),
                level=[1, 2, 4, 8, 16][k % 5],
                name="/policy",
                msg=f"step {k}",
                file="policy.py",
                function="step",
                line=k,
                topics=["/cmd_vel"],
            ),
        ),
    }


def write_rosbag1(path: Path, compression: str | None = None, *, ks: range = range(N)) -> Path:
    """A ROS 1 bag; compression None, "lz4" or "bz2"."""
    ts = ros1_store()
    topics = ros1_topics(ts)
    writer = Writer1(path)
    if compression:
        writer.set_compression(Writer1.CompressionFormat[compression.upper()])
    with writer:
        conns = {
            topic: writer.add_connection(topic, msgtype, typestore=ts)
            for topic, (msgtype, _) in topics.items()
        }
        for topic, msgtype, rec, msg in _messages(topics, ks):
            writer.write(conns[topic], rec, ts.serialize_ros1(msg, msgtype))
    return path


# -- JointState without joint names (the dVRK MTM bag publishes an empty name[]) -----------------

UNNAMED_JOINTS = 7  # values per field on the unnamed topic
PARTIAL_NAMES = ("yaw", "pitch")  # the partly named topic names 2 of its 4 values


def unnamed_joint_values(k: int, width: int = UNNAMED_JOINTS) -> dict[str, list[float]]:
    """position/velocity/effort lists of message k (value i of each field)."""
    return {
        "position": [k + 0.1 * i for i in range(width)],
        "velocity": [-k - 1.0 * i for i in range(width)],
        "effort": [10.0 * k + i for i in range(width)],
    }


def unnamed_joint_state(
    ts: Typestore, k: int, stamp: int, names: tuple[str, ...], width: int, ros1: bool
) -> Any:
    vals = unnamed_joint_values(k, width)
    return ts.types["sensor_msgs/msg/JointState"](
        header=_header(ts, stamp, ros1),
        name=list(names),
        position=np.array(vals["position"]),
        velocity=np.array(vals["velocity"]),
        effort=np.array(vals["effort"]),
    )


def write_unnamed_joint_states(path: Path, ros1: bool, *, partial: bool = False) -> Path:
    """A bag whose only topic, ``/MTML/state_joint_current``, is a JointState with an empty
    ``name[]`` and 7 values per field (as the dVRK MTM records); ``partial`` adds
    ``/wrist/joint_states`` naming only 2 of its 4 values. ROS 1 ``.bag`` or ROS 2 sqlite3."""
    ts = ros1_store() if ros1 else ros2_store()
    jtype = "sensor_msgs/msg/JointState"
    topics = {
        "/MTML/state_joint_current": (
            jtype,
            lambda k, s: unnamed_joint_state(ts, k, s, (), UNNAMED_JOINTS, ros1),
        )
    }
    if partial:
        topics["/wrist/joint_states"] = (
            jtype,
            lambda k, s: unnamed_joint_state(ts, k, s, PARTIAL_NAMES, 4, ros1),
        )
    if ros1:
        writer: Any = Writer1(path)
        serialize = ts.serialize_ros1
    else:
        writer = Writer2(path, version=9, storage_plugin=StoragePlugin.SQLITE3)
        serialize = ts.serialize_cdr
    with writer:
        conns = {
            topic: writer.add_connection(topic, msgtype, typestore=ts)
            for topic, (msgtype, _) in topics.items()
        }
        for topic, msgtype, rec, msg in _messages(topics, range(N)):
            writer.write(conns[topic], rec, serialize(msg, msgtype))
    return path
