"""Per-stream clock offsets that go beyond one stream at a time.

``Catalog.set_stream_offset`` / ``stream_offsets`` cover one stream and the read; resetting a
whole episode is its own statement so the viewer never needs SQL of its own (issue 15: no SQL
outside ``catalog/``). Kept out of ``store.py`` so the journaled store can rewire it in one place.
"""

from __future__ import annotations

from robotrace_desktop.catalog.store import Catalog


def reset_stream_offsets(catalog: Catalog, episode_id: str) -> int:
    """Set every stored offset of an episode back to 0 in one transaction; returns how many
    rows were changed (rows are kept, so the offsets editor still lists the streams)."""
    with catalog.transaction() as conn:
        cursor = conn.execute(
            "UPDATE stream_offsets SET offset_ns = 0 WHERE episode_id = ? AND offset_ns != 0",
            (episode_id,),
        )
        return cursor.rowcount
