"""A ROS 2 topic's signal rows decoded all at once, as numpy views over its raw CDR messages.

Decoding message by message (rosbags' generated deserializer builds a Python object per
message and nested field, then the flattener walks it) was most of ``explain`` of a 4 MB,
18,500-message bag. Most topics repeat one layout: fixed fields, a ``frame_id`` of the same
length in every header, arrays of the same length. For such a topic the byte offset of every
channel is the same in every message, so a channel is one strided view over the topic's
messages laid side by side.

``decode_rows`` finds those offsets by walking the first message exactly as rosbags'
generated CDR deserializer does (``rosbags.serde.cdr.generate_deserialize_cdr``: the same
alignment rules), then uses them only when

- every message is little-endian CDR of the same length, with the same string lengths and
  sequence counts as the first (so the same offsets), and every string rosbags would decode
  holds valid UTF-8 and its terminator (so rosbags would decode every message, none skipped);
- each of the flattener's channels is a number, an array of numbers or a builtin Time at a
  known offset (else the topic goes the message-by-message way);
- and the rows it gives for the first, middle and last messages equal, bit for bit, what the
  flattener makes of rosbags' decoding of them.

Otherwise it returns None and the caller decodes message by message, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from rosbags.interfaces import Nodetype
from rosbags.serde.utils import SIZEMAP, align, align_after

from robotrace_desktop.readers.rosbag.flatten import Flattener, stamp_ns
from robotrace_desktop.readers.rosbag.typestore import Decoder

if TYPE_CHECKING:
    from rosbags.interfaces.typing import Basename

_TIME_TYPES = frozenset({"builtin_interfaces/msg/Time", "builtin_interfaces/msg/Duration"})
#: numpy dtypes of CDR primitives (little-endian); float128 and strings are not columns
_DTYPES: dict[str, np.dtype[Any]] = {
    "bool": np.dtype("u1"),
    "byte": np.dtype("i1"),
    "char": np.dtype("u1"),
    "int8": np.dtype("i1"),
    "int16": np.dtype("<i2"),
    "int32": np.dtype("<i4"),
    "int64": np.dtype("<i8"),
    "uint8": np.dtype("u1"),
    "uint16": np.dtype("<u2"),
    "uint32": np.dtype("<u4"),
    "uint64": np.dtype("<u8"),
    "float32": np.dtype("<f4"),
    "float64": np.dtype("<f8"),
}
Path = tuple[str | int, ...]


class _NotColumnarError(Exception):
    """This topic's messages cannot be read as columns (the caller decodes them one by one)."""


@dataclass
class _Layout:
    """Where the first message keeps what: absolute byte offsets (encapsulation header
    included)."""

    #: primitive leaves: path -> (offset, CDR type name, element count or None for a scalar)
    leaves: dict[Path, tuple[int, str, int | None]] = field(default_factory=dict)
    #: nested messages: path -> type name
    names: dict[Path, str] = field(default_factory=dict)
    #: arrays and sequences of messages: path -> how many elements the first message has
    lengths: dict[Path, int] = field(default_factory=dict)
    #: offsets of the uint32 length of every string and the count of every sequence
    counts: list[int] = field(default_factory=list)
    #: (offset of the first byte, length including the terminator) of every string
    strings: list[tuple[int, int]] = field(default_factory=list)


