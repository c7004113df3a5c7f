"""Opening the catalog: WAL, busy timeout, foreign keys, numbered migrations with a backup;
read-only when the file may not (or must not, being damaged) be written.

Several processes (the GUI, a CLI scan) may use one catalog at once; WAL plus a busy timeout
makes that safe. Before a migration touches an existing catalog a copy is taken with SQLite's
online backup API, so a failed upgrade never costs the user their bookmarks.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from robotrace_desktop.catalog.advice import damaged_message
from robotrace_desktop.catalog.health import catalog_problem, file_problem, wal_has_data
from robotrace_desktop.catalog.journal import fsync_path
from robotrace_desktop.catalog.schema import MIGRATIONS
from robotrace_desktop.catalog.storage_errors import (
    CatalogDamagedError,
    CatalogReadOnlyError,
    is_disk_full,
    is_read_only,
    sqlite_error,
    storage_error,
)
from robotrace_desktop.errors import StorageError

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 15_000


@dataclass(frozen=True, slots=True)
class Opened:
    """A connection and what it may be used for."""

    conn: sqlite3.Connection
    read_only: bool  # the file or its folder cannot be written by this process
    damage: str | None  # why the file failed its integrity check (then also read-only)
    created: bool = False  # the file did not exist and was created by this open


def open_catalog(path: Path) -> Opened:
    """Open the catalog at ``path``, creating it when missing.

    A writable, intact catalog is opened for writing and migrated. A catalog this process may
    not write (read-only file, folder or mount) and one that fails the integrity check
    (``health``) are opened through a read-only connection, so reads keep working while no
    write — not even a WAL checkpoint — can touch the file.

    Two programs opening a new catalog at the same moment (the GUI and a CLI scan, or two
    scans) would race to create it and switch it to WAL — the loser reading a half-written
    header ("disk I/O error") or told "database is locked" without SQLite's busy wait. So a new
    catalog is built under a temporary name and linked into place whole, and setting up an
    existing one is retried for as long as the busy timeout: every step is idempotent (the
    migration re-checks the version inside its transaction)."""
    if path.is_dir():
        raise StorageError(f"{path}: cannot open the catalog: it is a folder, not a catalog file")
    created = not path.exists()
    if created:
        _create(path)
    writable = _writable(path)
    damage = catalog_problem(path, immutable=not _writable(path.parent))
    if damage is not None:
        return Opened(_read_only(path, damage), read_only=True, damage=damage)
    if not writable:
        return Opened(_read_only(path, None), read_only=True, damage=None)
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    except sqlite3.Error as exc:
        raise StorageError(f"{path}: cannot open the catalog: {exc}") from exc
    conn.row_factory = sqlite3.Row
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            _set_up(conn, path)
            return Opened(conn, read_only=False, damage=None, created=created)
        except sqlite3.OperationalError as exc:
            if is_busy(exc) and time.monotonic() < deadline:
                time.sleep(0.02)
                continue
            conn.close()
            if is_read_only(exc):  # a read-only mount os.access did not see
                return Opened(_read_only(path, None), read_only=True, damage=None)
            if is_disk_full(exc, path):
                raise sqlite_error(exc, path, "cannot open the catalog") from exc
            raise StorageError(f"{path}: the catalog is unreadable or locked: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            conn.close()
            if is_disk_full(exc, path):  # no room for the -wal/-shm: not damage
                raise sqlite_error(exc, path, "cannot open the catalog") from exc
            raise CatalogDamagedError(damaged_message(path, f"SQLite says: {exc}")) from exc


def _create(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not os.access(path.parent, os.W_OK):
            raise PermissionError(errno.EACCES, "read-only folder", str(path.parent))
        _create_whole(path)
    except sqlite3.Error as exc:
        raise sqlite_error(exc, path, "cannot create the catalog") from exc
    except OSError as exc:
        if is_read_only(exc):
            raise CatalogReadOnlyError(
                f"cannot create the catalog {path}: its folder is read-only "
                "(use --catalog or ROBOTRACE_HOME to pick a writable place)"
            ) from exc
        raise storage_error(exc, path, "cannot create the catalog") from exc


def _writable(path: Path) -> bool:
    """This process may write the file and create ``-wal``/``-shm`` beside it (read-only
    mounts included; root passes chmod, as it really can write)."""
    return os.access(path, os.W_OK) and (path.is_dir() or os.access(path.parent, os.W_OK))


def _read_only(path: Path, damage: str | None) -> sqlite3.Connection:
    """A connection that cannot write. In a read-only folder SQLite cannot create the
    ``-shm`` a WAL reader needs: the file is then opened immutable, which is exact as long
    as no ``-wal`` holds changes not yet copied into it."""
    immutable = not _writable(path.parent) and not wal_has_data(path)
    uri = f"{path.resolve().as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        if damage is not None:
            raise CatalogDamagedError(damaged_message(path, damage)) from exc
        if wal_has_data(path) and not _writable(path.parent):
            raise CatalogReadOnlyError(
                f"the catalog is read-only: {path}, and its latest changes are still in "
                f"{path}-wal, which SQLite can only read from a writable folder "
                "(copy the catalog with its -wal file somewhere writable)"
            ) from exc
        raise StorageError(f"{path}: the catalog is unreadable: {exc}") from exc
    return conn


def _create_whole(path: Path) -> None:
    """Create, set up and migrate a new catalog at a temporary name, then hard-link it to
    ``path`` — which fails harmlessly when another program got there first.

    The temporary file is built in rollback-journal mode with full syncs, so every byte of it
    is in the file itself (never in a ``-wal`` that cleaning up would delete), then checked,
    fsync'd and only then linked: on a full disk the result is no catalog and a "disk full"
    error, never a file that stays "malformed" after space is freed. It is switched to WAL as
    its last step (a header change, made atomically by the rollback journal)."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.new")
    try:
        conn = sqlite3.connect(temp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = DELETE")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn, path)
            if str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower() != "wal":
                raise StorageError(f"{path}: cannot switch the new catalog to WAL mode")
        finally:
            conn.close()
        problem = file_problem(temp)
        if problem is not None:
            raise StorageError(f"{path}: the new catalog did not check out: {problem}")
        fsync_path(temp)
        try:
            os.link(temp, path)
        except FileExistsError:
            pass
        except OSError:  # no hard links on this file system: a rename, unless someone won
            if not path.exists():
                os.replace(temp, path)
        fsync_path(path.parent)
    finally:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{temp}{suffix}").unlink(missing_ok=True)


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
            if conn.in_transaction:  # SQLite may have rolled back already (disk full)
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
