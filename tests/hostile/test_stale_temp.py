"""Folders left by a kill -9 of an import are removed by the next run, and a
bundle moved aside for a replace that never finished is put back."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from robotrace_desktop.bundle.stale import clean_stale_leftovers
from tests.hostile.cli_run import run_cli


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def _leftover(parent: Path, name: str) -> Path:
    folder = parent / name
    (folder / "video").mkdir(parents=True)
    (folder / "video/front.mp4").write_bytes(b"\0" * 1000)
    return folder


def test_next_import_removes_what_a_killed_one_left(shared_data: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    imported = home / "library/imported"
    pid = _dead_pid()
    tmp = _leftover(imported, f".talker-1234.tmp-{pid}-140")
    old = _leftover(imported, f".earlier-99.old-{pid}-140")
    live = _leftover(imported, f".busy-1.tmp-{os.getpid()}-1")
    run = run_cli("import", str(shared_data / "rosbag2/talker_mcap"), "--no-explain", home=home)
    assert run.code == 0, run.text
    assert not tmp.exists()
    assert not old.exists() and (imported / "earlier-99/video/front.mp4").is_file()  # restored
    assert live.exists()  # its writer (this test process) still runs


def test_nothing_to_clean_in_a_missing_folder(tmp_path: Path) -> None:
    assert clean_stale_leftovers(tmp_path / "absent") == []
