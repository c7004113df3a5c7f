"""Damaged and oddly named recordings: one clear line naming the file, the scan goes on, the
good recordings next to them still index, and nothing is written next to them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from robotrace_desktop.cli import main
from tests.test_cli_real_data import tree_hashes


@pytest.fixture
def damaged(tmp_path: Path, shared_data: Path) -> Path:
    root = tmp_path / "runs"
    odd = root / "ün ï #1"
    odd.mkdir(parents=True)
    shutil.copy(shared_data / "ros1/example.bag", odd / "run #2 ü.bag")
    example = (shared_data / "ros1/example.bag").read_bytes()
    (root / "truncated.bag").write_bytes(example[: len(example) // 2])
    (root / "trunc_mcap").mkdir()
    shutil.copy(shared_data / "rosbag2/talker_mcap/metadata.yaml", root / "trunc_mcap")
    mcap = (shared_data / "rosbag2/talker_mcap/talker.mcap").read_bytes()
    (root / "trunc_mcap/talker.mcap").write_bytes(mcap[: len(mcap) // 2])
    (root / "garbage.mcap").write_bytes(b"this is not a bag")
    # a rosbag2 storage file whose metadata.yaml was lost still opens on its own
    (root / "no_metadata").mkdir()
    shutil.copy(shared_data / "rosbag2/talker_sqlite3/talker.db3", root / "no_metadata")
    (root / "broken_dataset/meta").mkdir(parents=True)
    (root / "broken_dataset/meta/info.json").write_text("{not json")
    return root


def test_scan_reports_each_damaged_file_and_keeps_going(
    damaged: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree_hashes(damaged)
    db = str(tmp_path / "c.sqlite")
    capsys.readouterr()
    assert main(["--catalog", db, "scan", str(damaged), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["new"] == 2  # the oddly named copy and the lone .db3
    assert summary["errors"] == 4
    problems = "\n".join(summary["problems"])
    for name in ("truncated.bag", "trunc_mcap", "garbage.mcap", "broken_dataset"):
        assert f"{damaged}/{name}" in problems, name
    assert "info.json" in problems
    assert tree_hashes(damaged) == before  # no byte changed, no sidecar created

    main(["--catalog", db, "list", "--json"])
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["run #2 ü"]["status"] == "ready"
    assert rows["run #2 ü"]["duration_ns"] == pytest.approx(21.7e9, rel=0.01)
    assert rows["talker"]["status"] == "ready"
    assert {rows[n]["status"] for n in ("truncated", "trunc_mcap", "garbage")} == {"failed"}
    assert all(r["duration_ns"] >= 0 for r in rows.values())


def test_odd_names_resolve_as_paths_even_with_a_hash(
    damaged: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    bag = damaged / "ün ï #1" / "run #2 ü.bag"
    assert main(["--catalog", str(tmp_path / "c.sqlite"), "show", str(bag), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["path"] == str(bag) and data["episode_index"] is None
    assert "/turtle1/pose" in {s["name"] for s in data["streams"]}


def test_unknown_episode_argument_is_one_clear_line(tmp_path: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["--catalog", str(tmp_path / "c.sqlite"), "show", "deadbeefcafe"]) == 1
    err = capsys.readouterr().err
    assert "deadbeefcafe" in err and "neither a catalog episode id" in err
    assert "Traceback" not in err
