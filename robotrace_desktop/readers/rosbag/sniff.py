"""What kind of bag a file is: magic bytes and storage suffixes, with no import of rosbags
(the registry entry sniffs with them, the opened bag picks its container with them)."""

from __future__ import annotations

from pathlib import Path

MCAP_MAGIC = b"\x89MCAP0\r\n"
SQLITE_MAGIC = b"SQLite format 3\x00"
ROS1_MAGIC = b"#ROSBAG V2.0"
STORAGE_SUFFIXES = (".db3", ".mcap", ".zstd")


def read_magic(path: Path, size: int = 16) -> bytes:
    with path.open("rb") as fh:
        return fh.read(size)
