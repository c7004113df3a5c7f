"""Generated recording trees and process helpers shared by the crash and concurrency tests.

Trees are written with the real writers (rosbags, pyarrow via the LeRobot fixtures); the
catalog is read from the test process with a read-only connection so that watching a
subprocess never takes a write lock or creates files of its own.
"""

from __future__ import annotations

import functools
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from robotrace_desktop.core.episode import episode_id
from tests.build_cache import built
from tests.catalog_files import read_only
from tests.readers.lerobot_fixtures import EpisodeSpec, write_v3
from tests.readers.ros_fixtures import write_rosbag1, write_rosbag2

SMALL_TOPICS = ("/joint_states", "/cmd_vel", "/action", "/rosout")
REPO = Path(__file__).resolve().parents[2]


def many_recordings(root: Path, n: int, *, start: int = 0) -> list[Path]:
    """``n`` small recordings: rosbag2 sqlite3, rosbag2 mcap and ROS 1 bags in turn.

    Recording ``i`` is written once per test run (``_written_recording``, shared by the xdist
    workers through ``tests.build_cache``) and copied here, with fresh mtimes as a write would
    give: the trees of the crash, concurrency and fault tests (~300 recordings, 150 of them
    distinct) cost 150 writes, not 300."""
    root.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(start, start + n):
        source = _written_recording(i)
        path = root / source.name
        if source.is_dir():
            shutil.copytree(source, path, copy_function=shutil.copyfile)
        else:
            shutil.copyfile(source, path)
        made.append(path)
    return made


@functools.cache
def _written_recording(i: int) -> Path:
    """Recording ``i`` of ``many_recordings``, written with the real writers into the test
    run's build cache (``tests.build_cache``)."""
    kind = ("sqlite3", "mcap", "ros1")[i % 3]
    if kind == "ros1":
        return built(f"tree-{i:04d}", f"run_{i:04d}.bag", lambda p: write_rosbag1(p, ks=range(8)))
    return built(
        f"tree-{i:04d}",
        f"run_{i:04d}_{kind}",
        lambda p: write_rosbag2(
            p,
            kind,
            ks=range(8),
            only=SMALL_TOPICS,
            custom_data={"policy_version": f"p{i % 3}", "seed": str(i)},
        ),
    )


def big_dataset(root: Path, episodes: int) -> Path:
    """A LeRobot v3.0 dataset of many short episodes and no videos: one recording whose
    index writes ``episodes`` rows in a single transaction. Written once per test run for each
    size (``tests.build_cache``) and copied to ``root`` with fresh mtimes, as a write."""
    specs = [EpisodeSpec(4 + i % 3, i % 2, i % 3 != 0) for i in range(episodes)]
    source = built(
        f"big-{episodes}",
        "big",
        lambda path: write_v3(path, episodes=specs, cameras=(), episodes_per_data_file=200),
    )
    shutil.copytree(source, root, copy_function=shutil.copyfile)
    return Path(root)


def expected_ids(recordings: Sequence[Path]) -> set[str]:
    """Episode ids of single-episode recordings, as the readers compute them."""
    return {episode_id(str(p.resolve()), None) for p in recordings}


def count(catalog: Path, table: str = "episodes") -> int:
    if not catalog.exists():
        return 0
    try:
        with read_only(catalog) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    except sqlite3.Error:  # not created or not migrated yet
        return 0


def cli(catalog: Path, *args: str, **popen: object) -> subprocess.Popen[str]:
    """``robotrace-desktop --catalog CATALOG ARGS`` in a subprocess (stdout/stderr piped)."""
    return python("-m", "robotrace_desktop", "--catalog", str(catalog), *args, **popen)


def python(*args: str, **popen: object) -> subprocess.Popen[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
        **popen,
    )


def wait_for(condition, timeout: float = 120.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    """Poll ``condition()``; the timeout only keeps a broken run from hanging the suite."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def kill9(process: subprocess.Popen[str]) -> None:
    """SIGKILL: no atexit, no finally, no rollback — what a crash or power cut looks like."""
    process.kill()
    process.wait(timeout=30)
    if process.stdout:
        process.stdout.close()
    if process.stderr:
        process.stderr.close()


def children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _parent_and_state(int(entry.name))[0] == pid:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped counts as ended)."""
    return _parent_and_state(pid)[1] not in ("", "Z", "X")


def _parent_and_state(pid: int) -> tuple[int, str]:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return -1, ""
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces
    return int(fields[1]), fields[0]


def finish(process: subprocess.Popen[str], timeout: float = 300.0) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err
