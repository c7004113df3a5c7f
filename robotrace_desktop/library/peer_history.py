"""What the robot's other episodes say: per-channel ranges and the nearest successful baseline.

``history_for`` answers "what range does this channel reach across the robot's other episodes
(optionally: its successful ones)?" — the limits action saturation and joint-limit analyzers
fall back on when nothing is declared. ``baseline_for`` finds the nearest successful episode of
the same task and environment for the divergence analyzer.

Both are bounded: at most ``max_episodes`` other episodes (newest first) and a time budget per
history; only per-channel (min, max) pairs are kept in memory. LeRobot datasets answer from
``meta/episodes_stats.jsonl`` (per-episode min/max) without reading any data file; every other
peer from the ranges the catalog stores for it (``catalog.channel_ranges``), read from its
recording only when none are stored for its current content — and what was read, or learned
from the episode just explained, is handed back (``learned_ranges``) for the caller to store.

Why here and not in ``analysis``: finding the peers takes the catalog and reading them takes
the readers; Explain only receives the answers, as ``ExplainContext.history`` and
``ExplainContext.baseline``, and stays pure.
"""

from __future__ import annotations

import logging
import time
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robotrace_desktop.analysis.data import EpisodeData
from robotrace_desktop.catalog.channel_ranges import StoredRanges, stored_ranges
from robotrace_desktop.catalog.episode_rows import content_hash
from robotrace_desktop.catalog.peers import (
    MAX_PEERS,
    PeerSnapshot,
    nearest_successful,
    peer_episodes,
    signal_streams,
)
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.episode import EpisodeInfo, Outcome
from robotrace_desktop.episodes import ResolvedEpisode
from robotrace_desktop.errors import RobotraceError
from robotrace_desktop.readers.lerobot.stats import EpisodeStats

log = logging.getLogger(__name__)

MAX_EPISODES = MAX_PEERS
TIME_BUDGET_S = 10.0
History = Callable[[str, str, bool], tuple[float, float] | None]
Baseline = Callable[[], EpisodeData | None]
Ranges = tuple[tuple[str, ...], np.ndarray, np.ndarray]

#: (peer id, stream, peer content hash) -> the peer's per-channel (min, max), or None when
#: unreadable. Shared by every episode a process explains: explaining N episodes of one robot
#: reads each peer once, not once per episode (N x 50 opens made a 150-bag scan take 93 s).
#: The content hash changes when a re-scan finds the peer changed.
_PEER_RANGES: OrderedDict[tuple[object, ...], Ranges | None] = OrderedDict()
_PEER_RANGES_SIZE = 20_000
#: (stream, its channels, the peers' (id, content hash, outcome)) -> their ranges' table
_TABLES: OrderedDict[tuple[object, ...], _PeerTable] = OrderedDict()
_TABLES_SIZE = 64


def _outcome(info: EpisodeInfo) -> str:
    return str(getattr(info.outcome, "value", info.outcome))


@dataclass(frozen=True, slots=True)
class _PeerTable:
    """The peers' (min, max) of one stream: row = peer, column = channel (NaN: not there)."""

    columns: dict[str, int]
    lo: np.ndarray
    hi: np.ndarray
    successful: np.ndarray  # bool per peer

    @classmethod
    def of(cls, rows: list[tuple[EpisodeInfo, Ranges]]) -> _PeerTable:
        columns: dict[str, int] = {}
        # peers of one robot share their channels: columns and placement worked out once per
        # distinct channel list, the peers sharing it copied in with one assignment
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, (_, (channels, _, _)) in enumerate(rows):
            members = groups.get(channels)
            if members is None:
                members = groups[channels] = []
                for name in channels:
                    columns.setdefault(name, len(columns))
            members.append(i)
        lo = np.full((len(rows), len(columns)), np.nan)
        hi = np.full((len(rows), len(columns)), np.nan)
        for channels, members in groups.items():
            where = [columns[c] for c in channels]
            if len(set(where)) == len(where) and all(
                np.shape(rows[i][1][k]) == (len(where),) for i in members for k in (1, 2)
            ):
                at = np.ix_(members, where)
                lo[at] = np.array([rows[i][1][1] for i in members], dtype=np.float64)
                hi[at] = np.array([rows[i][1][2] for i in members], dtype=np.float64)
                continue
            for i in members:  # ragged or repeated names: peer by peer, as numpy assigns them
                lo[i, where] = rows[i][1][1]
                hi[i, where] = rows[i][1][2]
        successful = np.array([_outcome(p) == Outcome.SUCCESS.value for p, _ in rows], dtype=bool)
        return cls(columns, lo, hi, successful)


