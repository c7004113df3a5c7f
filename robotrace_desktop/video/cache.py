"""A thread-safe LRU of decoded frames with a byte budget, shared by every open camera.

Decoding is the expensive part of replay; scrubbing back and forth revisits the same frames, so
they are kept — but memory must be bounded by a budget, never by the length of a video. Keys are
``(source_key, frame_index)``: the source key identifies one video file (path, size, mtime), so two
episodes (or two panes) over the same file share frames. Values are opaque to the cache; the
caller says how many bytes each one holds, and may re-state it later (a frame kept as YUV is
converted to RGB on first use and grows).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator

DEFAULT_BUDGET_MB = 512
ENV_BUDGET = "ROBOTRACE_FRAME_CACHE_MB"

CacheKey = tuple[Hashable, int]


def budget_from_env(default_mb: int = DEFAULT_BUDGET_MB) -> int:
    """Byte budget from ROBOTRACE_FRAME_CACHE_MB (a bad value falls back to the default)."""
    raw = os.environ.get(ENV_BUDGET, "").strip()
    try:
        mb = float(raw) if raw else float(default_mb)
    except ValueError:
        mb = float(default_mb)
    return max(0, int(mb * 1024 * 1024))


class FrameCache:
    """LRU mapping ``(source_key, index) -> value`` whose total bytes never exceed the budget.

    An item larger than the whole budget is not stored at all. All methods take one lock, so the
    cache can be used from a decode worker and the UI thread at once.
    """

    def __init__(self, budget_bytes: int | None = None) -> None:
        self._budget = budget_from_env() if budget_bytes is None else max(0, int(budget_bytes))
        self._items: OrderedDict[CacheKey, tuple[object, int]] = OrderedDict()
        self._by_source: dict[Hashable, set[int]] = {}
        self._nbytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def budget_bytes(self) -> int:
        return self._budget

    @budget_bytes.setter
    def budget_bytes(self, value: int) -> None:
        with self._lock:
            self._budget = max(0, int(value))
            self._evict_locked()

    @property
    def nbytes(self) -> int:
        """Bytes currently held (always ≤ budget_bytes)."""
        return self._nbytes

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    def get(self, key: CacheKey) -> object | None:
        """The value for ``key`` (now most recently used), or None."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[0]

    def peek(self, key: CacheKey) -> object | None:
        """The value for ``key`` without changing its LRU position or the hit counters."""
        with self._lock:
            item = self._items.get(key)
            return None if item is None else item[0]

    def put(self, key: CacheKey, value: object, nbytes: int) -> bool:
        """Store (or replace) ``key`` as most recently used; evict the least recently used items
        until the budget holds. Returns False when the item alone is larger than the budget."""
        nbytes = int(nbytes)
        with self._lock:
            self._remove_locked(key)
            if nbytes > self._budget:
                return False
            self._items[key] = (value, nbytes)
            self._nbytes += nbytes
            self._by_source.setdefault(key[0], set()).add(key[1])
            self._evict_locked()
            return True

    def discard(self, key: CacheKey) -> None:
        with self._lock:
            self._remove_locked(key)

    def clear(self, source: Hashable | None = None) -> None:
        """Drop everything, or only the frames of one source."""
        with self._lock:
            if source is None:
                self._items.clear()
                self._by_source.clear()
                self._nbytes = 0
                return
            for index in list(self._by_source.get(source, ())):
                self._remove_locked((source, index))

    def indices(self, source: Hashable) -> list[int]:
        """Frame indices of ``source`` currently cached (unordered snapshot)."""
        with self._lock:
            return list(self._by_source.get(source, ()))

    def lru_keys(self) -> Iterator[CacheKey]:
        """Snapshot of keys from least to most recently used."""
        with self._lock:
            return iter(list(self._items))

    def _remove_locked(self, key: CacheKey) -> None:
        item = self._items.pop(key, None)
        if item is None:
            return
        self._nbytes -= item[1]
        indices = self._by_source.get(key[0])
        if indices is not None:
            indices.discard(key[1])
            if not indices:
                del self._by_source[key[0]]

    def _evict_locked(self) -> None:
        while self._nbytes > self._budget and self._items:
            oldest = next(iter(self._items))
            self._remove_locked(oldest)


_default_cache: FrameCache | None = None
_default_lock = threading.Lock()


def default_cache() -> FrameCache:
    """The process-wide cache every ContainerVideo uses unless given its own."""
    global _default_cache
    with _default_lock:
        if _default_cache is None:
            _default_cache = FrameCache()
        return _default_cache
