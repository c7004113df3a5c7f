"""Runs ``robotrace-desktop`` in a subprocess, as a user would, with a generous timeout.

A hang then shows as a failed assertion naming the command instead of a stuck test run, and
the bytes the command wrote to the terminal are checked as they are (no capture decoding)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: Far above any honest run of these small inputs; only a hang reaches it.
TIMEOUT_S = 240


@dataclass(frozen=True, slots=True)
class Run:
    args: tuple[str, ...]
    code: int | None  # None: killed at the timeout
    out: bytes
    err: bytes

    @property
    def text(self) -> str:
        return (self.out + self.err).decode("utf-8", "replace")


def run_cli(
    *args: str, home: Path, env: dict[str, str] | None = None, timeout: float = TIMEOUT_S
) -> Run:
    environment = {**os.environ, "ROBOTRACE_HOME": str(home), **(env or {})}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "robotrace_desktop", *args],
            capture_output=True,
            env=environment,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        return Run(args, None, exc.stdout or b"", exc.stderr or b"")
    return Run(args, done.returncode, done.stdout, done.stderr)