class _Ranges:
    """Per-(stream, channel) min/max over peer episodes, read once and cached."""

    def __init__(
        self,
        catalog: Catalog,
        info: EpisodeInfo,
        max_episodes: int,
        budget_s: float,
        peers: PeerSnapshot | None = None,
    ) -> None:
        self.catalog = catalog
        self.info = info
        self.peers = peer_episodes(catalog, info, max_episodes, peers)
        # the hashes stored at indexing, one query: hashing 50 peers afresh for every episode
        # explained was a tenth of ``explain --all``
        self._hashes = catalog.indexed_hashes([p.id for p in self.peers])
        # which peers have which signal streams, as indexed (asked when a peer must first be
        # read): opening a bag to learn that it lacks a topic cost 40 ms a peer and stream
        self._signal_streams: dict[str, set[str]] | None = None
        self.budget_s = budget_s
        self._answers: dict[tuple[str, str, bool], tuple[float, float] | None] = {}
        self._each: dict[tuple[str, str, bool], list[tuple[float, float]]] = {}
        self._tables: dict[str, _PeerTable] = {}
        self._learned: list[StoredRanges] = []
        self._stored_by_stream: dict[str, dict[str, Ranges]] = {}

    def learned(self) -> list[StoredRanges]:
        """The peers' ranges this history had to read from their recordings (none were stored
        for their current content): what the catalog should keep so no one reads them again."""
        return list(self._learned)

    def __call__(
        self, stream: str, channel: str, successful_only: bool
    ) -> tuple[float, float] | None:
        key = (stream, channel, successful_only)
        if key not in self._answers:
            self._answers[key] = self._compute(stream, channel, successful_only)
        return self._answers[key]

    def _compute(
        self, stream: str, channel: str, successful_only: bool
    ) -> tuple[float, float] | None:
        lows, highs = self._bounds_of(stream, channel, successful_only)
        if not lows:
            return None
        return min(lows), max(highs)

    def each(self, stream: str, channel: str, successful_only: bool) -> list[tuple[float, float]]:
        """Every peer's own (min, max) of the channel: how far one episode strays beyond the
        others is what tells an ordinary excursion from an abnormal one. Asked thousands of
        times an episode (channel by channel, by several analyzers): answered once per key,
        each caller getting its own list."""
        key = (stream, channel, successful_only)
        found = self._each.get(key)
        if found is None:
            found = self._each[key] = self._each_of(stream, channel, successful_only)
        return list(found)

    def _each_of(
        self, stream: str, channel: str, successful_only: bool
    ) -> list[tuple[float, float]]:
        lows, highs = self._bounds_of(stream, channel, successful_only)
        return list(zip(lows, highs, strict=True))

    def _bounds_of(
        self, stream: str, channel: str, successful_only: bool
    ) -> tuple[list[float], list[float]]:
        """The peers' lows and highs of the channel, in peer order."""
        table = self._stream_table(stream)
        column = table.columns.get(channel)
        if column is None:
            return [], []
        lo, hi = table.lo[:, column], table.hi[:, column]
        keep = np.isfinite(lo) & np.isfinite(hi)
        if successful_only:
            keep &= table.successful
        return lo[keep].tolist(), hi[keep].tolist()

    def per_episode(
        self, stream: str, channels: Sequence[str], successful_only: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every peer's (min, max) of ``channels``, one row a peer that has the stream (NaN
        where it lacks a channel): whether an ordinary episode strays on ANY of its channels
        is a question about whole episodes, so rows stay aligned across channels."""
        table = self._stream_table(stream)
        rows = np.ones(table.lo.shape[0], dtype=bool)
        if successful_only:
            rows &= table.successful
        shape = (int(rows.sum()), len(channels))
        lo, hi = np.full(shape, np.nan), np.full(shape, np.nan)
        for k, channel in enumerate(channels):
            column = table.columns.get(channel)
            if column is not None:
                lo[:, k] = table.lo[rows, column]
                hi[:, k] = table.hi[rows, column]
        return lo, hi

    def _stream_table(self, stream: str) -> _PeerTable:
        """Every peer's ranges of ``stream`` as one (peer × channel) table, built once per
        stream (analyzers ask channel by channel: thousands of questions an episode)."""
        if stream not in self._tables:
            # the episodes of a run mostly share their peers: a table built from the same
            # peers (same content, same outcome) and channel names is the same table
            key = (
                stream,
                self._channels_of(stream),
                tuple(
                    (p.id, self._hashes.get(p.id) or content_hash(p), _outcome(p))
                    for p in self.peers
                ),
            )
            table = _TABLES.get(key)
            if table is not None:
                _TABLES.move_to_end(key)
                self._tables[stream] = table
                return table
            rows: list[tuple[EpisodeInfo, Ranges]] = []
            deadline = time.monotonic() + self.budget_s
            complete = True
            for peer in self.peers:
                if time.monotonic() > deadline:
                    log.info(
                        "history of %s: time budget reached after %d episodes", stream, len(rows)
                    )
                    complete = False
                    break
                found = self._episode_ranges(peer, stream)
                if found is not None:
                    rows.append((peer, found))
            self._tables[stream] = _PeerTable.of(rows)
            if complete:  # a table cut short by the time budget is this episode's alone
                _TABLES[key] = self._tables[stream]
                while len(_TABLES) > _TABLES_SIZE:
                    _TABLES.popitem(last=False)
        return self._tables[stream]

    def _stored(self, stream: str) -> dict[str, Ranges]:
        """The peers' ranges of ``stream`` the catalog holds for their current content, asked
        once per stream and only when a peer needs them (LeRobot peers answer from their
        stats and never ask)."""
        if stream not in self._stored_by_stream:
            self._stored_by_stream[stream] = self._fetch_stored(stream)
        return self._stored_by_stream[stream]

    def _fetch_stored(self, stream: str) -> dict[str, Ranges]:
        try:
            rows = stored_ranges(self.catalog, [p.id for p in self.peers], stream)
        except RobotraceError as exc:  # a damaged or locked catalog: read the peers instead
            log.info("stored ranges of %s unavailable: %s", stream, exc)
            return {}
        return {
            episode: (row.channels, *as_arrays(row))
            for episode, row in rows.items()
            if row.content_hash == self._hashes.get(episode)
        }

    def _episode_ranges(self, peer: EpisodeInfo, stream: str) -> Ranges | None:
        # the channel names label LeRobot stats, so they are part of the key
        digest = self._hashes.get(peer.id) or content_hash(peer)
        key = (peer.id, stream, digest, self._channels_of(stream))
        if key in _PEER_RANGES:
            _PEER_RANGES.move_to_end(key)
            return _PEER_RANGES[key]
        found = self._from_lerobot_stats(peer, stream) if peer.kind == "lerobot" else None
        if found is None:
            found = self._stored(stream).get(peer.id)
        if found is None and self._indexed(peer, stream):
            found = self._read(peer, stream)
            if found is not None and peer.id in self._hashes:
                self._learned.append(as_stored(peer.id, stream, self._hashes[peer.id], found))
        _PEER_RANGES[key] = found
        while len(_PEER_RANGES) > _PEER_RANGES_SIZE:
            _PEER_RANGES.popitem(last=False)
        return found

    def _indexed(self, peer: EpisodeInfo, stream: str) -> bool:
        """Whether the peer's index lists ``stream`` as a signal (unknown peers: try)."""
        if self._signal_streams is None:
            self._signal_streams = signal_streams(self.catalog, [p.id for p in self.peers])
        return stream in self._signal_streams.get(peer.id, {stream})

    def _channels_of(self, stream: str) -> tuple[str, ...] | None:
        for s in self.info.streams:
            if s.name == stream:
                return tuple(s.channels)
        return None

    def _from_lerobot_stats(self, peer: EpisodeInfo, stream: str) -> Ranges | None:
        root = peer.metadata.get("dataset_root")
        channels = self._channels_of(stream)
        if not root or channels is None or peer.episode_index is None:
            return None
        stats = _episodes_stats(Path(root))
        entry = stats.get(peer.episode_index).get(stream) if stats is not None else None
        if not isinstance(entry, dict):
            return None
        try:
            lo = np.asarray(entry["min"], dtype=np.float64).ravel()
            hi = np.asarray(entry["max"], dtype=np.float64).ravel()
        except (KeyError, TypeError, ValueError):
            return None
        if lo.size != len(channels) or hi.size != len(channels):
            return None
        return channels, lo, hi

    def _read(self, peer: EpisodeInfo, stream: str) -> Ranges | None:
        try:
            source = ResolvedEpisode(peer, True).open()  # its row is at hand: no lookup
            try:
                chunk = source.read_signal(stream)
            finally:
                source.close()
        except RobotraceError as exc:
            log.debug("history: %s skipped (%s)", peer.id, exc)
            return None
        return ranges_of(tuple(chunk.channels), chunk.values)


