"""Opening the catalog: WAL, busy timeout, foreign keys, numbered migrations with a backup.

Several processes (the GUI, a CLI scan) may use one catalog at once; WAL plus a busy timeout
makes that safe. Before a migration touches an existing catalog a copy is taken with SQLite's
online backup API, so a failed upgrade never costs the user their bookmarks.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

from robotrace_desktop.catalog.schema import MIGRATIONS
from robotrace_desktop.errors import StorageError

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 15_000


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the catalog at ``path``.

    Two programs opening a new catalog at the same moment (the GUI and a CLI scan, or two
    scans) would race to create it and switch it to WAL — the loser reading a half-written
    header ("disk I/O error") or told "database is locked" without SQLite's busy wait. So a new
    catalog is built under a temporary name and linked into place whole, and setting up an
    existing one is retried for as long as the busy timeout: every step is idempotent (the
    migration re-checks the version inside its transaction)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            _create_whole(path)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise StorageError(f"{path}: cannot open the catalog: {exc}") from exc
    conn.row_factory = sqlite3.Row
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            _set_up(conn, path)
            return conn
        except sqlite3.OperationalError as exc:
            if is_busy(exc) and time.monotonic() < deadline:
                time.sleep(0.02)
                continue
            conn.close()
            raise StorageError(f"{path}: the catalog is unreadable or locked: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StorageError(f"{path}: the catalog is unreadable or locked: {exc}") from exc


def _create_whole(path: Path) -> None:
    """Create, set up and migrate a new catalog at a temporary name, then hard-link it to
    ``path`` — which fails harmlessly when another program got there first."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.new")
    try:
        conn = sqlite3.connect(temp, isolation_level=None)
        try:
            _set_up(conn, path)
        finally:
            conn.close()  # checkpoints and removes the temporary -wal/-shm
        try:
            os.link(temp, path)
        except FileExistsError:
            pass
        except OSError:  # no hard links on this file system: open it in place as before
            log.debug("no hard link for %s; the catalog is created in place", path)
    finally:
        for leftover in (temp, Path(f"{temp}-wal"), Path(f"{temp}-shm")):
            leftover.unlink(missing_ok=True)


def _set_up(conn: sqlite3.Connection, path: Path) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    migrate(conn, path)


def is_busy(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED and their extended codes ("database is locked")."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Apply pending migrations, each in its own transaction. Returns the new version."""
    current = schema_version(conn)
    target = len(MIGRATIONS)
    if current > target:
        raise StorageError(
            f"{path}: catalog schema v{current} is newer than this RoboTrace (v{target}); "
            "upgrade RoboTrace"
        )
    if current == target:
        return current
    if current > 0:
        backup(conn, path.with_name(f"{path.name}.v{current}.{int(time.time())}.bak"))
    for version in range(current + 1, target + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) >= version:  # another process migrated meanwhile
                conn.execute("ROLLBACK")
                continue
            for statement in _statements(MIGRATIONS[version - 1]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return target


def backup(conn: sqlite3.Connection, dest: Path) -> Path:
    """Copy the catalog to ``dest``. Written under a temporary name and renamed when complete,
    so a process killed mid-copy never leaves a half-written file that looks like a backup."""
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    target = sqlite3.connect(partial)
    try:
        conn.backup(target)
    finally:
        target.close()
    os.replace(partial, dest)
    return dest


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (sqlite3.complete_statement aware)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        stripped = line.strip()
        if not buffer and (not stripped or stripped.startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
