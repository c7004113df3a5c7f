"""A full disk is said as such, naming the folder; the log never prints tracebacks; an import
reports every failed episode and leaves no bundle outside the catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.hostile.cli_run import run_cli
from tests.hostile.full_disk import can_mount, fill, small_tmpfs
from tests.readers.lerobot_fixtures import EpisodeSpec, write_v2

pytestmark = pytest.mark.skipif(not can_mount(), reason="needs root to mount a small tmpfs")


def _no_traceback(text: str) -> None:
    assert "Traceback" not in text
    assert "--- Logging error ---" not in text
    assert "internal error" not in text


def test_commands_on_a_full_disk_say_disk_full(tmp_path: Path, shared_data: Path) -> None:
    with small_tmpfs(tmp_path / "disk") as disk:
        home = disk / "home"
        assert run_cli("scan", str(shared_data / "rosbag2/talker_mcap"), home=home).code == 0
        fill(disk)
        for args in (
            ("scan", str(shared_data / "ros1"), "--no-explain"),
            ("tag", str(shared_data / "rosbag2/talker_mcap"), "--tag", "x"),
        ):
            run = run_cli(*args, home=home)
            assert run.code == 1, run.text
            _no_traceback(run.text)
            assert "disk full" in run.text and str(home) in run.text  # says so, and where


def test_a_log_file_that_cannot_be_written_is_one_warning(
    tmp_path: Path, shared_data: Path
) -> None:
    dataset = write_v2(tmp_path / "ds", "v2.1", cameras=())
    stats = dataset / "meta/episodes_stats.jsonl"
    stats.write_text("not json\n" + stats.read_text())  # logged: 1 unreadable line
    home = tmp_path / "home"
    (home / "logs").mkdir(parents=True)
    (home / "logs/robotrace.log").symlink_to("/dev/full")  # every write: ENOSPC
    run = run_cli("scan", str(dataset), str(shared_data / "ros1"), home=home)
    assert run.code == 0, run.text
    _no_traceback(run.text)
    assert run.err.decode().count("cannot write the log") == 1
    assert "No space left on device" in run.err.decode()


@pytest.mark.parametrize("leave_kib", [0, 200, 600])
def test_import_all_on_a_full_disk_reports_each_episode(tmp_path: Path, leave_kib: int) -> None:
    episodes = [EpisodeSpec(30, 0, True) for _ in range(8)]
    dataset = write_v2(tmp_path / "ds", "v2.1", episodes=episodes, cameras=())
    with small_tmpfs(tmp_path / "disk", size="4m") as disk:
        home = disk / "home"
        assert run_cli("list", home=home).code == 0  # the catalog exists
        filler = fill(disk, leave_kib)
        run = run_cli("import", str(dataset), "--all", "--no-explain", home=home)
        _no_traceback(run.text)
        errors = [line for line in run.err.decode().splitlines() if line.startswith("error: ")]
        imported = run.out.decode().count("  bundle: ")
        refused_whole = imported == 0 and "disk full" in run.text and str(home) in run.text
        assert refused_whole or imported + len(errors) >= len(episodes), run.text
        assert run.code == (1 if errors or refused_whole else 0), run.text
        filler.unlink()
        rows = json.loads(run_cli("list", "--json", home=home).out)
        in_catalog = {Path(r["path"]).name for r in rows}
        root = home / "library/imported"
        bundles = {p.name for p in root.iterdir()} if root.is_dir() else set()
        assert bundles <= in_catalog  # no bundle without its catalog row
