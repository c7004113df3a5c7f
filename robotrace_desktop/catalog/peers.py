"""A robot's other episodes, as Explain compares an episode with them: its peers (the newest of
the same robot and kind, or of the same dataset folder when no robot is named) and the nearest
successful run of the same task. The queries live with the catalog that owns the tables."""

from __future__ import annotations

from pathlib import Path

from robotrace_desktop.catalog.episode_filter import escape_like
from robotrace_desktop.catalog.episode_rows import episode_from_row
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.episode import EpisodeInfo, Outcome


def peer_episodes(catalog: Catalog, info: EpisodeInfo, max_episodes: int) -> list[EpisodeInfo]:
    """The robot's other episodes of the same kind, newest first (at most ``max_episodes``).
    Without a robot name, episodes of the same dataset folder (or the same parent folder).

    The limit is applied in SQL: explaining every episode of a big catalog must not read the
    whole catalog once per episode."""
    newest = "ORDER BY (start_time_ns IS NULL), start_time_ns DESC, id"
    if info.robot is not None:
        rows = catalog.conn.execute(
            "SELECT * FROM episode_view WHERE robot = ? AND kind = ? AND id != ? "
            f"AND status != 'missing' {newest} LIMIT ?",
            (info.robot, info.kind, info.id, max_episodes),
        ).fetchall()
        return [episode_from_row(r) for r in rows]
    home = dataset_home(info)
    rows = catalog.conn.execute(
        "SELECT * FROM episode_view WHERE robot IS NULL AND kind = ? AND id != ? "
        f"AND status != 'missing' AND (path = ? OR path LIKE ? ESCAPE '\\') {newest}",
        (info.kind, info.id, home, escape_like(str(Path(home))) + "%"),
    ).fetchall()
    peers = [p for r in rows if dataset_home(p := episode_from_row(r)) == home]
    return peers[:max_episodes]


def dataset_home(info: EpisodeInfo) -> str:
    root = info.metadata.get("dataset_root")
    return str(root) if root else str(Path(info.path).parent)


def nearest_successful(catalog: Catalog, info: EpisodeInfo) -> EpisodeInfo | None:
    """The successful episode of the same task + env_version (+ robot) nearest in duration."""
    if info.task is None:
        return None
    row = catalog.conn.execute(
        "SELECT * FROM episode_view WHERE robot IS ? AND env_version IS ? AND task = ? "
        "AND outcome = ? AND id != ? ORDER BY abs(duration_ns - ?), id LIMIT 1",
        (info.robot, info.env_version, info.task, Outcome.SUCCESS.value, info.id, info.duration_ns),
    ).fetchone()
    return None if row is None else episode_from_row(row)
