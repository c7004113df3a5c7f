"""Which versions of which catalog files passed ``PRAGMA quick_check``, kept across processes.

Why: the quick check reads the whole file (80 MB at 100,000 episodes: 0.1–0.2 s), and every
CLI command is a new process, so ``list`` paid it on every call although nothing had touched
the file since the last one (issue 16). A file is trusted again only when it is exactly the
version that passed: same device, inode, size and modification time, and the same
write-ahead log beside it (every commit changes the WAL). Any write — a scan, a program
scribbling over pages, a truncation, a restored copy — changes one of them and the next open
checks again. Only passes are kept; a damaged file is checked every time.

Best effort: a missing, unreadable or garbled stamp file means "check", never an error.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from robotrace_desktop import paths

#: the newest stamps kept (one per catalog file a person uses; a handful in practice)
KEEP = 64
_NAME = "verified-catalogs.json"


def version_of(path: Path) -> list[int] | None:
    """The file's version as the stamp compares it; None when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    try:
        wal = os.stat(f"{path}-wal")
    except OSError:
        wal = None
    # an empty WAL holds nothing: every connection creates one and the last deletes it
    wal_version = [wal.st_size, wal.st_mtime_ns] if wal is not None and wal.st_size else [-1, -1]
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, *wal_version]


def is_verified(path: Path, version: list[int] | None) -> bool:
    """``version`` (``version_of(path)``) passed the quick check before, in any process."""
    return version is not None and _read().get(str(path.resolve())) == version


def remember(path: Path, version: list[int] | None) -> None:
    """Record that ``version`` of ``path`` (taken before the check began) passed the quick
    check — unless the file changed while it ran: that newer version was not checked."""
    if version is None or version_of(path) != version:
        return
    stamps = _read()
    stamps.pop(str(path.resolve()), None)
    stamps[str(path.resolve())] = version  # newest last: the oldest are dropped first
    _write(dict(list(stamps.items())[-KEEP:]))


def forget(path: Path | None = None) -> None:
    """Check ``path`` (every file, when None) again on its next open."""
    stamps = {} if path is None else _read()
    if path is not None and stamps.pop(str(Path(path).resolve()), None) is None:
        return
    _write(stamps)


def _file() -> Path:
    return paths.cache_dir() / _NAME


def _read() -> dict[str, list[int]]:
    try:
        loaded = json.loads(_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {
        str(k): v
        for k, v in loaded.items()
        if isinstance(v, list) and all(type(x) is int for x in v)
    }


def _write(stamps: dict[str, list[int]]) -> None:
    """Replace the stamp file atomically (concurrent commands each write a whole file)."""
    target = _file()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".verified-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(stamps, handle)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError:
        pass  # a read-only or full cache folder: the next process simply checks again
