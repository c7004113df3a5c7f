"""The journal: an append-only file beside the catalog with every change a person made.

Why: tags, outcomes, bookmarks, notes, stream offsets, selections and layouts are typed by a
person and cannot be recomputed, while the SQLite file can be lost — a deleted ``-wal``, a bad
disk block, a truncated copy. Each change is one JSON line, written and fsync'd before the
database transaction that makes the same change commits, so nothing reported saved can be
missing from it. Records are absolute ("bookmark 12 is now …", "selection X is now …"), never
deltas, so replaying them in order over any older state of the catalog ends in the same state:
replay is idempotent and can always start from the beginning.

Several processes append at once (the viewer and CLI commands); every append happens while the
writer holds the catalog's write lock and under an advisory file lock as well, so lines never
interleave. A line cut short by ``kill -9`` is healed (a newline is put after it) by the next
append and skipped, counted, when reading.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robotrace_desktop.catalog.storage_errors import storage_error

try:  # advisory locks: POSIX only; on Windows the catalog's write lock alone serialises appends
    import fcntl as fcntl  # re-exported: backups shares this platform guard
except ImportError:  # pragma: no cover - not on Linux
    fcntl = None  # type: ignore[assignment]

JOURNAL_SUFFIX = ".journal.jsonl"
FORMAT = 1

Record = dict[str, Any]


def journal_path(catalog: Path) -> Path:
    """``catalog.sqlite`` → ``catalog.journal.jsonl`` in the same folder."""
    return catalog.with_name(catalog.stem + JOURNAL_SUFFIX)


def new_record(op: str, **data: Any) -> Record:
    """A record with a unique id (what makes replay idempotent) and the time it was made."""
    return {"v": FORMAT, "id": uuid.uuid4().hex, "at": round(time.time(), 6), "op": op, **data}


@dataclass(slots=True)
class JournalRead:
    """What reading the journal found: valid records in file order, with the byte offset just
    after each, and how many lines could not be used."""

    records: list[Record] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    unreadable: int = 0  # lines that are not a JSON record (damaged bytes)
    incomplete: bool = False  # the last line was cut short (a write killed midway)
    size: int = 0


class Journal:
    """The journal of one catalog file."""

    def __init__(self, catalog: Path) -> None:
        self.path = journal_path(catalog)

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def append(self, records: Sequence[Record]) -> int:
        """Write ``records`` as lines and fsync them; returns the offset after the last one.

        Raises StorageError (disk full, read-only folder…): the caller then rolls back, so the
        database never holds a change its journal lacks."""
        if not records:
            return self.size()
        payload = "".join(_line(r) for r in records).encode("utf-8")
        created = not self.path.exists()
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise storage_error(exc, self.path, "cannot write the journal") from exc
        try:
            with _locked(fd):
                end = os.fstat(fd).st_size
                if end and _last_byte(fd, end) != b"\n":  # a line cut by a crash
                    payload = b"\n" + payload
                written = 0
                while written < len(payload):
                    written += os.write(fd, payload[written:])
                os.fsync(fd)
                end = os.fstat(fd).st_size
        except OSError as exc:
            raise storage_error(exc, self.path, "cannot write the journal") from exc
        finally:
            os.close(fd)
        if created:
            fsync_path(self.path.parent)
        return end

    def read(self, start: int = 0) -> JournalRead:
        """Every usable record from byte ``start`` on (0: the whole journal)."""
        result = JournalRead()
        try:
            with open(self.path, "rb") as handle:
                handle.seek(start)
                data = handle.read()
        except FileNotFoundError:
            return result
        except OSError as exc:
            raise storage_error(exc, self.path, "cannot read the journal") from exc
        result.size = start + len(data)
        offset = start
        lines = data.split(b"\n")
        for position, raw in enumerate(lines):
            offset += len(raw) + 1
            last = position == len(lines) - 1
            if last:  # after the final newline: empty, or a line a crash cut short
                result.incomplete = bool(raw.strip())
                break
            if not raw.strip():
                continue
            record = parse_line(raw)
            if record is None:
                result.unreadable += 1
                continue
            result.records.append(record)
            result.ends.append(offset)
        return result


def _last_byte(fd: int, size: int) -> bytes:
    """The file's last byte (O_APPEND still writes at the end wherever the position is)."""
    os.lseek(fd, size - 1, os.SEEK_SET)
    return os.read(fd, 1)


def _line(record: Record) -> str:
    # ASCII-only JSON: any text a person typed (lone surrogates included) survives the round trip
    return json.dumps(record, ensure_ascii=True, separators=(",", ":"), allow_nan=False) + "\n"


def parse_line(raw: bytes) -> Record | None:
    try:
        record = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if (
        not isinstance(record, dict)
        or not isinstance(record.get("id"), str)
        or not isinstance(record.get("op"), str)
    ):
        return None
    return record


@contextmanager
def _locked(fd: int) -> Iterator[None]:
    if fcntl is None:  # pragma: no cover
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def fsync_path(path: Path) -> None:
    """Best-effort fsync of a file, or of a folder to make a new entry in it durable (POSIX;
    elsewhere, and on any error, nothing)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
