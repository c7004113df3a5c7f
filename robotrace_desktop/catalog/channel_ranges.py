"""Each episode's per-channel (min, max), stored once: the part of the robot's normal model
Explain's range checks read (``library.peer_history``).

Values travel as float64 little-endian bytes, one per channel, so this module needs no numpy
(the reuse check of stored findings imports the catalog and must stay light); a row whose
sizes do not match its channel list is ignored as damaged rather than trusted. Rows are
derived data: losing them costs a re-read, never a result, so a rebuilt catalog simply starts
without them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from robotrace_desktop.catalog.store import Catalog

#: how the stored ranges were computed: every finite sample's min and max per channel. A new
#: method (quantiles, another treatment of NaN) gets a new name so old rows read as stale.
METHOD = "minmax/1"
_WIDTH = 8  # bytes of one float64


class StoredRanges(NamedTuple):
    """One episode's ranges of one stream as stored."""

    episode_id: str
    stream: str
    content_hash: str
    channels: tuple[str, ...]
    lo: bytes
    hi: bytes


def stored_ranges(
    catalog: Catalog, episode_ids: Sequence[str], stream: str
) -> dict[str, StoredRanges]:
    """{episode id: its stored ranges of ``stream``} for the ids that have current-method rows
    (one query, in batches below SQLite's parameter limit)."""
    found: dict[str, StoredRanges] = {}
    ids = list(dict.fromkeys(episode_ids))
    for start in range(0, len(ids), 500):
        batch = ids[start : start + 500]
        marks = ", ".join("?" * len(batch))
        rows = catalog._conn.execute(
            "SELECT episode_id, stream, content_hash, channels, lo, hi FROM channel_ranges "
            f"WHERE stream = ? AND method = ? AND episode_id IN ({marks})",
            (stream, METHOD, *batch),
        )
        for row in rows:
            stored = _decoded(row)
            if stored is not None:
                found[stored.episode_id] = stored
    return found


def store_ranges(catalog: Catalog, rows: Iterable[StoredRanges]) -> int:
    """Insert or replace rows (one transaction); rows of episodes no longer in the catalog are
    skipped. Returns how many were stored."""
    wanted = [r for r in rows if len(r.lo) == len(r.hi) == _WIDTH * len(r.channels)]
    if not wanted:
        return 0
    with catalog._write_transaction() as conn:
        before = conn.total_changes
        conn.executemany(
            "INSERT INTO channel_ranges (episode_id, stream, content_hash, method, channels, "
            "lo, hi) SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM episodes WHERE id = ?) "
            "ON CONFLICT(episode_id, stream) DO UPDATE SET content_hash = excluded.content_hash, "
            "method = excluded.method, channels = excluded.channels, lo = excluded.lo, "
            "hi = excluded.hi",
            [
                (
                    r.episode_id,
                    r.stream,
                    r.content_hash,
                    METHOD,
                    json.dumps(list(r.channels)),
                    r.lo,
                    r.hi,
                    r.episode_id,
                )
                for r in wanted
            ],
        )
        return conn.total_changes - before


def _decoded(row: Sequence[object]) -> StoredRanges | None:
    episode_id, stream, content_hash, channels_json, lo, hi = row
    try:
        channels = json.loads(str(channels_json))
    except ValueError:
        return None
    if (
        not isinstance(channels, list)
        or not all(isinstance(c, str) for c in channels)
        or not isinstance(lo, bytes)
        or not isinstance(hi, bytes)
        or not len(lo) == len(hi) == _WIDTH * len(channels)
    ):
        return None
    return StoredRanges(str(episode_id), str(stream), str(content_hash), tuple(channels), lo, hi)
