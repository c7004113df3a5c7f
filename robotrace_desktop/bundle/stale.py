"""Temporary folders a killed writer left behind, and when they may be removed.

``BundleWriter`` builds every bundle in ``.<name>.tmp-<pid>-<thread>`` and, while replacing an
earlier bundle, moves that one aside as ``.<name>.old-<pid>-<thread>``. A ``kill -9`` (or a
power cut) never leaves a half-written bundle where a reader looks, but it does leave those
folders — gigabytes of copied video if nothing removes them. The next writer in the same
folder removes them, but only when their writer is certainly gone: its pid no longer runs, or
the process now running under that pid started after the folder was last written (the pid was
reused — the folder is older than the running process). A folder of a live writer, in this
process or another, is never touched. An ``.old`` folder whose bundle never came back (the kill
fell between the two renames) is put back in place instead of deleted.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)-\d+$")
#: /proc/stat's boot time has whole seconds: a folder written within this many seconds of the
#: start of the process now holding its pid is kept (it may be that process's own)
_CLOCK_SLACK_S = 2.0


def temp_name(name: str, kind: str, thread: int) -> str:
    """``.<name>.<kind>-<pid>-<thread>``: hidden, and naming the writer that may remove it."""
    return f".{name}.{kind}-{os.getpid()}-{thread}"


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (Unix time, ~1 s precision); None when it is not known
    (no /proc: macOS, Windows) or the process does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, after "pid (comm)"
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text(encoding="ascii").splitlines()
            if line.startswith("btime ")
        )
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def writer_running(pid: int) -> bool | None:
    """Whether a process ``pid`` exists: True, False, or None when it cannot be told (a
    platform without signal 0; on Windows ``os.kill`` would terminate the process)."""
    if os.name != "posix":
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    except OSError:
        return None
    return True


def writer_gone(pid: int, folder: Path) -> bool:
    """True when the writer that named ``folder`` with ``pid`` can no longer be writing it."""
    running = writer_running(pid)
    if running is None:
        return False  # cannot tell: keep it
    if not running:
        return True
    started = process_start_time(pid)
    if started is None:
        return False
    try:
        written = folder.stat().st_mtime
    except OSError:
        return False
    return started > written + _CLOCK_SLACK_S


def clean_stale_leftovers(parent: Path) -> list[Path]:
    """Remove the stale ``.<name>.tmp-*`` folders in ``parent`` and put stale ``.old-*``
    bundles back when their place is empty (removed otherwise); returns what was cleaned."""
    cleaned: list[Path] = []
    for entry, match in _leftovers(parent):
        if not writer_gone(int(match["pid"]), entry):
            continue
        target = parent / match["name"]
        if match["kind"] == "old" and not os.path.lexists(target):
            try:
                os.replace(entry, target)
            except OSError as exc:
                log.warning("cannot put %s back as %s: %s", entry, target, exc)
                continue
            log.info("put back a bundle a killed writer had moved aside: %s", target)
        else:
            shutil.rmtree(entry, ignore_errors=True)
            log.info("removed a folder left by a killed writer: %s", entry)
        cleaned.append(entry)
    return cleaned


def _leftovers(parent: Path) -> list[tuple[Path, re.Match[str]]]:
    """Folders in ``parent`` named like a writer's temporary or moved-aside folder. Names are
    matched before anything is stat'ed: an import folder may hold thousands of bundles and is
    listed once per bundle written."""
    found: list[tuple[Path, re.Match[str]]] = []
    try:
        with os.scandir(parent) as entries:
            for entry in entries:
                match = _LEFTOVER.match(entry.name) if entry.name.startswith(".") else None
                if match is not None and entry.is_dir(follow_symlinks=False):
                    found.append((Path(entry.path), match))
    except OSError:
        pass
    return found
