"""A tiny reader for catalog tests: a ``.toy`` JSON file lists episodes; ``"corrupt"`` fails."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from robotrace_desktop.core.episode import (
    EpisodeInfo,
    EpisodeSource,
    SignalChunk,
    StreamInfo,
    StreamKind,
    episode_id,
    time_mask,
)
from robotrace_desktop.errors import CorruptRecordingError
from robotrace_desktop.readers.base import Reader


class ToyReader(Reader):
    kind = "bundle"

    def sniff(self, path: Path) -> float | None:
        return 1.0 if path.suffix == ".toy" and path.is_file() else None

    def index(self, path: Path) -> Iterator[EpisodeInfo]:
        text = path.read_text()
        if text.startswith("corrupt"):
            raise CorruptRecordingError(path, "toy file is corrupt")
        data = json.loads(text)
        for i, ep in enumerate(data["episodes"]):
            index = i if len(data["episodes"]) > 1 else None
            yield EpisodeInfo(
                id=episode_id(str(path), index),
                kind=self.kind,
                path=str(path),
                episode_index=index,
                name=ep.get("name", path.stem),
                duration_ns=ep.get("duration_ns", 1_000_000_000),
                policy_version=ep.get("policy_version"),
                streams=[StreamInfo("joints", StreamKind.SIGNAL, 11, ("a", "b"), 0, 1_000_000_000)],
            )

    def open(self, path: Path, episode_index: int | None = None) -> EpisodeSource:
        info = next(e for e in self.index(path) if e.episode_index == episode_index)
        return _ToySource(info)


class _ToySource(EpisodeSource):
    def __init__(self, info: EpisodeInfo) -> None:
        self.info = info
        self.t = np.arange(11, dtype=np.int64) * 100_000_000
        self.v = np.stack([np.arange(11.0), np.arange(11.0) * 2], axis=1)

    def read_signal(
        self, stream: str, start_ns: int | None = None, stop_ns: int | None = None
    ) -> SignalChunk:
        self.info.stream(stream)
        s = time_mask(self.t, start_ns, stop_ns)
        return SignalChunk(stream, ("a", "b"), self.t[s], self.v[s])
