"""Signal streams to parquet and event streams to JSON lines, exactly as the source reads them.

A signal stream becomes one parquet file with three kinds of columns:

- ``t_ns`` (int64): the episode-relative times the viewer plots (``SignalChunk.t_ns``);
- ``values``: one fixed-size list of float64 per row, the chunk's values untouched; the
  manifest lists the channel names (``SignalEntry.channels``), so names that the column rules
  would not derive (``position/joint_a1``, ``linear.x``, ``kLeftShoulderPitch``, repeated or
  odd names) come back exactly; the Arrow field metadata ``names`` carries them too, for
  anyone reading the file with pandas or pyarrow;
- ``clock/<name>`` (Arrow ``duration[ns]``) for every alternative clock of the chunk
  (``SignalChunk.times``: a ROS topic's ``record`` and ``header`` times, LeRobot's
  ``timestamp`` column). The bundle reader treats non-numeric columns as "skipped" (listed in
  the stream's details), so they are kept in the file without becoming channels — the bundle
  format has no other place for a second clock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from robotrace_desktop.bundle.events import write_events_jsonl
from robotrace_desktop.bundle.manifest import DEFAULT_TIME_COLUMN, EventEntry, SignalEntry
from robotrace_desktop.bundle.tables import NAMES_METADATA_KEY, write_parquet_table
from robotrace_desktop.core.channels import stream_role
from robotrace_desktop.core.episode import EpisodeSource, StreamInfo

VALUES_COLUMN = "values"
CLOCK_PREFIX = "clock/"
_ROLE_OF = {"command": "action", "state": "sensor"}


def manifest_role(stream: StreamInfo) -> str | None:
    """The bundle ``kind`` that keeps the stream's role as the analyzers see it: a JointState
    topic is a "state" by its message type, which a bundle does not store."""
    return _ROLE_OF.get(stream_role(stream))


def signal_table(
    t_ns: np.ndarray,
    values: np.ndarray,
    channels: Sequence[str],
    clocks: dict[str, np.ndarray] | None = None,
) -> pa.Table:
    """The Arrow table described in the module docstring."""
    t = np.ascontiguousarray(t_ns, dtype=np.int64)
    columns: list[pa.Array] = [pa.array(t, pa.int64())]
    fields = [pa.field(DEFAULT_TIME_COLUMN, pa.int64(), nullable=False)]
    data = np.ascontiguousarray(values, dtype=np.float64).reshape(len(t), len(channels))
    if channels:
        flat = pa.array(data.reshape(-1), pa.float64())
        columns.append(pa.FixedSizeListArray.from_arrays(flat, len(channels)))
        meta = {NAMES_METADATA_KEY: json.dumps(list(channels)).encode("utf-8")}
        fields.append(pa.field(VALUES_COLUMN, columns[-1].type, metadata=meta))
    for name, times in (clocks or {}).items():
        clock = np.ascontiguousarray(times, dtype=np.int64)
        if clock.shape != t.shape:
            continue
        columns.append(pa.array(clock, pa.int64()).cast(pa.duration("ns")))
        fields.append(pa.field(CLOCK_PREFIX + name, pa.duration("ns")))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def write_signal(
    source: EpisodeSource, stream: StreamInfo, folder: Path, rel: str
) -> tuple[SignalEntry, list[str]]:
    """Read the whole stream from ``source`` and write it to ``folder/rel``; returns the
    manifest entry and problem sentences (renamed channels)."""
    chunk = source.read_signal(stream.name)
    problems: list[str] = []
    channels = list(chunk.channels)
    for i, name in enumerate(channels):
        if not isinstance(name, str) or not name:
            channels[i] = f"[{i}]"
            problems.append(f"stream {stream.name!r}: channel {i} has no name; stored as '[{i}]'")
    write_parquet_table(
        folder / rel, signal_table(chunk.t_ns, chunk.values, channels, dict(chunk.times))
    )
    entry = SignalEntry(
        name=stream.name,
        path=rel,
        format="parquet",
        role=manifest_role(stream),
        channels=tuple(channels) if channels else None,
    )
    return entry, problems


def write_events(source: EpisodeSource, stream: StreamInfo, folder: Path, rel: str) -> EventEntry:
    """Every event of the stream, as JSON lines (``t_ns``, ``level``, ``text``, ``source``)."""
    events = source.read_events(stream.name)
    write_events_jsonl(folder / rel, events)
    return EventEntry(name=stream.name, path=rel)
