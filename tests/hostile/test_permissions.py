"""Unreadable files and folders are reported as "permission denied", naming them, in the scan
summary and on the catalog rows — never skipped silently or blamed on the recording."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from robotrace_desktop.core.episode import Status
from robotrace_desktop.readers.lerobot.reader import LeRobotReader
from tests.readers.lerobot_fixtures import write_v2

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _as_nobody(*args: str, home: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "ROBOTRACE_HOME": str(home)}
    return subprocess.run(
        [*NOBODY, sys.executable, "-m", "robotrace_desktop", *args],
        capture_output=True,
        env=env,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )


def _nobody_can_run_python() -> bool:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return False
    probe = subprocess.run([*NOBODY, sys.executable, "-c", "import numpy"], capture_output=True)
    return probe.returncode == 0


@pytest.fixture
def tree(shared_data: Path) -> Iterator[Path]:
    """World-readable except for what each test locks (pytest's tmp_path is root-only)."""
    root = Path(tempfile.mkdtemp(prefix="robotrace-perm-", dir="/tmp"))
    root.chmod(0o755)
    (root / "home").mkdir(mode=0o777)
    (root / "home").chmod(0o777)
    shutil.copy(shared_data / "ros1/example.bag", root / "good.bag")
    shutil.copy(shared_data / "ros1/example.bag", root / "secret.bag")
    (root / "secret.bag").chmod(0)
    (root / "locked").mkdir()
    shutil.copy(shared_data / "ros1/example.bag", root / "locked/inside.bag")
    (root / "locked").chmod(0)
    dataset = write_v2(root / "ds", "v2.1", cameras=())
    (dataset / "data/chunk-000/episode_000001.parquet").chmod(0)
    folder_locked = write_v2(root / "ds2", "v2.1", cameras=())
    (folder_locked / "data/chunk-000").chmod(0)
    for path in root.rglob("*"):
        if path.name not in ("secret.bag", "locked", "episode_000001.parquet", "chunk-000"):
            path.chmod(path.stat().st_mode | 0o755)
    yield root
    for path in (root / "locked", folder_locked / "data/chunk-000"):
        path.chmod(0o755)
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.skipif(not _nobody_can_run_python(), reason="needs root and setpriv")
def test_a_normal_user_is_told_permission_denied(tree: Path) -> None:
    home = tree / "home"
    scan = _as_nobody("scan", str(tree), "--no-explain", home=home)
    out = scan.stdout.decode()
    assert scan.returncode == 0, scan.stderr
    assert f"error: {tree}/secret.bag: permission denied" in out
    assert f"error: {tree}/locked: permission denied" in out
    assert f"{tree}/ds: permission denied: data/chunk-000/episode_000001.parquet" in out
    assert f"{tree}/ds2: permission denied: data/chunk-000" in out
    assert "not a recording format" not in out and "is missing" not in out
    rows = json.loads(_as_nobody("list", "--json", home=home).stdout)
    by_name = {r["name"]: r for r in rows}
    assert by_name["secret"]["problems"] == [f"{tree}/secret.bag: permission denied"]
    assert by_name["ds #1"]["status"] == "failed"  # not "ready" with nothing to explain
    assert (
        "permission denied: data/chunk-000/episode_000001.parquet" in by_name["ds #1"]["problems"]
    )
    assert by_name["ds #0"]["status"] == "ready"
    assert all(by_name[f"ds2 #{i}"]["status"] == "failed" for i in range(4))
    assert by_name["good"]["status"] == "ready"
    explain = _as_nobody("explain", f"{tree}/ds#1", home=home)
    assert "nothing unusual" not in explain.stdout.decode()

    (tree / "locked").chmod(0o755)  # fixed: the folder's row gives way to its recording
    _as_nobody("scan", str(tree), "--no-explain", home=home)
    rows = {r["name"]: r for r in json.loads(_as_nobody("list", "--json", home=home).stdout)}
    assert rows["inside"]["status"] == "ready"
    assert rows["locked"]["status"] == "missing"
    assert f"{tree}/locked: superseded by {tree}/locked/inside.bag" in rows["locked"]["problems"]


def test_unreadable_parquet_fails_the_episode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = write_v2(tmp_path / "ds", "v2.1", cameras=())
    real_access = os.access
    locked = str(dataset / "data/chunk-000/episode_000002.parquet")
    monkeypatch.setattr(os, "access", lambda p, mode: str(p) != locked and real_access(p, mode))
    infos = list(LeRobotReader().index(dataset))
    assert [i.status for i in infos] == [Status.READY, Status.READY, Status.FAILED, Status.READY]
    assert "permission denied: data/chunk-000/episode_000002.parquet" in infos[2].problems


@pytest.mark.skipif(not _nobody_can_run_python(), reason="needs root and setpriv")
def test_home_not_writable(shared_data: Path) -> None:
    root = Path(tempfile.mkdtemp(prefix="robotrace-ro-", dir="/tmp"))
    root.chmod(0o755)  # nobody may read it, not write it
    home = root / "rt"
    png = Path(f"/tmp/robotrace-frame-{os.getpid()}.png")  # nobody writes it
    try:
        demo = _as_nobody("demo", "--no-gui", home=home)
        err = demo.stderr.decode()
        assert demo.returncode == 1
        assert "Traceback" not in err and "internal error" not in err
        assert f"permission denied: cannot write {home}" in err
        assert "set ROBOTRACE_HOME" in err
        show = _as_nobody("show", str(shared_data / "rosbag2/talker_mcap"), home=home)
        assert show.returncode == 0, show.stderr
        assert b"talker_mcap  [rosbag2]  ready" in show.stdout
        assert b"reading the recording without the catalog" in show.stderr
        frame = _as_nobody(
            "frame",
            str(shared_data / "lerobot/g1_pick_bottle_v21#1"),
            "--t",
            "1s",
            "-o",
            str(png),
            home=home,
        )
        assert frame.returncode == 0, frame.stderr
        assert b"frame 30 at 1.000s" in frame.stdout
    finally:
        png.unlink(missing_ok=True)
        shutil.rmtree(root, ignore_errors=True)
