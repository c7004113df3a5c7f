"""``catalog check | backup | restore | rebuild``: getting a damaged or lost catalog back.

Why: the catalog holds irreplaceable user data (tags, bookmarks, notes, offsets, selections,
layouts) next to an index that a scan can always recreate. Restore takes the newest good
backup and re-applies the journal records written since; rebuild makes a new catalog from
nothing but the journal (and whatever backup or old catalog still names recordings): it
rescans the recordings and re-applies the whole journal. The replaced file is always moved
aside, never deleted, and the new one is built under a temporary name and renamed into place
only once it is complete and checked.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from robotrace_desktop.catalog import health
from robotrace_desktop.catalog.advice import damaged_message
from robotrace_desktop.catalog.backups import (
    backup_folder,
    backups,
    copy_into,
    newest_good,
    take_backup,
)
from robotrace_desktop.catalog.journal import Journal
from robotrace_desktop.catalog.journal_sync import replay, replay_pending
from robotrace_desktop.catalog.storage_errors import (
    CatalogDamagedError,
    sqlite_error,
    storage_error,
)
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.catalog.user_data import set_state, state
from robotrace_desktop.catalog.write_guard import tidy
from robotrace_desktop.errors import StorageError

#: records about user data (what "N changes" counts), as opposed to informative ones
_INFORMATIVE = {"void", "known.recordings"}


@dataclass(slots=True)
class CheckReport:
    catalog: Path
    problem: str | None = None  # None: the integrity check passed
    schema: int | None = None
    episodes: int | None = None
    bookmarks: int | None = None
    journal: Path | None = None
    journal_records: int = 0  # user changes in the journal
    journal_unreadable: int = 0
    journal_incomplete: bool = False
    not_in_catalog: int | None = None  # journal changes the catalog lacks (None: unknown)
    backups: list[tuple[Path, str | None]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None and not self.not_in_catalog


def check(catalog: Path) -> CheckReport:
    """A full ``PRAGMA integrity_check`` of the catalog, the journal's state, the backups."""
    report = CheckReport(catalog)
    if not catalog.exists():
        report.problem = "the file is missing"
    else:
        report.problem = health.header_problem(catalog) or _integrity(catalog, report)
    journal = Journal(catalog)
    report.journal = journal.path
    read = journal.read()
    report.journal_records = sum(1 for r in read.records if r["op"] not in _INFORMATIVE)
    report.journal_unreadable, report.journal_incomplete = read.unreadable, read.incomplete
    if report.problem is None:
        report.not_in_catalog = _missing_changes(catalog, journal)
    report.backups = [(b, health.file_problem(b)) for b in backups(catalog)]
    return report


def backup_now(catalog: Path) -> Path:
    """A backup now, into ``backups/`` (refused for a damaged catalog: restore it first)."""
    with Catalog(catalog) as opened:
        if opened.damage is not None:
            raise CatalogDamagedError(damaged_message(catalog, opened.damage))
        try:
            return take_backup(opened._conn, catalog)
        except OSError as exc:
            raise storage_error(exc, backup_folder(catalog), "cannot write the backup") from exc
        except sqlite3.Error as exc:
            raise sqlite_error(exc, backup_folder(catalog), "cannot write the backup") from exc


@dataclass(slots=True)
class Replaced:
    """What a restore or rebuild did."""

    catalog: Path
    source: Path | None = None  # the backup restored from
    moved_aside: list[Path] = field(default_factory=list)
    reapplied: int = 0  # user changes re-applied from the journal
    scanned: list[Path] = field(default_factory=list)
    gone: list[Path] = field(default_factory=list)  # known recordings no longer on disk


#: indexes the given recordings into a catalog: how recordings are read and indexed is the
#: scan's business (``library.scanner``), a layer above the catalog, so rebuild is handed it
Reindex = Callable[[Catalog, list[Path]], None]


def restore(catalog: Path, source: Path | None = None) -> Replaced:
    """Replace the catalog with ``source`` (default: the newest good backup) plus every journal
    record written after that backup was taken."""
    if source is None:
        source, skipped = newest_good(catalog)
        if source is None:
            why = "; ".join(skipped) if skipped else f"none in {catalog.parent / 'backups'}"
            raise StorageError(
                f"no good backup of {catalog} ({why}); `robotrace-desktop catalog rebuild` "
                "makes a new catalog from the recordings and the journal"
            )
    problem = health.file_problem(source)
    if problem is not None:
        raise StorageError(f"{source} cannot be restored: {problem}")
    result = Replaced(catalog, source=source)
    temp = _temporary(catalog, "restore")
    try:
        conn = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            copy_into(conn, temp)
        finally:
            conn.close()
        with Catalog(temp, journal_of=catalog) as rebuilt:
            result.reapplied = replay_pending(rebuilt)
        _verify(temp)
        result.moved_aside = _install(temp, catalog)
    finally:
        _remove(temp)
    return result


