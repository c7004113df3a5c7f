"""One opened ROS bag, whatever its container: a rosbag2 folder, a lone .mcap/.db3, a ROS 1 .bag.

rosbags' AnyReader is all-or-nothing about type definitions (one unparseable definition refuses
the whole bag, and a bag with some definitions never falls back to a default typestore), so we
drive rosbags' lower-level readers directly and decide per connection in ``ros_typestore``.
This module only deals with containers: connections, counts, time range, raw messages and cheap
timestamp lists (from the sqlite index, MCAP message indexes or the ROS 1 chunk indexes).

Everything is opened read-only: rosbags opens sqlite with ``?immutable=1`` and
``SQLITE_OPEN_READONLY`` (so no -wal/-shm is ever created or touched), MCAP and ROS 1 bags with
``open('rb')``.
"""

from __future__ import annotations

import heapq
import sqlite3
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rosbags.interfaces import Connection, ConnectionExtRosbag2
from rosbags.rosbag2 import Reader as Reader2
from rosbags.rosbag2 import ReaderError as ReaderError2
from rosbags.rosbag2.reader import DirectoryReader
from rosbags.rosbag2.storage_mcap import McapReader
from rosbags.rosbag2.storage_sqlite3 import Sqlite3Reader

from robotrace_desktop.errors import (
    PROGRAMMING_ERRORS,
    CorruptRecordingError,
    RecordingError,
    UnsupportedFormatError,
    as_recording_error,
)
from robotrace_desktop.readers.rosbag.fast_yaml import install as install_fast_yaml
from robotrace_desktop.readers.rosbag.first_times import clusters, first_times
from robotrace_desktop.readers.rosbag.sniff import MCAP_MAGIC, ROS1_MAGIC, SQLITE_MAGIC, read_magic

install_fast_yaml()  # rosbags' metadata.yaml / QoS YAML through libyaml (see ros_yaml)

if TYPE_CHECKING:
    from rosbags.rosbag1 import Reader as Reader1


def _reader_errors() -> tuple[type[Exception], ...]:
    """rosbags' reader errors of both bag versions. rosbags' ROS 1 reader (and the typestores
    it loads, ~20 ms) is imported when a ROS 1 bag is opened or an error is being matched, not
    by every process that reads a ROS 2 bag."""
    from rosbags.rosbag1 import ReaderError as ReaderError1

    return (ReaderError1, ReaderError2)


def _stream_errors() -> tuple[type[Exception], ...]:
    """What reading a bag's messages raises on a damaged file (rosbags' errors, truncated
    structs, I/O), evaluated like ``_reader_errors`` only when an exception is matched."""
    return (*_reader_errors(), AssertionError, struct.error, OSError)


_NO_TIME = 2**63 - 1
MAX_CUSTOM_TEXT = 1 << 16


