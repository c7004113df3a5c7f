"""A robot's other episodes, as Explain compares an episode with them: its peers (the newest of
the same robot and kind, or of the same dataset folder when no robot is named) and the nearest
successful run of the same task. The queries live with the catalog that owns the tables."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from robotrace_desktop.catalog.episode_filter import escape_like
from robotrace_desktop.catalog.episode_rows import episode_from_row
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.episode import EpisodeInfo, Outcome

#: how many of a robot's newest other episodes Explain compares an episode with (its history);
#: here, not in ``library.peer_history``, so the reuse check of stored findings loads no numpy
MAX_PEERS = 50


def peer_episodes(
    catalog: Catalog, info: EpisodeInfo, max_episodes: int, snapshot: PeerSnapshot | None = None
) -> list[EpisodeInfo]:
    """The robot's other episodes of the same kind, newest first (at most ``max_episodes``).
    Without a robot name, episodes of the same dataset folder (or the same parent folder).

    The limit is applied in SQL: explaining every episode of a big catalog must not read the
    whole catalog once per episode. ``snapshot``: answer from what a run of many episodes read
    once (``PeerSnapshot``)."""
    if snapshot is not None:
        return snapshot.peer_episodes(info, max_episodes)
    ids = [e for e in _newest_of(catalog, _group(info), max_episodes + 1) if e != info.id]
    return _infos(catalog, ids[:max_episodes])


def history_line(catalog: Catalog, info: EpisodeInfo) -> tuple[int, str]:
    """How many other episodes Explain compared ``info`` with, and the line that says so —
    a finding judged on one episode alone is weaker, and the reader should know which it is."""
    count = sum(1 for e in _newest_of(catalog, _group(info), MAX_PEERS + 1) if e != info.id)
    count = min(count, MAX_PEERS)
    whose = f"robot {info.robot!r}" if info.robot is not None else "its dataset folder"
    if count == 0:
        return 0, (
            f"no other episode of {whose} in the catalog: judged on this episode alone "
            "(nothing to compare ranges with; confidence is lower). Scan more runs of it."
        )
    plural = "s" if count > 1 else ""
    few = " (few: range checks stay tentative below 4)" if count < 4 else ""
    return count, f"compared with {count} other episode{plural} of {whose}{few}"


def signal_streams(catalog: Catalog, ids: Sequence[str]) -> dict[str, set[str]]:
    """{episode id: the names of its indexed signal streams}: which peers can answer for a
    stream at all, known without opening their recordings."""
    found: dict[str, set[str]] = {i: set() for i in ids}
    for start in range(0, len(ids), 500):
        batch = list(ids[start : start + 500])
        marks = ", ".join("?" * len(batch))
        rows = catalog._conn.execute(
            "SELECT episode_id, name FROM streams "
            f"WHERE kind = 'signal' AND episode_id IN ({marks})",
            batch,
        )
        for episode, name in rows:
            found[episode].add(name)
    return found


def _infos(catalog: Catalog, ids: Sequence[str]) -> list[EpisodeInfo]:
    if not ids:
        return []
    marks = ", ".join("?" * len(ids))
    rows = catalog._conn.execute(f"SELECT * FROM episode_view WHERE id IN ({marks})", ids)
    by_id = {r["id"]: episode_from_row(r) for r in rows}
    return [by_id[e] for e in ids if e in by_id]


def _group(info: EpisodeInfo) -> tuple[object, ...]:
    """Whose history an episode shares: its robot's (and kind's), else its dataset folder's."""
    if info.robot is not None:
        return ("robot", info.robot, info.kind)
    return ("home", info.kind, dataset_home(info))


def dataset_home(info: EpisodeInfo) -> str:
    root = info.metadata.get("dataset_root")
    return str(root) if root else str(Path(info.path).parent)


def nearest_successful(
    catalog: Catalog, info: EpisodeInfo, snapshot: PeerSnapshot | None = None
) -> EpisodeInfo | None:
    """The successful episode of the same task + env_version (+ robot) nearest in duration."""
    if info.task is None:
        return None
    if snapshot is not None:
        return snapshot.nearest_successful(info)
    row = catalog._conn.execute(
        "SELECT * FROM episode_view WHERE robot IS ? AND env_version IS ? AND task = ? "
        "AND outcome = ? AND id != ? ORDER BY abs(duration_ns - ?), id LIMIT 1",
        (info.robot, info.env_version, info.task, Outcome.SUCCESS.value, info.id, info.duration_ns),
    ).fetchone()
    return None if row is None else episode_from_row(row)