def decode_rows(
    decoder: Decoder, flattener: Flattener, raws: Sequence[bytes]
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """(rows (N, channels) float64, header stamps (N,) int64 or None when the type has none) of
    ``raws``, exactly as ``flattener.values(decoder(raw))`` and ``stamp_ns`` give them; None when
    the topic cannot be read as columns (see the module docstring). Messages of a few distinct
    lengths (a GPS fix whose status text changes) are read length by length."""
    if decoder.ros1 or type(flattener) is not Flattener or not raws or not flattener.channels:
        return None
    lengths = np.fromiter(map(len, raws), np.int64, len(raws))
    sizes = np.unique(lengths)
    if sizes.size > MAX_LAYOUTS:
        return None
    rows = np.empty((len(raws), len(flattener.channels)))
    stamps: np.ndarray | None = None
    for size in sizes.tolist():
        members = np.flatnonzero(lengths == size)
        part = _decode_group(decoder, flattener, [raws[i] for i in members.tolist()])
        if part is None:
            return None
        rows[members] = part[0]
        if part[1] is not None:
            if stamps is None:
                if size != sizes[0]:
                    return None  # a type has a stamp in every message or in none
                stamps = np.empty(len(raws), np.int64)
            stamps[members] = part[1]
        elif stamps is not None:
            return None
    return rows, stamps


#: at most this many distinct message lengths (each its own layout) per topic
MAX_LAYOUTS = 8


def _decode_group(
    decoder: Decoder, flattener: Flattener, raws: Sequence[bytes]
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """``decode_rows`` of messages of one length."""
    length = len(raws[0])
    if length < 8:
        return None
    data = b"".join(raws)
    table = np.frombuffer(data, np.uint8).reshape(len(raws), length)
    if table[:, 0].any() or not (table[:, 1] == 1).all():
        return None  # not all little-endian CDR: rosbags picks the deserializer per message
    try:
        layout = _walk_message(decoder, raws[0])
        _same_shape(table, layout)
        first = decoder(raws[0])
        rows = _rows(data, length, len(raws), layout, flattener, _Constants(decoder, first))
        stamps = _stamps(data, length, len(raws), layout, decoder)
    except _NotColumnarError:
        return None
    for i in sorted({0, len(raws) // 2, len(raws) - 1}):
        msg = decoder(raws[i])  # what the message-by-message way makes of it
        if not _same_row(rows[i], flattener.values(msg)):
            return None
        want = stamp_ns(msg)
        if (want is None) != (stamps is None) or (stamps is not None and stamps[i] != want):
            return None
    return rows, stamps


def _same_row(got: np.ndarray, want: np.ndarray) -> bool:
    return got.shape == want.shape and bool(
        np.all((got == want) | (np.isnan(got) & np.isnan(want)))
    )


def _same_shape(table: np.ndarray, layout: _Layout) -> None:
    """Every message has the first one's string lengths and sequence counts, and its strings
    are terminated, valid UTF-8 (what rosbags checks before it decodes one)."""
    for offset in layout.counts:
        part = table[:, offset : offset + 4]
        if not (part == part[0]).all():
            raise _NotColumnarError
    for offset, size in layout.strings:
        part = table[:, offset : offset + size]
        if part[:, -1].any():
            raise _NotColumnarError  # a missing terminator: rosbags rejects the message
        for value in np.unique(part, axis=0):
            try:
                bytes(value[:-1]).decode()
            except UnicodeDecodeError:
                raise _NotColumnarError from None


# -- offsets: rosbags' generated CDR deserializer, walked instead of generated -------------------


def _walk_message(decoder: Decoder, raw: bytes) -> _Layout:
    layout = _Layout()
    payload = memoryview(raw)[4:]
    walker = _Walker(decoder.typestore, payload, layout)
    try:
        end = walker.message(decoder.msgtype, 0, ())
    except (KeyError, IndexError, ValueError, TypeError, AttributeError):
        raise _NotColumnarError from None
    if end + 4 + 3 < len(raw) or end > len(payload):
        raise _NotColumnarError  # rosbags: "CDR message size mismatch"
    return layout


class _Walker:
    def __init__(self, typestore: Any, payload: memoryview, layout: _Layout) -> None:
        self.typestore = typestore
        self.payload = payload
        self.layout = layout

    def _u32(self, pos: int) -> int:
        if pos + 4 > len(self.payload):
            raise _NotColumnarError
        return int.from_bytes(self.payload[pos : pos + 4], "little")

    def _string(self, pos: int) -> int:
        """A string at ``pos`` (its length there): checked as rosbags checks it; the new pos."""
        size = self._u32(pos)
        end = pos + 4 + size
        if size < 1 or end > len(self.payload) or self.payload[end - 1] != 0:
            raise _NotColumnarError
        self.layout.counts.append(pos + 4)
        self.layout.strings.append((pos + 8, size))
        return end

    def message(self, typename: str, pos: int, path: Path) -> int:
        self.layout.names[path] = typename
        fields = self.typestore.get_msgdef(typename).fields
        aligned = 8
        for index, (name, desc) in enumerate(fields):
            here = (*path, name)
            kind = desc[0]
            if kind == Nodetype.NAME:
                pos = self.message(desc[1], pos, here)
                aligned = align_after(desc, self.typestore)
            elif kind == Nodetype.BASE:
                base = desc[1][0]
                if base == "string":
                    pos = self._string(pos)
                    aligned = 1
                else:
                    self._leaf(here, pos, base, None)
                    pos += SIZEMAP[base]
                    aligned = SIZEMAP[base]
            elif kind == Nodetype.ARRAY:
                pos, aligned = self._array(desc, pos, here)
            else:
                pos, aligned = self._sequence(desc, pos, here)
                aligned = min(4, aligned)
            if index + 1 < len(fields):
                following = align(fields[index + 1][1], self.typestore)
                if aligned < following:
                    pos = (pos + following - 1) & -following
                    aligned = following
        return pos

    def _leaf(self, path: Path, pos: int, base: Basename, count: int | None) -> None:
        size = SIZEMAP[base] * (1 if count is None else count)
        if pos + size > len(self.payload):
            raise _NotColumnarError
        self.layout.leaves[path] = (pos + 4, base, count)

    def _array(self, desc: Any, pos: int, path: Path) -> tuple[int, int]:
        subdesc, length = desc[1]
        if subdesc[0] == Nodetype.BASE:
            base = subdesc[1][0]
            if base == "string":
                for i in range(length):
                    if i:
                        pos = (pos + 3) & -4
                    pos = self._string(pos)
                return pos, 1
            self._leaf(path, pos, base, length)
            return pos + length * SIZEMAP[base], SIZEMAP[base]
        before = align(subdesc, self.typestore)
        after = align_after(subdesc, self.typestore)
        self.layout.lengths[path] = length
        for i in range(length):
            if before > after:
                pos = (pos + before - 1) & -before
            pos = self.message(subdesc[1], pos, (*path, i))
        return pos, after

    def _sequence(self, desc: Any, pos: int, path: Path) -> tuple[int, int]:
        size = self._u32(pos)
        self.layout.counts.append(pos + 4)
        pos += 4
        subdesc = desc[1][0]
        if size > self.typestore.max_sequence_length:
            raise _NotColumnarError
        if subdesc[0] == Nodetype.BASE:
            base = subdesc[1][0]
            if base == "string":
                for _ in range(size):
                    pos = (pos + 3) & -4
                    pos = self._string(pos)
                return pos, 1
            before = align(subdesc, self.typestore)
            if before > 4 and size:
                pos = (pos + before - 1) & -before
            self._leaf(path, pos, base, size)
            return pos + size * SIZEMAP[base], before
        before = align(subdesc, self.typestore)
        self.layout.lengths[path] = size
        for i in range(size):
            pos = (pos + before - 1) & -before
            pos = self.message(subdesc[1], pos, (*path, i))
        return pos, align_after(subdesc, self.typestore)


# -- columns ------------------------------------------------------------------------------------


def _column(data: bytes, length: int, n: int, offset: int, base: str, count: int) -> np.ndarray:
    """(n, count) float64 of a primitive at ``offset`` in each of n messages of ``length``."""
    dtype = _DTYPES.get(base)
    if dtype is None:
        raise _NotColumnarError
    view = np.ndarray(
        (n, count), dtype, buffer=data, offset=offset, strides=(length, dtype.itemsize)
    )
    if base == "bool":
        return view.astype(np.bool_).astype(np.float64)  # any non-zero byte is True
    return view.astype(np.float64)


def _time_ns(data: bytes, length: int, n: int, layout: _Layout, path: Path) -> np.ndarray:
    sec = layout.leaves.get((*path, "sec"))
    nanosec = layout.leaves.get((*path, "nanosec"))
    if sec is None or nanosec is None or sec[2] is not None or nanosec[2] is not None:
        raise _NotColumnarError
    columns = []
    for offset, base, _ in (sec, nanosec):
        dtype = _DTYPES.get(base)
        if dtype is None or dtype.kind == "f":
            raise _NotColumnarError
        view = np.ndarray((n,), dtype, buffer=data, offset=offset, strides=(length,))
        columns.append(view.astype(np.int64))
    return columns[0] * 1_000_000_000 + columns[1]


class _Constants:
    """A type's constants (``STATUS_FIX``…) are channels too, the same in every message."""

    def __init__(self, decoder: Decoder, first: Any) -> None:
        self.decoder, self.first = decoder, first

    def column(self, layout: _Layout, path: Path, block: Any, n: int) -> np.ndarray | None:
        parent, name = path[:-1], path[-1] if path else None
        owner = layout.names.get(parent)
        if owner is None or not isinstance(name, str):
            return None
        typestore = self.decoder.typestore
        if name in dict(typestore.get_msgdef(owner).fields):
            return None  # a field, not a constant
        value = block.get(self.first)
        if type(value) not in (int, float, bool):
            return None
        return np.full((n, 1), float(value))


def _rows(
    data: bytes, length: int, n: int, layout: _Layout, flattener: Flattener, constants: _Constants
) -> np.ndarray:
    parts: list[np.ndarray] = []
    for block in flattener.blocks:
        path = block.steps
        if path is None:
            raise _NotColumnarError
        width = block.width
        leaf = layout.leaves.get(path)
        if width == 0:
            if leaf is not None and leaf[2] is None:
                parts.append(_column(data, length, n, leaf[0], leaf[1], 1))
            elif layout.names.get(path) in _TIME_TYPES:
                parts.append((_time_ns(data, length, n, layout, path) / 1e9)[:, None])
            elif leaf is None and path not in layout.names and _missing(layout, path):
                parts.append(np.full((n, 1), np.nan))
            elif (constant := constants.column(layout, path, block, n)) is not None:
                parts.append(constant)
            else:
                raise _NotColumnarError
            continue
        if leaf is None or leaf[2] is None:
            raise _NotColumnarError
        taken = min(width, leaf[2])
        block_rows = np.full((n, width), np.nan)
        if taken:
            block_rows[:, :taken] = _column(data, length, n, leaf[0], leaf[1], taken)
        parts.append(block_rows)
    rows = np.concatenate(parts, axis=1) if parts else np.zeros((n, 0))
    if rows.shape[1] != len(flattener.channels):
        raise _NotColumnarError
    return rows


def _missing(layout: _Layout, path: Path) -> bool:
    """A path through an element the first message's array of messages does not have: the
    flattener's getter answers None (a NaN channel) for it."""
    for cut, step in enumerate(path):
        if isinstance(step, int):
            count = layout.lengths.get(path[:cut])
            if count is None:
                return False
            if step >= count:
                return True
    return False


def _stamps(
    data: bytes, length: int, n: int, layout: _Layout, decoder: Decoder
) -> np.ndarray | None:
    """``stamp_ns`` of every message: header.stamp, else a top-level ``stamp``, when it is a
    Time (has ``nanosec``); None when the type has neither."""
    fields = dict(decoder.typestore.get_msgdef(decoder.msgtype).fields)
    if "header" in fields:
        header = layout.names.get(("header",))
        if header is None:
            return None
        inner = dict(decoder.typestore.get_msgdef(header).fields)
        if "stamp" not in inner:
            return None
        path: Path = ("header", "stamp")
    elif "stamp" in fields:
        path = ("stamp",)
    else:
        return None
    stamp_type = layout.names.get(path)
    if stamp_type is None:
        return None
    if "nanosec" not in dict(decoder.typestore.get_msgdef(stamp_type).fields):
        return None
    return _time_ns(data, length, n, layout, path)