@dataclass
class BagFile:
    """An opened bag. ``connections`` are rosbags Connections; times are absolute record ns."""

    path: Path
    kind: str  # rosbag2 / rosbag1
    storage: str  # sqlite3 / mcap / rosbag1
    connections: list[Connection]
    message_count: int
    first_ns: int | None  # record time of the first message, None when empty
    last_ns: int | None  # record time of the last message
    files: list[str] = field(default_factory=list)
    ros_distro: str | None = None
    custom_data: dict[str, Any] = field(default_factory=dict)
    compression: str | None = None
    problems: list[str] = field(default_factory=list)  # container-level, for EpisodeInfo
    _reader: Any = None
    _storages: list[Any] = field(default_factory=list)

    # -- messages -------------------------------------------------------------------------------
    def messages(
        self, connections: Sequence[Connection], start: int | None = None, stop: int | None = None
    ) -> Iterator[tuple[Connection, int, bytes]]:
        """Raw messages of ``connections`` with start <= record time < stop, in time order."""
        if not connections:
            return iter(())
        try:
            return self._checked(self._reader.messages(list(connections), start, stop))
        except _reader_errors() as exc:
            raise _messages_error(self.path, exc) from exc

    def _checked(
        self, it: Iterator[tuple[Connection, int, bytes]]
    ) -> Iterator[tuple[Connection, int, bytes]]:
        try:
            yield from it
        except _stream_errors() as exc:
            raise _messages_error(self.path, exc) from exc

    def first_message(self, connections: Sequence[Connection]) -> tuple[Connection, int, bytes]:
        """The earliest message of these connections (reads one chunk / row, not the topic)."""
        it = self.messages(connections)
        try:
            return next(it)
        finally:
            close = getattr(it, "close", None)
            if close:
                close()

    def first_messages(
        self, groups: Sequence[Sequence[Connection]]
    ) -> list[tuple[Connection, int, bytes] | None]:
        """The earliest message of each group of connections (a topic's). Located through the
        container's index and read chunk by chunk (``ros_first``); groups the index cannot
        answer come from ONE iteration over the bag that stops once each has one. None for a
        group with no message."""
        found: list[tuple[Connection, int, bytes] | None] = [None] * len(groups)
        try:
            firsts = first_times(self.storage, self._storages, groups)
        except (OSError, struct.error, sqlite3.Error, AttributeError, KeyError, IndexError):
            firsts = [None] * len(groups)  # a damaged index: the full pass decides
        for cluster in clusters(firsts):
            times = {n: first[0] for n in cluster if (first := firsts[n]) is not None}
            start, stop = min(times.values()), max(times.values()) + 1
            self._take_firsts(groups, cluster, found, start, stop)
            for n in cluster:  # trust a window only for the message the index promised
                got = found[n]
                if got is not None and got[1] != times[n]:
                    found[n] = None
        missing = [n for n, group in enumerate(groups) if group and found[n] is None]
        if missing:
            self._take_firsts(groups, missing, found, None, None)
        return found

    def _take_firsts(
        self,
        groups: Sequence[Sequence[Connection]],
        wanted: Sequence[int],
        found: list[tuple[Connection, int, bytes] | None],
        start: int | None,
        stop: int | None,
    ) -> None:
        """Fill ``found[n]`` for each n in ``wanted`` with its group's first message with
        start <= time < stop, from one iteration that stops once each has one."""
        # by topic and type, as _DirectoryMessages matches connections across storage files
        owner = {(c.topic, c.msgtype): n for n in wanted for c in groups[n]}
        missing = len([n for n in wanted if groups[n]])
        if not missing:
            return
        it = self.messages([c for n in wanted for c in groups[n]], start, stop)
        try:
            for message in it:
                n = owner[(message[0].topic, message[0].msgtype)]
                if found[n] is None:
                    found[n] = message
                    missing -= 1
                    if not missing:
                        break
        finally:
            close = getattr(it, "close", None)
            if close:
                close()

    def timestamps(self, connections: Sequence[Connection]) -> np.ndarray:
        """Sorted record times (int64 ns) of every message of ``connections``, from indexes
        where the container has them (no message payload is read)."""
        if not connections:
            return np.zeros(0, np.int64)
        parts: list[np.ndarray] | None
        if self.storage == "rosbag1":
            parts = [
                np.fromiter((e.time for e in self._reader.indexes[c.id]), np.int64)
                for c in connections
            ]
        elif self.storage == "sqlite3":
            parts = [_sqlite_times(s, connections) for s in self._storages]
        else:
            parts = []
            for storage in self._storages:
                got = _mcap_index_times(storage, connections)
                if got is None:
                    parts = None
                    break
                parts.append(got)
        if parts is None:
            times = np.fromiter((t for _, t, _ in self.messages(connections)), np.int64)
        else:
            times = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        return np.sort(times, kind="stable")

    def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()

    def __enter__(self) -> BagFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _messages_error(path: Path, exc: Exception) -> CorruptRecordingError:
    reason = str(exc).strip() or type(exc).__name__  # some rosbags errors carry no text
    return CorruptRecordingError(path, f"cannot read messages: {reason}")


