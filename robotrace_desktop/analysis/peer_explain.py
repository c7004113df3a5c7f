"""Explain one episode against an explicit list of the robot's other episodes (its peers).

This is the seam the held-out evaluation (``benchmarks/eval_explain_heldout.py``) measures
Explain through. The product finds a robot's history in the catalog
(``library.peer_history.history_for`` and ``baseline_for``); an evaluation has no catalog, only
episodes held in memory, and must be sure that the episode under test never counts as its own
history. So the evaluation calls ``explain_with_peers`` with the robot's OTHER clean episodes,
and this module answers the ``ExplainContext`` callables from them exactly as
``library.peer_history`` answers them from the catalog:

- ``history(stream, channel, successful_only)`` — the (min, max) the channel reaches across the
  peers (only the successful ones when asked), NaN/Inf ignored, ``None`` when no peer has it;
- ``baseline()`` — the successful peer of the same task, env_version and robot nearest in
  duration, or ``None``.

When Explain moves to a learned normal model, this is the one function to switch: build the
robot's normal model from ``peers`` (leave-one-out by construction) instead of ranges.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from robotrace_desktop.analysis.data import EpisodeData, ExplainContext
from robotrace_desktop.analysis.explain import explain
from robotrace_desktop.analysis.finding import Finding
from robotrace_desktop.core.episode import EpisodeInfo, Outcome

Range = tuple[float, float]


def _outcome(info: EpisodeInfo) -> str:
    return str(getattr(info.outcome, "value", info.outcome))


class PeerRanges:
    """Per-(stream, channel) (min, max) over the peers, computed on first use and cached."""

    def __init__(self, peers: Sequence[EpisodeData]) -> None:
        self.peers = list(peers)
        self._per_peer: dict[tuple[int, str], dict[str, Range] | None] = {}
        self._answers: dict[tuple[str, str, bool], Range | None] = {}

    def __call__(self, stream: str, channel: str, successful_only: bool) -> Range | None:
        key = (stream, channel, successful_only)
        if key not in self._answers:
            self._answers[key] = self._compute(stream, channel, successful_only)
        return self._answers[key]

    def _compute(self, stream: str, channel: str, successful_only: bool) -> Range | None:
        found = self.each(stream, channel, successful_only)
        if not found:
            return None
        return min(lo for lo, _ in found), max(hi for _, hi in found)

    def each(self, stream: str, channel: str, successful_only: bool) -> list[Range]:
        """Every peer's own (min, max), as ``library.peer_history._Ranges.each``."""
        found: list[Range] = []
        for k, peer in enumerate(self.peers):
            if successful_only and _outcome(peer.info) != Outcome.SUCCESS.value:
                continue
            ranges = self._ranges(k, peer, stream)
            if ranges is not None and channel in ranges:
                found.append(ranges[channel])
        return found

    def per_episode(
        self, stream: str, channels: Sequence[str], successful_only: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every peer's (min, max) of ``channels``, one row a peer (NaN where it lacks one), as
        ``library.peer_history._Ranges.per_episode``: how far an ordinary episode strays on ANY
        of its channels is a question about whole episodes, so the rows must stay aligned."""
        rows_lo: list[list[float]] = []
        rows_hi: list[list[float]] = []
        for k, peer in enumerate(self.peers):
            if successful_only and _outcome(peer.info) != Outcome.SUCCESS.value:
                continue
            ranges = self._ranges(k, peer, stream)
            if not ranges:
                continue
            nan = (np.nan, np.nan)
            found = [ranges.get(c, nan) for c in channels]
            rows_lo.append([lo for lo, _ in found])
            rows_hi.append([hi for _, hi in found])
        shape = (len(rows_lo), len(channels))
        return (
            np.array(rows_lo, dtype=np.float64).reshape(shape),
            np.array(rows_hi, dtype=np.float64).reshape(shape),
        )

    def _ranges(self, k: int, peer: EpisodeData, stream: str) -> dict[str, Range] | None:
        key = (k, stream)
        if key not in self._per_peer:
            self._per_peer[key] = _signal_ranges(peer, stream)
        return self._per_peer[key]


def _signal_ranges(peer: EpisodeData, stream: str) -> dict[str, Range] | None:
    if not any(s.name == stream for s in peer.info.streams):
        return None
    signal = peer.signal(stream)
    if signal is None or not len(signal.t_ns):
        return None
    finite = np.where(np.isfinite(signal.values), signal.values, np.nan)
    with warnings.catch_warnings():  # an all-NaN channel has no range: it is skipped below
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.nanmin(finite, axis=0)
        hi = np.nanmax(finite, axis=0)
    return {
        name: (float(a), float(b))
        for name, a, b in zip(signal.channels, lo, hi, strict=True)
        if np.isfinite(a) and np.isfinite(b)
    }


def nearest_successful_peer(
    target: EpisodeInfo, peers: Sequence[EpisodeData]
) -> EpisodeData | None:
    """As ``catalog.peers.nearest_successful``: same task, env_version and robot, outcome success,
    duration closest to the target's (ties: the first peer)."""
    if target.task is None:
        return None
    matching = [
        p
        for p in peers
        if p.info.task == target.task
        and p.info.env_version == target.env_version
        and p.info.robot == target.robot
        and _outcome(p.info) == Outcome.SUCCESS.value
        and p.info.id != target.id
    ]
    if not matching:
        return None
    return min(matching, key=lambda p: abs(p.info.duration_ns - target.duration_ns))


def context_with_peers(
    target: EpisodeData, peers: Sequence[EpisodeData], thresholds: dict[str, dict[str, Any]]
) -> ExplainContext:
    """The ExplainContext the product would build from the catalog, answered from ``peers``."""
    if any(p is target or p.info.id == target.info.id for p in peers):
        raise ValueError(f"episode {target.info.id} is among its own peers")
    ranges = PeerRanges(peers)
    chosen: dict[str, EpisodeData | None] = {}

    def baseline() -> EpisodeData | None:
        if "data" not in chosen:
            chosen["data"] = nearest_successful_peer(target.info, peers)
        return chosen["data"]

    return ExplainContext(thresholds=thresholds, history=ranges, baseline=baseline)


def explain_with_peers(
    target: EpisodeData, peers: list[EpisodeData], thresholds: dict[str, dict[str, Any]]
) -> list[Finding]:
    """Ranked findings of ``target`` with ``peers`` (the robot's OTHER episodes) as its history.

    ``thresholds`` as ``analysis.thresholds.load`` returns them (import the analyzers first so
    every cause's defaults are registered)."""
    return explain(target, context_with_peers(target, peers, thresholds))
