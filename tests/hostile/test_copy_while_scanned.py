"""A bag copied in while it is scanned: the lone .mcap row of the half-copied bag gives way to
the complete bag once its metadata.yaml arrives, instead of staying failed for good."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from robotrace_desktop.library.scanner import superseding_recording
from tests.hostile.cli_run import run_cli


def test_the_complete_bag_supersedes_its_half_copied_file(
    shared_data: Path, tmp_path: Path
) -> None:
    source = shared_data / "rosbag2/talker_mcap"
    bag = tmp_path / "incoming/talker_mcap"
    bag.mkdir(parents=True)
    mcap = (source / "talker.mcap").read_bytes()
    (bag / "talker.mcap").write_bytes(mcap[: len(mcap) // 3])  # the copy is under way
    home = tmp_path / "home"
    run_cli("scan", str(tmp_path / "incoming"), "--no-explain", home=home)
    first = json.loads(run_cli("list", "--json", home=home).out)
    assert [(r["name"], r["status"]) for r in first] == [("talker", "failed")]

    (bag / "talker.mcap").write_bytes(mcap)
    shutil.copy(source / "metadata.yaml", bag)  # the copy finished
    run = run_cli("scan", str(tmp_path / "incoming"), "--no-explain", home=home)
    assert run.code == 0, run.text
    rows = {r["path"]: r for r in json.loads(run_cli("list", "--json", home=home).out)}
    assert rows[str(bag)]["status"] == "ready"
    lone = rows[str(bag / "talker.mcap")]
    assert lone["status"] == "missing"
    assert f"{bag}/talker.mcap: superseded by {bag}" in lone["problems"]
    assert not [r for r in rows.values() if r["status"] == "failed"]


def test_superseding_recording() -> None:
    found = {"/data/bag", "/data/other.bag"}
    assert superseding_recording("/data/bag/x.mcap", found) == "/data/bag"
    assert superseding_recording("/data", {"/data/sub/a.bag"}) == "/data/sub/a.bag"
    assert superseding_recording("/data/elsewhere.mcap", found) is None
