"""Getting plotted data in and out: loading streams off the UI thread, in pieces (the span on
screen first, then the rest), and writing the visible samples as CSV.

A 1 GB bag interleaves its joint states with camera images, so reading a topic whole is a pass
over the whole file (seconds). The plots should not wait for that (issue 16): the job asks the
store for the span around the playhead (or the visible span when zoomed in) first, the panel
draws it, then the rest of the episode arrives and the plots fill in. The job runs on the global
thread pool and talks to the panel only through a parentless signal carrier (see PlotPanel).
"""

from __future__ import annotations

import contextlib
import csv
import threading
from collections.abc import Hashable, Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QRunnable, Signal

from robotrace_desktop.core.align import align_raw, column_names
from robotrace_desktop.core.csv_safe import csv_text
from robotrace_desktop.core.signal_store import SignalStore

ChannelRef = tuple[str, str]  # (stream name, channel name)


class LoadSignals(QObject):
    done = Signal(int, object)  # job id, {load key: error message}
    progress = Signal(int)  # job id: a piece of some stream is in, draw what is there


# (key, store, refs of one stream): the key names a failure — the stream for one episode,
# (run, stream) in a comparison
LoadWork = tuple[Hashable, SignalStore, list[ChannelRef]]


def by_stream(store: SignalStore, refs: Sequence[ChannelRef]) -> list[LoadWork]:
    """``refs`` as one piece of work per stream (a stream is read once for all its channels)."""
    grouped: dict[str, list[ChannelRef]] = {}
    for ref in refs:
        grouped.setdefault(ref[0], []).append(ref)
    return [(stream, store, channels) for stream, channels in grouped.items()]


class LoadJob(QRunnable):
    """Reads the streams of ``work`` and builds their pyramids, ``first`` span first."""

    def __init__(
        self,
        work: Sequence[LoadWork],
        job: int,
        signals: LoadSignals,
        cancel: threading.Event,
        first: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.work, self.job, self.signals = list(work), job, signals
        self.cancel = cancel
        self.first = first  # episode ns span to read before the rest (None: whole at once)
        self.finished = threading.Event()  # the widget keeps this, never the runnable itself

    def _progress(self) -> None:
        with contextlib.suppress(RuntimeError):  # the carrier is gone: nobody listens
            self.signals.progress.emit(self.job)

    def run(self) -> None:
        errors: dict[Hashable, str] = {}
        for key, store, refs in self.work:
            if self.cancel.is_set():
                break
            try:
                store.prepare(refs, first=self.first, progress=self._progress, cancel=self.cancel)
            except Exception as exc:  # any reader failure becomes a visible plot status
                errors[key] = str(exc) or type(exc).__name__
        try:
            with contextlib.suppress(RuntimeError):
                self.signals.done.emit(self.job, errors)
        finally:
            self.finished.set()


def write_channels_csv(
    store: SignalStore, selection: Sequence[ChannelRef], t0: int, t1: int, path: Path
) -> Path:
    """The channels' samples in [t0, t1) on the union of their timestamps (empty cells where a
    stream has no sample at that time) — the plot panel's "Export visible plot data"."""
    by_stream: dict[str, list[str]] = {}
    for stream, channel in selection:
        by_stream.setdefault(stream, []).append(channel)
    chunks = [store.chunk(s, chans, t0, t1) for s, chans in by_stream.items()]
    times, values = align_raw(chunks)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["t_ns", "t_s", *(csv_text(n) for n in column_names(chunks))])
        for t, row in zip(times.tolist(), values.tolist(), strict=True):
            cells = ["" if np.isnan(v) else repr(v) for v in row]
            writer.writerow([t, f"{t / 1_000_000_000:.9f}", *cells])
    return path
