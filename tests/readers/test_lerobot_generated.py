"""LeRobotReader on generated v2.0, v2.1 and v3.0 datasets (lerobot_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from robotrace_desktop.core.episode import EpisodeInfo, Outcome, Status, StreamKind
from robotrace_desktop.errors import RecordingError, StreamNotFoundError
from robotrace_desktop.readers.lerobot.reader import LeRobotReader
from tests.readers.lerobot_fixtures import (
    CAMERAS,
    EPISODES,
    STATE_NAMES,
    TASKS,
    EpisodeSpec,
    action_value,
    decode_position,
    state_value,
    write_v2,
    write_v3,
)

TOP, WRIST = CAMERAS
VERSIONS = ("v2.0", "v2.1", "v3.0")


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lerobot")
    return {
        "v2.0": write_v2(root / "v20", "v2.0"),
        "v2.1": write_v2(root / "v21", "v2.1", video_episodes=[0, 2]),
        "v3.0": write_v3(root / "v30"),
    }


def _index(path: Path) -> list[EpisodeInfo]:
    return list(LeRobotReader().index(path))


def _expected_state(episode: int, frames: range) -> np.ndarray:
    return np.array([[state_value(episode, f, c) for c in range(3)] for f in frames])


@pytest.mark.parametrize("version", VERSIONS)
def test_episodes_tasks_outcomes(datasets: dict[str, Path], version: str) -> None:
    infos = _index(datasets[version])
    assert [i.episode_index for i in infos] == [0, 1, 2, 3]
    assert [i.task for i in infos] == [TASKS[s.task] for s in EPISODES]
    assert [i.outcome for i in infos] == [
        Outcome.SUCCESS,
        Outcome.FAILURE,
        Outcome.SUCCESS,
        Outcome.SUCCESS,
    ]
    assert [i.duration_ns for i in infos] == [s.length * 100_000_000 for s in EPISODES]
    assert all(i.metadata["codebase_version"] == version for i in infos)
    info = infos[1]
    state = info.stream("observation.state")
    assert state.channels == STATE_NAMES  # list (v2.0), nested list (v2.1), dict (v3.0) names
    assert state.count == 8
    assert state.t_end_ns == 700_000_000
    assert info.stream("action").channels == ("action[0]", "action[1]")
    assert info.stream("next.success").channels == ("next.success",)
    names = [s.name for s in info.streams]
    for bookkeeping in ("index", "episode_index", "frame_index", "task_index", "timestamp"):
        assert bookkeeping not in names
    assert [s.name for s in info.streams_of(StreamKind.VIDEO)] == [TOP, WRIST]
    assert info.stream(TOP).details["codec"] == "h264"
    assert info.stream(TOP).count == 8


@pytest.mark.parametrize("version", VERSIONS)
def test_episode_2_reads_exactly_its_rows(datasets: dict[str, Path], version: str) -> None:
    with LeRobotReader().open(datasets[version], 2) as source:
        assert source.info.to_dict() == _index(datasets[version])[2].to_dict()
        chunk = source.read_signal("observation.state")
        assert chunk.channels == STATE_NAMES
        np.testing.assert_array_equal(chunk.values, _expected_state(2, range(7)))
        np.testing.assert_array_equal(chunk.t_ns, np.arange(7) * 100_000_000)
        action = source.read_signal("action")
        assert action.values[6, 1] == action_value(2, 6, 1)
        part = source.read_signal("observation.state", 200_000_000, 500_000_000)
        np.testing.assert_array_equal(part.values, _expected_state(2, range(2, 5)))
        success = source.read_signal("next.success")
        np.testing.assert_array_equal(success.values[:, 0], [0, 0, 0, 0, 0, 0, 1])
        with pytest.raises(StreamNotFoundError, match="no signal stream 'timestamp'"):
            source.read_signal("timestamp")


def test_v3_episodes_share_files_and_read_their_row_ranges(datasets: dict[str, Path]) -> None:
    infos = _index(datasets["v3.0"])
    assert [i.metadata["data_file"] for i in infos] == [
        "data/chunk-000/file-000.parquet",
        "data/chunk-000/file-000.parquet",
        "data/chunk-000/file-001.parquet",
        "data/chunk-000/file-001.parquet",
    ]
    assert [i.metadata["row_range"] for i in infos] == [[0, 6], [6, 14], [14, 21], [21, 26]]
    assert infos[2].stream(TOP).details["file"] == f"videos/{TOP}/chunk-000/file-000.mp4"
    assert infos[3].stream(TOP).details["file"] == f"videos/{TOP}/chunk-000/file-001.mp4"
    # episode 1 spans row groups of 4 rows ([4,8) and [8,12) and [12,14)) of a shared file
    with LeRobotReader().open(datasets["v3.0"], 1) as source:
        chunk = source.read_signal("observation.state")
        np.testing.assert_array_equal(chunk.values, _expected_state(1, range(8)))
        late = source.read_signal("observation.state", 650_000_000)
        np.testing.assert_array_equal(late.values, _expected_state(1, range(7, 8)))


def test_v3_video_clips_start_at_the_episode(datasets: dict[str, Path]) -> None:
    reader = LeRobotReader()
    with reader.open(datasets["v3.0"], 2) as source:
        # episode 2 is frames 14..20 of the shared file-000.mp4 (after 6 + 8 frames)
        for camera_number, camera in enumerate(CAMERAS):
            video = source.video(camera)
            np.testing.assert_array_equal(video.frame_times_ns(), np.arange(7) * 100_000_000)
            first = video.frame(0)
            assert first.t_ns == 0
            assert decode_position(first.rgb, camera_number) == 14
            assert decode_position(video.frame(6).rgb, camera_number) == 20
            shown = video.frame_at(350_000_000)
            assert shown is not None and shown.index == 3
            assert decode_position(shown.rgb, camera_number) == 17
        np.testing.assert_array_equal(
            source.video(TOP).frame_times_ns(), source.read_signal("action").t_ns
        )
    with reader.open(datasets["v3.0"], 3) as source:  # first clip of file-001.mp4
        video = source.video(WRIST)
        assert len(video.frame_times_ns()) == 5
        assert decode_position(video.frame(0).rgb, 1) == 0


def test_v2_video_frames(datasets: dict[str, Path]) -> None:
    with LeRobotReader().open(datasets["v2.0"], 2) as source:
        video = source.video(WRIST)
        np.testing.assert_array_equal(video.frame_times_ns(), np.arange(7) * 100_000_000)
        assert [decode_position(video.frame(i).rgb, 1) for i in range(7)] == list(range(7))
        with pytest.raises(StreamNotFoundError, match=r"no video stream 'observation\.state'"):
            source.video("observation.state")


def test_missing_videos_are_problems_not_failures(datasets: dict[str, Path]) -> None:
    infos = _index(datasets["v2.1"])
    assert infos[0].problems == [] and infos[2].problems == []
    for index in (1, 3):
        info = infos[index]
        assert info.status is Status.READY
        assert info.problems == [
            f"video file videos/chunk-000/{camera}/episode_{index:06d}.mp4 is missing"
            for camera in CAMERAS
        ]
        assert info.stream(TOP).details["missing"] is True
    with LeRobotReader().open(datasets["v2.1"], 3) as source:
        assert len(source.read_signal("action")) == 5
        with pytest.raises(RecordingError, match=r"episode_000003\.mp4 is missing"):
            source.video(TOP)


def test_v3_missing_video_file(tmp_path: Path) -> None:
    root = write_v3(tmp_path / "ds")
    (root / f"videos/{WRIST}/chunk-000/file-001.mp4").unlink()
    infos = _index(root)
    assert [i.problems for i in infos[:3]] == [[], [], []]
    assert infos[3].problems == [f"video file videos/{WRIST}/chunk-000/file-001.mp4 is missing"]
    with LeRobotReader().open(root, 3) as source:
        assert decode_position(source.video(TOP).frame(0).rgb, 0) == 0
        with pytest.raises(RecordingError, match=r"file-001\.mp4 is missing"):
            source.video(WRIST)


def test_v3_tasks_as_pandas_index(tmp_path: Path) -> None:
    root = write_v3(tmp_path / "ds", task_column="pandas")
    assert pq.read_schema(root / "meta/tasks.parquet").names == ["task_index", "__index_level_0__"]
    assert [i.task for i in _index(root)] == [TASKS[s.task] for s in EPISODES]
    from robotrace_desktop.readers.lerobot.load import load_dataset

    assert load_dataset(root).tasks == dict(enumerate(TASKS))


def test_chunks_size_places_episodes_in_chunks(tmp_path: Path) -> None:
    root = write_v2(tmp_path / "ds", "v2.1", chunks_size=2, cameras=(TOP,))
    assert (root / "data/chunk-001/episode_000003.parquet").is_file()
    infos = _index(root)
    assert infos[3].metadata["data_file"] == "data/chunk-001/episode_000003.parquet"
    assert infos[3].problems == []
    with LeRobotReader().open(root, 3) as source:
        np.testing.assert_array_equal(
            source.read_signal("observation.state").values, _expected_state(3, range(5))
        )
        assert decode_position(source.video(TOP).frame(4).rgb, 0) == 4


def test_outcome_from_done_and_reward(tmp_path: Path) -> None:
    root = write_v2(
        tmp_path / "dr", "v2.1", cameras=(), outcome_columns=("next.reward", "next.done")
    )
    assert [i.outcome for i in _index(root)] == [
        Outcome.SUCCESS,
        Outcome.FAILURE,
        Outcome.SUCCESS,
        Outcome.SUCCESS,
    ]
    plain = write_v2(tmp_path / "none", "v2.0", cameras=(), outcome_columns=())
    assert {i.outcome for i in _index(plain)} == {Outcome.UNKNOWN}


def test_reproducibility_fields(tmp_path: Path) -> None:
    root = write_v2(
        tmp_path / "ds",
        "v2.1",
        cameras=(),
        info_extra={"policy_version": "act-2.3", "env_version": "lab-7"},
        episode_extra={1: {"seed": 42, "git_sha": "0123abc", "policy_version": "act-2.4"}},
    )
    infos = _index(root)
    assert (infos[0].policy_version, infos[0].env_version, infos[0].seed) == (
        "act-2.3",
        "lab-7",
        None,
    )
    assert (infos[1].policy_version, infos[1].git_sha, infos[1].seed) == ("act-2.4", "0123abc", 42)


def test_image_features_stored_in_parquet(tmp_path: Path) -> None:
    root = write_v2(tmp_path / "ds", "v2.1", cameras=(), image_camera="observation.images.png")
    info = _index(root)[2]
    stream = info.stream("observation.images.png")
    assert stream.kind is StreamKind.VIDEO and stream.count == 7
    with LeRobotReader().open(root, 2) as source:
        video = source.video("observation.images.png")
        np.testing.assert_array_equal(video.frame_times_ns(), np.arange(7) * 100_000_000)
        frame = video.frame(5)
        assert frame.t_ns == 500_000_000
        assert decode_position(frame.rgb, 0) == 5


def test_fingerprint_files(datasets: dict[str, Path]) -> None:
    root = datasets["v2.1"]
    files = LeRobotReader().fingerprint_files(root)
    assert root / "meta/info.json" in files
    assert root / "data/chunk-000/episode_000003.parquet" in files
    assert root / f"videos/chunk-000/{TOP}/episode_000002.mp4" in files


def test_long_episode_lengths(tmp_path: Path) -> None:
    """An episode length that is not a whole number of seconds: N/fps exactly."""
    root = write_v2(tmp_path / "ds", "v2.1", episodes=[EpisodeSpec(33, 0, True)], cameras=())
    (info,) = _index(root)
    assert info.duration_ns == 3_300_000_000
    assert info.stream("action").t_end_ns == 3_200_000_000