def rebuild(catalog: Path, reindex: Reindex) -> Replaced:
    """A new catalog from scratch: ``reindex`` every recording known to the journal, the
    backups or the old catalog into it, and re-apply the whole journal."""
    result = Replaced(catalog)
    known = known_recordings(catalog)
    result.scanned = [p for p in known if p.exists()]
    result.gone = [p for p in known if not p.exists()]
    temp = _temporary(catalog, "rebuild")
    try:
        with Catalog(temp, journal_of=catalog) as rebuilt:
            if result.scanned:
                reindex(rebuilt, result.scanned)
            result.reapplied = _replay_all(rebuilt)
        _verify(temp)
        result.moved_aside = _install(temp, catalog)
    finally:
        _remove(temp)
    return result


def known_recordings(catalog: Path) -> list[Path]:
    """Every recording or scanned folder that the journal, the old catalog or a backup names;
    a path inside another one listed is left to that one's scan."""
    found: set[str] = set()
    for record in Journal(catalog).read().records:
        if record["op"] == "known.recordings":
            found.update(p for p in record.get("paths", []) if isinstance(p, str))
        found.update(p for p in record.get("recordings", []) or [] if isinstance(p, str))
    for database in (catalog, *backups(catalog)):
        found.update(_recording_paths(database))
    ordered = sorted(found, key=lambda p: (len(Path(p).parts), p))
    kept: list[Path] = []
    for text in ordered:
        path = Path(text)
        if not any(path.is_relative_to(parent) for parent in kept):
            kept.append(path)
    return sorted(kept)


# --- internals ------------------------------------------------------------------------------


def _integrity(catalog: Path, report: CheckReport) -> str | None:
    immutable = not os.access(catalog.parent, os.W_OK) and not health.wal_has_data(catalog)
    uri = f"{catalog.resolve().as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=15)
    except sqlite3.Error as exc:
        return f"it cannot be opened ({exc})"
    try:
        rows = [str(r[0]) for r in conn.execute("PRAGMA integrity_check(20)")]
        if rows != ["ok"]:
            return "the integrity check failed: " + "; ".join(rows[:5])
        report.schema = int(conn.execute("PRAGMA user_version").fetchone()[0])
        report.episodes = int(conn.execute("SELECT count(*) FROM episodes").fetchone()[0])
        report.bookmarks = int(conn.execute("SELECT count(*) FROM bookmarks").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        return f"SQLite says: {exc}"
    finally:
        conn.close()
    return None


def _missing_changes(catalog: Path, journal: Journal) -> int | None:
    """How many journal changes come after the catalog's last applied record."""
    uri = f"{catalog.resolve().as_uri()}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=15)
    except sqlite3.Error:
        return None
    try:
        current = state(conn)
    finally:
        conn.close()
    read = journal.read()
    records = read.records
    if current is not None:
        ids = [r["id"] for r in records]
        if current.record in ids:
            records = records[ids.index(current.record) + 1 :]
    voided = {r.get("ref") for r in records if r["op"] == "void"}
    return sum(1 for r in records if r["op"] not in _INFORMATIVE and r["id"] not in voided)


def _replay_all(catalog: Catalog) -> int:
    """The whole journal, in order (idempotent), then the position at its end."""
    with catalog._write_transaction() as conn:
        read = catalog.journal.read()
        applied = replay(conn, read.records)
        if read.records:
            set_state(conn, read.records[-1]["id"], read.ends[-1])
    return applied


def _recording_paths(database: Path) -> set[str]:
    """Recording paths a (possibly damaged) catalog file still yields, row by row."""
    if not database.exists():
        return set()
    found: set[str] = set()
    try:
        conn = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error:
        return found
    try:
        for row in conn.execute("SELECT path FROM recordings WHERE status != 'missing'"):
            found.add(str(row[0]))
    except sqlite3.DatabaseError:
        pass  # keep what was read before the damaged page
    finally:
        conn.close()
    return found


def _temporary(catalog: Path, what: str) -> Path:
    tidy(catalog)  # what an earlier, killed restore or rebuild left behind
    temp = catalog.with_name(f".{catalog.name}.{what}-{os.getpid()}.sqlite")
    _remove(temp)
    return temp


def _verify(temp: Path) -> None:
    problem = health.file_problem(temp, immutable=False)
    if problem is not None:
        raise StorageError(f"the new catalog {temp} did not check out ({problem}); nothing changed")


def _install(temp: Path, catalog: Path) -> list[Path]:
    """Move the current catalog (and its -wal/-shm) aside, then rename ``temp`` into place."""
    moved: list[Path] = []
    if catalog.exists():
        label = "damaged" if health.header_problem(catalog) or _quick(catalog) else "replaced"
        stem = f"{catalog.name}.{label}-{time.strftime('%Y%m%d-%H%M%S')}"
        aside, n = catalog.with_name(stem), 1
        while aside.exists():
            n += 1
            aside = catalog.with_name(f"{stem}-{n}")
        for suffix in ("", "-wal", "-shm"):
            current = Path(f"{catalog}{suffix}")
            if current.exists():
                os.replace(current, f"{aside}{suffix}")
                moved.append(Path(f"{aside}{suffix}"))
    os.replace(temp, catalog)
    health.forget(catalog)
    return moved


def _quick(catalog: Path) -> str | None:
    return health.quick_check(catalog, immutable=True)


def _remove(temp: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{temp}{suffix}").unlink(missing_ok=True)
    for leftover in temp.parent.glob(f"{temp.name}.v*.bak"):  # taken if the copy was migrated
        leftover.unlink(missing_ok=True)
