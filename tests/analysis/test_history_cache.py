"""Explaining many episodes of one robot reads each peer's data once per process: the history
of a channel (its range across the robot's other episodes) is cached by peer and content, so a
scan with Explain of N recordings opens O(N) peers, not N x 50 (a 150-bag scan took 66 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.library import peer_history
from robotrace_desktop.library.scanner import scan
from tests.analysis.peer_reads import counting_peer_reads, findings_by_episode
from tests.catalog_files import writer
from tests.hardening.trees import many_recordings


def test_peers_are_read_once_and_findings_are_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    many_recordings(tmp_path / "tree", 9)
    catalog = Catalog(tmp_path / "catalog.sqlite")
    scan(catalog, [tmp_path / "tree"])
    ids = [e.id for e in catalog.list_episodes()]
    reads = counting_peer_reads(monkeypatch)
    peer_history._PEER_RANGES.clear()
    cached = findings_by_episode(catalog, ids)
    assert reads, "no history was read: the test would prove nothing"
    assert max(reads.values()) == 1  # each (peer, stream) once across all nine episodes

    # the same findings as explaining each episode with nothing cached
    uncached = {}
    for episode in ids:
        peer_history._PEER_RANGES.clear()
        uncached.update(findings_by_episode(catalog, [episode]))
    assert cached == uncached


def test_a_changed_peer_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    many_recordings(tmp_path / "tree", 4)
    catalog = Catalog(tmp_path / "catalog.sqlite")
    scan(catalog, [tmp_path / "tree"])
    ids = [e.id for e in catalog.list_episodes()]
    peer_history._PEER_RANGES.clear()
    findings_by_episode(catalog, ids)
    keys = set(peer_history._PEER_RANGES)
    # the catalog now says one peer's recording changed, as a re-scan of a modified file does
    with writer(catalog.path) as conn:
        conn.execute("UPDATE episodes SET content_hash = 'changed' WHERE id = ?", (ids[0],))
    findings_by_episode(catalog, ids)
    stale = {k for k in peer_history._PEER_RANGES if k[0] == ids[0]} - keys
    assert stale, "a peer whose catalog row changed must be read again"
