"""The HDF5 format's entry in the registry.

Sniffing looks at the name and the HDF5 signature only; h5py is imported by ``source`` on
first real use, so re-scanning unchanged folders never pays for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from robotrace_desktop.core.episode import EpisodeInfo, EpisodeSource
from robotrace_desktop.errors import reader_guard
from robotrace_desktop.readers.base import Reader
from robotrace_desktop.readers.hdf5.sniff import HDF5_SUFFIXES, has_signature
from robotrace_desktop.readers.sanity import check_episode


class Hdf5Reader(Reader):
    kind = "hdf5"

    def sniff(self, path: Path) -> float | None:
        if not path.is_file() or path.stat().st_size == 0:
            return None
        if path.suffix.lower() not in HDF5_SUFFIXES:
            return None
        return 0.9 if has_signature(path) else 0.2  # 0.2: index() then says why it is not

    @reader_guard("cannot index", each=check_episode)
    def index(self, path: Path) -> Iterator[EpisodeInfo]:
        from robotrace_desktop.readers.hdf5.source import index_hdf5

        return index_hdf5(path)

    @reader_guard("cannot open")
    def open(self, path: Path, episode_index: int | None = None) -> EpisodeSource:
        from robotrace_desktop.readers.hdf5.source import open_hdf5

        return open_hdf5(path, episode_index)
