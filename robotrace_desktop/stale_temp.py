"""Temporary folders left by a killed import or ``log_episode``, removed by the next run.

Imported bundles and replays are built in a temporary folder and renamed into place
(``bundle_format.replacing_folder``), so a ``kill -9`` never leaves a half-written bundle — but
it left the temporary folder itself (``library/imported/.<name>.tmp-<pid>-<thread>``), and
nothing ever removed it: gigabytes of copied video could pile up (``log_episode``'s own temp
folders are cleaned by ``sdk.bundle_writer.clean_stale_temp``). Each name carries the writer's
pid; a folder whose writer is no longer running (or is a newer process that reused the pid) is
stale. A ``.old-`` folder is an earlier bundle moved aside for a replace: if the kill came
between the two renames, it is put back instead of deleted.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

_REPLACING = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)-\d+$")


def writer_gone(pid: int, folder: Path) -> bool:
    """True when process ``pid`` no longer runs, or started after ``folder`` was last
    written (its pid was reused). Another user's live process counts as running."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        started = Path(f"/proc/{pid}").stat().st_mtime
        return started > folder.stat().st_mtime + 1
    except OSError:
        return False


def clean_replacing_leftovers(parent: Path) -> list[Path]:
    """Remove stale ``.<name>.tmp-*``/``.old-*`` folders in ``parent`` (restoring an ``.old``
    bundle whose replacement never arrived); returns what was removed or restored."""
    cleaned: list[Path] = []
    for entry in _entries(parent):
        match = _REPLACING.match(entry.name)
        if match is None or not writer_gone(int(match["pid"]), entry):
            continue
        target = parent / match["name"]
        if match["kind"] == "old" and not target.exists():
            try:
                os.replace(entry, target)
            except OSError as exc:
                log.warning("cannot restore %s to %s: %s", entry, target, exc)
                continue
        else:
            shutil.rmtree(entry, ignore_errors=True)
        log.info("removed a folder left by a killed run: %s", entry)
        cleaned.append(entry)
    return cleaned


def _entries(parent: Path) -> list[Path]:
    try:
        return [e for e in parent.iterdir() if e.is_dir() and not e.is_symlink()]
    except OSError:
        return []
