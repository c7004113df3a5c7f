"""A verify-style job for the Ray engine test: importable by name, so a Ray worker (another
process, maybe another machine) can run it. It reads one episode of a real LeRobot dataset with
the project's reader and returns plain numbers, so the inline and Ray results compare exactly."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from robotrace_desktop.readers.lerobot.reader import LeRobotReader


def action_summary_job(context: dict[str, Any], item: int) -> dict[str, Any]:
    """Length, per-channel mean and the last action of episode ``item`` of ``context["root"]``."""
    reader = LeRobotReader()
    with reader.open(Path(context["root"]), item) as source:
        chunk = source.read_signal("action")
    return {
        "episode": item,
        "frames": len(chunk),
        "last_t_ns": int(chunk.t_ns[-1]),
        "channels": list(chunk.channels),
        "mean": [float(v) for v in chunk.values.mean(axis=0)],
        "last": [float(v) for v in chunk.values[-1]],
    }


def worker_pid_job(context: dict[str, Any], item: int) -> int:
    """Which process ran the item."""
    return os.getpid()


def hold_state(obs: dict[str, Any]) -> Any:
    """A deterministic candidate policy (``tests.verify.ray_jobs:hold_state``): command the
    measured joint positions."""
    return obs["observation.state"]
