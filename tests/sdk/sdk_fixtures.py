"""Helpers shared by the SDK tests: tiny inputs written with the real writers, and reading a
logged episode back through the bundle reader (what the app does)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from robotrace_desktop.bundle.tables import SignalData, write_parquet
from robotrace_desktop.core.episode import SignalChunk
from robotrace_desktop.readers.bundle.reader import BundleReader
from robotrace_desktop.sdk.episode import Episode
from tests.video.video_fixtures import write_video

S = 1_000_000_000
READER = BundleReader()


def painted_video(path: Path, frames: int = 20, fps: int = 10) -> Path:
    """H.264 mp4, frame k paints k (tests.video.video_fixtures.frame_number reads it)."""
    return write_video(path, "libx264", frames, fps=fps)


def joints(path: Path, rows: int = 50, hz: int = 100) -> tuple[Path, SignalData]:
    t = np.arange(rows, dtype=np.int64) * (S // hz)
    q = np.column_stack([np.sin(t / S), np.cos(t / S), t / S]).astype(np.float64)
    data = SignalData(
        t, {"position": q, "effort": np.arange(rows) * 0.5}, {"position": ["a", "b", "c"]}
    )
    return write_parquet(path, data), data


def read(episode: Episode | Path, stream: str) -> SignalChunk:
    path = episode.path if isinstance(episode, Episode) else episode
    with READER.open(path) as source:
        return source.read_signal(stream)


def bundles(library: Path) -> list[Path]:
    """Bundle folders in a library (hidden temp folders excluded)."""
    if not library.is_dir():
        return []
    return sorted(p.parent for p in library.glob("*/*/robotrace_episode.json"))


def catalog_ids(catalog: Path) -> list[str]:
    if not catalog.exists():
        return []
    with sqlite3.connect(catalog) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM episodes")]


def leftovers(library: Path) -> list[Path]:
    """Anything left in the library's temp area."""
    tmp = library / ".robotrace" / "tmp"
    return sorted(tmp.iterdir()) if tmp.is_dir() else []
