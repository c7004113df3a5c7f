"""kill -9 of a scan while Explain workers run: no worker outlives it by 5 s (it once did in 2
of 10 rounds — workers still importing captured init as their "parent")."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.hostile.procs import alive, children_of, is_linux
from tests.readers.lerobot_fixtures import EpisodeSpec, write_v2

ROUNDS = 10
#: Rounds run two at a time: a round mostly waits (for the pool, its delay, the grace period),
#: and each watches only its own scan's children, so ten in sequence left a core idle ~20 s.
AT_ONCE = 2
GRACE_S = 5.0
#: Generous bound on waiting for the scan to start its pool; not a pass/fail timing.
START_TIMEOUT_S = 120.0


def kill_scan_with_workers(dataset: Path, home: Path, delay_s: float) -> tuple[set[int], set[int]]:
    """Start a scan that explains ``dataset``, kill -9 it ``delay_s`` after its first worker
    appears; the workers seen, and those still alive GRACE_S later."""
    env = {**os.environ, "ROBOTRACE_HOME": str(home)}
    scan = subprocess.Popen(
        [sys.executable, "-m", "robotrace_desktop", "scan", str(dataset), "--force"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: set[int] = set()
    started = time.monotonic()
    try:
        while not workers and scan.poll() is None:
            if time.monotonic() - started > START_TIMEOUT_S:
                break
            workers = children_of(scan.pid)
            time.sleep(0.02)
        time.sleep(delay_s)
        workers |= children_of(scan.pid)
        scan.send_signal(signal.SIGKILL)
    finally:
        scan.wait()
    deadline = time.monotonic() + GRACE_S
    left = alive(workers)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = alive(workers)
    for pid in left:  # do not leave them behind for the next test
        os.kill(pid, signal.SIGKILL)
    return workers, left


@pytest.mark.skipif(not is_linux(), reason="reads /proc")
def test_no_explain_worker_outlives_a_killed_scan(tmp_path: Path) -> None:
    dataset = write_v2(
        tmp_path / "ds",
        "v2.1",
        episodes=[EpisodeSpec(40, i % 2, i % 3 > 0) for i in range(24)],
        cameras=(),
    )
    with ThreadPoolExecutor(AT_ONCE) as pool:
        rounds = list(
            pool.map(
                lambda i: kill_scan_with_workers(dataset, tmp_path / f"home{i}", delay_s=0.15 * i),
                range(ROUNDS),
            )
        )
    assert all(workers for workers, _ in rounds)  # every round killed a scan with workers
    assert [left for _, left in rounds] == [set()] * ROUNDS