def _matching(storage_conns: Iterable[Connection], wanted: Sequence[Connection]) -> list[int]:
    keys = {(c.topic, c.msgtype) for c in wanted}
    return [c.id for c in storage_conns if (c.topic, c.msgtype) in keys]


def _sqlite_times(storage: Sqlite3Reader, wanted: Sequence[Connection]) -> np.ndarray:
    ids = _matching(storage.connections, wanted)
    if not ids or storage.dbconn is None:
        return np.zeros(0, np.int64)
    marks = ",".join("?" for _ in ids)
    rows = storage.dbconn.execute(
        f"SELECT timestamp FROM messages WHERE topic_id IN ({marks})", tuple(ids)
    )
    return np.fromiter((r[0] for r in rows), np.int64)


def _mcap_index_times(storage: McapReader, wanted: Sequence[Connection]) -> np.ndarray | None:
    """Log times from the MCAP MessageIndex records after each chunk; None when unindexed."""
    if not storage.chunks or storage.bio is None:
        return None
    ids = set(_matching(storage.connections, wanted))
    bio = storage.bio
    parts: list[np.ndarray] = []
    for chunk in storage.chunks:
        for cid, offset in chunk.message_index_offsets.items():
            if cid not in ids:
                continue
            bio.seek(offset)
            head = bio.read(15)
            if len(head) != 15 or head[0] != 0x07:
                return None
            (length,) = struct.unpack_from("<I", head, 11)
            raw = bio.read(length)
            if len(raw) != length or length % 16:
                return None
            parts.append(np.frombuffer(raw, "<u8").reshape(-1, 2)[:, 0].astype(np.int64))
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


# -- opening --------------------------------------------------------------------------------------


def open_bag(path: Path) -> BagFile:
    """Open any supported bag at ``path``. Raises RecordingError subclasses naming the file."""
    try:
        if path.is_dir():
            return _open_rosbag2_dir(path)
        size = path.stat().st_size
        if size == 0:
            raise CorruptRecordingError(path, "empty file (0 bytes)")
        magic = read_magic(path)
        if magic.startswith(ROS1_MAGIC) or (path.suffix == ".bag" and not magic.startswith(b"#")):
            return _open_rosbag1(path)
        if magic.startswith(b"#ROSBAG"):
            version = magic.split(b"\n")[0].decode("ascii", "replace")
            raise UnsupportedFormatError(path, f"unsupported ROS 1 bag version {version!r}")
        if magic.startswith(MCAP_MAGIC):
            return _open_lone(path, McapReader(path), "mcap")
        if magic.startswith(SQLITE_MAGIC):
            return _open_lone(path, Sqlite3Reader(path), "sqlite3")
        raise UnsupportedFormatError(path, "not a ROS bag (unknown file magic)")
    except RecordingError:
        raise
    except PermissionError as exc:
        raise CorruptRecordingError(path, f"cannot read: {exc.strerror or exc}") from exc
    except FileNotFoundError as exc:
        raise CorruptRecordingError(path, f"missing file: {exc}") from exc
    except _reader_errors() as exc:
        raise _reader_error(path, exc) from exc
    except (OSError, ValueError, KeyError, AssertionError, struct.error) as exc:
        raise CorruptRecordingError(path, f"cannot open bag: {exc}") from exc
    except PROGRAMMING_ERRORS:
        raise
    except Exception as exc:  # rosbags meeting a damaged file or metadata.yaml (TypeError...)
        what = "cannot open bag (metadata.yaml or a storage file is damaged)"
        raise as_recording_error(path, what if path.is_dir() else "cannot open bag", exc) from exc


