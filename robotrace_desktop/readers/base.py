"""The reader contract. One module per format implements it; the registry picks one by sniffing.

Modelled on rosbags' AnyReader (context managers, integer-ns times, lazy reads) and glue's
data factories (``sniff`` returns a confidence, the highest wins).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

from robotrace_desktop.core.episode import EpisodeInfo, EpisodeSource


class Reader(ABC):
    """A format. Stateless: every method takes the recording's path."""

    kind: str  # rosbag2 / rosbag1 / lerobot / hdf5 / bundle
    #: True when a recording is a folder (rosbag2 with metadata.yaml, LeRobot, bundle):
    #: the scanner then does not descend into it.
    folder_format: bool = False

    @abstractmethod
    def sniff(self, path: Path) -> float | None:
        """Confidence 0..1 that ``path`` is a recording of this format, or None. Cheap:
        a stat, a file name, a few magic bytes — never a full parse."""

    @abstractmethod
    def index(self, path: Path) -> Iterator[EpisodeInfo]:
        """Describe every episode in the recording, reading metadata and summaries only.

        An episode that cannot be read fully is still yielded, with ``problems`` filled in
        (and ``status`` failed when nothing useful is left). A recording that cannot be read at
        all raises RecordingError naming the file and the reason.
        """

    @abstractmethod
    def open(self, path: Path, episode_index: int | None = None) -> EpisodeSource:
        """Open one episode for reading streams. Raises RecordingError."""

    def fingerprint_files(self, path: Path) -> list[Path]:
        """Files whose size and mtime decide whether a re-scan must re-index the recording."""
        if path.is_file():
            return [path]
        return sorted(p for p in path.rglob("*") if p.is_file())
