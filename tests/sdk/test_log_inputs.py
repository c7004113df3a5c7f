"""Every input form of log_episode comes back exactly — values, times, channel names — when the
logged episode is opened with the bundle reader, as the app opens it."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import h5py
import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

import robotrace_desktop as rt
from robotrace_desktop.bundle.manifest import read_manifest
from robotrace_desktop.bundle.tables import SignalData, write_npz
from tests.sdk.sdk_fixtures import READER, S, joints, painted_video, read
from tests.video.video_fixtures import frame_number, paint_index

LEROBOT = "lerobot/g1_pick_bottle_v21"


def test_parquet_is_stored_as_is_and_reads_back_exactly(tmp_path: Path) -> None:
    path, data = joints(tmp_path / "joints.parquet")
    episode = rt.log_episode(sensors=path, seed=1)
    chunk = read(episode, "joints")
    assert chunk.channels == ("position/a", "position/b", "position/c", "effort")
    np.testing.assert_array_equal(chunk.t_ns, data.t_ns)
    np.testing.assert_array_equal(chunk.values[:, :3], data.fields["position"])
    np.testing.assert_array_equal(chunk.values[:, 3], data.fields["effort"])
    entry = read_manifest(episode.path).signals[0]
    assert (entry.name, entry.path, entry.format, entry.role) == (
        "joints",
        "signals/joints.parquet",
        "parquet",
        "sensor",
    )
    assert (episode.path / entry.path).read_bytes() == path.read_bytes()


def test_feather_with_float_seconds_is_converted_to_ns(tmp_path: Path) -> None:
    seconds = np.array([0.0, 0.1, 0.25, 1.5, 2.000000001])
    torque = np.array([1.0, -2.0, 3.5, 0.0, 7.25])
    path = tmp_path / "torque.feather"
    feather.write_feather(pa.table({"time": seconds, "tau": torque}), str(path))
    episode = rt.log_episode(actions=path)
    chunk = read(episode, "torque")
    assert chunk.channels == ("tau",)
    assert chunk.t_ns.tolist() == [0, 100_000_000, 250_000_000, 1_500_000_000, 2_000_000_001]
    np.testing.assert_array_equal(chunk.values[:, 0], torque)
    entry = read_manifest(episode.path).signals[0]
    assert (entry.format, entry.role, entry.time_column) == ("parquet", "action", "t_ns")
    assert episode.info.stream("torque").details["role"] == "action"


def test_feather_with_an_integer_timestamp_column_is_read_in_place(tmp_path: Path) -> None:
    t = np.array([5, 10, 10, 20], dtype=np.int64) * 1_000_000
    path = tmp_path / "imu.feather"
    feather.write_feather(pa.table({"timestamp": t, "ax": [0.5, 1.5, 2.5, 3.5]}), str(path))
    episode = rt.log_episode(sensors=[path])
    entry = read_manifest(episode.path).signals[0]
    assert (entry.format, entry.time_column) == ("feather", "timestamp")
    chunk = read(episode, "imu")
    assert chunk.t_ns.tolist() == t.tolist()
    assert chunk.values[:, 0].tolist() == [0.5, 1.5, 2.5, 3.5]


def test_npz_streams_keep_their_names_and_the_file_is_stored_once(tmp_path: Path) -> None:
    t1 = np.arange(6, dtype=np.int64) * 50_000_000
    t2 = np.arange(3, dtype=np.int64) * 100_000_000 + 7
    q = np.arange(12, dtype=np.float32).reshape(6, 2)
    path = write_npz(
        tmp_path / "policy.npz",
        {
            "/action": SignalData(t1, {"q": q}, {"q": ["shoulder", "elbow"]}),
            "gripper": SignalData(t2, {"close": np.array([0, 1, 1], dtype=np.uint8)}),
        },
    )
    episode = rt.log_episode(actions=path)
    manifest = read_manifest(episode.path)
    assert [(s.name, s.path) for s in manifest.signals] == [
        ("action", "signals/policy.npz"),
        ("gripper", "signals/policy.npz"),
    ]
    action = read(episode, "action")
    assert action.channels == ("q/shoulder", "q/elbow")
    assert action.t_ns.tolist() == t1.tolist()
    np.testing.assert_array_equal(action.values, q.astype(np.float64))
    gripper = read(episode, "gripper")
    assert gripper.t_ns.tolist() == t2.tolist() and gripper.values[:, 0].tolist() == [0, 1, 1]


def test_flat_npz_with_seconds_and_a_named_stream(tmp_path: Path) -> None:
    path = tmp_path / "log.npz"
    np.savez(path, t=np.array([0.0, 0.5, 1.0]), battery=np.array([24.1, 24.0, 23.2]))
    episode = rt.log_episode(sensors={"/battery": path})
    chunk = read(episode, "/battery")
    assert chunk.t_ns.tolist() == [0, 500_000_000, 1_000_000_000]
    assert chunk.values[:, 0].tolist() == [24.1, 24.0, 23.2]


def test_hdf5_groups_with_their_own_time_are_streams(tmp_path: Path) -> None:
    path = tmp_path / "run.h5"
    qpos = np.arange(8, dtype=np.float64).reshape(4, 2) / 4
    with h5py.File(path, "w") as f:
        f["time"] = np.array([0.0, 0.02, 0.04, 0.06])
        f["qpos"] = qpos
        f["qpos"].attrs["names"] = ["hip", "knee"]
        f["obs/vel"] = np.array([1.0, 2.0, 3.0, 4.0])  # no time of its own: joins the root
        f["imu/t_ns"] = np.array([3, 9], dtype=np.int64)
        f["imu/gyro"] = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
        f["imu/label"] = np.array([b"a", b"b"])  # not numeric: left out
    episode = rt.log_episode(sensors=path)
    root = read(episode, "run")
    assert root.channels == ("qpos/hip", "qpos/knee", "obs.vel")
    assert root.t_ns.tolist() == [0, 20_000_000, 40_000_000, 60_000_000]
    np.testing.assert_array_equal(root.values[:, :2], qpos)
    assert root.values[:, 2].tolist() == [1.0, 2.0, 3.0, 4.0]
    imu = read(episode, "/imu")
    assert imu.channels == ("gyro[0]", "gyro[1]", "gyro[2]")
    assert imu.t_ns.tolist() == [3, 9]
    assert all(s.format == "parquet" for s in read_manifest(episode.path).signals)


def test_in_memory_streams(tmp_path: Path) -> None:
    t = np.array([0, 10, 20], dtype=np.int64)
    u = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    episode = rt.log_episode(actions={"/cmd": {"t_ns": t, "u": u, "mode": [0, 1, 1]}})
    chunk = read(episode, "/cmd")
    assert chunk.channels == ("u[0]", "u[1]", "mode")
    np.testing.assert_array_equal(chunk.values, np.column_stack([u, [0, 1, 1]]))
    assert chunk.t_ns.tolist() == [0, 10, 20]


def test_absolute_epoch_times_become_episode_time(tmp_path: Path) -> None:
    start = 1_700_000_000 * S
    stamps = pa.array(np.array([start, start + S, start + 2 * S]), pa.timestamp("ns"))
    path = tmp_path / "odom.parquet"
    pq.write_table(pa.table({"timestamp": stamps, "v": [1.0, 2.0, 3.0]}), path)
    episode = rt.log_episode(sensors=path, actions={"a": {"t_ns": [start + S // 2], "u": [9.0]}})
    assert episode.info.start_time_ns == start
    assert read(episode, "odom").t_ns.tolist() == [0, S, 2 * S]
    assert read(episode, "a").t_ns.tolist() == [S // 2]
    assert any("absolute epoch times" in w for w in episode.warnings)


@pytest.mark.parametrize("form", ["path", "list", "dict"])
def test_video_forms_name_the_cameras(tmp_path: Path, form: str) -> None:
    front = painted_video(tmp_path / "front.mp4", frames=12)
    wrist = painted_video(tmp_path / "cams" / "wrist.mp4", frames=6)
    video = {
        "path": front,
        "list": [front, wrist],
        "dict": {"overhead": front, "hand": str(wrist)},
    }[form]
    episode = rt.log_episode(video=video)
    expected = {"path": ["front"], "list": ["front", "wrist"], "dict": ["overhead", "hand"]}[form]
    assert [s.name for s in episode.info.streams] == expected
    with READER.open(episode.path) as source:
        camera = source.video(expected[0])
        assert len(camera.frame_times_ns()) == 12
        assert frame_number(camera.frame(7).rgb) == 7
        assert camera.frame_times_ns()[7] == 700_000_000


def _raw_h264(path: Path, frames: int) -> Path:
    """An H.264 elementary stream: no container, so no timestamps at all."""
    with av.open(str(path), "w", format="h264") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        for k in range(frames):
            frame = av.VideoFrame.from_ndarray(paint_index(k))
            frame.pts, frame.time_base = k, Fraction(1, 25)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_fps_times_a_video_without_timestamps(tmp_path: Path) -> None:
    raw = _raw_h264(tmp_path / "cam.h264", 10)
    episode = rt.log_episode(video=raw, fps=8)
    entry = read_manifest(episode.path).videos[0]
    assert entry.timestamps is not None
    with READER.open(episode.path) as source:
        camera = source.video("cam")
        assert camera.frame_times_ns().tolist() == [k * 125_000_000 for k in range(10)]
        assert frame_number(camera.frame(9).rgb) == 9
    without = rt.log_episode(video=raw)
    assert any("has no timestamps" in w and "fps=" in w for w in without.warnings)


def test_fps_never_overrides_a_container_with_timestamps(tmp_path: Path) -> None:
    video = painted_video(tmp_path / "front.mp4", frames=5, fps=10)
    episode = rt.log_episode(video=video, fps=30)
    assert any("fps=30 not applied" in w for w in episode.warnings)
    assert read_manifest(episode.path).videos[0].timestamps is None
    assert episode.info.stream("front").t_end_ns == 400_000_000


def test_real_lerobot_episode_logged_in_place(shared_data: Path) -> None:
    """A real LeRobot v2.1 episode (G1, AV1 video, float32 seconds in 'timestamp') logged by
    reference: values exact, times converted from seconds, video and table on one clock."""
    root = shared_data / LEROBOT
    table_path = root / "data/chunk-000/episode_000001.parquet"
    video_path = root / "videos/chunk-000/observation.images.cam_high/episode_000001.mp4"
    before = (table_path.stat().st_mtime_ns, video_path.stat().st_mtime_ns)
    episode = rt.log_episode(
        name="G1 pick bottle, episode 1",
        source="real",
        robot="unitree-g1",
        video={"cam_high": video_path},
        actions={"g1": table_path},
        copy=False,
    )
    table = pq.read_table(table_path)
    seconds = table.column("timestamp").to_numpy().astype(np.float64)
    chunk = read(episode, "g1")
    assert len(chunk) == 393
    np.testing.assert_array_equal(chunk.t_ns, np.round(seconds * S).astype(np.int64))
    action = np.stack(table.column("action").to_numpy(zero_copy_only=False)).astype(np.float64)
    np.testing.assert_array_equal(chunk.values[:, 26:52], action)
    assert chunk.channels[26] == "action[0]"
    info = json.loads((root / "meta/info.json").read_text())
    assert info["fps"] == 30
    with READER.open(episode.path) as source:
        frames = source.video("cam_high").frame_times_ns()
    assert len(frames) == 393
    assert np.abs(frames - chunk.t_ns).max() < 1_000_000  # one clock, within 1 ms
    assert (episode.path / "video/cam_high.mp4").is_symlink()
    assert (table_path.stat().st_mtime_ns, video_path.stat().st_mtime_ns) == before