def _reader_error(path: Path, exc: Exception) -> RecordingError:
    text = str(exc)
    if text.startswith("Serialization format"):
        formats = text.split("{", 1)[-1].split("}", 1)[0]
        return UnsupportedFormatError(path, f"unsupported serialization format {formats}")
    if "seems to be empty" in text:
        return CorruptRecordingError(path, "empty file (0 bytes)")
    if "not supported" in text or "Unrecognized" in text:
        return UnsupportedFormatError(path, text.rstrip("."))
    return CorruptRecordingError(path, text.rstrip("."))


def _range(count: int, start: int, end_exclusive: int) -> tuple[int | None, int | None]:
    """rosbags reports start=2**63-1, end=0 for empty bags: turn that into None. A damaged
    metadata.yaml can hold floats (inf) or negative numbers: those are refused here."""
    for name, value in (("message count", count), ("start", start), ("end", end_exclusive)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"the bag's {name} is not an integer: {value!r}")
    if count <= 0 or start >= _NO_TIME or end_exclusive <= 0 or end_exclusive <= start:
        return None, None
    return start, end_exclusive - 1


def _open_rosbag2_dir(path: Path) -> BagFile:
    if not (path / "metadata.yaml").is_file():
        raise UnsupportedFormatError(path, "not a rosbag2 folder: metadata.yaml is missing")
    reader = Reader2(path)
    reader.open()
    try:
        directory = reader.storage
        if not isinstance(directory, DirectoryReader):  # rosbags picks it for any folder
            raise TypeError(f"rosbags opened {path} as {type(directory).__name__}, not a folder")
        meta = directory.metadata
        first, last = _range(meta.message_count, meta.start_time, meta.end_time)
        # rosbags' two storage plugins; ReaderProtocol does not declare their ``path``
        storages = [s for s in directory.storages if isinstance(s, McapReader | Sqlite3Reader)]
        if len(storages) != len(directory.storages):
            raise TypeError(f"{path}: a storage file rosbags opened with an unknown plugin")
        storage_id = "sqlite3" if storages and isinstance(storages[0], Sqlite3Reader) else "mcap"
        custom, custom_problems = _clean_custom(path, meta.custom)
        compression = None
        if meta.compression_mode:
            compression = f"{meta.compression_format} ({meta.compression_mode})"
        return BagFile(
            path=path,
            kind="rosbag2",
            storage=storage_id,
            connections=list(reader.connections),
            message_count=int(meta.message_count),
            first_ns=first,
            last_ns=last,
            files=[Path(str(s.path)).name for s in storages],  # rosbags types it as RPath
            ros_distro=meta.ros_distro or None,
            custom_data=custom,
            problems=custom_problems,
            compression=compression,
            _reader=_DirectoryMessages(reader, storages, meta.compression_mode == "message"),
            _storages=storages,
        )
    except BaseException:
        reader.close()
        raise


def _clean_custom(path: Path, custom: Any) -> tuple[dict[str, Any], list[str]]:
    """custom_data is a map of strings; YAML can make a value a list or mapping (aliases can
    make one a billion-element bomb, cheap to load, ruinous to print): such values are
    dropped with a problem, never converted to text."""
    if not isinstance(custom, dict):
        return {}, ([] if not custom else [f"{path}: metadata.yaml custom_data is not a map"])
    kept: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in custom.items():
        scalar = isinstance(value, str | int | float | bool | None)
        if isinstance(key, str) and scalar and len(str(value)) <= MAX_CUSTOM_TEXT:
            kept[key] = value
            continue
        name = key if isinstance(key, str) else type(key).__name__
        problems.append(
            f"{path}: metadata.yaml custom_data {name[:80]!r} is not a short text; ignored"
        )
    return kept, problems


