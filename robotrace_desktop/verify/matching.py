"""Pairing candidate episodes with baseline episodes run under the same conditions.

A per-pair diff is only meaningful when both runs faced the same situation: same environment
version, task and seed first; when a field is missing on either side the next-looser key is
tried (task + seed, then seed alone). Each candidate episode is used at most once; episodes
without a partner still count in the aggregate statistics.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass

from robotrace_desktop.core.episode import EpisodeInfo

#: tried in order; a key only applies when every field in it is set on both episodes
MATCH_KEYS: tuple[tuple[str, ...], ...] = (
    ("env_version", "task", "seed"),
    ("task", "seed"),
    ("env_version", "seed"),
    ("seed",),
)


@dataclass(frozen=True, slots=True)
class Pair:
    baseline_id: str
    candidate_id: str | None
    matched_on: tuple[str, ...] = ()


def match_pairs(baseline: Sequence[EpisodeInfo], candidate: Sequence[EpisodeInfo]) -> list[Pair]:
    """One Pair per baseline episode (candidate None when nothing matches), baseline order."""
    matched: dict[str, Pair] = {}
    used: set[str] = set()
    for fields in MATCH_KEYS:
        pool: dict[tuple[object, ...], deque[str]] = defaultdict(deque)
        for info in candidate:
            key = _key(info, fields)
            if key is not None and info.id not in used:
                pool[key].append(info.id)
        for info in baseline:
            if info.id in matched:
                continue
            key = _key(info, fields)
            queue = pool.get(key) if key is not None else None
            while queue:
                partner = queue.popleft()
                if partner not in used:
                    used.add(partner)
                    matched[info.id] = Pair(info.id, partner, fields)
                    break
    return [matched.get(info.id, Pair(info.id, None)) for info in baseline]


def _key(info: EpisodeInfo, fields: tuple[str, ...]) -> tuple[object, ...] | None:
    values = tuple(getattr(info, name) for name in fields)
    return None if any(v is None or v == "" for v in values) else values
