"""The text an episode's content hash is taken of — ``jsonsafe.dumps(info.to_dict(),
sort_keys=True)`` — written straight from the episode's fields during a scan.

Why: hashing every episode re-encodes it sorted after its row was written, and going through
``to_dict`` first built a dict per episode and per stream only to have them checked and
encoded again: a third of the hash's cost at 10,000 episodes (issue 16). Here the fixed keys
are written in their sorted order around each field's own text; the metadata, the problems,
each stream's channels and details still go through the batch encoder (a dataset's shared
feature table once). Any field that is not a plain str/int/float/bool/None makes the caller
fall back to ``to_dict`` (``TypeError``), and so does an ``EpisodeInfo`` or ``StreamInfo``
whose ``to_dict`` no longer has exactly the keys written here (checked once), so a field
added to the model can never be left out of the hash silently.
"""

from __future__ import annotations

from functools import cache

from robotrace_desktop.core.episode import EpisodeInfo, StreamInfo, StreamKind
from robotrace_desktop.core.jsonsafe import BatchEncoder, scalar_text

#: EpisodeInfo.to_dict's keys, sorted, and StreamInfo.to_dict's: what the text below writes
EPISODE_KEYS = (
    "duration_ns", "env_version", "episode_index", "git_sha", "id", "kind", "metadata", "name",
    "outcome", "path", "policy_version", "problems", "robot", "seed", "source", "start_time_ns",
    "status", "streams", "task",
)  # fmt: skip
STREAM_KEYS = (
    "channels", "count", "details", "kind", "message_type", "name", "rate_hz", "t_end_ns",
    "t_start_ns",
)  # fmt: skip


@cache
def applies() -> bool:
    """Whether the models' ``to_dict`` still has exactly the keys written here."""
    episode = EpisodeInfo("i", "k", "p", None, "n")
    stream = StreamInfo("s", StreamKind.SIGNAL, 0)
    return (
        tuple(sorted(episode.to_dict())) == EPISODE_KEYS
        and tuple(sorted(stream.to_dict())) == STREAM_KEYS
    )


def hash_payload(info: EpisodeInfo, encoder: BatchEncoder) -> str:
    """``encoder.dumps(info.to_dict(), sort_keys=True)``, the same text; TypeError when a
    field is not a plain scalar (the caller then encodes ``to_dict``)."""
    s = scalar_text
    streams = ", ".join([_stream(stream, encoder) for stream in info.streams])
    return (
        f'{{"duration_ns": {s(info.duration_ns)}, "env_version": {s(info.env_version)}, '
        f'"episode_index": {s(info.episode_index)}, "git_sha": {s(info.git_sha)}, '
        f'"id": {s(info.id)}, "kind": {s(info.kind)}, '
        f'"metadata": {encoder.dumps(info.metadata, sort_keys=True)}, "name": {s(info.name)}, '
        f'"outcome": {s(info.outcome.value)}, "path": {s(info.path)}, '
        f'"policy_version": {s(info.policy_version)}, '
        f'"problems": {encoder.dumps(list(info.problems), sort_keys=True)}, '
        f'"robot": {s(info.robot)}, "seed": {s(info.seed)}, "source": {s(info.source)}, '
        f'"start_time_ns": {s(info.start_time_ns)}, "status": {s(info.status.value)}, '
        f'"streams": [{streams}], "task": {s(info.task)}}}'
    )


def _stream(stream: StreamInfo, encoder: BatchEncoder) -> str:
    """One stream as ``to_dict`` gives it, sorted. The channel tuple itself (same JSON as the
    list ``to_dict`` copies it into) is what the episodes of a dataset share."""
    s = scalar_text
    rate = stream.rate_hz
    channels = stream.channels if type(stream.channels) is tuple else list(stream.channels)
    details = stream.details if type(stream.details) is dict else dict(stream.details)
    return (
        f'{{"channels": {encoder.dumps(channels, sort_keys=True)}, "count": {s(stream.count)}, '
        f'"details": {encoder.dumps(details, sort_keys=True)}, "kind": {s(stream.kind.value)}, '
        f'"message_type": {s(stream.message_type)}, "name": {s(stream.name)}, '
        f'"rate_hz": {s(None if rate is None else round(rate, 3))}, '
        f'"t_end_ns": {s(stream.t_end_ns)}, "t_start_ns": {s(stream.t_start_ns)}}}'
    )
