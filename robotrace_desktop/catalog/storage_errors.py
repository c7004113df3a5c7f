"""Plain words for what the disk or SQLite said when the catalog could not be written.

Why: "disk I/O error" or "OperationalError: attempt to write a readonly database" tells a
person nothing they can act on; "disk full: … (12 KB free on the drive holding /data)" and
"the catalog is read-only: /mnt/ro/catalog.sqlite" do.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path

from robotrace_desktop.errors import StorageError

#: SQLite primary result codes
_FULL = 13  # SQLITE_FULL
_READONLY = 8  # SQLITE_READONLY
_IOERR = 10  # SQLITE_IOERR
_CANTOPEN = 14  # SQLITE_CANTOPEN


#: what SQLite raises: callers outside the catalog catch these names, never sqlite3's own
CatalogDatabaseError = sqlite3.DatabaseError
CatalogSQLiteError = sqlite3.Error


class CatalogReadOnlyError(StorageError):
    """A write was asked of a catalog this process may only read."""


class CatalogDamagedError(StorageError):
    """The catalog file failed its integrity check; nothing is written into it."""


class DiskFullError(StorageError):
    """No space left where the catalog (or its journal or a backup) lives."""


def read_only_message(path: Path) -> str:
    return (
        f"the catalog is read-only: {path} (nothing was saved; reading still works — "
        "to save tags and bookmarks, make the file and its folder writable or use "
        "--catalog / ROBOTRACE_HOME to pick a writable one)"
    )


def disk_full_message(path: Path, what: str) -> str:
    return f"disk full: {what} {path} ({_free_space(path.parent)})"


def is_disk_full(exc: BaseException, where: Path | None = None) -> bool:
    """ENOSPC / SQLITE_FULL; with ``where``, also an I/O error on a drive with under 1 MiB
    free (SQLite reports a failed write of its -shm or journal that way)."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and code & 0xFF == _FULL:
            return True
        text = str(exc).lower()
        if "disk is full" in text or "file too large" in text:
            return True
        return where is not None and _is_io_error(exc) and _nearly_full(where.parent)
    return False


def is_read_only(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and code & 0xFF == _READONLY:
            return True
        return "readonly database" in str(exc).lower()
    return False


def storage_error(exc: OSError, where: Path, what: str) -> StorageError:
    """An OSError met while writing ``where`` as the StorageError a person can act on."""
    if is_disk_full(exc):
        return DiskFullError(disk_full_message(where, f"{what}:"))
    if is_read_only(exc):
        return CatalogReadOnlyError(f"{what}: {where} is read-only ({exc.strerror or exc})")
    return StorageError(f"{where}: {what} ({exc.strerror or exc})")


def sqlite_error(exc: sqlite3.Error, where: Path, what: str) -> StorageError:
    """A SQLite error met while writing the catalog, in the same plain words."""
    if is_disk_full(exc, where):
        return DiskFullError(disk_full_message(where, f"{what}:"))
    if is_read_only(exc):
        return CatalogReadOnlyError(read_only_message(where))
    return StorageError(f"{where}: {what} ({exc})")


def _is_io_error(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_IOERR, _CANTOPEN)
    return "disk i/o error" in str(exc).lower()


def _nearly_full(folder: Path) -> bool:
    """An I/O error on a drive with under 1 MiB free is, in practice, a full disk."""
    try:
        return shutil.disk_usage(folder).free < 1 << 20
    except OSError:
        return False


def _free_space(folder: Path) -> str:
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return f"no space left on the drive holding {folder}"
    return f"{_size(free)} free on the drive holding {folder}; free some space and try again"


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    size = n / 1024
    for unit in ("KB", "MB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"
