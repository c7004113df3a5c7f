"""The native bundle's entry in the registry.

Sniffing and fingerprints live here and import nothing heavy; the reading itself (pyarrow,
PyAV) is in ``source`` and loads on first use, so re-scanning unchanged folders stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from robotrace_desktop.bundle.manifest import MANIFEST_NAME
from robotrace_desktop.core.episode import EpisodeInfo, EpisodeSource
from robotrace_desktop.errors import reader_guard
from robotrace_desktop.readers.base import Reader
from robotrace_desktop.readers.bundle.sniff import folder_of
from robotrace_desktop.readers.sanity import check_episode


class BundleReader(Reader):
    kind = "bundle"
    folder_format = True

    def sniff(self, path: Path) -> float | None:
        if path.is_dir() and (path / MANIFEST_NAME).is_file():
            return 1.0
        if path.name == MANIFEST_NAME and path.is_file():
            return 1.0
        return None

    @reader_guard("cannot index", each=check_episode)
    def index(self, path: Path) -> Iterator[EpisodeInfo]:
        from robotrace_desktop.readers.bundle.source import index_bundle

        return index_bundle(path)

    @reader_guard("cannot open")
    def open(self, path: Path, episode_index: int | None = None) -> EpisodeSource:
        from robotrace_desktop.readers.bundle.source import open_bundle

        return open_bundle(path, episode_index)

    def fingerprint_files(self, path: Path) -> list[Path]:
        return super().fingerprint_files(folder_of(path))
