"""Broken LeRobot datasets: a clear RecordingError naming the file, or per-episode problems."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robotrace_desktop.core.episode import EpisodeInfo, Outcome, Status
from robotrace_desktop.errors import (
    CorruptRecordingError,
    RecordingError,
    UnsupportedFormatError,
)
from robotrace_desktop.readers.lerobot.reader import LeRobotReader
from tests.readers.lerobot_fixtures import CAMERAS, write_v2, write_v3


def _index(path: Path) -> list[EpisodeInfo]:
    return list(LeRobotReader().index(path))


def _edit_info(root: Path, **changes: object) -> None:
    path = root / "meta/info.json"
    info = json.loads(path.read_text())
    info.update(changes)
    path.write_text(json.dumps(info))


@pytest.fixture
def v21(tmp_path: Path) -> Path:
    return write_v2(tmp_path / "ds", "v2.1", cameras=CAMERAS[:1])


def test_corrupt_info_json(v21: Path) -> None:
    (v21 / "meta/info.json").write_text('{"codebase_version": "v2.1", "fps": ')
    assert LeRobotReader().sniff(v21) == pytest.approx(0.6)  # ours, but broken
    with pytest.raises(CorruptRecordingError, match=r"meta/info\.json: not valid JSON"):
        _index(v21)


def test_missing_info_json(v21: Path) -> None:
    (v21 / "meta/info.json").unlink()
    assert LeRobotReader().sniff(v21) is None
    with pytest.raises(RecordingError, match=r"info\.json: missing"):
        _index(v21)


def test_unknown_version_is_claimed_but_refused(v21: Path) -> None:
    _edit_info(v21, codebase_version="v1.6")
    assert LeRobotReader().sniff(v21) == pytest.approx(0.6)
    with pytest.raises(UnsupportedFormatError, match=r"info\.json: .*'v1\.6' is not supported"):
        _index(v21)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"fps": 0}, "invalid fps 0"),
        ({"fps": "fast"}, "invalid fps 'fast'"),
        ({"features": {}}, "no 'features'"),
        ({"data_path": None}, "no 'data_path' template"),
        ({"data_path": "../../etc/{episode_index}.parquet"}, "points outside the dataset"),
        ({"data_path": "data/{nope}.parquet"}, "cannot use path template"),
    ],
)
def test_bad_info_fields(v21: Path, changes: dict[str, object], reason: str) -> None:
    _edit_info(v21, **changes)
    with pytest.raises(CorruptRecordingError, match=r"info\.json: ") as caught:
        _index(v21)
    assert reason in str(caught.value)


def test_feature_without_shape_is_left_out_with_a_problem(v21: Path) -> None:
    info = json.loads((v21 / "meta/info.json").read_text())
    del info["features"]["action"]["shape"]
    (v21 / "meta/info.json").write_text(json.dumps(info))
    infos = _index(v21)
    problem = "meta/info.json: feature 'action' has no shape (and no names to infer it from)"
    assert all(any(p.startswith(problem) for p in i.problems) for i in infos)
    assert [s.name for s in infos[0].streams][:2] == ["observation.state", "next.reward"]
    assert all(i.status is Status.READY for i in infos)


def test_episodes_jsonl_line_not_json(v21: Path) -> None:
    path = v21 / "meta/episodes.jsonl"
    lines = path.read_text().splitlines()
    lines[1] = '{"episode_index": 1, "tasks": ['
    path.write_text("\n".join(lines) + "\n")
    infos = _index(v21)
    assert [i.episode_index for i in infos] == [0, 1, 2, 3]
    broken = infos[1]
    assert broken.status is Status.READY
    assert broken.problems[0].startswith(
        "meta/episodes.jsonl has no valid entry for this episode (line 2 is not JSON"
    )
    assert broken.duration_ns == 800_000_000  # the length came from the parquet footer
    assert broken.task == "Place the cube in the bin."  # from episode stats' task_index
    assert infos[0].problems == []


@pytest.mark.parametrize("name", ["episodes.jsonl", "episodes_stats.jsonl"])
def test_a_line_nested_past_the_stack_is_one_bad_line(v21: Path, name: str) -> None:
    """A line nested deeper than the JSON parser recurses (RecursionError, not ValueError) is
    that episode's problem, not the whole dataset's failure."""
    path = v21 / "meta" / name
    lines = path.read_text().splitlines()
    lines[1] = '{"episode_index": 1, "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    path.write_text("\n".join(lines) + "\n")
    infos = _index(v21)
    assert [i.episode_index for i in infos] == [0, 1, 2, 3]
    assert all(i.status is Status.READY for i in infos)
    assert infos[0].problems == [] and infos[2].problems == []


def test_episodes_jsonl_missing(v21: Path) -> None:
    (v21 / "meta/episodes.jsonl").unlink()
    infos = _index(v21)
    assert [i.duration_ns for i in infos] == [600_000_000, 800_000_000, 700_000_000, 500_000_000]
    assert all(i.problems == ["meta/episodes.jsonl is missing"] for i in infos)


def test_bad_episode_stats_line_falls_back_to_the_footer(v21: Path) -> None:
    path = v21 / "meta/episodes_stats.jsonl"
    lines = path.read_text().splitlines()
    lines[1] = "not json"
    path.write_text("\n".join(lines) + "\n")
    assert [i.outcome for i in _index(v21)] == [
        Outcome.SUCCESS,
        Outcome.FAILURE,
        Outcome.SUCCESS,
        Outcome.SUCCESS,
    ]


def test_missing_data_parquet_fails_only_that_episode(v21: Path) -> None:
    (v21 / "data/chunk-000/episode_000001.parquet").unlink()
    infos = _index(v21)
    assert [i.status for i in infos] == [Status.READY, Status.FAILED, Status.READY, Status.READY]
    assert "data file data/chunk-000/episode_000001.parquet is missing" in infos[1].problems
    with LeRobotReader().open(v21, 1) as source:
        with pytest.raises(RecordingError, match=r"episode_000001\.parquet: data file is missing"):
            source.read_signal("action")
        assert source.video(CAMERAS[0]).frame_times_ns().shape == (8,)  # video still plays


def test_corrupt_parquet(tmp_path: Path) -> None:
    v21 = write_v2(tmp_path / "v21", "v2.1", cameras=())
    v20 = write_v2(tmp_path / "v20", "v2.0", cameras=())
    for root in (v21, v20):
        (root / "data/chunk-000/episode_000002.parquet").write_bytes(b"PAR1 not really")
    # v2.1 indexes from metadata alone; reading the rows names the file
    assert all(i.status is Status.READY for i in _index(v21))
    with (
        LeRobotReader().open(v21, 2) as source,
        pytest.raises(CorruptRecordingError, match=r"episode_000002\.parquet: cannot read"),
    ):
        source.read_signal("observation.state")
    # v2.0 needs the footer for the outcome: the episode says why it failed
    infos = _index(v20)
    assert infos[2].status is Status.FAILED
    assert (
        infos[2]
        .problems[0]
        .startswith("data file data/chunk-000/episode_000002.parquet: cannot read parquet")
    )
    assert [i.status for i in infos].count(Status.READY) == 3


def test_truncated_video_is_a_recording_error(tmp_path: Path) -> None:
    root = write_v2(tmp_path / "ds", "v2.1", cameras=CAMERAS[:1])
    video = root / f"videos/chunk-000/{CAMERAS[0]}/episode_000000.mp4"
    video.write_bytes(video.read_bytes()[:200])
    with (
        LeRobotReader().open(root, 0) as source,
        pytest.raises(RecordingError, match=r"episode_000000\.mp4"),
    ):
        source.video(CAMERAS[0]).frame(0)


def test_open_needs_a_valid_episode_index(v21: Path) -> None:
    reader = LeRobotReader()
    with pytest.raises(RecordingError, match="give an index"):
        reader.open(v21)
    with pytest.raises(RecordingError, match=r"no episode 9 in this dataset \(episodes 0\.\.3\)"):
        reader.open(v21, 9)


def test_seed_that_is_not_an_integer(tmp_path: Path) -> None:
    root = write_v2(tmp_path / "ds", "v2.1", cameras=(), info_extra={"seed": "abc"})
    info = _index(root)[0]
    assert info.seed is None
    info_json = root.resolve() / "meta/info.json"
    assert f"{info_json}: seed 'abc' is not an integer — ignored" in info.problems


def test_v3_broken_metadata(tmp_path: Path) -> None:
    root = write_v3(tmp_path / "ds")
    episodes = root / "meta/episodes/chunk-000/file-000.parquet"
    episodes.write_bytes(b"garbage")
    with pytest.raises(CorruptRecordingError, match=r"file-000\.parquet: cannot read parquet"):
        _index(root)
    episodes.unlink()
    with pytest.raises(CorruptRecordingError, match=r"meta/episodes: no episode metadata"):
        _index(root)


def test_v3_corrupt_data_file(tmp_path: Path) -> None:
    root = write_v3(tmp_path / "ds")
    (root / "data/chunk-000/file-001.parquet").write_bytes(b"garbage")
    assert all(i.status is Status.READY for i in _index(root))
    with LeRobotReader().open(root, 0) as source:
        assert len(source.read_signal("action")) == 6
    with (
        LeRobotReader().open(root, 2) as source,
        pytest.raises(CorruptRecordingError, match=r"file-001\.parquet"),
    ):
        source.read_signal("action")
