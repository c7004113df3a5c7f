"""Episodes as catalog rows and back: the row tuples the store writes, the EpisodeInfo a row
reads as, and the content hash that decides "updated" vs "unchanged" on a re-scan. Pure
mapping, no connection: the store (``catalog/store.py``) owns the SQL that moves them."""

from __future__ import annotations

import hashlib
import json
import operator
import sqlite3
from collections import OrderedDict
from typing import Any

from robotrace_desktop.catalog import hash_payload
from robotrace_desktop.core import jsonsafe
from robotrace_desktop.core.episode import EpisodeInfo, Outcome, Status, StreamInfo


def json_text(value: Any, encoder: jsonsafe.BatchEncoder | None = None) -> str:
    return jsonsafe.dumps(value) if encoder is None else encoder.dumps(value)


def episode_row(
    recording: str,
    info: EpisodeInfo,
    digest: str,
    now: float,
    encoder: jsonsafe.BatchEncoder | None = None,
) -> tuple[Any, ...]:
    """The ``episodes`` row; ``encoder``: the batch's (shared metadata encoded once)."""
    return (
        info.id,
        recording,
        info.kind,
        info.path,
        info.episode_index,
        info.name,
        max(0, int(info.duration_ns)),
        info.start_time_ns,
        info.source,
        info.robot,
        info.policy_version,
        info.env_version,
        info.git_sha,
        info.seed,
        info.task,
        info.outcome.value,
        info.status.value,
        json_text(info.problems, encoder),
        json_text(info.metadata, encoder),
        digest,
        now,
    )


def stream_row(
    episode: str, position: int, s: StreamInfo, encoder: jsonsafe.BatchEncoder | None = None
) -> tuple[Any, ...]:
    # the channel tuple itself, not a list copy: same JSON, and the batch's encoder knows the
    # tuple every episode of a dataset shares; details likewise when it is a plain dict
    details = s.details if type(s.details) is dict else dict(s.details)
    return (
        episode,
        position,
        s.name,
        s.kind.value,
        s.count,
        json_text(s.channels if type(s.channels) is tuple else list(s.channels), encoder),
        s.t_start_ns,
        s.t_end_ns,
        s.message_type,
        json_text(details, encoder),
    )


#: every episode_view column but ``metadata`` (what a listing reads)
LIST_COLUMNS = (
    "id, recording, kind, path, episode_index, name, duration_ns, start_time_ns, source, "
    "robot, policy_version, env_version, git_sha, seed, task, outcome, status, problems, "
    "'{}' AS metadata, indexed_at, missing_since"
)


def content_hash(info: EpisodeInfo, encoder: jsonsafe.BatchEncoder | None = None) -> str:
    """What decides 'updated' vs 'unchanged' when a recording is re-indexed.

    Memoized per EpisodeInfo object: Explain's history keys its peer cache on this hash and
    asked it again for every (peer, stream) lookup — up to 50 peers × ~66 lookups per episode,
    89 % of ``explain --all``. The memo is keyed on the object itself (kept alive while cached,
    so its id cannot be reused) plus a cheap snapshot of what is usually changed in place
    (the scalar fields, which containers it holds and their sizes); a new object — a re-index,
    a catalog row re-read with a user's override — is hashed afresh. A file's size and mtime
    would not do: overrides and re-indexing change an episode without touching its file.
    ``encoder``: a batch's (``Catalog.upsert_episodes``), same text as ``jsonsafe.dumps``.
    """
    state = _shallow_state(info)
    hit = _HASHES.get(id(info))
    if hit is not None and hit[0] is info and hit[1] == state:
        _HASHES.move_to_end(id(info))
        return hit[2]
    if encoder is None:
        payload = jsonsafe.dumps(info.to_dict(), sort_keys=True)
    else:
        payload = _batch_payload(info, encoder)
    digest = hashlib.sha256(payload.encode()).hexdigest()[:32]
    _HASHES[id(info)] = (info, state, digest)
    while len(_HASHES) > _HASHES_SIZE:
        _HASHES.popitem(last=False)
    return digest


def _batch_payload(info: EpisodeInfo, encoder: jsonsafe.BatchEncoder) -> str:
    """``content_hash``'s text in a batch: written from the fields (``hash_payload``) when
    they are plain, else from ``to_dict`` — the same text either way."""
    if hash_payload.applies():
        try:
            return hash_payload.hash_payload(info, encoder)
        except TypeError:  # a numpy number, a path...: the general path below
            pass
    return encoder.dumps(info.to_dict(), sort_keys=True)


#: id(info) -> (info, shallow state, hash); see content_hash
_HASHES: OrderedDict[int, tuple[EpisodeInfo, tuple[Any, ...], str]] = OrderedDict()
_HASHES_SIZE = 4096


def _shallow_state(info: EpisodeInfo) -> tuple[Any, ...]:
    """Scalar fields and which containers (and how long) — C-level attribute reads, since a
    memo hit is asked ~2,000 times per explained episode."""
    problems, metadata, streams = info.problems, info.metadata, info.streams
    return (
        _scalars(info),
        id(problems),
        len(problems),
        id(metadata),
        len(metadata),
        id(streams),
        len(streams),
    )


_scalars = operator.attrgetter(
    "id", "kind", "path", "episode_index", "name", "duration_ns", "start_time_ns", "source",
    "robot", "policy_version", "env_version", "git_sha", "seed", "task", "outcome", "status",
)  # fmt: skip


#: enum members by value: a dict lookup instead of Enum.__call__ (a listing converts 100k rows)
_OUTCOMES = {o.value: o for o in Outcome}
_STATUSES = {s.value: s for s in Status}


def episode_from_row(row: sqlite3.Row, streams: list[StreamInfo] | None = None) -> EpisodeInfo:
    """An ``episode_view`` row as an EpisodeInfo (streams only when given)."""
    return EpisodeInfo(
        id=row["id"],
        kind=row["kind"],
        path=row["path"],
        episode_index=row["episode_index"],
        name=row["name"],
        duration_ns=row["duration_ns"],
        start_time_ns=row["start_time_ns"],
        source=row["source"],
        robot=row["robot"],
        policy_version=row["policy_version"],
        env_version=row["env_version"],
        git_sha=row["git_sha"],
        seed=row["seed"],
        task=row["task"],
        outcome=_OUTCOMES.get(row["outcome"]) or Outcome(row["outcome"]),
        status=_STATUSES.get(row["status"]) or Status(row["status"]),
        problems=[] if row["problems"] == "[]" else json.loads(row["problems"]),
        metadata={} if row["metadata"] == "{}" else json.loads(row["metadata"]),
        streams=streams or [],
    )
