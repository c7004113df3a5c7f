"""HDF5 reader: ALOHA/ACT episode files (raw and JPEG images, time datasets) and robomimic."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from robotrace_desktop.core.episode import Outcome, StreamKind
from robotrace_desktop.errors import (
    CorruptRecordingError,
    RecordingError,
    StreamNotFoundError,
    UnsupportedFormatError,
)
from robotrace_desktop.readers.hdf5.reader import Hdf5Reader
from robotrace_desktop.readers.hdf5.source import ALOHA_JOINTS
from tests.readers.hdf5_fixtures import write_aloha, write_robomimic

READER = Hdf5Reader()
MS = 1_000_000


def _only(path: Path):
    infos = list(READER.index(path))
    assert len(infos) == 1
    return infos[0]


def test_aloha_raw_images_streams_names_and_values(tmp_path: Path) -> None:
    path = tmp_path / "episode_3.hdf5"
    data = write_aloha(path, steps=40)
    assert READER.sniff(path) == pytest.approx(0.9)
    info = _only(path)
    assert info.kind == "hdf5" and info.episode_index is None
    assert info.name == "episode_3" and info.source == "sim"
    assert info.duration_ns == 40 * 20 * MS  # ALOHA's 50 Hz
    assert info.metadata["time_basis"].startswith("ALOHA default 50 Hz")
    names = {s.name for s in info.streams}
    assert {"/observations/qpos", "/observations/qvel", "/observations/effort", "/action"} <= names
    qpos = info.stream("/observations/qpos")
    assert qpos.kind == StreamKind.SIGNAL and qpos.count == 40
    assert qpos.channels[:3] == ("left_waist", "left_shoulder", "left_elbow")
    assert qpos.channels[13] == "right_gripper"
    assert qpos.details["names"] == "aloha-default"
    assert qpos.rate_hz == pytest.approx(50.0)
    top = info.stream("/observations/images/top")
    assert top.kind == StreamKind.VIDEO and top.count == 40
    assert (top.details["width"], top.details["height"]) == (64, 48)
    assert not info.problems

    with READER.open(path) as episode:
        chunk = episode.read_signal("/observations/qpos", 100 * MS, 200 * MS)
        assert chunk.t_ns.tolist() == [100 * MS, 120 * MS, 140 * MS, 160 * MS, 180 * MS]
        np.testing.assert_array_equal(chunk.values, data.qpos[5:10])
        assert chunk.channel("right_gripper").tolist() == data.qpos[5:10, 13].tolist()
        action = episode.read_signal("/action")
        np.testing.assert_array_equal(action.values, data.action)
        video = episode.video("/observations/images/left_wrist")
        frame = video.frame_at(143 * MS)  # inside frame 7's interval [140, 160) ms
        assert frame is not None and frame.index == 7 and frame.t_ns == 140 * MS
        np.testing.assert_array_equal(frame.rgb, data.images["left_wrist"][7])
        assert video.frame_at(800 * MS) is None  # past the last frame's interval
        with pytest.raises(StreamNotFoundError):
            episode.read_signal("/observations/nothing")


def test_aloha_jpeg_images_decode_close_to_original(tmp_path: Path) -> None:
    path = tmp_path / "episode_0.hdf5"
    data = write_aloha(path, steps=20, compress=True, sim=False)
    info = _only(path)
    assert info.source == "real" and info.metadata["compress"] is True
    top = info.stream("/observations/images/top")
    assert top.kind == StreamKind.VIDEO and top.details["layout"] == "jpeg"
    assert (top.details["width"], top.details["height"]) == (64, 48)
    assert "/compress_len" not in {s.name for s in info.streams}
    with READER.open(path) as episode:
        for cam in ("top", "left_wrist"):
            frame = episode.video(f"/observations/images/{cam}").frame(13)
            assert frame.rgb.shape == (48, 64, 3)
            diff = np.abs(frame.rgb.astype(int) - data.images[cam][13].astype(int))
            assert diff.mean() < 3.0
            # The red level encodes the frame: it must be frame 13's, not a neighbour's (±9).
            assert abs(float(frame.rgb[:, :, 0].mean()) - (13 * 9 + 40 * (cam != "top"))) < 3


def test_aloha_timestamps_dataset_is_the_clock(tmp_path: Path) -> None:
    path = tmp_path / "episode_1.hdf5"
    epoch = 1_700_000_000.0
    stamps = epoch + np.array([0.0, 0.02, 0.041, 0.06, 0.085, 0.1, 0.12, 0.14])
    data = write_aloha(path, steps=8, cams=("top",), timestamps_s=stamps)
    info = _only(path)
    assert info.metadata["time_basis"] == "dataset /observations/timestamps"
    assert info.start_time_ns == 1_700_000_000 * 1_000_000_000
    qpos = info.stream("/observations/qpos")
    assert (qpos.t_start_ns, qpos.t_end_ns) == (0, 140 * MS)
    assert "/observations/timestamps" not in {s.name for s in info.streams}
    with READER.open(path) as episode:
        chunk = episode.read_signal("/observations/effort", 41 * MS, 100 * MS)
        assert chunk.t_ns.tolist() == [41 * MS, 60 * MS, 85 * MS]
        np.testing.assert_array_equal(chunk.values, data.effort[2:5])
        video = episode.video("/observations/images/top")
        assert video.frame_times_ns()[4] == 85 * MS
        assert video.frame_at(90 * MS).index == 4


def test_aloha_rate_attribute_and_names_attribute(tmp_path: Path) -> None:
    path = tmp_path / "episode_2.hdf5"
    write_aloha(
        path,
        steps=10,
        cams=(),
        root_attrs={
            "fps": 25,
            "policy_version": "act-v1.2",
            "env_version": "aloha-sim-0.3",
            "git_sha": "a" * 40,
            "seed": np.int64(11),
            "task": "transfer cube",
        },
    )
    with h5py.File(path, "a") as f:
        f["action"].attrs["names"] = [f"a{i}" for i in range(14)]
    info = _only(path)
    assert info.metadata["time_basis"] == "attribute fps=25"
    assert info.duration_ns == 10 * 40 * MS
    assert info.stream("/action").channels[:2] == ("a0", "a1")
    assert info.stream("/action").details["names"] == "attribute names"
    assert (info.policy_version, info.env_version, info.git_sha, info.seed, info.task) == (
        "act-v1.2",
        "aloha-sim-0.3",
        "a" * 40,
        11,
        "transfer cube",
    )


def test_generic_channel_names_for_other_widths(tmp_path: Path) -> None:
    path = tmp_path / "episode_5.hdf5"
    write_aloha(path, steps=6, cams=())
    with h5py.File(path, "a") as f:
        f.create_dataset("base_action", data=np.ones((6, 2)))
    info = _only(path)
    assert info.stream("/base_action").channels == ("base_action[0]", "base_action[1]")


def test_robomimic_demos_outcomes_and_values(tmp_path: Path) -> None:
    path = tmp_path / "low_dim.hdf5"
    demos = write_robomimic(path)
    infos = list(READER.index(path))
    assert [i.episode_index for i in infos] == [0, 2, 10]  # numeric order, not "demo_10" < "demo_2"
    assert len({i.id for i in infos}) == 3
    by_index = {i.episode_index: i for i in infos}
    assert by_index[2].outcome == Outcome.SUCCESS
    assert by_index[0].outcome == Outcome.UNKNOWN and by_index[10].outcome == Outcome.UNKNOWN
    first = by_index[0]
    assert (first.task, first.robot, first.env_version, first.source) == (
        "Lift",
        "Panda",
        "1.4.1",
        "sim",
    )
    assert first.name == "low_dim demo_0"
    assert first.metadata["time_basis"] == "env_args control_freq=10"
    assert first.duration_ns == 12 * 100 * MS
    assert by_index[10].duration_ns == 18 * 100 * MS
    names = {s.name for s in first.streams}
    assert {"/actions", "/rewards", "/dones", "/states", "/obs/robot0_eef_pos"} <= names
    assert not any(n.startswith("/next_obs") for n in names)
    assert first.stream("/actions").channels[6] == "actions[6]"
    assert first.stream("/obs/agentview_image").kind == StreamKind.VIDEO

    with READER.open(path, 10) as episode:
        demo = demos[10]
        chunk = episode.read_signal("/actions", 300 * MS, 600 * MS)
        assert chunk.t_ns.tolist() == [300 * MS, 400 * MS, 500 * MS]
        np.testing.assert_array_equal(chunk.values, demo.actions[3:6])
        eef = episode.read_signal("/obs/robot0_eef_pos")
        np.testing.assert_array_equal(eef.values, demo.eef_pos)
        frame = episode.video("/obs/agentview_image").frame(17)
        np.testing.assert_array_equal(frame.rgb, demo.images[17])
    with pytest.raises(RecordingError, match="demo_7"):
        READER.open(path, 7)


def test_robomimic_default_rate(tmp_path: Path) -> None:
    path = tmp_path / "image.hdf5"
    write_robomimic(path, numbers=(1,), control_freq=None)
    info = _only(path)
    assert info.metadata["time_basis"] == "robomimic default 20 Hz"
    assert info.duration_ns == 12 * 50 * MS


def test_truncated_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "episode_9.hdf5"
    write_aloha(path, steps=30)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 3])
    assert READER.sniff(path) is not None
    with pytest.raises(CorruptRecordingError) as err:
        list(READER.index(path))
    assert str(path) in str(err.value)


def test_non_episode_hdf5_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "weights.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("layer1/kernel", data=np.zeros((4, 4)))
    with pytest.raises(UnsupportedFormatError) as err:
        list(READER.index(path))
    message = str(err.value)
    assert str(path) in message
    assert "neither an ALOHA episode nor a robomimic dataset" in message


def test_not_hdf5_at_all(tmp_path: Path) -> None:
    path = tmp_path / "fake.hdf5"
    path.write_text("hello, not hdf5")
    assert READER.sniff(path) == pytest.approx(0.2)
    with pytest.raises(CorruptRecordingError, match="no HDF5 signature"):
        list(READER.index(path))
    empty = tmp_path / "empty.hdf5"
    empty.write_bytes(b"")
    assert READER.sniff(empty) is None


def test_userblock_signature_is_found(tmp_path: Path) -> None:
    path = tmp_path / "episode_ub.h5"
    with h5py.File(path, "w", userblock_size=1024) as f:
        f.create_dataset("observations/qpos", data=np.zeros((5, 14)))
    assert path.read_bytes()[:8] != b"\x89HDF\r\n\x1a\n"
    assert READER.sniff(path) == pytest.approx(0.9)
    assert _only(path).stream("/observations/qpos").count == 5
    matlab = tmp_path / "episode.mat"  # HDF5 inside, but not ours to claim
    matlab.write_bytes(path.read_bytes())
    assert READER.sniff(matlab) is None


def test_references_vlen_and_external_links_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "episode_4.hdf5"
    data = write_aloha(path, steps=5, cams=())
    other = tmp_path / "other.hdf5"
    with h5py.File(other, "w") as f:
        f.create_dataset("secret", data=np.ones((5, 2)))
    with h5py.File(path, "a") as f:
        refs = f.create_dataset("refs", (5,), dtype=h5py.ref_dtype)
        refs[0] = f["action"].ref
        vlen = f.create_dataset("blobs", (5,), dtype=h5py.vlen_dtype(np.float64))
        vlen[0] = np.arange(3.0)
        f["linked"] = h5py.ExternalLink(str(other), "/secret")
    info = _only(path)
    problems = "\n".join(info.problems)
    assert "/refs holds object references" in problems
    assert "/blobs holds variable-length objects" in problems
    assert "/linked is an external link" in problems
    assert {"/refs", "/blobs", "/linked"}.isdisjoint(s.name for s in info.streams)
    with READER.open(path) as episode:
        np.testing.assert_array_equal(episode.read_signal("/action").values, data.action)


def test_file_is_opened_read_only_and_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "episode_6.hdf5"
    write_aloha(path, steps=5, cams=("top",))
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    list(READER.index(path))
    with READER.open(path) as episode:
        episode.read_signal("/observations/qvel")
        episode.video("/observations/images/top").frame(0)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["episode_6.hdf5"]


def test_aloha_joint_names_constant() -> None:
    assert len(ALOHA_JOINTS) == 14
    assert ALOHA_JOINTS[6] == "left_gripper" and ALOHA_JOINTS[7] == "right_waist"


@pytest.mark.parametrize(
    ("values", "units", "expected_ms"),
    [
        (np.array([5, 25, 45, 70], dtype=np.int64) * MS, None, [0, 20, 40, 65]),
        (np.array([1000, 1010, 1030, 1040], dtype=np.int64), "ms", [0, 10, 30, 40]),
    ],
)
def test_integer_time_dataset_units(
    tmp_path: Path, values: np.ndarray, units: str | None, expected_ms: list[int]
) -> None:
    path = tmp_path / "episode_7.hdf5"
    write_aloha(path, steps=4, cams=())
    with h5py.File(path, "a") as f:
        ds = f.create_dataset("/observations/timestamps", data=values)
        if units:
            ds.attrs["units"] = units
    info = _only(path)
    assert info.start_time_ns is None  # not an epoch time
    with READER.open(path) as episode:
        chunk = episode.read_signal("/observations/qpos")
        assert chunk.t_ns.tolist() == [v * MS for v in expected_ms]


def test_registry_picks_the_hdf5_reader(tmp_path: Path) -> None:
    from robotrace_desktop.readers.registry import reader_for

    path = tmp_path / "episode_8.hdf5"
    write_aloha(path, steps=3, cams=())
    assert isinstance(reader_for(path), Hdf5Reader)
