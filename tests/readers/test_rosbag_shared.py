"""ROS bag readers on the real third-party recordings in ../shared/data (see its README)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import Reader as RawReader2
from rosbags.typesys import Stores, get_typestore

from robotrace_desktop.core.episode import EpisodeInfo, StreamKind
from robotrace_desktop.errors import CorruptRecordingError, UnsupportedFormatError
from robotrace_desktop.readers.registry import sniff
from robotrace_desktop.readers.rosbag.reader import Rosbag1Reader, Rosbag2Reader

R2, R1 = Rosbag2Reader(), Rosbag1Reader()


def _index(path: Path) -> EpisodeInfo:
    reader = sniff(path)
    assert reader is not None, path
    (info,) = list(reader.index(path))
    return info


@pytest.mark.parametrize("name", ["talker_mcap", "talker_sqlite3"])
def test_talker(shared_data: Path, name: str) -> None:
    path = shared_data / "rosbag2" / name
    assert sniff(path).kind == "rosbag2"  # type: ignore[union-attr]
    info = _index(path)
    assert info.duration_ns == pytest.approx(4.531e9, abs=1e6)
    assert info.start_time_ns == 1585866235112411371
    topic = info.stream("/topic")
    assert (topic.kind, topic.count) == (StreamKind.EVENT, 10)
    rosout = info.stream("/rosout")
    assert (rosout.kind, rosout.count) == (StreamKind.EVENT, 10)
    assert info.stream("/parameter_events").count == 0
    assert info.problems == []
    with R2.open(path) as src:
        lines = src.read_events("/topic")
        assert [e.text for e in lines] == [f"Hello, world! {i}" for i in range(10)]
        assert {e.level for e in lines} == {"INFO"}
        logs = src.read_events("/rosout")
        assert len(logs) == 10
        assert logs[0].text == "Publishing: 'Hello, world! 0'"
        assert logs[0].level == "INFO" and logs[0].source == "minimal_publisher"
        assert all(np.diff([e.t_ns for e in logs]) > 0)


@pytest.mark.parametrize("name", ["cdr_test_mcap", "cdr_test_sqlite3"])
def test_cdr_test_numeric_channels(shared_data: Path, name: str) -> None:
    path = shared_data / "rosbag2" / name
    info = _index(path)
    basic, arrays = info.stream("/test_topic"), info.stream("/array_topic")
    assert (basic.count, arrays.count) == (3, 4)
    assert basic.kind == arrays.kind == StreamKind.SIGNAL
    assert {"bool_value", "float64_value", "int64_value", "uint8_value"} <= set(basic.channels)
    assert "string_value" not in basic.channels
    assert "float64_values[2]" in arrays.channels
    with R2.open(path) as src:
        chunk = src.read_signal("/test_topic")
        assert len(chunk) == 3
        # Compare with a direct rosbags read of the same messages.
        raw = RawReader2(path)
        raw.open()
        try:
            direct = _direct_messages(raw, path)
        finally:
            raw.close()
        for row, msg in enumerate(direct):
            assert chunk.channel("float64_value")[row] == msg.float64_value
            assert chunk.channel("int32_value")[row] == msg.int32_value
            assert chunk.channel("bool_value")[row] == float(msg.bool_value)
        arr = src.read_signal("/array_topic")
        assert len(arr) == 4
        assert np.isfinite(arr.channel("float64_values[0]")).all()


def _direct_messages(raw: RawReader2, path: Path) -> list[object]:
    from rosbags.highlevel import AnyReader

    with AnyReader([path]) as any_reader:
        conns = [c for c in any_reader.connections if c.topic == "/test_topic"]
        # AnyReader's own messages() drops storages whose QoS differs from metadata.yaml:
        # read the storage file directly and deserialise with AnyReader's typestore.
        storage = raw.storage.storages[0]  # type: ignore[attr-defined]
        sconns = [c for c in storage.connections if c.topic == "/test_topic"]
        return [
            any_reader.deserialize(data, conns[0].msgtype)
            for _, _, data in storage.messages(sconns)
        ]


@pytest.mark.parametrize("name", ["split_wbag_mcap", "split_wbag_sqlite3"])
def test_split_bags_one_episode(shared_data: Path, name: str) -> None:
    path = shared_data / "rosbag2" / name
    reader = sniff(path)
    assert reader is not None and reader.kind == "rosbag2" and reader.folder_format
    info = _index(path)
    assert len(info.metadata["files"]) == 5
    names = {s.name for s in info.streams}
    assert names == {"AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH"}
    assert sum(s.count for s in info.streams) == 6074
    assert info.duration_ns >= 0
    if name.endswith("sqlite3"):
        assert info.stream("AAA").details["types_from"] == "ros2_humble"
    with R2.open(path) as src:
        events = src.read_events("AAA")
        assert len(events) == info.stream("AAA").count == 804
        assert all(np.diff([e.t_ns for e in events]) >= 0)
    assert len(R2.fingerprint_files(path)) == 6


def test_service_events_mcap_indexes_readable_topics(shared_data: Path) -> None:
    info = _index(shared_data / "rosbag2" / "service_events_mcap")
    names = {s.name for s in info.streams}
    assert {"/test_topic1", "/test_topic2"} <= names
    assert "/test_service1/_service_event" not in names
    for topic in ("/test_service1/_service_event", "/test_service2/_service_event"):
        assert any(p.startswith(f"topic {topic} ") and "cannot decode" in p for p in info.problems)
    with R2.open(shared_data / "rosbag2" / "service_events_mcap") as src:
        assert len(src.read_events("/test_topic1")) == 1


def test_service_events_sqlite3_reads(shared_data: Path) -> None:
    path = shared_data / "rosbag2" / "service_events_sqlite3"
    info = _index(path)
    assert info.stream("/test_topic1").count == 1
    with R2.open(path) as src:
        (event,) = src.read_events("/test_topic2")
        assert event.level == "INFO"


def test_empty_bag_sqlite3(shared_data: Path) -> None:
    info = _index(shared_data / "rosbag2" / "empty_bag_sqlite3")
    assert info.duration_ns == 0
    assert info.start_time_ns is None
    assert any("no messages" in p for p in info.problems)
    assert all(s.count == 0 for s in info.streams)


def test_wrong_format_mcap(shared_data: Path) -> None:
    path = shared_data / "rosbag2" / "wrong_format_mcap"
    with pytest.raises(UnsupportedFormatError) as err:
        list(R2.index(path))
    assert str(path) in str(err.value)
    assert "unsupported serialization format 'wrong_format'" in str(err.value)


IIWA = "iiwa7_gazebo_joint_torque_sqlite3"


def test_iiwa(shared_data: Path) -> None:
    path = shared_data / "rosbag2" / IIWA
    info = _index(path)
    assert info.duration_ns == pytest.approx(17.78e9, abs=0.01e9)
    js = info.stream("/joint_states")
    assert js.count == 1941
    joints = [f"joint_a{i}" for i in range(1, 8)]
    assert js.channels[:14] == tuple(
        [f"position/{j}" for j in joints] + [f"velocity/{j}" for j in joints]
    )
    assert js.details["clock"] == "record" and js.details["header_offset_ns"] < -1e18
    cmd = info.stream("/effort_controller/commands")
    assert cmd.count == 759 and cmd.channels == tuple(f"data[{i}]" for i in range(7))
    rosout = info.stream("/rosout")
    assert (rosout.kind, rosout.count) == (StreamKind.EVENT, 36)
    assert info.robot == "iiwa"
    limits = info.metadata["joint_limits"]
    assert limits["joint_a1"] == {
        "lower": -2.9668,
        "upper": 2.9668,
        "effort": 320.0,
        "velocity": 1.4834,
    }
    assert any("/dynamic_joint_states" in p for p in info.problems)
    assert info.metadata["storage"] == "sqlite3"


def test_iiwa_values_match_rosbags(shared_data: Path) -> None:
    path = shared_data / "rosbag2" / IIWA
    store = get_typestore(Stores.ROS2_HUMBLE)
    raw = RawReader2(path)
    raw.open()
    try:
        storage = raw.storage.storages[0]  # type: ignore[attr-defined]
        js_conn = [c for c in storage.connections if c.topic == "/joint_states"]
        msgs = list(storage.messages(js_conn, None, None))
        t100, msg100 = (
            msgs[100][1],
            store.deserialize_cdr(msgs[100][2], "sensor_msgs/msg/JointState"),
        )
        cmd_conn = [c for c in storage.connections if c.topic == "/effort_controller/commands"]
        first_cmd_t, first_cmd = next(iter(storage.messages(cmd_conn, None, None)))[1:]
        cmd = store.deserialize_cdr(first_cmd, "std_msgs/msg/Float64MultiArray")
        start = raw.start_time
    finally:
        raw.close()
    with R2.open(path) as src:
        rel = t100 - start
        chunk = src.read_signal("/joint_states", rel, rel + 1)
        assert chunk.t_ns.tolist() == [rel]  # record clock
        for i, joint in enumerate(msg100.name):
            assert chunk.channel(f"position/{joint}")[0] == msg100.position[i]
            assert chunk.channel(f"velocity/{joint}")[0] == msg100.velocity[i]
        header = msg100.header.stamp.sec * 10**9 + msg100.header.stamp.nanosec
        assert chunk.times["header"][0] == header - start
        commands = src.read_signal("/effort_controller/commands")
        assert commands.t_ns[0] == first_cmd_t - start
        assert commands.values[0].tolist() == cmd.data.tolist()
        # both streams on the record clock: they overlap on one timeline
        full = src.read_signal("/joint_states")
        assert full.t_ns[0] < commands.t_ns[0] < full.t_ns[-1]
        assert len(src.read_events("/rosout")) == 36


@pytest.mark.parametrize("name", ["example.bag", "example-lz4.bag"])
def test_ros1_example(shared_data: Path, name: str) -> None:
    path = shared_data / "ros1" / name
    assert sniff(path).kind == "rosbag1"  # type: ignore[union-attr]
    info = _index(path)
    assert info.duration_ns == pytest.approx(21.7e9, abs=0.01e9)
    pose = info.stream("/turtle1/pose")
    assert pose.count == 1344
    assert pose.channels == ("x", "y", "theta", "linear_velocity", "angular_velocity")
    assert info.stream("/turtle1/cmd_vel").count == 357
    assert info.stream("/turtle2/cmd_vel").count == 208
    assert info.stream("/turtle1/cmd_vel").channels[0] == "linear.x"
    assert info.stream("/rosout").kind == StreamKind.EVENT


def test_ros1_compressed_equals_uncompressed(shared_data: Path) -> None:
    plain, lz4 = shared_data / "ros1" / "example.bag", shared_data / "ros1" / "example-lz4.bag"
    a, b = _index(plain), _index(lz4)
    assert {(s.name, s.count, s.channels) for s in a.streams} == {
        (s.name, s.count, s.channels) for s in b.streams
    }
    assert a.metadata["compression"] == "none" and b.metadata["compression"] == "lz4"
    with R1.open(plain) as sa, R1.open(lz4) as sb:
        for topic in ("/turtle1/pose", "/turtle1/cmd_vel"):
            ca, cb = sa.read_signal(topic), sb.read_signal(topic)
            assert np.array_equal(ca.t_ns, cb.t_ns)
            assert np.array_equal(ca.values, cb.values)
        assert [e.text for e in sa.read_events("/rosout")] == [
            e.text for e in sb.read_events("/rosout")
        ]
        pose = sa.read_signal("/turtle1/pose")
        assert pose.channel("x")[0] == pytest.approx(5.544444561)
        cmd = sa.read_signal("/turtle1/cmd_vel")
        assert pose.t_ns[0] <= cmd.t_ns[0] <= pose.t_ns[-1]


def test_ros1_unsorted_chunks_in_time_order(shared_data: Path) -> None:
    path = shared_data / "ros1" / "example-unsorted-chunks.bag"
    info = _index(path)
    assert info.duration_ns == 2_000_000_000
    with R1.open(path) as src:
        events = src.read_events("foo")
        assert [e.t_ns for e in events] == [0, 1_000_000_000, 2_000_000_000]
        assert len(events) == 3


def test_ros1_no_messages(shared_data: Path) -> None:
    info = _index(shared_data / "ros1" / "no-messages.bag")
    assert info.duration_ns == 0
    assert any("no messages" in p for p in info.problems)


def test_ros1_empty_file(shared_data: Path) -> None:
    path = shared_data / "ros1" / "empty-file.bag"
    assert sniff(path).kind == "rosbag1"  # type: ignore[union-attr]
    with pytest.raises(CorruptRecordingError, match=r"empty-file\.bag: empty file \(0 bytes\)"):
        list(R1.index(path))


def _hashes(root: Path) -> dict[str, tuple[str, float]]:
    return {
        str(p): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_reading_never_writes_to_the_recordings(shared_data: Path) -> None:
    roots = [shared_data / "rosbag2", shared_data / "ros1"]
    before = {k: v for root in roots for k, v in _hashes(root).items()}
    listing = {str(p) for root in roots for p in root.rglob("*")}
    bags = [p.parent for p in (shared_data / "rosbag2").rglob("metadata.yaml")]
    bags += list((shared_data / "ros1").rglob("*.bag"))
    assert len(bags) == 13 + 7  # every bag in shared/data, nested folders included
    for bag in bags:
        reader = sniff(bag)
        assert reader is not None
        try:
            (info,) = list(reader.index(bag))
        except (UnsupportedFormatError, CorruptRecordingError):
            continue
        with reader.open(bag) as src:
            for stream in info.streams:
                if stream.kind == StreamKind.SIGNAL:
                    src.read_signal(stream.name)
                elif stream.kind == StreamKind.EVENT:
                    src.read_events(stream.name)
    after = {k: v for root in roots for k, v in _hashes(root).items()}
    assert after == before
    assert {str(p) for root in roots for p in root.rglob("*")} == listing
    sidecars = shared_data / "rosbag2" / "empty_bag_sqlite3"
    assert (sidecars / "empty_bag_0.db3-wal").stat().st_size == 0
