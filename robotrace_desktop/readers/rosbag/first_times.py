"""The first message of each topic of a bag, found through the container's index instead of a
pass over the messages.

Planning a bag needs each topic's first message (its type layout, JointState names, whether the
header stamp is usable). Iterating the bag until every topic has shown up reads the whole file
when one topic starts late (a topic published once at the end, a camera started after a minute).
The indexes already say where each first message is:

- MCAP: the chunk index (start/end time, per-channel counts) and each chunk's MessageIndex
  records (log time and offset of every message of a channel in that chunk);
- rosbag2 sqlite3: ``SELECT topic_id, MIN(timestamp) … GROUP BY topic_id``;
- ROS 1: the per-connection index (time, chunk position) rosbags has already read.

Topics whose first messages lie in the same chunk (MCAP, ROS 1) or at the same time (sqlite3)
are read together, with the storage's own start/stop time bounds: one chunk decompressed per
cluster, the same message order as a full iteration. Whatever the index cannot answer (an
unindexed MCAP, a damaged MessageIndex record, an index that promises a message the window does
not hold) is left to the caller's full pass, so the result never differs from it.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from rosbags.interfaces import Connection
from rosbags.rosbag2.storage_mcap import McapReader

_MESSAGE_INDEX_OP = 0x07

# (first record time ns, cluster key) of one group of connections, None when unknown.
First = tuple[int, Any] | None
Message = tuple[Connection, int, bytes]


def first_times(
    storage_kind: str, storages: Sequence[Any], groups: Sequence[Sequence[Connection]]
) -> list[First]:
    """Each group's earliest record time and the key of the chunk holding it, from indexes."""
    result: list[First] = [None] * len(groups)
    for n_storage, storage in enumerate(storages):
        per_id: dict[int, tuple[int, Any]] | None
        if storage_kind == "rosbag1":
            per_id = _ros1_firsts(storage)
        elif storage_kind == "sqlite3":
            per_id = _sqlite_firsts(storage)
        else:
            per_id = _mcap_firsts(storage)
        if per_id is None:  # no usable index in this file: unknown, the full pass decides
            return [None] * len(groups)
        keys: dict[tuple[str, str], tuple[int, Any]] = {}
        for conn in storage.connections:  # ROS 1 repeats a topic's connection per publisher
            got = per_id.get(conn.id)
            key = (conn.topic, conn.msgtype)
            if got is not None and (key not in keys or got[0] < keys[key][0]):
                keys[key] = got
        for n, group in enumerate(groups):
            for conn in group:
                got = keys.get((conn.topic, conn.msgtype))
                if got is None:
                    continue
                time, chunk = got
                best = result[n]
                if best is None or time < best[0]:
                    result[n] = (time, (n_storage, chunk))
    return result


def _ros1_firsts(reader: Any) -> dict[int, tuple[int, Any]]:
    """rosbags keeps each connection's index sorted by time: its first entry is the earliest."""
    return {
        cid: (entries[0].time, entries[0].chunk_pos)
        for cid, entries in reader.indexes.items()
        if entries
    }


def _sqlite_firsts(storage: Any) -> dict[int, tuple[int, Any]] | None:
    if storage.dbconn is None:
        return None
    rows = storage.dbconn.execute("SELECT topic_id, MIN(timestamp) FROM messages GROUP BY topic_id")
    return {int(cid): (int(t), int(t)) for cid, t in rows if t is not None}


def _mcap_firsts(storage: McapReader) -> dict[int, tuple[int, Any]] | None:
    """Per channel, the earliest log time over the chunks holding it, reading MessageIndex
    records only of chunks that start no later than the best time found so far."""
    if not storage.chunks or storage.bio is None:
        return None
    bio = storage.bio
    best: dict[int, tuple[int, Any]] = {}
    order = sorted(range(len(storage.chunks)), key=lambda i: storage.chunks[i].message_start_time)
    for i in order:
        chunk = storage.chunks[i]
        for cid, offset in chunk.message_index_offsets.items():
            if not chunk.channel_count.get(cid, 0):
                continue
            known = best.get(cid)
            if known is not None and known[0] < chunk.message_start_time:
                continue
            times = _message_index_times(bio, offset)
            if times is None:
                return None
            if times and (known is None or min(times) < known[0]):
                best[cid] = (min(times), i)
    return best


def _message_index_times(bio: Any, offset: int) -> list[int] | None:
    """Log times of one MessageIndex record (op 0x07: channel u16, then (time u64, offset u64)
    pairs behind a u32 byte length); None when the bytes there are not such a record."""
    bio.seek(offset)
    head = bio.read(15)
    if len(head) != 15 or head[0] != _MESSAGE_INDEX_OP:
        return None
    (length,) = struct.unpack_from("<I", head, 11)
    raw = bio.read(length)
    if len(raw) != length or length % 16:
        return None
    return [t for t, _ in struct.iter_unpack("<QQ", raw)]


def clusters(firsts: Sequence[First]) -> list[list[int]]:
    """Group numbers whose first messages share a chunk (or a time), earliest cluster first."""
    by_key: dict[Any, list[int]] = {}
    times: dict[int, int] = {}
    for n, first in enumerate(firsts):
        if first is not None:
            by_key.setdefault(first[1], []).append(n)
            times[n] = first[0]
    return sorted(by_key.values(), key=lambda ns: min(times[n] for n in ns))
