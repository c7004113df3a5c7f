"""Rotating backups of the catalog, taken with SQLite's online backup API.

Why: the journal keeps what a person typed, but a whole catalog (index, findings, user data)
is much quicker to restore from a recent copy than to rebuild by rescanning. A backup is taken
on the first write of a session when the newest one is older than ``ROBOTRACE_BACKUP_HOURS``
(24 by default); the newest ``KEEP`` are kept in ``backups/`` beside the catalog. Each is
written under a temporary name, fsync'd and renamed, so a half-written file never looks like a
backup.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from robotrace_desktop.catalog.health import file_problem
from robotrace_desktop.catalog.journal import fcntl, fsync_path

log = logging.getLogger(__name__)

BACKUP_FOLDER = "backups"
KEEP = 5
DEFAULT_HOURS = 24.0


def backup_folder(catalog: Path) -> Path:
    return catalog.parent / BACKUP_FOLDER


def every_hours() -> float:
    """How old the newest backup may get before the next write takes a new one."""
    try:
        return max(0.0, float(os.environ.get("ROBOTRACE_BACKUP_HOURS", DEFAULT_HOURS)))
    except ValueError:
        return DEFAULT_HOURS


def backups(catalog: Path) -> list[Path]:
    """This catalog's backups, newest first: the rotating ones, then the copies taken before
    schema migrations (``catalog.sqlite.vN.<time>.bak``)."""
    prefix = f"{catalog.stem}-"
    rotating = sorted(
        backup_folder(catalog).glob(f"{prefix}*.sqlite"),
        key=lambda p: _stamp(p.stem[len(prefix) :]),
        reverse=True,
    )
    migration = sorted(
        catalog.parent.glob(f"{catalog.name}.v*.bak"), key=lambda p: p.stat().st_mtime,
        reverse=True,
    )  # fmt: skip
    return [*rotating, *migration]


def newest_good(catalog: Path) -> tuple[Path | None, list[str]]:
    """The newest backup that passes the integrity check, and why newer ones were passed over."""
    skipped: list[str] = []
    for candidate in backups(catalog):
        problem = file_problem(candidate)
        if problem is None:
            return candidate, skipped
        skipped.append(f"{candidate.name}: {problem}")
    return None, skipped


def is_due(catalog: Path) -> bool:
    rotating = [p for p in backups(catalog) if p.suffix == ".sqlite"]
    if not rotating:
        return True
    try:
        age_h = (time.time() - rotating[0].stat().st_mtime) / 3600
    except OSError:
        return True
    return age_h >= every_hours()


def take_backup(conn: sqlite3.Connection, catalog: Path) -> Path:
    """Copy the catalog now into ``backups/`` and drop the oldest beyond ``KEEP``."""
    folder = backup_folder(catalog)
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + f"-{int(now * 1e6) % 1000000:06d}"
    dest = folder / f"{catalog.stem}-{stamp}.sqlite"
    n = 1
    while dest.exists():
        n += 1
        dest = folder / f"{catalog.stem}-{stamp}-{n}.sqlite"
    copy_into(conn, dest)
    rotate(catalog)
    return dest


def copy_into(conn: sqlite3.Connection, dest: Path) -> Path:
    """A consistent copy of ``conn``'s database at ``dest``, whole or not at all."""
    partial = dest.with_name(f".{dest.name}.{os.getpid()}.{time.monotonic_ns()}.partial")
    try:
        target = sqlite3.connect(partial)
        try:
            conn.backup(target)
            target.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            target.close()
        _fsync_file(partial)
        os.replace(partial, dest)
    finally:
        for leftover in (partial, Path(f"{partial}-journal"), Path(f"{partial}-wal")):
            leftover.unlink(missing_ok=True)
    fsync_path(dest.parent)
    return dest


def maybe_backup(conn: sqlite3.Connection, catalog: Path) -> Path | None:
    """The automatic backup at the first write of a session. Never stops the write: a failed
    backup (disk full) is logged and the next session tries again. One process at a time takes
    it (the others skip), so programs starting together cannot rotate the older, useful
    backups away with several copies of the same moment; and never when the copy would leave
    less free space than the catalog needs to grow."""
    try:
        if not is_due(catalog):
            return None
        if shutil.disk_usage(catalog.parent).free < 2 * catalog.stat().st_size + (8 << 20):
            log.warning("no automatic backup of %s: too little free space", catalog)
            return None
        folder = backup_folder(catalog)
        folder.mkdir(parents=True, exist_ok=True)
        with _exclusive(folder / f".{catalog.stem}.lock") as mine:
            if not mine or not is_due(catalog):
                return None
            return take_backup(conn, catalog)
    except (OSError, sqlite3.Error) as exc:
        log.warning("automatic backup of %s failed: %s", catalog, exc)
        return None


@contextmanager
def _exclusive(lock: Path) -> Iterator[bool]:
    """A non-blocking advisory lock: yields False when another process holds it."""
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is None:  # pragma: no cover - Windows: no cross-process guard
            yield True
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def rotate(catalog: Path, keep: int = KEEP) -> None:
    rotating = [p for p in backups(catalog) if p.suffix == ".sqlite"]
    for old in rotating[keep:]:
        old.unlink(missing_ok=True)


def _stamp(tail: str) -> tuple[str, int]:
    """Sort key of ``YYYYmmdd-HHMMSS-micros[-N]``: the time, then the N of a backup taken in
    the same microsecond. Names are never reused, so the order is the order they were taken."""
    parts = tail.split("-")
    number = parts[3] if len(parts) > 3 else "1"
    return "-".join(parts[:3]), int(number) if number.isdigit() else 1


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
