"""FrameCache: byte budget never exceeded, least recently used evicted first, thread-safe."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest

from robotrace_desktop.video import cache as cache_module
from robotrace_desktop.video.cache import FrameCache, budget_from_env, default_cache


def test_lru_eviction_order() -> None:
    cache = FrameCache(300)
    for i in range(3):
        assert cache.put(("a", i), f"v{i}", 100)
    assert cache.get(("a", 0)) == "v0"  # 0 is now the most recently used
    cache.put(("b", 0), "w", 100)  # evicts 1, the least recently used
    assert ("a", 1) not in cache
    assert list(cache.lru_keys()) == [("a", 2), ("a", 0), ("b", 0)]
    assert cache.peek(("a", 2)) == "v2"  # peek does not refresh
    cache.put(("b", 1), "x", 150)  # needs 150 bytes: evicts 2 then 0
    assert list(cache.lru_keys()) == [("b", 0), ("b", 1)]
    assert cache.nbytes == 250


def test_budget_is_never_exceeded() -> None:
    rng = random.Random(0)
    cache = FrameCache(10_000)
    for step in range(2000):
        key = (rng.choice("abc"), rng.randrange(50))
        if rng.random() < 0.3:
            cache.get(key)
        else:
            cache.put(key, step, rng.randrange(1, 3000))
        assert cache.nbytes <= 10_000
        assert cache.nbytes == sum(cache._items[k][1] for k in cache.lru_keys())


def test_replacing_an_item_restates_its_size() -> None:
    cache = FrameCache(1000)
    cache.put(("s", 1), "yuv", 150)
    cache.put(("s", 2), "other", 100)
    cache.put(("s", 1), "rgb", 300)
    assert cache.nbytes == 400
    assert list(cache.lru_keys()) == [("s", 2), ("s", 1)]


def test_item_larger_than_budget_is_not_stored() -> None:
    cache = FrameCache(100)
    cache.put(("s", 0), "small", 50)
    assert not cache.put(("s", 1), "huge", 101)
    assert ("s", 1) not in cache and ("s", 0) in cache
    zero = FrameCache(0)
    assert not zero.put(("s", 0), "x", 1)
    assert len(zero) == 0


def test_indices_per_source_and_clear() -> None:
    cache = FrameCache(10_000)
    for i in (3, 1, 7):
        cache.put(("a", i), i, 10)
    cache.put(("b", 1), 1, 10)
    assert sorted(cache.indices("a")) == [1, 3, 7]
    cache.clear("a")
    assert cache.indices("a") == [] and len(cache) == 1 and cache.nbytes == 10
    cache.budget_bytes = 5
    assert len(cache) == 0 and cache.nbytes == 0


def test_budget_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBOTRACE_FRAME_CACHE_MB", "3")
    assert budget_from_env() == 3 * 1024 * 1024
    assert FrameCache().budget_bytes == 3 * 1024 * 1024
    monkeypatch.setenv("ROBOTRACE_FRAME_CACHE_MB", "lots")
    assert budget_from_env() == 512 * 1024 * 1024
    monkeypatch.delenv("ROBOTRACE_FRAME_CACHE_MB")
    assert budget_from_env() == 512 * 1024 * 1024


def test_default_cache_is_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "_default_cache", None)
    assert default_cache() is default_cache()


def test_concurrent_use_keeps_the_books_straight() -> None:
    cache = FrameCache(50_000)
    frame = np.zeros(1000, dtype=np.uint8)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(3000):
            key = (seed % 2, rng.randrange(200))
            if rng.random() < 0.5:
                cache.put(key, frame, frame.nbytes)
            else:
                cache.get(key)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.nbytes <= 50_000
    assert cache.nbytes == 1000 * len(cache)
    assert sum(len(cache.indices(s)) for s in (0, 1)) == len(cache)
