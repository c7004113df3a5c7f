"""One rule set for the reproducibility fields: the same raw values, written into a bundle
manifest, rosbag2 custom_data, LeRobot metadata and HDF5 attributes, give every reader the
same accepted fields and the same problem lines (after the origin that names the file)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import pytest

from robotrace_desktop.bundle.manifest import MANIFEST_NAME
from robotrace_desktop.core.episode import EpisodeInfo
from robotrace_desktop.readers.bundle.reader import BundleReader
from robotrace_desktop.readers.hdf5.reader import Hdf5Reader
from robotrace_desktop.readers.lerobot.reader import LeRobotReader
from robotrace_desktop.readers.rosbag.reader import Rosbag2Reader
from tests.readers import ros_fixtures as fx
from tests.readers.hdf5_fixtures import write_aloha
from tests.readers.lerobot_fixtures import EpisodeSpec, write_v2

FIELDS = ("source", "robot", "task", "policy_version", "env_version", "git_sha", "seed")

#: raw values as text — the one type rosbag2 custom_data holds — and what every reader makes
#: of them: (raw, accepted fields + outcome, problem lines without their origin)
CASES: list[tuple[dict[str, str], dict[str, Any], list[str]]] = [
    (
        {
            "policy_version": " pol-3 ",
            "env_version": "env-1",
            "git_sha": "ABC123",
            "seed": "42",
            "robot": "arm7",
            "task": "pick",
            "source": "SIM",
            "success": "false",
        },
        {
            "policy_version": "pol-3",
            "env_version": "env-1",
            "git_sha": "abc123",
            "seed": 42,
            "robot": "arm7",
            "task": "pick",
            "source": "sim",
            "outcome": "failure",
        },
        [],
    ),
    (
        {
            "policy_version": "p" * 300,
            "env_version": "   ",
            "git_sha": "not-a-sha",
            "seed": "seven",
            "robot": "arm7",
            "source": "lab",
            "outcome": "maybe",
        },
        {"robot": "arm7", "outcome": "unknown"},
        [
            "source 'lab' is not one of real, sim, replay — ignored",
            "policy_version '" + "p" * 58 + "… is not a string of at most 256 characters — ignored",
            "git_sha 'not-a-sha' is not a git commit id (4 to 64 hexadecimal digits) — ignored",
            "seed 'seven' is not an integer — ignored",
            "outcome 'maybe' is not success or failure (true/false) — ignored",
        ],
    ),
    (
        {"seed": "-3", "git_sha": "d" * 64, "outcome": "unknown", "success": "yes"},
        {"seed": -3, "git_sha": "d" * 64, "outcome": "unknown"},
        [],
    ),
    (
        {"seed": "99999999999999999999", "success": "1"},
        {"outcome": "success"},
        ["seed '99999999999999999999' is not an integer that fits in 64 bits — ignored"],
    ),
]


def _bundle(tmp: Path, raw: dict[str, str]) -> tuple[EpisodeInfo, str]:
    root = tmp / "bundle"
    root.mkdir()
    manifest = {"format": "robotrace-episode", "format_version": 1, "name": "b", **raw}
    (root / MANIFEST_NAME).write_text(json.dumps(manifest))
    return next(BundleReader().index(root)), f"{root.resolve() / MANIFEST_NAME}"


def _rosbag2(tmp: Path, raw: dict[str, str]) -> tuple[EpisodeInfo, str]:
    bag = fx.write_rosbag2(tmp / "bag", "mcap", custom_data=raw, only=("/battery",))
    return next(Rosbag2Reader().index(bag)), f"custom_data in {bag / 'metadata.yaml'}"


def _lerobot(tmp: Path, raw: dict[str, str]) -> tuple[EpisodeInfo, str]:
    # v2.0 without outcome columns, robot_type or tasks: nothing the format implies competes
    root = write_v2(
        tmp / "ds",
        "v2.0",
        episodes=(EpisodeSpec(4, 0, True),),
        cameras=(),
        outcome_columns=(),
        info_extra={"robot_type": None, **raw},
        episode_extra={0: {"tasks": []}},
    )
    return next(LeRobotReader().index(root)), f"{root.resolve() / 'meta/info.json'}"


def _hdf5(tmp: Path, raw: dict[str, str]) -> tuple[EpisodeInfo, str]:
    path = tmp / "episode_0.hdf5"
    write_aloha(path, steps=4, cams=(), root_attrs=dict(raw))
    with h5py.File(path, "a") as f:
        del f.attrs["sim"]  # ALOHA's own sim flag would imply the source
    return next(Hdf5Reader().index(path)), f"attributes of / in {path}"


READERS: dict[str, Callable[[Path, dict[str, str]], tuple[EpisodeInfo, str]]] = {
    "bundle": _bundle,
    "rosbag2": _rosbag2,
    "lerobot": _lerobot,
    "hdf5": _hdf5,
}


@pytest.mark.parametrize("case", range(len(CASES)))
def test_every_reader_accepts_and_rejects_the_same_values(tmp_path: Path, case: int) -> None:
    raw, accepted, problems = CASES[case]
    expected = {name: accepted.get(name) for name in FIELDS}
    expected["outcome"] = accepted.get("outcome", "unknown")
    for kind, read in READERS.items():
        folder = tmp_path / kind
        folder.mkdir()
        info, origin = read(folder, raw)
        got = {name: getattr(info, name) for name in FIELDS}
        got["outcome"] = info.outcome.value
        assert got == expected, kind
        mine = [p for p in info.problems if p.startswith(f"{origin}: ")]
        assert [p.removeprefix(f"{origin}: ") for p in mine] == problems, kind
        assert [p for p in info.problems if "ignored" in p] == mine, kind  # no other origin


def test_lerobot_episode_metadata_wins_over_the_dataset_and_names_its_file(
    tmp_path: Path,
) -> None:
    root = write_v2(
        tmp_path / "ds",
        "v2.0",
        episodes=(EpisodeSpec(4, 0, True), EpisodeSpec(4, 1, True)),
        cameras=(),
        info_extra={"seed": "1", "policy_version": "ds-v1"},
        episode_extra={1: {"seed": "2", "git_sha": "xyz"}},
    )
    first, second = LeRobotReader().index(root)
    assert (first.seed, first.policy_version, first.git_sha) == (1, "ds-v1", None)
    assert (second.seed, second.policy_version, second.git_sha) == (2, "ds-v1", None)
    episodes = root.resolve() / "meta/episodes.jsonl"
    assert second.problems == [
        f"{episodes} (episode 1): git_sha 'xyz' is not a git commit id "
        "(4 to 64 hexadecimal digits) — ignored"
    ]


def test_a_number_where_yaml_or_json_left_one_is_read_by_the_same_rule(tmp_path: Path) -> None:
    """JSON (and YAML without quotes) hand typed values to the readers: a version may come as
    a number, a seed as an int, success as a bool; a float seed is still not a seed."""
    raw = {"policy_version": 2, "seed": 7, "success": True, "git_sha": 1234567}
    info, _ = _bundle(tmp_path, raw)  # type: ignore[arg-type]
    assert (info.policy_version, info.seed, info.outcome.value, info.git_sha) == (
        "2",
        7,
        "success",
        "1234567",
    )
    (tmp_path / "again").mkdir()
    info, origin = _bundle(tmp_path / "again", {"seed": 7.0})  # type: ignore[dict-item]
    assert info.seed is None
    assert info.problems == [f"{origin}: seed 7.0 is not an integer — ignored"]
