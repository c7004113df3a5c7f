"""Keeping a catalog in step with its journal: catch up on open, replay on restore/rebuild.

Why: the journal can be ahead of the database — a deleted ``-wal`` took committed changes with
it, the catalog was restored from an older backup, or it was lost and recreated empty. The
database remembers the last journal record it applied (``journal_state``); on open, when the
journal has grown past that point, the missing records are replayed in one write transaction.
The check costs one ``stat`` and one query.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import TYPE_CHECKING

from robotrace_desktop.catalog.journal import Journal, Record, parse_line
from robotrace_desktop.catalog.user_data import (
    JournalState,
    apply,
    has_user_data,
    set_state,
    snapshot_records,
    state,
)
from robotrace_desktop.errors import RobotraceError

if TYPE_CHECKING:
    from robotrace_desktop.catalog.store import Catalog

log = logging.getLogger(__name__)

#: records that change no table (counted separately from the user's changes)
_INFORMATIVE = {"void", "known.recordings"}


def catch_up(catalog: Catalog) -> int:
    """On open: seed an empty journal, or replay what the database is missing. Never fails
    the open — a read-only moment or a lock is logged and tried again next time. Returns how
    many user changes were re-applied. Costs a ``stat`` and one query when all is in step."""
    if catalog.read_only or catalog.damage is not None:
        return 0
    try:
        size = catalog.journal.size()
        if size == 0:
            if has_user_data(catalog._conn):
                _seed(catalog)
            return 0
        current = state(catalog._conn)
        if current is not None and current.offset == size:
            return 0
        applied = replay_pending(catalog)
    except (RobotraceError, sqlite3.Error, OSError) as exc:
        log.warning("could not bring %s up to its journal: %s", catalog.path, exc)
        return 0
    if applied:
        log.warning(
            "%s: re-applied %d change(s) from the journal that the catalog had lost",
            catalog.path,
            applied,
        )
    return applied


def replay_pending(catalog: Catalog) -> int:
    """Apply the journal records after the database's last one (all of them when the database
    has none or its last one is not in the journal); returns the user changes applied."""
    with catalog._write_transaction() as conn:
        current = state(conn)
        records, ends = _pending(catalog.journal, current)
        applied = replay(conn, records)
        if records:
            set_state(conn, records[-1]["id"], ends[-1])
    return applied


def replay(conn: sqlite3.Connection, records: list[Record]) -> int:
    """Apply ``records`` in order, skipping those a later ``void`` cancelled and any a newer
    RoboTrace wrote in a form this one does not know. Returns the user changes applied."""
    voided = {r.get("ref") for r in records if r["op"] == "void"}
    applied = 0
    for record in records:
        if record["id"] in voided or record["op"] in _INFORMATIVE:
            continue
        try:
            if apply(conn, record):
                applied += 1
        except (KeyError, TypeError, ValueError, sqlite3.IntegrityError) as exc:
            log.warning("journal record %s (%s) skipped: %s", record["id"], record["op"], exc)
    return applied


def _pending(journal: Journal, current: JournalState | None) -> tuple[list[Record], list[int]]:
    if (
        current is not None
        and 0 < current.offset <= journal.size()
        and _record_before(journal, current.offset) == current.record
    ):
        tail = journal.read(current.offset)
        return tail.records, tail.ends
    whole = journal.read()  # no position, or the journal was replaced: replay it all
    return whole.records, whole.ends


def _record_before(journal: Journal, offset: int) -> str | None:
    """Id of the record whose line ends at ``offset`` (None if there is none)."""
    start = max(0, offset - 65536)
    try:
        with open(journal.path, "rb") as handle:
            handle.seek(start)
            chunk = handle.read(offset - start)
    except OSError:
        return None
    if not chunk.endswith(b"\n"):
        return None
    lines = chunk[:-1].rsplit(b"\n", 1)
    record = parse_line(lines[-1])
    return None if record is None else record["id"]


def _seed(catalog: Catalog) -> None:
    """A catalog with user data and no journal (older than the journal, or the journal was
    deleted): write its user data to the journal now."""
    with catalog._write_transaction() as conn:
        if catalog.journal.size():
            return
        records = snapshot_records(conn)
        if records:
            end = catalog.journal.append(records)
            set_state(conn, records[-1]["id"], end)
