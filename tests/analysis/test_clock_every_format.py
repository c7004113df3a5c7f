"""Gaps and jumps on EVERY clock of EVERY format (issue 13), through the product as a user runs it.

For each format — LeRobot v2.1, LeRobot v3.0 (several episodes per data file), rosbag2 sqlite3,
rosbag2 MCAP, ROS 1 — and each clock it carries (LeRobot: the recorded ``timestamp`` column
and ``frame_index``; ROS: the recorder's receive time and the publishers' ``header.stamp``), a
generated recording gets one fault mid-run, is written to disk, scanned into a catalog and
explained with the CLI (``scan --no-explain`` then ``explain EPISODE --json``):

- a clock jump, forward and backward, on that one clock while the other runs on;
- a gap: a stretch of samples missing from every clock.

Explain's top finding must name the timing fault (``_accepted``), confidently (>= 0.5) and
within 0.5 s of when it happened. The untouched recording of each format gets no confident
finding. ROS recordings have a busy recorder's jittery receive times (not periodic); variants
put the header stamps on another clock, or leave the receive time as the only clock.

Accepted causes: a jump is ``clock_jump``; a forward jump of LeRobot's ``timestamp`` column
behind a contiguous ``frame_index`` is on disk exactly what rows dropped by the recorder look
like (``timestamp_gap``). A gap in every stream at once is, on disk, also a recorder pause
(``clock_jump``).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rosbags.rosbag1 import Writer as Writer1
from rosbags.rosbag2 import StoragePlugin
from rosbags.rosbag2 import Writer as Writer2

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.cli import main
from tests.readers import ros_fixtures as ros
from tests.readers.lerobot_fixtures import EpisodeSpec, write_v2, write_v3

NS = 1_000_000_000
T0_S = 8.0  # when the fault happens, seconds into the episode
#: the small end of what a recorder or NTP step does: still well beyond any ordinary interval
JUMP_FORWARD_S, JUMP_BACK_S, GAP_S = 0.5, -0.3, 0.4
FPS = 30
FRAMES = 600  # 20 s per LeRobot episode
FAULTY_EPISODE = 1  # v3.0: shares its data file with episode 0
ROS_PERIOD = 20_000_000  # 50 Hz
ROS_STEPS = 1000  # 20 s
#: mean receive delay of a busy recorder, in periods: its receive times are not periodic
RECEIVE_DELAY = 1.5
DEQUEUE_NS = 100_000
TIMING = {"clock_jump", "timestamp_gap"}

FORMATS: dict[str, tuple[str, ...]] = {
    "lerobot_v21": ("timestamp", "frame_index"),
    "lerobot_v30": ("timestamp", "frame_index"),
    "rosbag2_sqlite3": ("record", "header"),
    "rosbag2_mcap": ("record", "header"),
    "ros1": ("record", "header"),
}

#: (format, clock, fault): clock None for a gap (every clock) and the clean recording
CASES = [
    *((fmt, clock, fault) for fmt, clocks in FORMATS.items() for clock in clocks for fault in (
        "jump_forward", "jump_back")),
    *((fmt, None, "gap") for fmt in FORMATS),
]  # fmt: skip


# ---------------------------------------------------------------- LeRobot


def _smooth(episode: int, spec: EpisodeSpec) -> tuple[np.ndarray, np.ndarray]:
    """A slow, smooth motion: nothing in it but the injected fault can look abnormal."""
    t = np.arange(spec.length) / FPS
    phase = 0.3 * episode
    state = np.stack([0.5 * np.sin(2 * np.pi * 0.2 * t + phase + c) for c in range(3)], axis=1)
    action = state[:, :2] + 0.01
    return state.astype(np.float32), action.astype(np.float32)


def _edit_lerobot(root: Path, clock: str | None, fault: str) -> None:
    """Rewrite the faulty episode's ``timestamp`` / ``frame_index`` on disk. A gap shifts both
    forward (the rows of that stretch are gone: the episode ends later); a jump moves one."""
    size = {"jump_forward": JUMP_FORWARD_S, "jump_back": JUMP_BACK_S, "gap": GAP_S}[fault]
    moved = ("timestamp", "frame_index") if fault == "gap" else (clock,)
    for path in sorted((root / "data").rglob("*.parquet")):
        table = pq.read_table(path)
        mine = table.column("episode_index").to_numpy() == FAULTY_EPISODE
        if not mine.any():
            continue
        frames = table.column("frame_index").to_numpy().copy()
        stamps = table.column("timestamp").to_numpy().astype(np.float64)
        after = mine & (frames >= round(T0_S * FPS))
        if "timestamp" in moved:
            stamps[after] += size
        if "frame_index" in moved:
            frames[after] += round(size * FPS)
        table = table.set_column(
            table.schema.get_field_index("timestamp"),
            "timestamp",
            pa.array(stamps.astype(np.float32)),
        )
        table = table.set_column(
            table.schema.get_field_index("frame_index"), "frame_index", pa.array(frames)
        )
        pq.write_table(table, path, row_group_size=256)


def _write_lerobot(root: Path, version: str, clock: str | None, fault: str) -> Path:
    episodes = [EpisodeSpec(FRAMES, e % 2, True) for e in range(4)]
    if version == "v2.1":
        write_v2(root, "v2.1", episodes=episodes, cameras=(), fps=FPS, values=_smooth)
    else:
        write_v3(root, episodes=episodes, cameras=(), fps=FPS, row_group_size=256)
        _smooth_v3(root)
    if fault != "clean":
        _edit_lerobot(root, clock, fault)
    return root


def _smooth_v3(root: Path) -> None:
    """``write_v3`` writes ramps; give its episodes the same smooth motion as v2.1's."""
    for path in sorted((root / "data").rglob("*.parquet")):
        table = pq.read_table(path)
        episode = table.column("episode_index").to_numpy()
        state = np.zeros((len(episode), 3), np.float32)
        action = np.zeros((len(episode), 2), np.float32)
        for e in np.unique(episode):
            rows = episode == e
            state[rows], action[rows] = _smooth(int(e), EpisodeSpec(int(rows.sum()), 0, True))
        for name, values in (("observation.state", state), ("action", action)):
            column = pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), values.shape[1])
            table = table.set_column(table.schema.get_field_index(name), name, column)
        pq.write_table(table, path, row_group_size=256)


