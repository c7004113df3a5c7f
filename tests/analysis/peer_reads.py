"""What the history tests watch: which peer recordings Explain opened, and the findings each
episode gets (compared across cache states, so down to the explanation text)."""

from __future__ import annotations

from collections import Counter

import pytest

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.library import peer_history
from robotrace_desktop.library.explain_runner import compute_episode_id


def counting_peer_reads(monkeypatch: pytest.MonkeyPatch) -> Counter[tuple[str, str]]:
    """(peer id, stream) -> how often that peer's recording was read for the stream."""
    reads: Counter[tuple[str, str]] = Counter()
    real_read = peer_history._Ranges._read

    def counting_read(self, peer, stream):  # type: ignore[no-untyped-def]
        reads[(peer.id, stream)] += 1
        return real_read(self, peer, stream)

    monkeypatch.setattr(peer_history._Ranges, "_read", counting_read)
    return reads


def findings_by_episode(catalog: Catalog, ids: list[str]) -> dict[str, list[tuple]]:
    return {
        i: [(f.cause, round(f.confidence, 9), f.t_start_ns, f.explanation) for f in found]
        for i in ids
        for found in [compute_episode_id(catalog, i).findings]
    }
