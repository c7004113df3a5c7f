"""Putting several signal streams side by side, without resampling anything in place.

Raw: the union of all sample times, each stream's value where it has a sample, NaN elsewhere.
Grid: one regular time grid, each stream holding its last sample at or before the grid time
(what a viewer shows at that moment), NaN before a stream's first sample.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from robotrace_desktop.core.episode import SignalChunk


def column_names(chunks: Sequence[SignalChunk]) -> list[str]:
    if len(chunks) == 1:
        return list(chunks[0].channels)
    return [f"{c.stream}/{name}" for c in chunks for name in c.channels]


def align_raw(chunks: Sequence[SignalChunk]) -> tuple[np.ndarray, np.ndarray]:
    """(t_ns, values) over the union of sample times."""
    if not chunks:
        return np.zeros(0, np.int64), np.zeros((0, 0))
    times = np.unique(np.concatenate([c.t_ns for c in chunks]).astype(np.int64))
    columns = []
    for chunk in chunks:
        block = np.full((len(times), len(chunk.channels)), np.nan)
        if len(chunk):
            # duplicate timestamps within a stream: the last sample wins, as in playback
            rows = np.searchsorted(times, chunk.t_ns)
            block[rows] = chunk.values
        columns.append(block)
    return times, np.hstack(columns) if columns else np.zeros((len(times), 0))


def grid(start_ns: int, stop_ns: int, period_ns: int) -> np.ndarray:
    if period_ns <= 0:
        raise ValueError("grid period must be positive")
    return np.arange(start_ns, stop_ns, period_ns, dtype=np.int64)


def align_on_grid(chunks: Sequence[SignalChunk], times: np.ndarray) -> np.ndarray:
    """Values of every stream at ``times`` by sample-and-hold."""
    columns = []
    for chunk in chunks:
        block = np.full((len(times), len(chunk.channels)), np.nan)
        if len(chunk):
            rows = np.searchsorted(chunk.t_ns, times, side="right") - 1
            valid = rows >= 0
            block[valid] = chunk.values[rows[valid]]
        columns.append(block)
    return np.hstack(columns) if columns else np.zeros((len(times), 0))
