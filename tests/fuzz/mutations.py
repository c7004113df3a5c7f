"""Byte-level mutation operators for fuzzing the readers.

Every operator is a pure function of ``(data, params)``: the same bytes and the same small
JSON-able ``params`` always give the same output, so a failing case is reproduced from a recipe
(seed name + member file + op + params) without storing any recording bytes. Randomness, where
an operator needs it, comes from ``random.Random(params["seed"])``.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from typing import Any

Params = dict[str, Any]

#: Values that break length and count fields: huge, negative, off-by-one, zero.
INTERESTING = (
    b"\xff\xff\xff\xff",
    b"\xff\xff\xff\x7f",
    b"\x00\x00\x00\x80",
    b"\x00\x00\x00\x00",
    b"\x01\x00\x00\x00",
    b"\xff\xff\xff\xff\xff\xff\xff\xff",
    b"\xff\xff\xff\xff\xff\xff\xff\x7f",
    struct.pack("<I", 0x10000),
    struct.pack(">I", 0x7FFFFFFF),
)


def _at(data: bytes, frac: float) -> int:
    """A byte offset from a fraction of the length (recipes stay valid across seed sizes)."""
    if not data:
        return 0
    return min(len(data) - 1, max(0, int(frac * len(data))))


def bitflip(data: bytes, params: Params) -> bytes:
    """Flip ``count`` random bits (params: seed, count)."""
    if not data:
        return data
    rng = random.Random(params["seed"])
    out = bytearray(data)
    for _ in range(int(params.get("count", 1))):
        pos = rng.randrange(len(out))
        out[pos] ^= 1 << rng.randrange(8)
    return bytes(out)


def truncate(data: bytes, params: Params) -> bytes:
    """Keep the first ``frac`` of the bytes (params: frac in [0, 1])."""
    return data[: int(float(params["frac"]) * len(data))]


def zero_block(data: bytes, params: Params) -> bytes:
    """Overwrite ``length`` bytes at ``frac`` with zeros (params: frac, length)."""
    start = _at(data, float(params["frac"]))
    length = int(params["length"])
    end = min(len(data), start + length)
    return data[:start] + bytes(end - start) + data[end:]


def shuffle_chunks(data: bytes, params: Params) -> bytes:
    """Cut into ``chunk``-byte pieces and swap ``swaps`` random pairs (params: seed, chunk,
    swaps)."""
    size = max(1, int(params["chunk"]))
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    if len(pieces) < 2:
        return data
    rng = random.Random(params["seed"])
    for _ in range(int(params.get("swaps", 1))):
        a, b = rng.randrange(len(pieces)), rng.randrange(len(pieces))
        pieces[a], pieces[b] = pieces[b], pieces[a]
    return b"".join(pieces)


def insert_bytes(data: bytes, params: Params) -> bytes:
    """Insert ``length`` random bytes at ``frac`` (params: seed, frac, length)."""
    rng = random.Random(params["seed"])
    pos = int(float(params["frac"]) * len(data))
    blob = bytes(rng.randrange(256) for _ in range(int(params["length"])))
    return data[:pos] + blob + data[pos:]


def delete_bytes(data: bytes, params: Params) -> bytes:
    """Remove ``length`` bytes at ``frac`` (params: frac, length)."""
    pos = _at(data, float(params["frac"]))
    return data[:pos] + data[pos + int(params["length"]) :]


def interesting(data: bytes, params: Params) -> bytes:
    """Overwrite ``count`` random places with length-field killers from INTERESTING (params:
    seed, count)."""
    if len(data) < 8:
        return data
    rng = random.Random(params["seed"])
    out = bytearray(data)
    for _ in range(int(params.get("count", 1))):
        value = INTERESTING[rng.randrange(len(INTERESTING))]
        pos = rng.randrange(len(out) - len(value) + 1)
        out[pos : pos + len(value)] = value
    return bytes(out)


def replace_text(data: bytes, params: Params) -> bytes:
    """Replace the ``nth`` occurrence of ``old`` with ``new`` (text members: JSON, YAML);
    unchanged when ``old`` does not occur that often (params: old, new, nth)."""
    old, new = params["old"].encode(), params["new"].encode()
    pos = -1
    for _ in range(int(params.get("nth", 0)) + 1):
        pos = data.find(old, pos + 1)
        if pos < 0:
            return data
    return data[:pos] + new + data[pos + len(old) :]


def nest(data: bytes, params: Params) -> bytes:
    """Replace the member with ``depth`` copies of ``open`` (``[[[[…``: parsers that recurse
    run out of stack) (params: open, depth)."""
    return params["open"].encode() * int(params["depth"])


OPERATORS: dict[str, Callable[[bytes, Params], bytes]] = {
    "bitflip": bitflip,
    "truncate": truncate,
    "zero_block": zero_block,
    "shuffle_chunks": shuffle_chunks,
    "insert_bytes": insert_bytes,
    "delete_bytes": delete_bytes,
    "interesting": interesting,
    "replace_text": replace_text,
    "nest": nest,
}


def mutate(data: bytes, op: str, params: Params) -> bytes:
    """Apply operator ``op`` to ``data``. Raises KeyError for an unknown operator."""
    return OPERATORS[op](data, params)


def random_params(op: str, rng: random.Random, size: int) -> Params:
    """Plausible params for ``op`` on a member of ``size`` bytes (the long run draws these;
    the hypothesis test draws its own)."""
    seed = rng.randrange(2**31)
    if op == "bitflip":
        return {"seed": seed, "count": rng.choice([1, 2, 4, 16, 64])}
    if op == "truncate":
        return {"frac": round(rng.random(), 4)}
    if op == "zero_block":
        return {"frac": round(rng.random(), 4), "length": rng.choice([8, 64, 512, 4096])}
    if op == "shuffle_chunks":
        return {"seed": seed, "chunk": rng.choice([64, 512, 4096]), "swaps": rng.choice([1, 3])}
    if op == "insert_bytes":
        return {"seed": seed, "frac": round(rng.random(), 4), "length": rng.choice([1, 7, 64])}
    if op == "delete_bytes":
        return {"frac": round(rng.random(), 4), "length": rng.choice([1, 7, 64, 1024])}
    if op == "interesting":
        return {"seed": seed, "count": rng.choice([1, 2, 8])}
    if op == "nest":
        return {"open": rng.choice(["[", '{"a":', "- ", "a: "]), "depth": rng.choice([10, 10**5])}
    if op == "replace_text":
        old, new = rng.choice(TEXT_EDITS)
        return {"old": old, "new": new, "nth": rng.choice([0, 0, 1, 3])}
    raise KeyError(op)


#: Structured edits for text members: numbers made huge/negative/non-numeric, types swapped.
TEXT_EDITS: tuple[tuple[str, str], ...] = (
    ("1", "-1"),
    ("0", "99999999999999999999"),
    ("3", "1e308"),
    (": ", ': null, "x": '),
    ("[", "{"),
    ('"', ""),
    ("30", "0"),
    ("30", "-30"),
    ("fps", "fpz"),
    ("length", "lenght"),
    ("message_count: ", "message_count: -"),
    ("duration:", "duration: {nanoseconds: -5}, x:"),
    ("nanoseconds: ", "nanoseconds: 9"),
    ("nanoseconds_since_epoch: ", "nanoseconds_since_epoch: -"),
    ("relative_file_paths:", "relative_file_paths: [../../etc/passwd]\n  x:"),
    ("episode_index", "episode_lndex"),
    ('"shape": [', '"shape": [100000000, '),
    ('"dtype": "float32"', '"dtype": "object"'),
    ('"dtype": "video"', '"dtype": "image"'),
    ("mp4", "mp5"),
    (".parquet", "/../../x.parquet"),
    ('"t0_ns": ', '"t0_ns": -9223372036854775807'),
    ("true", '"yes"'),
    ("\n", ""),
)
