"""LeRobotReader on the real v2.1 dataset g1_pick_bottle_v21 (100 episodes; videos of 1, 2, 4, 5
only)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
import pytest

from robotrace_desktop.core.episode import EpisodeInfo, Status, StreamKind, episode_id
from robotrace_desktop.errors import RecordingError
from robotrace_desktop.readers.lerobot.reader import LeRobotReader

CAMERA = "observation.images.cam_high"
WITH_VIDEO = {1, 2, 4, 5}


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def dataset(shared_data: Path) -> Iterator[Path]:
    """The dataset, checked byte for byte unchanged (and with no new files) after the tests."""
    root = shared_data / "lerobot" / "g1_pick_bottle_v21"
    before = _tree_digest(root)
    yield root
    assert _tree_digest(root) == before, "the reader changed the user's dataset"


@pytest.fixture(scope="module")
def episodes(dataset: Path) -> list[EpisodeInfo]:
    return list(LeRobotReader().index(dataset))


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_sniff_claims_the_dataset(dataset: Path) -> None:
    reader = LeRobotReader()
    assert reader.sniff(dataset) == pytest.approx(0.95)
    assert reader.sniff(dataset / "data") is None
    assert reader.folder_format


def test_every_episode_indexes_with_its_length(dataset: Path, episodes: list[EpisodeInfo]) -> None:
    lengths = {e["episode_index"]: e["length"] for e in _jsonl(dataset / "meta/episodes.jsonl")}
    assert [e.episode_index for e in episodes] == list(range(100))
    root = str(dataset.resolve())
    for info in episodes:
        assert info.kind == "lerobot"
        assert info.path == root
        assert info.id == episode_id(root, info.episode_index)
        assert info.name == f"g1_pick_bottle_v21 #{info.episode_index}"
        assert info.status is Status.READY
        assert info.robot == "Unitree_G1_Inspire"
        assert info.task == "Pick up the yellow bottle on the table."
        length = lengths[info.episode_index]
        assert info.duration_ns == round(length * 1e9 / 30)
        for stream in info.streams:
            assert stream.count == length
            assert stream.t_start_ns == 0
            assert stream.t_end_ns == round((length - 1) * 1e9 / 30)
    assert episodes[1].duration_ns == 13_100_000_000  # 393 frames, as the README says
    total_ns = sum(e.duration_ns for e in episodes)
    assert abs(total_ns - 35_965 * 1_000_000_000 / 30) < 100  # rounding only, 1 ns per episode
    assert len({e.id for e in episodes}) == 100


def test_streams_and_joint_names(dataset: Path, episodes: list[EpisodeInfo]) -> None:
    names = json.loads((dataset / "meta/info.json").read_text())["features"]["action"]["names"][0]
    info = episodes[1]
    assert [s.name for s in info.streams] == ["observation.state", "action", CAMERA]
    state = info.stream("observation.state")
    assert state.kind is StreamKind.SIGNAL
    assert state.channels == tuple(names)
    assert state.channels[0] == "kLeftShoulderPitch"
    assert len(state.channels) == 26
    assert state.rate_hz == pytest.approx(30.0)
    camera = info.stream(CAMERA)
    assert camera.kind is StreamKind.VIDEO
    assert camera.details["codec"] == "av1"
    assert (camera.details["width"], camera.details["height"]) == (640, 480)
    assert info.metadata["codebase_version"] == "v2.1"
    assert info.metadata["data_file"] == "data/chunk-000/episode_000001.parquet"
    # reproducibility fields are not in this dataset
    assert info.missing_reproducibility == ["policy_version", "env_version", "git_sha", "seed"]


def test_missing_videos_are_named_and_signals_stay(episodes: list[EpisodeInfo]) -> None:
    for info in episodes:
        camera = info.stream(CAMERA)
        rel = f"videos/chunk-000/{CAMERA}/episode_{info.episode_index:06d}.mp4"
        assert camera.details["file"] == rel
        if info.episode_index in WITH_VIDEO:
            assert info.problems == []
            assert "missing" not in camera.details
        else:
            assert info.problems == [f"video file {rel} is missing"]
            assert camera.details["missing"] is True
            assert info.status is Status.READY


def test_episode_1_action_equals_the_parquet(dataset: Path) -> None:
    table = pq.read_table(dataset / "data/chunk-000/episode_000001.parquet")
    expected = np.array(table.column("action").to_pylist(), dtype=np.float32)
    with LeRobotReader().open(dataset, 1) as source:
        chunk = source.read_signal("action")
        assert chunk.values.shape == (393, 26)
        assert chunk.values.dtype == np.float64
        np.testing.assert_array_equal(chunk.values, expected.astype(np.float64))
        assert chunk.t_ns.dtype == np.int64
        np.testing.assert_array_equal(chunk.t_ns, [round(i * 1e9 / 30) for i in range(393)])
        # the stored float32 timestamp stays available as an alternative clock
        assert abs(int(chunk.times["timestamp"][1]) - 33_333_333) < 10
        # a time range reads only its frames: [1 s, 2 s) is frames 30..59
        part = source.read_signal("action", 1_000_000_000, 2_000_000_000)
        assert len(part) == 30
        assert part.t_ns[0] == 1_000_000_000
        np.testing.assert_array_equal(part.values, expected[30:60].astype(np.float64))


def test_episode_1_video_frames_line_up_with_signals(dataset: Path) -> None:
    with LeRobotReader().open(dataset, 1) as source:
        video = source.video(CAMERA)
        times = video.frame_times_ns()
        assert len(times) == 393
        np.testing.assert_array_equal(times, source.read_signal("action").t_ns)
        assert video.frame_index_at(5_000_000_000) == 150
        assert video.frame_index_at(5_000_000_000 - 1) == 149
        assert video.frame_index_at(13_099_999_999) == 392
        assert video.frame_index_at(13_100_000_000) is None
        frame = video.frame_at(5_010_000_000)
        assert frame is not None
        assert (frame.index, frame.t_ns) == (150, 5_000_000_000)
        assert frame.rgb.shape == (480, 640, 3)
        # the same pixels a sequential decode shows for frame 150
        path = dataset / f"videos/chunk-000/{CAMERA}/episode_000001.mp4"
        with av.open(str(path)) as container:
            for number, decoded in enumerate(container.decode(video=0)):
                if number == 150:
                    np.testing.assert_array_equal(frame.rgb, decoded.to_ndarray(format="rgb24"))
                    break


def test_episode_3_video_names_the_missing_file(dataset: Path) -> None:
    with LeRobotReader().open(dataset, 3) as source:
        with pytest.raises(RecordingError, match=r"episode_000003\.mp4 is missing"):
            source.video(CAMERA)
        length = _jsonl(dataset / "meta/episodes.jsonl")[3]["length"]
        assert source.read_signal("observation.state").values.shape == (length, 26)
