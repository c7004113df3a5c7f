"""Whole signal streams held in memory for plotting, with their LOD pyramids. Qt-free.

The plots need every sample of a channel to pan and zoom without going back to disk, and a
pyramid per channel to draw 50 M samples in a few milliseconds. The store opens its own
``EpisodeSource`` (sources are not thread-safe; the store serialises its reads), so a plot
panel can fill it from a worker thread while the UI thread asks for views of what is loaded.

Times handed in and out are *episode time*: ``episode_t = stream_t + offset[stream]``
(``set_offsets``); arrays are cached in stream time, so changing an offset costs nothing.

Big bags load in pieces (``prepare(..., first=span)``): a topic interleaved with camera images
takes a pass over the whole file, so the span the user looks at is read first (a time-bounded
read through the container's index) and drawn from a *partial* stream, then the rest before and
after it; the pieces partition the time axis, so their concatenation is exactly the whole read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

import numpy as np

from robotrace_desktop.core.episode import EpisodeInfo, EpisodeSource, SignalChunk, StreamKind
from robotrace_desktop.core.lod import MinMaxPyramid
from robotrace_desktop.errors import StreamNotFoundError

ChannelRef = tuple[str, str]  # (stream name, channel name)
Span = tuple[int | None, int | None]  # [start, stop) in stream ns; None: unbounded
# Readers whose time-bounded reads skip what lies outside the window (container indexes): for
# these a piece costs about its share of the file, so reading in pieces is nearly free.
PIECEWISE_KINDS = frozenset({"rosbag1", "rosbag2"})


class _Cancel(Protocol):
    def is_set(self) -> bool: ...


def concat_chunks(stream: str, chunks: Sequence[SignalChunk]) -> SignalChunk:
    """Chunks of one stream over consecutive, disjoint time ranges → one chunk (time order)."""
    first = chunks[0]
    times = {
        key: np.concatenate([c.times[key] for c in chunks])
        for key in first.times
        if all(key in c.times for c in chunks)
    }
    width = len(first.channels)
    values = [np.asarray(c.values, dtype=np.float64).reshape(len(c), width) for c in chunks]
    return SignalChunk(
        stream,
        tuple(first.channels),
        np.concatenate([np.asarray(c.t_ns, dtype=np.int64) for c in chunks]),
        np.vstack(values),
        times,
    )


def pieces_around(lo: int, hi: int) -> list[Span]:
    """The order pieces are read in: [lo, hi) first, then after it, then before it. Together
    they cover every time, including samples stamped before the episode start or after its end."""
    return [(lo, hi), (hi, None), (None, lo)]


class _Loaded:
    """One stream in memory: times (stream clock) and one contiguous row per channel."""

    __slots__ = ("channels", "columns", "pyramids", "stream", "t_ns")

    def __init__(self, chunk: SignalChunk) -> None:
        self.stream = chunk.stream
        self.channels = tuple(chunk.channels)
        self.t_ns = np.ascontiguousarray(chunk.t_ns, dtype=np.int64)
        values = np.asarray(chunk.values, dtype=np.float64).reshape(len(self.t_ns), -1)
        self.columns = np.ascontiguousarray(values.T)  # (C, N): each channel contiguous
        self.pyramids: dict[str, MinMaxPyramid] = {}

    def column(self, channel: str) -> np.ndarray:
        try:
            return self.columns[self.channels.index(channel), :]
        except ValueError:
            raise StreamNotFoundError(
                f"stream {self.stream!r} has no channel {channel!r}"
            ) from None


class SignalStore:
    """Loads signal streams on first use and serves arrays, LOD views and values at a time."""

    def __init__(self, opener: Callable[[], EpisodeSource], info: EpisodeInfo) -> None:
        self.info = info
        self._opener = opener
        self._source: EpisodeSource | None = None
        self._read_lock = threading.Lock()  # one reader at a time on the source
        self._lock = threading.Lock()  # the caches below
        self._streams: dict[str, _Loaded] = {}
        # streams being read in pieces: what is in so far, and the stream-time span it covers
        self._partial: dict[str, tuple[_Loaded, Span]] = {}
        self._offsets: dict[str, int] = {}
        self._closed = False

    # ------------------------------------------------------------------ streams

    def signal_streams(self) -> list[str]:
        return [s.name for s in self.info.streams_of(StreamKind.SIGNAL)]

    def is_loaded(self, stream: str) -> bool:
        with self._lock:
            return stream in self._streams

    def load(self, stream: str) -> None:
        """Read the whole stream (once). Safe to call from any thread; blocks while reading."""
        self._loaded(stream)

    def channels_of(self, stream: str) -> tuple[str, ...]:
        return self._loaded(stream).channels

    def _loaded(self, stream: str) -> _Loaded:
        with self._lock:
            found = self._streams.get(stream)
        if found is not None:
            return found
        info = self.info.stream(stream)  # StreamNotFoundError for unknown names
        if info.kind != StreamKind.SIGNAL:
            raise StreamNotFoundError(f"{stream!r} is a {info.kind.value} stream, not a signal")
        with self._read_lock:
            with self._lock:  # another thread may have loaded it while we waited
                found = self._streams.get(stream)
            if found is not None:
                return found
            if self._closed:
                raise RuntimeError("SignalStore is closed")
            if self._source is None:
                self._source = self._opener()
            loaded = _Loaded(self._source.read_signal(stream))
            with self._lock:
                self._streams[stream] = loaded
            return loaded

    def close(self) -> None:
        """Close the source and drop the cached arrays."""
        with self._read_lock:
            self._closed = True
            if self._source is not None:
                self._source.close()
                self._source = None
            with self._lock:
                self._streams.clear()
                self._partial.clear()

    # ------------------------------------------------------------------ offsets

    def set_offsets(self, offsets: Mapping[str, int]) -> None:
        """Per-stream offsets (ns): ``episode_t = stream_t + offset``. Replaces all of them."""
        with self._lock:
            self._offsets = {k: int(v) for k, v in offsets.items() if int(v) != 0}

    def offset(self, stream: str) -> int:
        with self._lock:
            return self._offsets.get(stream, 0)

    # ------------------------------------------------------------------ data

    def channel(self, stream: str, channel: str) -> tuple[np.ndarray, np.ndarray]:
        """(t_ns in episode time, values) of one channel — the cached arrays; do not modify."""
        loaded = self._loaded(stream)
        values = loaded.column(channel)
        offset = self.offset(stream)
        return (loaded.t_ns + offset if offset else loaded.t_ns), values

    def pyramid(self, stream: str, channel: str) -> MinMaxPyramid:
        """The channel's LOD pyramid (stream time), built on first use (O(N))."""
        loaded = self._loaded(stream)
        with self._lock:
            pyramid = loaded.pyramids.get(channel)
        if pyramid is None:
            pyramid = MinMaxPyramid(loaded.t_ns, loaded.column(channel))
            with self._lock:
                pyramid = loaded.pyramids.setdefault(channel, pyramid)
        return pyramid

    def prepare(
        self,
        refs: Iterable[ChannelRef],
        *,
        first: tuple[int, int] | None = None,
        progress: Callable[[], None] | None = None,
        cancel: _Cancel | None = None,
    ) -> None:
        """Load the streams of ``refs`` and build their pyramids — the worker thread's job.

        With ``first`` (an episode-time span) a big bag's stream is read in pieces, that span
        first; ``progress`` is called after each piece (``view`` already draws it), ``cancel``
        stops between pieces. The result is the same arrays as a whole read."""
        refs = list(refs)
        if first is not None and self.info.kind in PIECEWISE_KINDS:
            for stream in dict.fromkeys(s for s, _ in refs):
                channels = [c for s, c in refs if s == stream]
                self._load_in_pieces(stream, channels, first, progress, cancel)
        for stream, channel in refs:
            if cancel is not None and cancel.is_set():
                return
            self.pyramid(stream, channel)

    def _load_in_pieces(
        self,
        stream: str,
        channels: list[str],
        first: tuple[int, int],
        progress: Callable[[], None] | None,
        cancel: _Cancel | None,
    ) -> None:
        if self.is_loaded(stream):
            return
        info = self.info.stream(stream)
        if info.kind != StreamKind.SIGNAL:
            raise StreamNotFoundError(f"{stream!r} is a {info.kind.value} stream, not a signal")
        offset = self.offset(stream)
        lo, hi = first[0] - offset, first[1] - offset
        got: list[tuple[Span, SignalChunk]] = []
        for span in pieces_around(lo, hi):
            if cancel is not None and cancel.is_set():
                with self._lock:
                    self._partial.pop(stream, None)
                return
            with self._read_lock:
                if self._closed:
                    raise RuntimeError("SignalStore is closed")
                if self.is_loaded(stream):
                    return
                if self._source is None:
                    self._source = self._opener()
                got.append((span, self._source.read_signal(stream, span[0], span[1])))
            ordered = sorted(got, key=lambda g: -(2**63) if g[0][0] is None else g[0][0])
            loaded = _Loaded(concat_chunks(stream, [chunk for _, chunk in ordered]))
            covered: Span = (ordered[0][0][0], ordered[-1][0][1])
            if len(got) == 3:  # every time is covered: the stream is loaded
                with self._lock:
                    self._streams.setdefault(stream, loaded)
                    self._partial.pop(stream, None)
                return
            for channel in channels:
                if channel in loaded.channels:
                    loaded.pyramids[channel] = MinMaxPyramid(loaded.t_ns, loaded.column(channel))
            with self._lock:
                self._partial[stream] = (loaded, covered)
            if progress is not None:
                progress()

    def is_prepared(self, refs: Iterable[ChannelRef]) -> bool:
        """True when every stream of ``refs`` is loaded and every pyramid built (no blocking)."""
        with self._lock:
            for stream, channel in refs:
                loaded = self._streams.get(stream)
                if loaded is None or channel not in loaded.pyramids:
                    return False
        return True

    def has_view(self, ref: ChannelRef) -> bool:
        """True when ``view`` can draw ``ref`` now (loaded, or partly loaded) without blocking."""
        if self.is_prepared([ref]):
            return True
        with self._lock:
            partial = self._partial.get(ref[0])
        return partial is not None and ref[1] in partial[0].pyramids

    def covers(self, refs: Iterable[ChannelRef], t0_ns: int, t1_ns: int) -> bool:
        """True when every stream of ``refs`` is in memory for episode times [t0_ns, t1_ns) —
        loaded whole, or read in pieces that cover that span already (no blocking)."""
        for ref in refs:
            if self.is_prepared([ref]):
                continue
            with self._lock:
                partial = self._partial.get(ref[0])
            if partial is None or ref[1] not in partial[0].pyramids:
                return False
            lo, hi = partial[1]
            offset = self.offset(ref[0])
            if (lo is not None and t0_ns - offset < lo) or (hi is not None and t1_ns - offset > hi):
                return False
        return True

    def view(
        self, stream: str, channel: str, t0_ns: int, t1_ns: int, width: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Points to draw ``[t0_ns, t1_ns)`` (episode time) on ``width`` pixels (see lod) —
        from the part read so far while a stream loads in pieces (``has_view``)."""
        offset = self.offset(stream)
        pyramid = None
        if not self.is_loaded(stream):
            with self._lock:
                partial = self._partial.get(stream)
            if partial is not None:
                pyramid = partial[0].pyramids.get(channel)
        if pyramid is None:
            pyramid = self.pyramid(stream, channel)
        t, y = pyramid.view(t0_ns - offset, t1_ns - offset, width)
        if offset:
            t += offset
        return t, y

    def value_at(self, stream: str, channel: str, t_ns: int) -> float | None:
        """Sample-and-hold: the last sample at or before ``t_ns``; None before the first."""
        loaded = self._loaded(stream)
        row = int(np.searchsorted(loaded.t_ns, t_ns - self.offset(stream), side="right")) - 1
        if row < 0:
            return None
        return float(loaded.column(channel)[row])

    def chunk(
        self,
        stream: str,
        channels: Sequence[str] | None = None,
        start_ns: int | None = None,
        stop_ns: int | None = None,
    ) -> SignalChunk:
        """Samples of ``channels`` in ``[start_ns, stop_ns)`` (episode time), as a SignalChunk
        whose ``t_ns`` is in episode time — for exports and alignment."""
        loaded = self._loaded(stream)
        names = tuple(loaded.channels if channels is None else channels)
        offset = self.offset(stream)
        lo = 0 if start_ns is None else int(np.searchsorted(loaded.t_ns, start_ns - offset))
        hi = (
            len(loaded.t_ns)
            if stop_ns is None
            else int(np.searchsorted(loaded.t_ns, stop_ns - offset))
        )
        rows = [loaded.column(name)[lo:hi] for name in names]
        values = np.column_stack(rows) if rows else np.zeros((hi - lo, 0))
        return SignalChunk(stream, names, loaded.t_ns[lo:hi] + offset, values)
