"""Saved selections: a named, ordered set of episode ids.

A selection is how a team pins "the episodes we compare against" (last release's nightly runs,
the hard-seed set) independent of how the episodes are tagged or which policy produced them.
Saving replaces the selection whole, in one transaction. Ids of episodes that later vanish
from the catalog are kept, so a re-scan cannot silently shrink a saved baseline.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

from robotrace_desktop.catalog.journal import new_record
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.catalog.user_data import record_change
from robotrace_desktop.errors import EpisodeNotFoundError, ValidationError

MAX_NAME = 120


def save_selection(catalog: Catalog, name: str, episode_ids: Sequence[str], note: str = "") -> int:
    """Create or replace selection ``name``. Returns how many episodes it holds."""
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise ValidationError(f"a selection name must be 1-{MAX_NAME} characters, got {name!r}")
    ids = list(dict.fromkeys(episode_ids))
    if not ids:
        raise ValidationError(f"selection {name!r} would be empty")
    record_change(
        catalog,
        new_record("selection.put", name=name, note=note, created_at=time.time(), episodes=ids),
    )
    return len(ids)


def selection_ids(catalog: Catalog, name: str) -> list[str]:
    """The ids of a saved selection, in the order they were saved."""
    if catalog._conn.execute("SELECT 1 FROM selections WHERE name = ?", (name,)).fetchone() is None:
        known = ", ".join(n for n, _ in selections(catalog)) or "none saved yet"
        raise EpisodeNotFoundError(f"no saved selection {name!r} in {catalog.path} ({known})")
    rows = catalog._conn.execute(
        "SELECT episode_id FROM selection_episodes WHERE name = ? ORDER BY position", (name,)
    )
    return [r["episode_id"] for r in rows]


def selections(catalog: Catalog) -> list[tuple[str, int]]:
    """(name, episode count) of every saved selection, by name."""
    rows = catalog._conn.execute(
        "SELECT s.name, count(e.episode_id) AS n FROM selections s "
        "LEFT JOIN selection_episodes e ON e.name = s.name GROUP BY s.name ORDER BY s.name"
    )
    return [(r["name"], int(r["n"])) for r in rows]


def delete_selection(catalog: Catalog, name: str) -> bool:
    def exists(conn: sqlite3.Connection) -> bool:
        return (
            conn.execute("SELECT 1 FROM selections WHERE name = ?", (name,)).fetchone() is not None
        )

    return record_change(catalog, new_record("selection.delete", name=name), exists)