def ranges_of(channels: tuple[str, ...], values: np.ndarray) -> Ranges | None:
    """Per-channel min and max of the finite samples (NaN for a channel with none); None for
    no samples. The method ``catalog.channel_ranges.METHOD`` names."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.shape[0] == 0:
        return None
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN channel: NaN, said so
        finite = np.where(np.isfinite(values), values, np.nan)
        lo, hi = np.nanmin(finite, axis=0), np.nanmax(finite, axis=0)
    return channels, lo, hi


def as_stored(episode_id: str, stream: str, digest: str, ranges: Ranges) -> StoredRanges:
    channels, lo, hi = ranges
    return StoredRanges(
        episode_id,
        stream,
        digest,
        channels,
        np.asarray(lo, dtype="<f8").tobytes(),
        np.asarray(hi, dtype="<f8").tobytes(),
    )


def as_arrays(row: StoredRanges) -> tuple[np.ndarray, np.ndarray]:
    return np.frombuffer(row.lo, dtype="<f8"), np.frombuffer(row.hi, dtype="<f8")


def learned_ranges(history: History | None) -> list[StoredRanges]:
    """The peer ranges ``history`` had to read from recordings (none for another kind of
    history, such as the in-memory peers of an evaluation)."""
    return history.learned() if isinstance(history, _Ranges) else []


def own_ranges(data: EpisodeData, digest: str) -> list[StoredRanges]:
    """The ranges of every signal an explained episode loaded: stored, they spare the next
    episode of the robot a read of this one."""
    found = []
    for signal in data.loaded_signals():
        ranges = ranges_of(signal.channels, signal.values)
        if ranges is not None:
            found.append(as_stored(data.info.id, signal.stream, digest, ranges))
    return found


#: indexed episodes_stats.jsonl files, keyed by (path, size, mtime): a worker explaining the
#: episodes of one dataset finds the lines once, then parses only the peers' lines it needs
_STATS_CACHE: dict[tuple[str, int, int], EpisodeStats | None] = {}
_STATS_CACHE_SIZE = 4


def _episodes_stats(root: Path) -> EpisodeStats | None:
    """LeRobot v2.1 ``meta/episodes_stats.jsonl`` of ``root`` (per-episode min/max/…)."""
    path = root / "meta" / "episodes_stats.jsonl"
    try:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        if key not in _STATS_CACHE:
            scanned = EpisodeStats.scan(path, None)
            while len(_STATS_CACHE) >= _STATS_CACHE_SIZE:
                _STATS_CACHE.pop(next(iter(_STATS_CACHE)))
            _STATS_CACHE[key] = None if scanned is None else scanned[0]
    except (OSError, RobotraceError):
        return None
    return _STATS_CACHE[key]


def history_for(
    catalog: Catalog,
    info: EpisodeInfo,
    *,
    max_episodes: int = MAX_EPISODES,
    budget_s: float = TIME_BUDGET_S,
    peers: PeerSnapshot | None = None,
) -> History:
    """``history(stream, channel, successful_only) -> (low, high) | None`` over the robot's other
    episodes (same robot and kind, newest first, at most ``max_episodes``), cached. ``peers``:
    the snapshot a run over many episodes shares (``catalog.peers.PeerSnapshot``)."""
    return _Ranges(catalog, info, max_episodes, budget_s, peers)


def baseline_for(
    catalog: Catalog, info: EpisodeInfo, *, peers: PeerSnapshot | None = None
) -> Baseline:
    """``baseline() -> EpisodeData | None``: the successful episode of the same task and
    env_version (and robot) whose duration is closest to this one's, opened on first call."""
    cache: dict[str, EpisodeData | None] = {}

    def baseline() -> EpisodeData | None:
        if "data" not in cache:
            cache["data"] = _open_baseline(catalog, info, peers)
        return cache["data"]

    return baseline


