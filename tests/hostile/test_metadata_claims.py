"""LeRobot metadata numbers are claims: a dataset claiming 10^12 episodes indexes, shows,
exports and explains in moments, and says how many episodes are really there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robotrace_desktop.readers.lerobot.claims import chunks_size, template_regex
from robotrace_desktop.readers.lerobot.reader import LeRobotReader
from tests.hostile.cli_run import run_cli
from tests.readers.lerobot_fixtures import write_v2, write_v3

CLAIM = "meta/info.json claims 1000000000000 episodes; 4 found on disk"


def _claim(root: Path, **changes: object) -> Path:
    path = root / "meta/info.json"
    info = json.loads(path.read_text())
    info.update(changes)
    path.write_text(json.dumps(info))
    return root


@pytest.mark.parametrize("version", ["v2.1", "v3.0"])
def test_a_trillion_claimed_episodes_run_every_command(tmp_path: Path, version: str) -> None:
    if version == "v2.1":
        root = write_v2(tmp_path / "ds", version, cameras=())
    else:
        root = write_v3(tmp_path / "ds", cameras=())
    root = _claim(root, total_episodes=1e12)
    (root / "meta/episodes.jsonl").unlink(missing_ok=True)  # v2: rows only from the disk
    home = tmp_path / "home"
    scan = run_cli("scan", str(root), "--no-explain", home=home)
    assert scan.code == 0, scan.text
    assert "4 new" in scan.text
    show = run_cli("show", f"{root}#3", home=home)
    assert show.code == 0, show.text
    assert CLAIM in show.text
    export = run_cli(
        "export", f"{root}#3", "--format", "csv", "-o", str(tmp_path / "t.csv"), home=home
    )
    assert export.code == 0, export.text
    assert (tmp_path / "t.csv").read_text().count("\n") == 1 + 5  # header + 5 frames
    explain = run_cli("explain", f"{root}#3", home=home)
    assert explain.code in (0, 1), explain.text
    listing = run_cli("list", "--json", home=home)
    rows = json.loads(listing.out)
    assert len(rows) == 4
    assert all(CLAIM in row["problems"] for row in rows)


def test_listed_episodes_without_the_claimed_rest(tmp_path: Path) -> None:
    root = _claim(write_v2(tmp_path / "ds", "v2.1", cameras=()), total_episodes=10**6)
    infos = list(LeRobotReader().index(root))
    assert [i.episode_index for i in infos] == [0, 1, 2, 3]
    assert "meta/info.json claims 1000000 episodes; 4 found on disk" in infos[0].problems


def test_episodes_jsonl_missing_rows_come_from_the_data_files(tmp_path: Path) -> None:
    root = _claim(write_v2(tmp_path / "ds", "v2.1", cameras=()), total_episodes=6)
    (root / "meta/episodes.jsonl").unlink()
    (root / "data/chunk-000/episode_000002.parquet").unlink()
    infos = list(LeRobotReader().index(root))
    assert [i.episode_index for i in infos] == [0, 1, 3]
    assert infos[0].problems == [
        "meta/info.json claims 6 episodes; 3 found on disk",
        "meta/episodes.jsonl is missing",
    ]


@pytest.mark.parametrize("value", [0, -3, "x", 1.5, float("nan"), True])
def test_chunks_size_that_is_not_a_count(value: object) -> None:
    problems: list[str] = []
    assert chunks_size(value, problems) == 1000
    assert problems == [
        f"meta/info.json: chunks_size {value!r} is not a positive integer; 1000 assumed"
    ]


def test_template_regex_captures_the_episode_index() -> None:
    pattern = template_regex("data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet")
    assert pattern is not None
    match = pattern.match("data/chunk-001/episode_001234.parquet")
    assert match is not None and match.group("episode_index") == "001234"
    assert template_regex("data/{nope}.parquet") is None


def test_a_negative_claim_without_episodes_jsonl_uses_the_files(tmp_path: Path) -> None:
    root = _claim(write_v2(tmp_path / "ds", "v2.1", cameras=()), total_episodes=-5)
    (root / "meta/episodes.jsonl").unlink()
    infos = list(LeRobotReader().index(root))
    assert [i.episode_index for i in infos] == [0, 1, 2, 3]
    assert "meta/info.json claims -5 episodes; 4 found on disk" in infos[0].problems
