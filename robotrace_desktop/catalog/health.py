"""Is this catalog file intact? A header sanity check on every open, ``PRAGMA quick_check``
once per process per file.

Why: SQLite happily keeps writing into a file whose pages are garbage ("database disk image is
malformed" shows up only when a damaged page is read), spreading the damage and burying what
a person typed. A damaged catalog is opened read-only, refused every write, and the message
says exactly how to get the data back.

The quick check reads the whole file, so it runs once per process for a given file (its
inode, size and mtime): a CLI command pays it once, the viewer at start-up and after
checkpoints, never on every connection.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import Counter
from pathlib import Path

from robotrace_desktop.catalog.storage_errors import is_disk_full, sqlite_error

HEADER = b"SQLite format 3\x00"
_checked: dict[tuple[str, int, int, int], str | None] = {}
#: catalog files this process has connections open on (``Catalog`` counts them), and how many
_open_here: Counter[str] = Counter()


_open_lock = threading.Lock()  # the viewer opens catalogs from several threads


def connection_opened(path: Path) -> None:
    name = _name(path)
    with _open_lock:
        _open_here[name] += 1


def connection_closed(path: Path) -> None:
    name = _name(path)
    with _open_lock:
        _open_here[name] -= 1
        if _open_here[name] <= 0:
            del _open_here[name]


def _name(path: Path) -> str:
    return str(Path(path).resolve())


def header_problem(path: Path) -> str | None:
    """What is wrong with the file's size or 100-byte header, read without SQLite (cheap).

    Never while this process has a connection open on the file: closing *any* descriptor of a
    file drops every POSIX lock the process holds on it, SQLite's included, and a connection
    in another process (an Explain worker) then believes it is the last one, checkpoints and
    deletes the WAL under the live connections here ("How To Corrupt An SQLite Database
    File", 2.2). The file was checked when the first of them opened it; SQLite itself reports
    what goes wrong after that."""
    if _open_here.get(_name(path), 0) > 0:
        return None
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            header = handle.read(100)
    except FileNotFoundError:
        return "the file is missing"
    except OSError as exc:
        return f"cannot read it ({exc.strerror or exc})"
    if size == 0:
        return "the file is empty (0 bytes): it was truncated"
    if size < 100 or len(header) < 100:
        return f"the file is only {size} bytes long: it was truncated"
    if header[:16] != HEADER:
        return "its first bytes are not a SQLite header: the file was overwritten"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return f"its header names an impossible page size ({page_size}): the header is damaged"
    if size % page_size:
        return f"{size} bytes is not a whole number of {page_size}-byte pages: it was cut short"
    pages = int.from_bytes(header[28:32], "big")
    counter_valid = header[24:28] == header[92:96]
    if counter_valid and pages and pages * page_size > size and not _wal_has_frames(path):
        return f"its header counts {pages} pages but the file holds {size // page_size}: truncated"
    return None


def _wal_has_frames(path: Path) -> bool:
    """A checkpoint copies the WAL's pages into the file in page order, page 1 (the header)
    first; one killed half-way leaves a header counting pages the file does not hold yet,
    while the WAL still holds every one of them and SQLite finishes the copy on the next
    open. Only without such a WAL does that header mean the file was cut short."""
    try:
        return os.stat(f"{path}-wal").st_size > 32  # 32 bytes: the WAL header, no frame
    except OSError:
        return False


def quick_check(path: Path, *, immutable: bool = False) -> str | None:
    """``PRAGMA quick_check`` through a read-only connection (never a write, never a
    checkpoint into a damaged file); None when the file is intact."""
    uri = f"{path.resolve().as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=15)
    except sqlite3.Error as exc:
        return f"it cannot be opened ({exc})"
    try:
        rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check(5)").fetchall()]
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and _transient(exc):
            return None  # locked or busy: not damage; the real open reports it
        if is_disk_full(exc, path):  # no room for the reader's -shm: the disk, not the file
            raise sqlite_error(exc, path, "cannot open the catalog") from exc
        return f"SQLite says: {exc}"
    finally:
        conn.close()
    if rows == ["ok"]:
        return None
    first = rows[0].replace("*** in database main ***", "").strip().splitlines()
    return "the integrity check failed: " + (first[0] if first else "not ok")


def file_problem(path: Path, *, immutable: bool = True) -> str | None:
    """Header, then quick check, uncached: for backups and restored copies."""
    return header_problem(path) or quick_check(path, immutable=immutable)


def catalog_problem(path: Path, *, immutable: bool = False) -> str | None:
    """Header every time; the quick check once per process for this version of the file."""
    problem = header_problem(path)
    if problem is not None:
        return problem
    try:
        st = path.stat()
    except OSError as exc:
        return f"cannot read it ({exc.strerror or exc})"
    key = (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns)
    if key not in _checked:
        _checked[key] = quick_check(path, immutable=immutable)
    return _checked[key]


def forget(path: Path | None = None) -> None:
    """Check again on the next open (after a restore, or in tests that damage a file)."""
    if path is None:
        _checked.clear()
        return
    name = _name(path)
    for key in [k for k in _checked if k[0] == name]:
        del _checked[key]


def wal_has_data(path: Path) -> bool:
    try:
        return os.path.getsize(f"{path}-wal") > 0
    except OSError:
        return False


def _transient(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text
