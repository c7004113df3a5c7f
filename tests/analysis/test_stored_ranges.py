"""The robot's channel ranges are stored in the catalog (``catalog.channel_ranges``): once an
episode has been explained, the next episode of the robot is judged against the stored ranges
of its peers without reading their recordings again — in any process, with the same findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from robotrace_desktop.catalog.channel_ranges import METHOD, stored_ranges
from robotrace_desktop.catalog.peers import peer_episodes
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.library import peer_history
from robotrace_desktop.library.explain_runner import compute_episode_id, explain_many
from robotrace_desktop.library.scanner import scan
from tests.analysis.peer_reads import counting_peer_reads, findings_by_episode
from tests.catalog_files import read_only, writer
from tests.hardening.trees import many_recordings


def _rows(path: Path) -> list[tuple[str, str, str]]:
    with read_only(path) as conn:
        return conn.execute(
            "SELECT episode_id, stream, method FROM channel_ranges ORDER BY 1, 2"
        ).fetchall()


def test_explained_episodes_leave_their_ranges_and_peers_are_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    many_recordings(tmp_path / "tree", 6)
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as catalog:
        scan(catalog, [tmp_path / "tree"])
        ids = sorted(e.id for e in catalog.list_episodes())
        streams = {
            e.id: {s.name for s in catalog.get(e.id).streams} for e in catalog.list_episodes()
        }
        peer_history._PEER_RANGES.clear()
        before = findings_by_episode(catalog, ids)  # nothing stored: every peer read from its file
    assert _rows(path) == []

    run = explain_many(path, ids, engine="inline")
    assert sorted(run.explained) == ids and not run.errors
    rows = _rows(path)
    assert {episode for episode, _, _ in rows} == set(ids)  # every explained episode stored
    assert {method for _, _, method in rows} == {METHOD}
    for episode, stream, _ in rows:
        assert stream in streams[episode]

    # a new process: nothing cached in memory, everything answered from the catalog
    peer_history._PEER_RANGES.clear()
    reads = counting_peer_reads(monkeypatch)
    with Catalog(path) as catalog:
        after = findings_by_episode(catalog, ids)
    assert dict(reads) == {}  # no peer recording opened
    assert after == before  # and the same findings as reading them


def test_a_changed_or_damaged_row_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    many_recordings(tmp_path / "tree", 4)  # three rosbag2 recordings: each has two peers
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as catalog:
        scan(catalog, [tmp_path / "tree"])
        ids = sorted(e.id for e in catalog.list_episodes())
        target = next(e for e in catalog.list_episodes() if e.kind == "rosbag2")
        changed, damaged = (p.id for p in peer_episodes(catalog, target, 50))
    explain_many(path, ids, engine="inline")
    with writer(path) as conn:
        # the recording behind one peer changed (a re-scan stores its new content hash) ...
        conn.execute("UPDATE episodes SET content_hash = 'changed' WHERE id = ?", (changed,))
        # ... and another's stored bytes no longer match its channel list
        conn.execute("UPDATE channel_ranges SET lo = x'00' WHERE episode_id = ?", (damaged,))
    damaged_streams = {stream for episode, stream, _ in _rows(path) if episode == damaged}
    peer_history._PEER_RANGES.clear()
    reads = counting_peer_reads(monkeypatch)
    with Catalog(path) as catalog:
        assert damaged_streams and all(
            damaged not in stored_ranges(catalog, [damaged], s) for s in damaged_streams
        )
        assert all(changed in stored_ranges(catalog, [changed], s) for s in damaged_streams)
        compute_episode_id(catalog, target.id)
    assert {peer for peer, _ in reads} == {changed, damaged}  # only those two read again


def test_a_deleted_episode_takes_its_ranges_with_it(tmp_path: Path) -> None:
    many_recordings(tmp_path / "tree", 3)
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as catalog:
        scan(catalog, [tmp_path / "tree"])
        ids = sorted(e.id for e in catalog.list_episodes())
    explain_many(path, ids, engine="inline")
    with writer(path) as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("DELETE FROM episodes WHERE id = ?", (ids[0],))
    assert ids[0] not in {episode for episode, _, _ in _rows(path)}
    assert {episode for episode, _, _ in _rows(path)} == set(ids[1:])
