"""The examples run as-is, as a user would run them, and log into ROBOTRACE_HOME."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from robotrace_desktop.catalog.store import Catalog

REPO = Path(__file__).resolve().parents[2]
LINK = re.compile(r"^robotrace://episode/([0-9a-f]{16})$", re.MULTILINE)


@pytest.mark.parametrize(
    ("script", "streams"),
    [
        ("log_episode.py", {"front", "joint_states", "action"}),
        ("start_episode.py", {"joint_states", "sensors", "actions"}),
    ],
)
def test_example_runs_and_prints_its_link(tmp_path: Path, script: str, streams: set[str]) -> None:
    env = dict(os.environ, ROBOTRACE_HOME=str(tmp_path / "home"))
    env.pop("ROBOTRACE_QUIET", None)
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    match = LINK.search(done.stdout)
    assert match, done.stdout
    with Catalog(tmp_path / "home" / "catalog.sqlite") as catalog:
        info = catalog.get(match.group(1))
    assert info.status.value == "ready"
    assert {s.name for s in info.streams} == streams
    assert info.seed in (3, 7) and info.policy_version and info.env_version
