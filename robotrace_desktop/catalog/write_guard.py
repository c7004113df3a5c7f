"""What happens before a write transaction and when one fails.

Why: a damaged catalog must never be written (SQLite would keep writing around the bad pages
and spread the damage), a read-only one cannot be, and both must say so in words a person can
act on. The first write of a session is also the moment to take the automatic backup: the
copy then holds the catalog as it was before this session changed anything.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from robotrace_desktop.catalog.advice import damaged_message
from robotrace_desktop.catalog.backups import maybe_backup
from robotrace_desktop.catalog.storage_errors import (
    CatalogDamagedError,
    CatalogReadOnlyError,
    is_disk_full,
    is_read_only,
    read_only_message,
    sqlite_error,
)
from robotrace_desktop.errors import StorageError

if TYPE_CHECKING:
    from robotrace_desktop.catalog.store import Catalog

_backed_up: set[str] = set()  # catalogs this process has considered backing up
_tidied: set[str] = set()  # catalogs whose folder this process has cleaned of debris

#: temporary files of a catalog being created (``.NAME.<pid>.<ns>.new``) or restored/rebuilt
#: (``.NAME.restore-<pid>.sqlite``), with their SQLite sidecars
_TEMPORARY = re.compile(
    r"^(?:(\d+)\.\d+\.new|[a-z]+-(\d+)\.sqlite)(?:-wal|-shm|-journal|\..*\.bak)?$"
)


def tidy(path: Path) -> None:
    """Remove what a killed creation, restore or rebuild left beside the catalog at ``path``
    (once per process; files of a process still running are left alone). Never touches the
    catalog itself, so it runs beside a damaged one too."""
    key = str(path.resolve())
    if key in _tidied or not os.access(path.parent, os.W_OK):
        return
    _tidied.add(key)
    prefix = f".{path.name}."
    try:
        names = [p for p in path.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return
    for leftover in names:
        match = _TEMPORARY.match(leftover.name[len(prefix) :])
        pid = match and (match.group(1) or match.group(2))
        if pid and not _running(int(pid)):
            leftover.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def before_write(catalog: Catalog) -> None:
    """Refuse a write into a damaged or read-only catalog; back up on the session's first."""
    if catalog.damage is not None:
        raise CatalogDamagedError(damaged_message(catalog.path, catalog.damage))
    if catalog.read_only:
        raise CatalogReadOnlyError(read_only_message(catalog.path))
    key = str(catalog.path.resolve())
    if catalog.auto_backup and key not in _backed_up:
        _backed_up.add(key)
        maybe_backup(catalog._conn, catalog.path)


def as_storage_error(catalog: Catalog, exc: sqlite3.Error) -> StorageError | None:
    """The plain-words error for a failed write, or None when it is not about storage (a
    constraint, a bug: raised as it is)."""
    if is_disk_full(exc) or is_read_only(exc):
        return sqlite_error(exc, catalog.path, "could not save to the catalog")
    if isinstance(exc, sqlite3.IntegrityError | sqlite3.ProgrammingError):
        return None
    if isinstance(exc, sqlite3.OperationalError):
        return sqlite_error(exc, catalog.path, "could not save to the catalog")
    if isinstance(exc, sqlite3.DatabaseError):  # "database disk image is malformed"
        catalog.damage = f"SQLite says: {exc}"
        return CatalogDamagedError(damaged_message(catalog.path, catalog.damage))
    return None
