""" "Disk full" said as such, naming the folder, instead of SQLite's "disk I/O error".

When the disk holding the catalog fills up, SQLite reports SQLITE_FULL ("database or disk is
full") or, as often, SQLITE_IOERR ("disk I/O error": the WAL or shared-memory file could not
grow), and Python an OSError ENOSPC. Every command then said "the catalog is unreadable or
locked: disk I/O error" — true, but nothing a user can act on. The CLI asks this module whether
a failure is really a full disk (by the error codes in the exception chain, and for an I/O error
by the free space left where RoboTrace writes) and then says so, with the folder to clear.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

#: Below this many free bytes a folder counts as full (SQLite needs pages, not bytes).
NEARLY_FULL_BYTES = 256 * 1024
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_SQLITE_FULL = 13
_SQLITE_IOERR = 10


def disk_full_message(exc: BaseException, folders: Iterable[Path]) -> str | None:
    """'disk full: no space left in <folder> (12 KiB free); free space there and try again'
    when ``exc`` (or its cause) means a full disk; None otherwise."""
    chain = list(_chain(exc))
    certain = any(_is_full(e) for e in chain)
    maybe = certain or any(_is_io_error(e) for e in chain)
    if not maybe:
        return None
    for folder in folders:
        free = free_bytes(folder)
        if free is not None and (free < NEARLY_FULL_BYTES or certain):
            return (
                f"disk full: no space left in {folder} ({_size(free)} free); "
                "free some space there (or set ROBOTRACE_HOME to a folder on another disk) "
                "and try again"
            )
    if certain:
        return "disk full: no space left on the device; free some space and try again"
    return None


def free_bytes(folder: Path) -> int | None:
    """Free bytes on the file system of ``folder`` or of its nearest existing parent."""
    for candidate in (folder, *folder.parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _is_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
        return True
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return (code is not None and code & 0xFF == _SQLITE_FULL) or "is full" in str(exc)
    return "No space left on device" in str(exc) or "database or disk is full" in str(exc)


def _is_io_error(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and code & 0xFF == _SQLITE_IOERR:
            return True
    return "disk I/O error" in str(exc)


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} bytes"
    return f"{count // 1024} KiB" if count < 1024**2 else f"{count // 1024**2} MiB"
