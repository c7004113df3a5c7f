"""Parsed ROS .msg definition sections kept on disk between processes.

rosbags' PEG parser takes ~2 ms a "MSG:" section; a 33-topic bag embeds 44 distinct sections,
so every process opening the bag (a scan, then each ``explain``, the viewer) spent ~90 ms
parsing the same text before reading a message. The parsed form (rosbags' typesdict: constants
and field descriptions) is plain data: one small JSON file per section text in the cache
folder, named by a hash of the text and rosbags' version. A missing, unreadable or damaged file
is the parser's job again; a cache that cannot be written is no error.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from rosbags.interfaces import Nodetype
from rosbags.typesys import base, msg

from robotrace_desktop import paths

_FORMAT = "ros-msg-sections/1"


def _parser_version() -> str:
    """The parser's own files (path, size, mtime): another rosbags parses anew. Stats, not
    ``importlib.metadata``, which costs more to import than the cache saves on a small bag."""
    parts = []
    for module in (msg, base):
        try:
            st = Path(str(module.__file__)).stat()
            parts.append(f"{module.__file__}:{st.st_size}:{st.st_mtime_ns}")
        except (OSError, TypeError):
            parts.append(str(module.__name__))
    return "|".join(parts)


_VERSION = _parser_version()


def _file(section: str) -> Path:
    digest = hashlib.sha256(f"{_FORMAT}\0{_VERSION}\0{section}".encode("utf-8", "surrogateescape"))
    return paths.cache_dir() / "ros_msg" / f"{digest.hexdigest()[:40]}.json"


def load(section: str) -> dict[str, object] | None:
    """The typesdict of one section as rosbags parsed it before, or None."""
    try:
        stored = json.loads(_file(section).read_text(encoding="utf-8"))
        if stored.get("section") != section:
            return None  # a hash collision or a damaged file: parse again
        return {name: _decode_type(value) for name, value in stored["types"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save(section: str, types: dict[str, object]) -> None:
    """Keep ``types`` for ``section`` when it comes back exactly as it is (else not at all)."""
    try:
        encoded = {name: _encode_type(value) for name, value in types.items()}
        text = json.dumps({"section": section, "types": encoded})
        back = json.loads(text)["types"]
        if {name: _decode_type(value) for name, value in back.items()} != types:
            return
        target = _file(section)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, target)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return


def _encode_type(value: Any) -> list[Any]:
    consts, fields = value
    return [
        [[name, typ, const] for name, typ, const in consts],
        [[name, _encode_desc(desc)] for name, desc in fields],
    ]


def _decode_type(value: Any) -> tuple[list[Any], list[Any]]:
    consts, fields = value
    return (
        [(name, typ, const) for name, typ, const in consts],
        [(name, _decode_desc(desc)) for name, desc in fields],
    )


def _encode_desc(desc: Any) -> list[Any]:
    kind, payload = desc
    if kind == Nodetype.BASE:
        return [int(kind), [payload[0], payload[1]]]
    if kind == Nodetype.NAME:
        return [int(kind), payload]
    return [int(kind), [_encode_desc(payload[0]), payload[1]]]


def _decode_desc(value: Any) -> tuple[Any, Any]:
    kind, payload = Nodetype(value[0]), value[1]
    if kind == Nodetype.BASE:
        return (kind, (payload[0], payload[1]))
    if kind == Nodetype.NAME:
        return (kind, payload)
    return (kind, (_decode_desc(payload[0]), payload[1]))