class _DirectoryMessages:
    """Messages of a rosbag2 folder, merged across its storage files.

    rosbags' DirectoryReader matches a file's connections to metadata.yaml's by topic, type
    AND QoS; real recorders write different QoS profiles to the two places (talker_mcap), which
    silently yields no messages. We match on topic and type only.
    """

    def __init__(self, reader: Reader2, storages: list[Any], zstd_messages: bool) -> None:
        self.reader = reader
        self.storages = storages
        self.zstd_messages = zstd_messages

    def messages(
        self, connections: list[Connection], start: int | None, stop: int | None
    ) -> Iterator[tuple[Connection, int, bytes]]:
        wanted = {(c.topic, c.msgtype): c for c in connections}
        sources = []
        for storage in self.storages:
            conns = [c for c in storage.connections if (c.topic, c.msgtype) in wanted]
            if conns:
                sources.append(self._one(storage, conns, wanted, start, stop))
        return heapq.merge(*sources, key=lambda m: m[1])

    def _one(
        self,
        storage: Any,
        conns: list[Connection],
        wanted: dict[tuple[str, str], Connection],
        start: int | None,
        stop: int | None,
    ) -> Iterator[tuple[Connection, int, bytes]]:
        for conn, timestamp, data in storage.messages(conns, start, stop):
            if self.zstd_messages:
                data = _zstd_decompress(data)
            yield wanted[(conn.topic, conn.msgtype)], timestamp, data

    def close(self) -> None:
        self.reader.close()


def _zstd_decompress(data: bytes) -> bytes:
    from rosbags.rosbag2.reader import zstd

    return zstd.decompress(data)


def _open_lone(path: Path, storage: McapReader | Sqlite3Reader, storage_id: str) -> BagFile:
    storage.open()
    try:
        meta = storage.metadata
        first, last = _range(meta.message_count, meta.start_time, meta.end_time)
        conns = list(storage.connections)
        bad = {
            c.ext.serialization_format
            for c in conns
            if isinstance(c.ext, ConnectionExtRosbag2) and c.ext.serialization_format != "cdr"
        }
        if (
            conns
            and len(bad)
            and all(
                isinstance(c.ext, ConnectionExtRosbag2) and c.ext.serialization_format != "cdr"
                for c in conns
            )
        ):
            names = ", ".join(repr(b) for b in sorted(bad))
            raise UnsupportedFormatError(path, f"unsupported serialization format {names}")
        return BagFile(
            path=path,
            kind="rosbag2",
            storage=storage_id,
            connections=conns,
            message_count=int(meta.message_count),
            first_ns=first,
            last_ns=last,
            files=[path.name],
            _reader=_LoneReader(storage),
            _storages=[storage],
        )
    except BaseException:
        storage.close()
        raise


class _LoneReader:
    """Adapts a storage plugin (which filters on the exact connection objects) to BagFile."""

    def __init__(self, storage: McapReader | Sqlite3Reader) -> None:
        self.storage = storage

    def messages(
        self, connections: list[Connection], start: int | None, stop: int | None
    ) -> Iterator[tuple[Connection, int, bytes]]:
        return self.storage.messages(connections, start, stop)

    def close(self) -> None:
        self.storage.close()


def _open_rosbag1(path: Path) -> BagFile:
    from rosbags.rosbag1 import Reader as Reader1

    reader = Reader1(path)
    reader.open()
    try:
        count = sum(len(v) for v in reader.indexes.values())
        first, last = _range(count, reader.start_time, reader.end_time)
        compressions = sorted({_chunk_compression(reader, c.pos) for c in reader.chunk_infos})
        return BagFile(
            path=path,
            kind="rosbag1",
            storage="rosbag1",
            connections=list(reader.connections),
            message_count=count,
            first_ns=first,
            last_ns=last,
            files=[path.name],
            compression=",".join(c for c in compressions if c) or None,
            _reader=reader,
            _storages=[reader],
        )
    except BaseException:
        reader.close()
        raise


def _chunk_compression(reader: Reader1, pos: int) -> str:
    chunk = reader.chunks.get(pos)
    if chunk is None:
        return ""
    from rosbags.rosbag1.reader import decompressors

    for name, func in decompressors.items():
        if chunk.decompressor is func:
            return name
    return "unknown"
