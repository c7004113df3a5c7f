"""The ROS bag formats' entries in the registry.

Sniffing (names and magic bytes) and fingerprints import nothing heavy; the reading itself
(rosbags, numpy) is in ``source`` and loads on first use, so re-scanning unchanged folders
stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from robotrace_desktop.core.episode import EpisodeInfo
from robotrace_desktop.errors import reader_guard
from robotrace_desktop.readers.base import Reader
from robotrace_desktop.readers.rosbag.sniff import (
    MCAP_MAGIC,
    ROS1_MAGIC,
    SQLITE_MAGIC,
    STORAGE_SUFFIXES,
    read_magic,
)
from robotrace_desktop.readers.sanity import check_episode

if TYPE_CHECKING:
    from robotrace_desktop.readers.rosbag.source import RosEpisodeSource


def _has_metadata(folder: Path) -> bool:
    return (folder / "metadata.yaml").is_file()


class Rosbag2Reader(Reader):
    """rosbag2 folders (metadata.yaml + .db3/.mcap files) and lone .mcap / .db3 files."""

    kind = "rosbag2"
    folder_format = True

    def sniff(self, path: Path) -> float | None:
        if path.is_dir():
            meta = path / "metadata.yaml"
            if not meta.is_file():
                return None
            with meta.open("rb") as fh:
                head = fh.read(4096)
            return 0.95 if b"rosbag2_bagfile_information" in head else 0.3
        if not path.is_file() or _has_metadata(path.parent):
            return None  # a storage file inside a rosbag2 folder belongs to the folder
        suffix = path.suffix.lower()
        if suffix not in (".mcap", ".db3"):
            return 0.9 if read_magic(path, 8) == MCAP_MAGIC else None
        magic = read_magic(path)
        if magic.startswith(MCAP_MAGIC) or (suffix == ".db3" and magic == SQLITE_MAGIC):
            return 0.9
        return 0.5  # our suffix, bad magic: claim it so index() can say what is wrong

    def fingerprint_files(self, path: Path) -> list[Path]:
        if path.is_file():
            return [path]
        files = [path / "metadata.yaml"]
        files += sorted(
            p for p in path.iterdir() if p.is_file() and p.name.endswith(STORAGE_SUFFIXES)
        )
        return files

    @reader_guard("cannot index", each=check_episode)
    def index(self, path: Path) -> Iterator[EpisodeInfo]:
        from robotrace_desktop.readers.rosbag.source import index_bag

        return index_bag(path)

    @reader_guard("cannot open")
    def open(self, path: Path, episode_index: int | None = None) -> RosEpisodeSource:
        from robotrace_desktop.readers.rosbag.source import open_bag_episode

        return open_bag_episode(path, episode_index)


class Rosbag1Reader(Rosbag2Reader):
    """ROS 1 bags (format 2.0; uncompressed, lz4 or bz2 chunks)."""

    kind = "rosbag1"
    folder_format = False

    def sniff(self, path: Path) -> float | None:
        if not path.is_file():
            return None
        is_bag = path.suffix.lower() == ".bag"
        if is_bag and path.stat().st_size == 0:
            return 0.6  # claim it: index() says "empty file (0 bytes)"
        magic = read_magic(path, len(ROS1_MAGIC))
        if magic == ROS1_MAGIC:
            return 0.95
        return 0.5 if is_bag else None

    def fingerprint_files(self, path: Path) -> list[Path]:
        return [path]
