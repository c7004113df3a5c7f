"""What the catalog browser reads: every episode row in one query, and a cheap change counter.

The browser shows thousands of rows and must notice episodes another program (a CLI scan, the
SDK, its own scan thread) commits, without re-reading everything every second. SQLite's
``PRAGMA data_version`` answers "did another connection commit since I last asked?" without
touching a table, so polling it costs microseconds; only when it moves is the row query run.
"""

from __future__ import annotations

import sqlite3

from robotrace_desktop.catalog.store import Catalog

_ROWS = """
    SELECT id, recording, kind, path, episode_index, name, duration_ns, source, robot,
           policy_version, env_version, git_sha, seed, task, outcome, status, problems,
           (SELECT group_concat(tag, ' ') FROM tags WHERE tags.episode_id = episode_view.id)
               AS tags,
           (SELECT group_concat(DISTINCT cause) FROM findings
             WHERE findings.episode_id = episode_view.id AND confidence >= 0.5) AS causes
    FROM episode_view ORDER BY path, episode_index
"""


def browse_rows(catalog: Catalog) -> list[sqlite3.Row]:
    """Every episode as the browser lists it (overrides applied; no metadata, no streams)."""
    return catalog.conn.execute(_ROWS).fetchall()


def change_counter(catalog: Catalog) -> int:
    """A number that changes when another connection commits to the catalog (a scan, a tag,
    Explain storing findings). Changes made through ``catalog`` itself do not move it."""
    return int(catalog.conn.execute("PRAGMA data_version").fetchone()[0])