# ---------------------------------------------------------------- ROS


def _in_order(record: np.ndarray) -> np.ndarray:
    out = record.copy()
    for i in range(1, len(out)):
        out[i] = max(out[i], out[i - 1] + DEQUEUE_NS)
    return out


def _ros_times(clock: str | None, fault: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(step index, record time, header stamp) of every published step, after the fault.

    Publishers stamp steadily; the recorder receives each message after a random delay, in
    order (one connection per topic), so its receive times are jittery as on a busy machine."""
    k = np.arange(ROS_STEPS)
    header = ros.T0 + k * ROS_PERIOD
    delay = np.random.default_rng(0).gamma(2.0, RECEIVE_DELAY * ROS_PERIOD / 2, len(k))
    record = header + ros.HEADER_DELAY + delay.astype(np.int64)
    after = k * ROS_PERIOD >= T0_S * NS
    cut = int(np.argmax(after))
    # in order on each side of the fault (a jump back is not smoothed away), each message
    # taken off the queue at least DEQUEUE_NS after the one before
    record = np.concatenate([_in_order(record[:cut]), _in_order(record[cut:])])
    if fault == "gap":
        keep = ~after | (k * ROS_PERIOD >= (T0_S + GAP_S) * NS)
        return k[keep], record[keep], header[keep]
    if fault in ("jump_forward", "jump_back"):
        size = int((JUMP_FORWARD_S if fault == "jump_forward" else JUMP_BACK_S) * NS)
        if clock == "record":
            record = np.where(after, record + size, record)
        else:
            header = np.where(after, header + size, header)
    return k, record, header


def _ros_messages(
    topics: dict[str, tuple[str, Callable[[int, int], Any]]],
    clock: str | None,
    fault: str,
    jumping: str,
) -> list[tuple[int, str, int, Any]]:
    """(record time, topic, header stamp, step) in writing order. A header jump moves one
    publisher's stamps (``jumping``); a record jump moves every topic's receive time."""
    k, record, header = _ros_times(clock, fault)
    clean_header = ros.T0 + k * ROS_PERIOD  # what the other publishers stamp
    out = []
    for topic in topics:
        stamps = header if (clock != "header" or topic == jumping) else clean_header
        for i in range(len(k)):
            out.append((int(record[i]), topic, int(stamps[i]), int(k[i])))
    out.sort(key=lambda m: m[0])
    return out


def _motion_joint_state(ts: Any, k: int, stamp: int, ros1: bool) -> Any:
    """A smooth JointState (the fixture's ramps grow without bound over 1000 steps)."""
    t = k * ROS_PERIOD / NS
    msg = ros._joint_state(ts, 0, stamp, ros1)
    names = list(ros.JOINTS)
    msg.name = names
    msg.position = np.array([0.5 * np.sin(2 * np.pi * 0.2 * t + i) for i in range(3)])
    msg.velocity = np.array([0.2 * np.pi * np.cos(2 * np.pi * 0.2 * t + i) for i in range(3)])
    msg.effort = np.array([2.0 + np.sin(2 * np.pi * 0.2 * t + i) for i in range(3)])
    return msg


def _ros_topics(ts: Any, ros1: bool) -> dict[str, tuple[str, Callable[[int, int], Any]]]:
    """Two header-stamped sensors, a command without header and a plain number."""
    t = ts.types
    topics: dict[str, tuple[str, Callable[[int, int], Any]]] = {
        "/joint_states": (
            "sensor_msgs/msg/JointState",
            lambda k, s: _motion_joint_state(ts, k, s, ros1),
        ),
        "/cmd_vel": (
            "geometry_msgs/msg/Twist",
            lambda k, s: t["geometry_msgs/msg/Twist"](
                linear=ros._vec(ts, 0.2 * np.sin(0.4 * k * ROS_PERIOD / NS), 0.0, 0.0),
                angular=ros._vec(ts, 0.0, 0.0, 0.1),
            ),
        ),
    }
    if not ros1:
        topics["/imu"] = (
            "sensor_msgs/msg/Imu",
            lambda k, s: t["sensor_msgs/msg/Imu"](
                header=ros._header(ts, s),
                orientation=t["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
                orientation_covariance=np.zeros(9),
                angular_velocity=ros._vec(ts, 0.0, 0.0, 0.1 * np.sin(k * ROS_PERIOD / NS)),
                angular_velocity_covariance=np.zeros(9),
                linear_acceleration=ros._vec(ts, 0.0, 0.0, 9.81),
                linear_acceleration_covariance=np.zeros(9),
            ),
        )
    return topics


def _headerless(ts: Any) -> dict[str, tuple[str, Callable[[int, int], Any]]]:
    """A measured value published without a header (``std_msgs/Float64``)."""
    float64 = ts.types["std_msgs/msg/Float64"]
    return {
        "/level": (
            "std_msgs/msg/Float64",
            lambda k, s: float64(data=float(np.sin(2 * np.pi * 0.2 * k * ROS_PERIOD / NS))),
        )
    }


def _write_ros(
    path: Path, fmt: str, clock: str | None, fault: str, header_offset_ns: int | None = 0
) -> Path:
    """``header_offset_ns``: the publishers' clock is that far from the recorder's (a robot
    whose clock is not synchronised), so the reader places rows by the receive time; None:
    no message has a header, the receive time is the only clock."""
    ros1 = fmt == "ros1"
    ts = ros.ros1_store() if ros1 else ros.ros2_store()
    topics = _ros_topics(ts, ros1)
    if header_offset_ns is None:
        topics = {**_headerless(ts), "/cmd_vel": topics["/cmd_vel"]}
        header_offset_ns = 0
    messages = [
        (record, topic, stamp + header_offset_ns, k)
        for record, topic, stamp, k in _ros_messages(topics, clock, fault, "/joint_states")
    ]
    if ros1:
        bag = path.with_suffix(".bag")
        with Writer1(bag) as writer:
            conns = {n: writer.add_connection(n, m, typestore=ts) for n, (m, _) in topics.items()}
            for record, topic, stamp, k in messages:
                msgtype, build = topics[topic]
                writer.write(conns[topic], record, ts.serialize_ros1(build(k, stamp), msgtype))
        return bag
    plugin = StoragePlugin.MCAP if fmt == "rosbag2_mcap" else StoragePlugin.SQLITE3
    with Writer2(path, version=9, storage_plugin=plugin) as writer:
        conns = {n: writer.add_connection(n, m, typestore=ts) for n, (m, _) in topics.items()}
        for record, topic, stamp, k in messages:
            msgtype, build = topics[topic]
            writer.write(conns[topic], record, ts.serialize_cdr(build(k, stamp), msgtype))
    return path


# ---------------------------------------------------------------- the product


def _explain(
    tmp_path: Path, fmt: str, clock: str | None, fault: str, header_offset_ns: int | None = 0
) -> list[dict[str, Any]]:
    """Write the recording, scan it into a fresh catalog, explain the (faulty) episode."""
    folder = tmp_path / "recordings"
    folder.mkdir()
    if fmt.startswith("lerobot"):
        version = "v2.1" if fmt == "lerobot_v21" else "v3.0"
        _write_lerobot(folder / "dataset", version, clock, fault)
    else:
        _write_ros(folder / "run", fmt, clock, fault, header_offset_ns)
    catalog = tmp_path / "c.sqlite"
    assert main(["--catalog", str(catalog), "scan", "--no-explain", str(folder)]) == 0
    with Catalog(catalog) as c:
        episodes = c.list_episodes()
    if fmt.startswith("lerobot"):
        episodes = [e for e in episodes if e.episode_index == FAULTY_EPISODE]
    assert len(episodes) == 1, [e.name for e in episodes]
    return explain_json(catalog, episodes[0].id)


def explain_json(catalog: Path, episode_id: str) -> list[dict[str, Any]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--catalog", str(catalog), "explain", episode_id, "--json"]) == 0
    return list(json.loads(out.getvalue())["findings"])


def _describe(findings: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{f['cause']} {f['confidence']:.2f} @{f['t_start_ns'] / NS:.2f}s" for f in findings[:4]
    )


def _accepted(fmt: str, fault: str) -> set[str]:
    """A gap, and a LeRobot clock stepping forward (rows missing, on disk), may be either;
    a ROS clock stepping while the other runs on, or any clock stepping back, is a jump."""
    if fault == "gap" or (fmt.startswith("lerobot") and fault == "jump_forward"):
        return TIMING
    return {"clock_jump"}


@pytest.mark.parametrize(("fmt", "clock", "fault"), CASES)
def test_a_timing_fault_on_any_clock_is_the_top_finding(
    tmp_path: Path, fmt: str, clock: str | None, fault: str
) -> None:
    findings = _explain(tmp_path, fmt, clock, fault)
    assert findings, "no finding at all"
    top = findings[0]
    assert top["cause"] in _accepted(fmt, fault), _describe(findings)
    assert top["confidence"] >= 0.5, _describe(findings)
    assert abs(top["t_start_ns"] / NS - T0_S) <= 0.5, _describe(findings)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_clean_recording_of_any_format_has_no_confident_finding(tmp_path: Path, fmt: str) -> None:
    findings = _explain(tmp_path, fmt, None, "clean")
    confident = [f for f in findings if f["confidence"] >= 0.5]
    assert not confident, _describe(confident)


@pytest.mark.parametrize("fmt", [f for f in FORMATS if not f.startswith("lerobot")])
def test_a_gap_is_found_on_the_header_clock_when_rows_are_placed_by_receive_time(
    tmp_path: Path, fmt: str
) -> None:
    """Header stamps 3 s off the recorder's clock: rows are placed by the jittery receive
    times, where a 0.4 s hole is no hole; the publishers' steady stamps show it."""
    findings = _explain(tmp_path, fmt, None, "gap", header_offset_ns=-3 * NS)
    assert findings, "no finding at all"
    top = findings[0]
    assert top["cause"] in TIMING and top["confidence"] >= 0.5, _describe(findings)
    assert abs(top["t_start_ns"] / NS - T0_S) <= 0.5, _describe(findings)


@pytest.mark.parametrize("fault", ["gap", "jump_forward", "jump_back", "jump_back_1s", "clean"])
@pytest.mark.parametrize("fmt", [f for f in FORMATS if not f.startswith("lerobot")])
def test_a_gap_or_jump_of_the_only_clock_is_found_though_it_jitters(
    tmp_path: Path, fmt: str, fault: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No header anywhere: the recorder's jittery receive time is the only clock. A hole far
    beyond its own longest ordinary intervals is still a hole; a step back leaves rows of two
    moments sorted together (twice the stream's rate); the clean bag stays quiet."""
    if fault == "jump_back_1s":  # a long overlap: the dense stretch must hold together
        monkeypatch.setattr(sys.modules[__name__], "JUMP_BACK_S", -1.0)
        fault = "jump_back"
    findings = _explain(tmp_path, fmt, "record", fault, header_offset_ns=None)
    if fault == "clean":
        assert not [f for f in findings if f["confidence"] >= 0.5], _describe(findings)
        return
    assert findings, "no finding at all"
    top = findings[0]
    assert top["cause"] in TIMING and top["confidence"] >= 0.5, _describe(findings)
    assert abs(top["t_start_ns"] / NS - T0_S) <= 0.5, _describe(findings)
