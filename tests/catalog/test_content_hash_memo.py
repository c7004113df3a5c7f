"""content_hash is memoized per EpisodeInfo object, and never returns a stale hash for an
episode changed the usual ways (a field set, a problem or stream added, metadata replaced)."""

from __future__ import annotations

import dataclasses

from robotrace_desktop.catalog import episode_rows as store
from robotrace_desktop.core.episode import EpisodeInfo, Outcome, StreamInfo, StreamKind


def _fresh(info: EpisodeInfo) -> str:
    """The hash computed without the memo."""
    store._HASHES.clear()
    return store.content_hash(dataclasses.replace(info))


def _info() -> EpisodeInfo:
    return EpisodeInfo("e1", "bundle", "/x", None, "x", 10, metadata={"a": 1})


def test_memo_returns_the_same_hash_and_follows_changes() -> None:
    info = _info()
    first = store.content_hash(info)
    assert store.content_hash(info) == first == _fresh(info)
    info.outcome = Outcome.FAILURE
    assert store.content_hash(info) == _fresh(info) != first
    info.problems.append("a problem")
    assert store.content_hash(info) == _fresh(info)
    info.streams.append(StreamInfo("/s", StreamKind.SIGNAL, 3, ("c",)))
    assert store.content_hash(info) == _fresh(info)
    info.metadata = {"a": 2}
    assert store.content_hash(info) == _fresh(info)


def test_memo_is_bounded_and_equal_objects_hash_equal() -> None:
    store._HASHES.clear()
    infos = [dataclasses.replace(_info(), id=f"e{i}") for i in range(store._HASHES_SIZE + 10)]
    hashes = [store.content_hash(i) for i in infos]
    assert len(store._HASHES) == store._HASHES_SIZE
    assert len(set(hashes)) == len(infos)
    assert store.content_hash(dataclasses.replace(infos[0])) == hashes[0]
