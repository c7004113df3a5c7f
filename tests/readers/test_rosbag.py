"""ROS bag readers on bags generated with rosbags' writers: every message type with known values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.core.episode import Outcome, StreamKind
from robotrace_desktop.errors import CorruptRecordingError, StreamNotFoundError
from robotrace_desktop.readers.registry import sniff
from robotrace_desktop.readers.rosbag.images import image_to_rgb
from robotrace_desktop.readers.rosbag.reader import Rosbag1Reader, Rosbag2Reader
from tests.readers import ros_fixtures as fx

R2, R1 = Rosbag2Reader(), Rosbag1Reader()
MS = 1_000_000


def _index(reader: Rosbag2Reader, path: Path):  # type: ignore[no-untyped-def]
    (info,) = list(reader.index(path))
    return info


@pytest.fixture(scope="module", params=["sqlite3", "mcap"])
def bag2(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    custom = {
        "policy_version": "pol-3",
        "env_version": "env-1",
        "git_sha": "abc123",
        "seed": "42",
        "robot": "arm7",
        "task": "pick",
        "source": "sim",
        "success": "false",
    }
    folder = tmp_path_factory.mktemp("bags") / f"run_{request.param}"
    return fx.write_rosbag2(folder, request.param, custom_data=custom)


def test_rosbag2_index_summary(bag2: Path) -> None:
    assert R2.sniff(bag2) == pytest.approx(0.95)
    assert sniff(bag2) is not None and sniff(bag2).kind == "rosbag2"
    info = _index(R2, bag2)
    assert info.kind == "rosbag2" and info.episode_index is None
    assert info.name == bag2.name
    assert info.duration_ns == (fx.N - 1) * fx.PERIOD
    assert info.start_time_ns == fx.T0
    assert info.problems == []
    assert (info.policy_version, info.env_version, info.git_sha, info.seed) == (
        "pol-3",
        "env-1",
        "abc123",
        42,
    )
    assert (info.robot, info.task, info.source, info.outcome) == (
        "arm7",
        "pick",
        "sim",
        Outcome.FAILURE,
    )
    assert info.metadata["storage"] in ("sqlite3", "mcap")
    kinds = {s.name: s.kind for s in info.streams}
    assert kinds["/camera/rgb"] == kinds["/camera/jpeg"] == StreamKind.VIDEO
    assert kinds["/rosout"] == StreamKind.EVENT
    assert kinds["/joint_states"] == StreamKind.SIGNAL
    js = info.stream("/joint_states")
    assert js.count == fx.N
    assert js.channels == tuple(
        f"{f}/{j}" for f in ("position", "velocity", "effort") for j in fx.JOINTS
    )
    assert js.details["clock"] == "header"
    assert js.details["rate_basis"] == "bag duration"
    assert R2.fingerprint_files(bag2)[0].name == "metadata.yaml"
    assert len(R2.fingerprint_files(bag2)) == 2


def test_joint_state_values_by_name_and_clocks(bag2: Path) -> None:
    with R2.open(bag2) as src:
        chunk = src.read_signal("/joint_states")
        assert len(chunk) == fx.N
        # header clock: stamps are 5 ms before the record time
        assert chunk.t_ns.tolist() == [k * fx.PERIOD - fx.HEADER_DELAY for k in range(fx.N)]
        assert chunk.times["record"].tolist() == [k * fx.PERIOD for k in range(fx.N)]
        for k in range(fx.N):  # odd messages list the joints in reverse order
            for joint, (pos, vel, eff) in fx.joint_values(k).items():
                assert chunk.channel(f"position/{joint}")[k] == pos
                assert chunk.channel(f"velocity/{joint}")[k] == vel
                assert chunk.channel(f"effort/{joint}")[k] == eff
        sim = src.read_signal("/sim_joint_states")
        assert src.info.stream("/sim_joint_states").details["clock"] == "record"
        assert "simulation" in src.info.stream("/sim_joint_states").details["clock_reason"]
        assert sim.t_ns.tolist() == chunk.times["record"].tolist()


EXPECTED_ROWS = {  # topic → {channel: value at k=3}
    "/imu": {"orientation.x": 0.3, "angular_velocity.x": 0.03, "linear_acceleration.z": 9.81},
    "/battery": {"voltage": 22.5, "percentage": np.float32(0.7), "present": 1.0, "current": -2.0},
    "/cmd_vel": {"linear.x": 1.5, "angular.z": 0.75, "linear.z": -1.0},
    "/wrench": {"force.x": 3.0, "torque.z": -0.9},
    "/pose": {"pose.position.x": 3.0, "pose.position.y": 6.0, "pose.orientation.w": 1.0},
    "/twist": {"twist.linear.x": 1.5, "twist.angular.z": 0.75},
    "/odom": {"pose.pose.position.y": 6.0, "twist.twist.angular.z": 0.75},
    "/trajectory": {"position/shoulder": 3.0, "position/wrist": 4.0, "velocity/elbow": 0.3},
    "/action": {"data[0]": 4.5, "data[1]": -3.0, "data[2]": 0.25},
    "/scalar": {"data": 0.75},
    "/count": {"data": -3.0},
    "/flag": {"data": 1.0},
}


def test_flattened_values(bag2: Path) -> None:
    info = _index(R2, bag2)
    assert "pose.pose.position.x" in info.stream("/odom").channels
    assert not any("covariance" in c for c in info.stream("/imu").channels)
    assert info.stream("/trajectory").channels == tuple(
        f"{f}/{j}" for f in ("position", "velocity") for j in fx.JOINTS
    )
    with R2.open(bag2) as src:
        for topic, expected in EXPECTED_ROWS.items():
            chunk = src.read_signal(topic)
            assert len(chunk) == fx.N, topic
            for channel, value in expected.items():
                assert chunk.channel(channel)[3] == pytest.approx(float(value)), (topic, channel)


def test_read_signal_window_reads_only_that_range(bag2: Path) -> None:
    with R2.open(bag2) as src:
        chunk = src.read_signal("/cmd_vel", 100 * MS, 300 * MS)
        assert chunk.t_ns.tolist() == [100 * MS, 200 * MS]
        assert chunk.channel("linear.x").tolist() == [0.5, 1.0]
        # header clock: the window applies to header times (95 ms, 195 ms, 295 ms...)
        js = src.read_signal("/joint_states", 95 * MS, 195 * MS)
        assert js.t_ns.tolist() == [95 * MS]
        assert src.read_signal("/cmd_vel", 10_000 * MS, 20_000 * MS).values.shape == (0, 6)
        with pytest.raises(StreamNotFoundError):
            src.read_signal("/camera/rgb")
        with pytest.raises(StreamNotFoundError):
            src.read_signal("/nope")


def test_log_events(bag2: Path) -> None:
    with R2.open(bag2) as src:
        events = src.read_events("/rosout")
        assert [e.level for e in events] == ["DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
        assert [e.text for e in events] == [f"step {k}" for k in range(fx.N)]
        assert {e.source for e in events} == {"policy_node"}
        assert events[2].t_ns == 2 * fx.PERIOD - fx.HEADER_DELAY
        assert [e.text for e in src.read_events("/rosout", 150 * MS, 350 * MS)] == [
            "step 2",
            "step 3",
        ]


def test_raw_image_frames_exact(bag2: Path) -> None:
    with R2.open(bag2) as src:
        info = src.info.stream("/camera/rgb")
        assert info.details["encoding"] == "rgb8" and info.details["width"] == fx.IMAGE_W
        for topic, convert in (
            ("/camera/rgb", lambda p: p),
            ("/camera/bgr", lambda p: p[:, :, ::-1]),
            ("/camera/mono", lambda p: np.repeat(p, 3, axis=2)),
        ):
            cam = src.video(topic)
            assert cam.frame_times_ns().tolist() == [k * fx.PERIOD for k in range(fx.N)]
            channels = 1 if topic.endswith("mono") else 3
            for k in (0, 3):
                frame = cam.frame(k)
                assert frame.index == k and frame.t_ns == k * fx.PERIOD
                assert np.array_equal(frame.rgb, convert(fx.image_pixels(k, channels))), topic
            assert cam.frame_index_at(250 * MS) == 2
            assert cam.frame_at(250 * MS).index == 2  # type: ignore[union-attr]


def test_compressed_image_decodes_close_to_source(bag2: Path) -> None:
    with R2.open(bag2) as src:
        cam = src.video("/camera/jpeg")
        frame = cam.frame(2)
        diff = np.abs(frame.rgb.astype(int) - fx.smooth_rgb(2).astype(int))
        assert frame.rgb.shape == (fx.IMAGE_H, fx.IMAGE_W, 3)
        assert diff.mean() < 3.0


def test_split_bag_is_one_episode(tmp_path: Path) -> None:
    for storage in ("mcap", "sqlite3"):
        folder = fx.write_rosbag2_split(tmp_path / f"split_{storage}", storage)
        info = _index(R2, folder)
        assert len(info.metadata["files"]) == 2
        assert info.stream("/cmd_vel").count == 10
        assert info.duration_ns == 9 * fx.PERIOD
        with R2.open(folder) as src:
            chunk = src.read_signal("/cmd_vel")
            assert chunk.channel("linear.x").tolist() == [0.5 * k for k in range(10)]
            assert src.read_signal("/cmd_vel", 400 * MS, 600 * MS).t_ns.tolist() == [
                400 * MS,
                500 * MS,
            ]


def test_lone_storage_files(tmp_path: Path) -> None:
    for path in (
        fx.write_lone_mcap(tmp_path / "solo.mcap"),
        fx.write_lone_db3(tmp_path / "solo.db3"),
    ):
        assert R2.sniff(path) == pytest.approx(0.9)
        assert R2.fingerprint_files(path) == [path]
        info = _index(R2, path)
        assert info.name == "solo" and info.metadata["files"] == [path.name]
        with R2.open(path) as src:
            assert src.read_signal("/scalar").channel("data").tolist() == [k / 4 for k in range(5)]


def test_storage_file_inside_folder_not_claimed(bag2: Path) -> None:
    storage = next(p for p in bag2.iterdir() if p.suffix in (".db3", ".mcap"))
    assert R2.sniff(storage) is None


@pytest.mark.parametrize("compression", [None, "lz4", "bz2"])
def test_rosbag1(tmp_path: Path, compression: str | None) -> None:
    path = fx.write_rosbag1(tmp_path / f"run_{compression}.bag", compression)
    assert R1.sniff(path) == pytest.approx(0.95)
    assert sniff(path).kind == "rosbag1"  # type: ignore[union-attr]
    info = _index(R1, path)
    assert info.kind == "rosbag1" and info.name == path.stem
    assert info.duration_ns == (fx.N - 1) * fx.PERIOD
    assert info.metadata["compression"] == (compression or "none")
    assert info.stream("/cmd_vel").t_end_ns == (fx.N - 1) * fx.PERIOD
    with R1.open(path) as src:
        chunk = src.read_signal("/joint_states")
        assert chunk.channel("effort/wrist").tolist() == [10.0 * k + 2 for k in range(fx.N)]
        assert chunk.channel("position/elbow")[1] == pytest.approx(1.1)
        assert src.read_signal("/scalar").channel("data").tolist() == [k / 4 for k in range(5)]
        events = src.read_events("/rosout")
        assert [e.level for e in events] == ["DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
        assert events[0].source == "/policy"
        frame = src.video("/camera/rgb").frame(4)
        assert np.array_equal(frame.rgb, fx.image_pixels(4))


def test_empty_and_bad_files(tmp_path: Path) -> None:
    empty = tmp_path / "zero.bag"
    empty.write_bytes(b"")
    assert R1.sniff(empty) is not None
    with pytest.raises(CorruptRecordingError, match=r"zero\.bag: empty file \(0 bytes\)"):
        list(R1.index(empty))
    junk = tmp_path / "junk.mcap"
    junk.write_bytes(b"not an mcap at all")
    with pytest.raises(Exception, match=r"junk\.mcap") as err:
        list(R2.index(junk))
    assert err.type.__name__ in ("UnsupportedFormatError", "CorruptRecordingError")
    truncated = tmp_path / "cut.mcap"
    data = fx.write_lone_mcap(tmp_path / "whole.mcap").read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptRecordingError, match=r"cut\.mcap"):
        list(R2.index(truncated))


def test_image_encodings() -> None:
    class Msg:
        def __init__(self, encoding: str, data: np.ndarray, width: int, step: int) -> None:
            self.encoding, self.height, self.width, self.step = encoding, 2, width, step
            self.is_bigendian, self.data = 0, data.reshape(-1).view(np.uint8)

    depth = np.array([[0, 1000], [2000, 4000]], np.uint16)
    rgb = image_to_rgb(Msg("16UC1", depth, 2, 4), "sensor_msgs/msg/Image", "t")
    assert rgb[:, :, 0].tolist() == [[0, 63], [127, 255]]
    bgra = np.arange(16, dtype=np.uint8).reshape(2, 2, 4)
    out = image_to_rgb(Msg("bgra8", bgra, 2, 8), "sensor_msgs/msg/Image", "t")
    assert out[0, 0].tolist() == [2, 1, 0]
    bayer = np.array([[200, 100], [50, 10]], np.uint8)  # R G / G B
    out = image_to_rgb(Msg("bayer_rggb8", bayer, 2, 2), "sensor_msgs/msg/Image", "t")
    assert out[1, 1].tolist() == [200, 75, 10]
