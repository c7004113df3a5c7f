"""Changes a person makes to the catalog, written once to the journal and once to SQLite by the
same code, and replayed from the journal by that code again.

Why one path: a change is saved by ``record_change`` — inside one write transaction it runs the
SQL of the change, appends the change to the journal (fsync'd) and only then commits. So the
journal holds everything the database reports saved, and replay (``apply``) cannot drift from
what the live write did. A change that fails after its journal line was written gets a ``void``
line, so replay skips it.

Every record states a result ("bookmark 7 is now …"), never a delta, which is what makes replay
idempotent: records are applied in journal order, over any older state of the catalog.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from robotrace_desktop.catalog.journal import Record, new_record
from robotrace_desktop.core import jsonsafe
from robotrace_desktop.errors import RobotraceError

if TYPE_CHECKING:
    from robotrace_desktop.catalog.store import Catalog

log = logging.getLogger(__name__)

#: columns of episode_overrides a record may set (the same as store.OVERRIDABLE)
_OVERRIDE_COLUMNS = (
    "source", "robot", "policy_version", "env_version", "git_sha", "seed", "task", "outcome",
)  # fmt: skip

Prepare = Callable[[sqlite3.Connection], bool]


def record_change(catalog: Catalog, record: Record, prepare: Prepare | None = None) -> bool:
    """Save one change: SQL, journal line (fsync), commit — in that order, in one transaction.

    ``prepare(conn)`` runs first inside the transaction: it validates against the catalog
    (raising ValidationError writes nothing), may complete ``record`` (a new bookmark's id) and
    returns False when there is nothing to do. Returns whether the change was saved."""
    journaled = False
    try:
        with catalog._write_transaction() as conn:
            if prepare is not None and not prepare(conn):
                return False
            _attach_recordings(conn, record)
            seed = snapshot_records(conn) if catalog.journal.size() == 0 else []
            apply(conn, record)
            end = catalog.journal.append([*seed, record])
            journaled = True
            set_state(conn, record["id"], end)
    except BaseException:
        if journaled:  # on disk in the journal, but the database refused it
            _void(catalog, record)
        raise
    return True


def note_recordings(catalog: Catalog, paths: Iterable[str]) -> None:
    """Remember recording paths (scanned folders, logged bundles) in the journal, so that
    ``catalog rebuild`` can find them again when the catalog itself is lost."""
    known = sorted({str(p) for p in paths})
    if known:
        record_change(catalog, new_record("known.recordings", paths=known))


def _attach_recordings(conn: sqlite3.Connection, record: Record) -> None:
    """The recording paths of the episodes a change is about, carried in its journal line so a
    rebuild can rescan them even when no catalog or backup survives."""
    episodes = list(record.get("episodes") or [])
    episodes += [record[k] for k in ("episode",) if k in record]
    if isinstance(record.get("bookmark"), dict) and record["bookmark"].get("episode_id"):
        episodes.append(record["bookmark"]["episode_id"])
    found: set[str] = set()
    for start in range(0, len(episodes), 500):
        chunk = episodes[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        rows = conn.execute(f"SELECT DISTINCT recording FROM episodes WHERE id IN ({marks})", chunk)
        found.update(r[0] for r in rows)
    if found:
        record["recordings"] = sorted(found)


# --- applying records (live writes and replay) -----------------------------------------------


def apply(conn: sqlite3.Connection, record: Record) -> bool:
    """Apply one record; False for an op this version does not know (a newer RoboTrace's)."""
    handler = _HANDLERS.get(record["op"])
    if handler is None:
        return False
    handler(conn, record)
    return True


def _overrides(conn: sqlite3.Connection, record: Record) -> None:
    fields = {k: v for k, v in record["fields"].items() if k in _OVERRIDE_COLUMNS}
    for episode in record["episodes"]:
        conn.execute(
            "INSERT INTO episode_overrides (episode_id, updated_at) VALUES (?, ?) "
            "ON CONFLICT(episode_id) DO NOTHING",
            (episode, record["at"]),
        )
        if fields:
            assignments = ", ".join(f"{c} = ?" for c in fields)  # names from _OVERRIDE_COLUMNS
            conn.execute(
                f"UPDATE episode_overrides SET {assignments}, updated_at = ? WHERE episode_id = ?",
                [*fields.values(), record["at"], episode],
            )


def _tags(conn: sqlite3.Connection, record: Record) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO tags (episode_id, tag) VALUES (?, ?)",
        [(e, t) for e in record["episodes"] for t in record["tags"]],
    )


def _offsets(conn: sqlite3.Connection, record: Record) -> None:
    conn.executemany(
        "INSERT INTO stream_offsets (episode_id, stream, offset_ns) VALUES (?, ?, ?) "
        "ON CONFLICT(episode_id, stream) DO UPDATE SET offset_ns = excluded.offset_ns",
        [(record["episode"], s, int(v)) for s, v in record["offsets"].items()],
    )


def _layout(conn: sqlite3.Connection, record: Record) -> None:
    conn.execute(
        "INSERT INTO layouts (key, layout, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT(key) DO UPDATE SET layout = excluded.layout, "
        "updated_at = excluded.updated_at",
        (record["key"], jsonsafe.dumps(record["layout"]), record["at"]),
    )


def _bookmark_put(conn: sqlite3.Connection, record: Record) -> None:
    b = record["bookmark"]
    conn.execute(
        "INSERT INTO bookmarks (id, episode_id, t_ns, t_end_ns, note, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
        "episode_id = excluded.episode_id, t_ns = excluded.t_ns, t_end_ns = excluded.t_end_ns, "
        "note = excluded.note, created_at = excluded.created_at",
        (b["id"], b["episode_id"], b["t_ns"], b["t_end_ns"], b["note"], b["created_at"]),
    )


def _bookmark_delete(conn: sqlite3.Connection, record: Record) -> None:
    conn.execute("DELETE FROM bookmarks WHERE id = ?", (record["bookmark_id"],))


def _selection_put(conn: sqlite3.Connection, record: Record) -> None:
    name = record["name"]
    conn.execute("DELETE FROM selections WHERE name = ?", (name,))
    conn.execute(
        "INSERT INTO selections (name, note, created_at) VALUES (?, ?, ?)",
        (name, record.get("note", ""), record.get("created_at", record["at"])),
    )
    conn.executemany(
        "INSERT INTO selection_episodes (name, episode_id, position) VALUES (?, ?, ?)",
        [(name, episode, position) for position, episode in enumerate(record["episodes"])],
    )


def _selection_delete(conn: sqlite3.Connection, record: Record) -> None:
    conn.execute("DELETE FROM selections WHERE name = ?", (record["name"],))


def _journal_only(conn: sqlite3.Connection, record: Record) -> None:
    """Records that inform recovery (known recording paths) and change no table."""


_HANDLERS: dict[str, Callable[[sqlite3.Connection, Record], None]] = {
    "overrides.set": _overrides,
    "tags.add": _tags,
    "offsets.set": _offsets,
    "layout.set": _layout,
    "bookmark.put": _bookmark_put,
    "bookmark.delete": _bookmark_delete,
    "selection.put": _selection_put,
    "selection.delete": _selection_delete,
    "known.recordings": _journal_only,
    "void": _journal_only,
}


# --- the journal's position in the database ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class JournalState:
    record: str
    offset: int


def state(conn: sqlite3.Connection) -> JournalState | None:
    """The last journal record this database has applied (None: none, or an old schema)."""
    try:
        row = conn.execute("SELECT record, offset FROM journal_state WHERE one = 1").fetchone()
    except sqlite3.OperationalError:  # a read-only catalog of an older schema
        return None
    return None if row is None else JournalState(str(row[0]), int(row[1]))


def set_state(conn: sqlite3.Connection, record_id: str, offset: int) -> None:
    conn.execute(
        "INSERT INTO journal_state (one, record, offset) VALUES (1, ?, ?) "
        "ON CONFLICT(one) DO UPDATE SET record = excluded.record, offset = excluded.offset",
        (record_id, offset),
    )


def _void(catalog: Catalog, record: Record) -> None:
    try:
        catalog.journal.append([new_record("void", ref=record["id"])])
    except RobotraceError as exc:  # the disk that refused the commit may refuse this too
        log.warning("could not mark journal record %s as not saved: %s", record["id"], exc)


# --- seeding the journal with what a catalog already holds ---------------------------------


def snapshot_records(conn: sqlite3.Connection) -> list[Record]:
    """Records that recreate every user-authored row of the catalog: written into an empty
    journal (a catalog older than the journal, or a journal someone deleted) before the first
    change is appended, so the journal alone can always rebuild the user's data."""
    records: list[Record] = []
    for row in conn.execute("SELECT * FROM episode_overrides ORDER BY episode_id"):
        fields = {c: row[c] for c in _OVERRIDE_COLUMNS if row[c] is not None}
        records.append(new_record("overrides.set", episodes=[row["episode_id"]], fields=fields))
    for episode, tags in _grouped(conn, "SELECT episode_id, tag FROM tags ORDER BY 1, 2"):
        records.append(new_record("tags.add", episodes=[episode], tags=tags))
    offsets: dict[str, dict[str, int]] = {}
    for row in conn.execute("SELECT episode_id, stream, offset_ns FROM stream_offsets"):
        offsets.setdefault(row[0], {})[row[1]] = int(row[2])
    records += [new_record("offsets.set", episode=e, offsets=o) for e, o in offsets.items()]
    for row in conn.execute("SELECT key, layout FROM layouts ORDER BY key"):
        records.append(new_record("layout.set", key=row[0], layout=_loads(row[1])))
    for row in conn.execute("SELECT * FROM bookmarks ORDER BY id"):
        records.append(new_record("bookmark.put", bookmark=bookmark_dict(row)))
    for row in conn.execute("SELECT name, note, created_at FROM selections ORDER BY name"):
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT episode_id FROM selection_episodes WHERE name = ? ORDER BY position",
                (row[0],),
            )
        ]
        records.append(
            new_record("selection.put", name=row[0], note=row[1], created_at=row[2], episodes=ids)
        )
    paths = [r[0] for r in conn.execute("SELECT path FROM recordings WHERE status != 'missing'")]
    if paths and records:
        records.append(new_record("known.recordings", paths=sorted(paths)))
    return records


def has_user_data(conn: sqlite3.Connection) -> bool:
    """Whether any user-authored table holds a row (cheap: one indexed probe per table)."""
    tables = ("episode_overrides", "tags", "stream_offsets", "layouts", "bookmarks", "selections")
    return any(
        conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None  # fixed names
        for table in tables
    )


def bookmark_dict(row: Any) -> dict[str, Any]:
    return {
        "id": int(row["id"]),
        "episode_id": row["episode_id"],
        "t_ns": int(row["t_ns"]),
        "t_end_ns": None if row["t_end_ns"] is None else int(row["t_end_ns"]),
        "note": row["note"],
        "created_at": float(row["created_at"]),
    }


def _grouped(conn: sqlite3.Connection, sql: str) -> list[tuple[str, list[str]]]:
    groups: dict[str, list[str]] = {}
    for key, value in conn.execute(sql):
        groups.setdefault(key, []).append(value)
    return list(groups.items())


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return {}
