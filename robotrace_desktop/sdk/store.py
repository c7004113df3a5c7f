"""Storing a logged episode in the library as a native bundle, all or nothing.

Layout: ``<library>/<yyyy-mm-dd>/<slug-of-name>-<first 8 hex of the id>/`` (local date of the
episode start). The bundle is built by a ``bundle.BundleWriter`` staged in
``<library>/.robotrace/tmp/`` — on the library's own file system, so the final ``rename`` is
atomic, and in a folder the scanner never descends into — and renamed into place only once the
manifest is written. Any failure removes the temporary folder: a failed ``log_episode`` leaves
no half-written bundle. The same temporary area holds the buffers of live recorders
(``Recorder``); ``clean_stale_temp`` removes those a crashed process abandoned.

How the user's files get in (never moved, never modified; ``bundle.writer.place``):

- ``copy=True``: a hard link when the file is on the library's file system (no bytes copied;
  the bundle and the user's file share one inode), otherwise a copy;
- ``copy=False``: a symlink inside the bundle to the user's file ("reference in place"). The
  bundle reader follows such links only for bundles inside a RoboTrace library (see
  ``bundle.libraries.in_trusted_library``); moving or deleting the user's file breaks the
  episode.

Streams that need converting (HDF5, float-second times, in-memory data, epoch-shifted times)
are always written into the bundle as parquet.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from robotrace_desktop.bundle.errors import ManifestError
from robotrace_desktop.bundle.events import write_events_jsonl
from robotrace_desktop.bundle.manifest import BundleManifest, EventEntry, SignalEntry, VideoEntry
from robotrace_desktop.bundle.tables import (
    SignalData,
    write_frame_times,
    write_parquet,
    write_parquet_table,
)
from robotrace_desktop.bundle.writer import BundleWriter
from robotrace_desktop.core.episode import LogEvent
from robotrace_desktop.errors import ValidationError
from robotrace_desktop.sdk.inputs import Inputs
from robotrace_desktop.sdk.signal_input import SignalInput

TMP_DIR = (".robotrace", "tmp")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def temp_root(library: Path) -> Path:
    return library.joinpath(*TMP_DIR)


def slug(text: str, limit: int = 48) -> str:
    cleaned = _UNSAFE.sub("-", text.strip().lower()).strip("-._")
    return cleaned[:limit].rstrip("-._") or "episode"


def bundle_folder(library: Path, manifest: BundleManifest) -> Path:
    start_s = (manifest.start_time_ns or time.time_ns()) / 1e9
    day = time.strftime("%Y-%m-%d", time.localtime(start_s))
    return library / day / f"{slug(manifest.name)}-{(manifest.id or '')[:8]}"


class _Names:
    """File names inside the bundle: safe characters, unique per folder."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def take(self, folder: str, stem: str, suffix: str) -> str:
        base = _UNSAFE.sub("_", stem).strip("._") or "stream"
        rel, n = f"{folder}/{base}{suffix}", 1
        while rel.lower() in self._used:
            n += 1
            rel = f"{folder}/{base}-{n}{suffix}"
        self._used.add(rel.lower())
        return rel


def _write_converted(signal: SignalInput, dst: Path) -> None:
    import pyarrow as pa

    data: Any = signal.load()
    if isinstance(data, SignalData):
        if signal.shift_ns:
            data = SignalData(np.asarray(data.t_ns) - signal.shift_ns, data.fields, data.names)
        try:
            write_parquet(dst, data)
        except ValueError as exc:  # a field SignalData refuses: the user's data
            raise ValidationError(f"{signal.origin}: {exc}") from exc
        return
    table: pa.Table = data
    if signal.shift_ns:
        shifted = np.asarray(table.column(0).to_numpy(), dtype=np.int64) - signal.shift_ns
        table = table.set_column(0, table.schema.field(0), pa.array(shifted))
    write_parquet_table(dst, table)


def _store_signals(
    bundle: BundleWriter, signals: Sequence[SignalInput], names: _Names, mode: str
) -> list[SignalEntry]:
    entries: list[SignalEntry] = []
    stored: dict[Path, str] = {}  # one copy of a file holding several streams
    for signal in signals:
        if signal.stored_as_is and signal.source is not None:
            rel = stored.get(signal.source)
            if rel is None:
                rel = names.take("signals", signal.source.stem, signal.source.suffix.lower())
                bundle.add_file(signal.source, rel, "move" if signal.owned else mode)
                stored[signal.source] = rel
            entries.append(
                SignalEntry(signal.name, rel, signal.format, signal.time_column, signal.role)
            )
            continue
        rel = names.take("signals", signal.name, ".parquet")
        _write_converted(signal, bundle.path(rel))
        entries.append(SignalEntry(signal.name, rel, "parquet", "t_ns", signal.role))
    return entries


def write_bundle(
    library: Path,
    manifest: BundleManifest,
    inputs: Inputs,
    *,
    copy: bool = True,
    events: Sequence[LogEvent] = (),
) -> Path:
    """Write the bundle (``manifest`` without streams + ``inputs``) into ``library``; returns
    the bundle folder. StorageError when the disk refuses; nothing is left behind on error."""
    mode = "copy" if copy else "reference"
    final = bundle_folder(library, manifest)
    with BundleWriter(final, what="episode", staging=temp_root(library)) as bundle:
        names = _Names()
        for video in inputs.videos:
            rel = names.take("video", video.camera, video.path.suffix.lower())
            bundle.add_file(video.path, rel, mode)
            times = None
            if video.timestamps_ns is not None:
                times = names.take("video", f"{video.camera}_times", ".npy")
                write_frame_times(bundle.path(times), np.asarray(video.timestamps_ns))
            manifest.videos.append(VideoEntry(video.camera, rel, video.t0_ns, times))
        manifest.signals.extend(_store_signals(bundle, inputs.signals, names, mode))
        if events:
            write_events_jsonl(bundle.path("events/log.jsonl"), events)
            manifest.events.append(EventEntry("/log", "events/log.jsonl"))
        try:
            bundle.write_manifest(manifest)
        except ManifestError as exc:
            raise ValidationError(f"the episode cannot be described: {exc}") from exc
    return final


def clean_stale_temp(library: Path, max_age_s: float = 24 * 3600) -> list[Path]:
    """Remove temporary folders older than ``max_age_s`` — a recorder's buffers that were never
    finalized (a live one touches its folder as it flushes), or folders of an older RoboTrace.
    Returns what was removed. (A killed ``BundleWriter``'s folder is removed sooner, by the
    next writer: ``bundle.stale``.)"""
    root = temp_root(library)
    removed: list[Path] = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return removed
    cutoff = time.time() - max_age_s
    for entry in entries:
        try:
            if entry.is_dir() and entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
        except OSError:
            continue
    return removed
