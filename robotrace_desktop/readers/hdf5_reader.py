"""The HDF5 format's entry in the registry.

Sniffing looks at the name and the HDF5 signature only; h5py is imported by ``hdf5.py`` on
first real use, so re-scanning unchanged folders never pays for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from robotrace_desktop.core.episode import EpisodeInfo, EpisodeSource
from robotrace_desktop.errors import reader_guard
from robotrace_desktop.readers.base import Reader
from robotrace_desktop.readers.sanity import check_episode

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# Only HDF5-named files: many foreign formats are HDF5 inside (.mat v7.3, .nc, .nwb).
HDF5_SUFFIXES = (".hdf5", ".h5", ".hdf", ".he5")


def has_signature(path: Path) -> bool:
    """The signature sits at 0 or at a user-block offset (512, 1024, 2048 …)."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        offset = 0
        while offset + 8 <= size and offset <= 1 << 20:
            handle.seek(offset)
            if handle.read(8) == HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


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
        from robotrace_desktop.readers.hdf5 import index_hdf5

        return index_hdf5(path)

    @reader_guard("cannot open")
    def open(self, path: Path, episode_index: int | None = None) -> EpisodeSource:
        from robotrace_desktop.readers.hdf5 import open_hdf5

        return open_hdf5(path, episode_index)