class PeerSnapshot:
    """Peers and nearest successful runs as one run over many episodes sees them: each robot
    group's newest episodes and each task's successful runs are queried once, then every
    episode of the run is answered from them.

    Without it each episode asked the catalog itself, and both questions sort the robot's
    whole group (the episode view cannot use an index: overrides may rename a robot): 70 ms an
    episode on a 10,000-episode catalog, O(N²) over ``explain --all``. The answers are those of
    ``peer_episodes`` and ``nearest_successful`` on the catalog as it was when first asked
    (the run's reuse keys were computed from it too); a new run takes a new snapshot."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._newest: dict[tuple[tuple[object, ...], int], list[str]] = {}
        self._infos: dict[str, EpisodeInfo] = {}
        #: (robot, env_version, task) -> [(duration_ns, id)] of its successful episodes
        self._successful: dict[tuple[object, ...], list[tuple[int, str]]] = {}

    def peer_episodes(self, info: EpisodeInfo, max_episodes: int) -> list[EpisodeInfo]:
        key = (_group(info), max_episodes + 1)
        if key not in self._newest:
            self._newest[key] = _newest_of(self.catalog, key[0], key[1])
        ids = [e for e in self._newest[key] if e != info.id][:max_episodes]
        missing = [e for e in ids if e not in self._infos]
        for found in _infos(self.catalog, missing):
            self._infos[found.id] = found
        return [self._infos[e] for e in ids if e in self._infos]

    def nearest_successful(self, info: EpisodeInfo) -> EpisodeInfo | None:
        if info.task is None:
            return None
        key = (info.robot, info.env_version, info.task)
        if key not in self._successful:
            rows = self.catalog._conn.execute(
                "SELECT id, duration_ns FROM episode_view WHERE robot IS ? AND env_version IS ? "
                "AND task = ? AND outcome = ?",
                (*key, Outcome.SUCCESS.value),
            )
            self._successful[key] = [(r["duration_ns"], r["id"]) for r in rows]
        # as ORDER BY abs(duration_ns - ?), id (duration_ns is NOT NULL)
        duration = info.duration_ns
        best = min(
            (
                (abs(d - duration) if duration is not None else 0, e)
                for d, e in self._successful[key]
                if e != info.id
            ),
            default=None,
        )
        if best is None:
            return None
        row = self.catalog._conn.execute(
            "SELECT * FROM episode_view WHERE id = ?", (best[1],)
        ).fetchone()
        return None if row is None else episode_from_row(row)


def history_versions(catalog: Catalog, episode_ids: Sequence[str], limit: int) -> dict[str, str]:
    """Episode id -> a version of the history Explain judges it against: a hash of the ids and
    indexed content hashes of the newest ``limit`` episodes its peers are drawn from (same
    robot and kind, or the same dataset folder). Adding, removing or re-indexing one of them
    changes it; tagging one does not. One query per robot or dataset folder, not per episode."""
    groups: dict[tuple[object, ...], list[str]] = {}
    unique = list(dict.fromkeys(episode_ids))
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        for row in catalog._conn.execute(
            f"SELECT id, robot, kind, path, metadata FROM episode_view WHERE id IN ({marks})",
            chunk,
        ):
            if row["robot"] is not None:
                key: tuple[object, ...] = ("robot", row["robot"], row["kind"])
            else:
                root = _dataset_root(row["metadata"])
                key = ("home", row["kind"], root or str(Path(row["path"]).parent))
            groups.setdefault(key, []).append(row["id"])
    versions: dict[str, str] = {}
    for key, members in groups.items():
        ids = _newest_of(catalog, key, limit)
        hashes = catalog.indexed_hashes(ids)
        digest = hashlib.sha256()
        for episode in sorted(ids):
            digest.update(f"{episode}\0{hashes.get(episode, '')}\n".encode())
        version = digest.hexdigest()[:16]
        versions.update(dict.fromkeys(members, version))
    return versions


def _newest_of(catalog: Catalog, key: tuple[object, ...], limit: int) -> list[str]:
    newest = "ORDER BY (start_time_ns IS NULL), start_time_ns DESC, id"
    if key[0] == "robot":
        rows = catalog._conn.execute(
            f"SELECT id FROM episode_view WHERE robot = ? AND kind = ? AND status != 'missing' "
            f"{newest} LIMIT ?",
            (key[1], key[2], limit),
        )
        return [r["id"] for r in rows]
    home = str(key[2])
    rows = catalog._conn.execute(
        "SELECT id, path, metadata FROM episode_view WHERE robot IS NULL AND kind = ? "
        f"AND status != 'missing' AND (path = ? OR path LIKE ? ESCAPE '\\') {newest}",
        (key[1], home, escape_like(str(Path(home))) + "%"),
    )
    same = [
        r["id"]
        for r in rows
        if (_dataset_root(r["metadata"]) or str(Path(r["path"]).parent)) == home
    ]
    return same[:limit]


def _dataset_root(metadata: str | None) -> str | None:
    try:
        root = json.loads(metadata or "{}").get("dataset_root")
    except (ValueError, AttributeError):
        return None
    return str(root) if root else None