#: a run's opened baselines, by its peer snapshot (gone with it): the episodes of one task
#: mostly share their nearest successful run, opened and read once a run, not once an episode
_BASELINES: weakref.WeakKeyDictionary[PeerSnapshot, OrderedDict[str, EpisodeData | None]] = (
    weakref.WeakKeyDictionary()
)
#: at most this many baselines kept a run, holding at most this many loaded values in all
_BASELINES_KEPT = 64
_BASELINE_VALUES = 8_000_000


def _open_baseline(
    catalog: Catalog, info: EpisodeInfo, peers: PeerSnapshot | None = None
) -> EpisodeData | None:
    chosen = nearest_successful(catalog, info, peers)
    if chosen is None:
        return None
    if peers is None:
        return _opened(catalog, chosen)
    kept = _BASELINES.setdefault(peers, OrderedDict())
    if chosen.id in kept:
        kept.move_to_end(chosen.id)
        return kept[chosen.id]
    # the oldest go first, while too many or holding too much (what they loaded so far)
    while kept and (
        len(kept) >= _BASELINES_KEPT
        or sum(_loaded_values(d) for d in kept.values()) > _BASELINE_VALUES
    ):
        kept.popitem(last=False)
    data = kept[chosen.id] = _opened(catalog, chosen)
    return data


def _loaded_values(data: EpisodeData | None) -> int:
    return 0 if data is None else sum(s.values.size for s in data.loaded_signals())


def _opened(catalog: Catalog, chosen: EpisodeInfo) -> EpisodeData | None:
    try:
        full = catalog.get(chosen.id)
        source = ResolvedEpisode(full, True).open()
    except RobotraceError as exc:
        log.info("baseline %s could not be opened: %s", chosen.id, exc)
        return None
    return EpisodeData(full, source, catalog.stream_offsets(chosen.id))
