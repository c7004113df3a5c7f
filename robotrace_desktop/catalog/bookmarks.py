"""Bookmarks: a moment (or a range) of an episode with a note, kept in the catalog.

Bookmarks are what a person typed, so every call is its own transaction: when a function returns,
the change is committed and survives a crash or a second process reading the catalog — and it is
in the journal beside the catalog (catalog.user_data), which survives losing the catalog. They are
keyed by episode id and live in a table re-indexing never rewrites.
"""

from __future__ import annotations

import operator
import sqlite3
import time
from dataclasses import dataclass
from typing import Any, SupportsIndex, TypedDict

from robotrace_desktop.catalog.journal import new_record
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.catalog.user_data import bookmark_dict, record_change
from robotrace_desktop.errors import ValidationError

MAX_NOTE_CHARS = 10_000


class _BookmarkFields(TypedDict):
    """A new bookmark as the journal records it (Bookmark's fields; the id is set on insert)."""

    id: int
    episode_id: str
    t_ns: int
    t_end_ns: int | None
    note: str
    created_at: float


@dataclass(frozen=True, slots=True)
class Bookmark:
    id: int
    episode_id: str
    t_ns: int  # episode time (ns from the episode start)
    t_end_ns: int | None  # end of a range, exclusive; None for a single moment
    note: str
    created_at: float  # Unix time (s)

    @property
    def is_range(self) -> bool:
        return self.t_end_ns is not None


def add_bookmark(
    catalog: Catalog,
    episode_id: str,
    t_ns: int,
    note: str = "",
    t_end_ns: int | None = None,
) -> Bookmark:
    """Store a bookmark and return it with its new id. Raises ValidationError naming the field."""
    t = _time("t_ns", t_ns)
    if t < 0:
        raise ValidationError(f"t_ns must be >= 0, not {t}")
    end = None if t_end_ns is None else _time("t_end_ns", t_end_ns)
    if end is not None and end <= t:
        raise ValidationError(f"t_end_ns ({end}) must be after t_ns ({t})")
    text = _note(note)
    if not isinstance(episode_id, str) or not episode_id:
        raise ValidationError(f"episode_id must be a non-empty string, not {episode_id!r}")
    mark: _BookmarkFields = {"id": 0, "episode_id": episode_id, "t_ns": t, "t_end_ns": end,
                             "note": text, "created_at": time.time()}  # fmt: skip
    record = new_record("bookmark.put", bookmark=mark)

    def new_id(conn: sqlite3.Connection) -> bool:
        known = conn.execute("SELECT 1 FROM episodes WHERE id = ?", (episode_id,)).fetchone()
        if known is None:
            raise ValidationError(f"episode_id {episode_id!r} is not in the catalog {catalog.path}")
        # the id SQLite would pick, chosen here so the journal line can carry it
        mark["id"] = int(
            conn.execute("SELECT coalesce(max(id), 0) + 1 FROM bookmarks").fetchone()[0]
        )
        return True

    record_change(catalog, record, new_id)
    return Bookmark(**mark)


def list_bookmarks(catalog: Catalog, episode_id: str) -> list[Bookmark]:
    """The episode's bookmarks in time order (ties: oldest first)."""
    rows = catalog._conn.execute(
        "SELECT * FROM bookmarks WHERE episode_id = ? ORDER BY t_ns, id", (episode_id,)
    ).fetchall()
    return [_from_row(r) for r in rows]


def all_bookmarks(catalog: Catalog) -> list[Bookmark]:
    """Every bookmark in the catalog, by episode then time (``bookmark list`` without EPISODE).
    Includes bookmarks of episodes the index lost: what a person typed outlives the index."""
    rows = catalog._conn.execute("SELECT * FROM bookmarks ORDER BY episode_id, t_ns, id").fetchall()
    return [_from_row(r) for r in rows]


def get_bookmark(catalog: Catalog, bookmark_id: int) -> Bookmark:
    row = catalog._conn.execute(
        "SELECT * FROM bookmarks WHERE id = ?", (_id(bookmark_id),)
    ).fetchone()
    if row is None:
        raise ValidationError(f"bookmark_id {bookmark_id} does not exist")
    return _from_row(row)


def update_note(catalog: Catalog, bookmark_id: int, note: str) -> Bookmark:
    """Replace a bookmark's note; returns the updated bookmark."""
    text = _note(note)
    number = _id(bookmark_id)
    record = new_record("bookmark.put", bookmark={})

    def whole(conn: sqlite3.Connection) -> bool:  # the journal line carries the whole bookmark
        row = conn.execute("SELECT * FROM bookmarks WHERE id = ?", (number,)).fetchone()
        if row is None:
            raise ValidationError(f"bookmark_id {bookmark_id} does not exist")
        record["bookmark"] = {**bookmark_dict(row), "note": text}
        return True

    record_change(catalog, record, whole)
    return get_bookmark(catalog, bookmark_id)


def delete_bookmark(catalog: Catalog, bookmark_id: int) -> bool:
    """Remove a bookmark. Returns False when it was already gone."""
    number = _id(bookmark_id)

    def exists(conn: sqlite3.Connection) -> bool:
        return (
            conn.execute("SELECT 1 FROM bookmarks WHERE id = ?", (number,)).fetchone() is not None
        )

    return record_change(catalog, new_record("bookmark.delete", bookmark_id=number), exists)


def _from_row(row: Any) -> Bookmark:
    return Bookmark(
        id=int(row["id"]),
        episode_id=row["episode_id"],
        t_ns=int(row["t_ns"]),
        t_end_ns=None if row["t_end_ns"] is None else int(row["t_end_ns"]),
        note=row["note"],
        created_at=float(row["created_at"]),
    )


def _integer(field: str, value: object, what: str) -> int:
    """A Python int (numpy ints welcome; floats and bools are refused, naming the field)."""
    if not isinstance(value, bool) and isinstance(value, SupportsIndex):
        try:
            return operator.index(value)
        except TypeError:  # an __index__ that refuses
            pass
    raise ValidationError(f"{field} must be {what}, not {value!r}")


def _time(field: str, value: object) -> int:
    return _integer(field, value, "an integer number of ns")


def _id(value: object) -> int:
    return _integer("bookmark_id", value, "an integer")


def _note(note: object) -> str:
    if not isinstance(note, str):
        raise ValidationError(f"note must be text, not {type(note).__name__}")
    if len(note) > MAX_NOTE_CHARS:
        raise ValidationError(f"note is {len(note)} characters long; at most {MAX_NOTE_CHARS}")
    return note
