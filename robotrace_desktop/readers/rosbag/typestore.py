"""Per-connection message decoders: embedded definitions where the bag has them, else a default
typestore, and a plain-sentence reason when neither works.

AnyReader builds one typestore for the whole bag and fails the whole bag on one bad definition
(e.g. rosbags cannot parse the service-event definitions of shared ``service_events_mcap``). Here
each connection's types are registered on their own, so one bad type costs one topic.

Default typestore: the distro named in metadata.yaml (``ros_distro``) when rosbags knows it,
else ROS 2 Humble (the recent LTS whose types most older bags use); ROS 1 falls back to Noetic.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache

from rosbags.interfaces import (
    Connection,
    ConnectionExtRosbag2,
    MessageDefinitionFormat,
)
from rosbags.typesys import Stores, get_types_from_idl, get_types_from_msg
from rosbags.typesys.base import make_typesdict
from rosbags.typesys.msg import MSGParser
from rosbags.typesys.store import Typestore

from robotrace_desktop.readers.rosbag import msg_cache as ros_msg_cache
from robotrace_desktop.readers.rosbag.lazy_serde import lazy_typestore, prepare_deserializer

DEFAULT_ROS2_STORE = Stores.ROS2_HUMBLE
DEFAULT_ROS1_STORE = Stores.ROS1_NOETIC
EMBEDDED = "embedded definition"


@cache
def store(name: Stores) -> Typestore:
    """Built-in typestores are immutable in our use: cache one per process."""
    return lazy_typestore(name)


def default_store_name(ros1: bool, ros_distro: str | None) -> Stores:
    if ros1:
        return DEFAULT_ROS1_STORE
    distro = (ros_distro or "").strip().lower()
    if distro == "rolling":
        return Stores.LATEST
    for candidate in Stores:
        if candidate.value == f"ros2_{distro}":
            return candidate
    return DEFAULT_ROS2_STORE


@dataclass(frozen=True, slots=True)
class Decoder:
    """Turns one connection's raw bytes into a rosbags message object."""

    typestore: Typestore
    msgtype: str
    ros1: bool
    source: str  # "embedded definition" or the default store's name

    def __call__(self, raw: bytes) -> object:
        if self.ros1:
            return self.typestore.deserialize_ros1(raw, self.msgtype)
        return self.typestore.deserialize_cdr(raw, self.msgtype)


_SEPARATOR = "=" * 80 + "\n"
# Parsed .msg sections by their text: a bag's definitions repeat their dependencies (33
# topics embed std_msgs/Header 20 times), and rosbags' PEG parser costs ~5 ms a section.
_SECTIONS: dict[str, dict[str, object]] = {}


def _parse_msg(text: str, msgtype: str) -> dict[str, object]:
    """``get_types_from_msg(text, msgtype)``, parsing each "MSG:" section once per process.

    The grammar reads sections one after another (a separator line, then "MSG: name" and its
    lines), so parsing them apart and merging in order gives the same types dict. Any doubt
    (a section that does not parse alone) falls back to rosbags on the whole text, so a broken
    definition fails with rosbags' own error, word for word."""
    sections = f"MSG: {msgtype}\n{text}".split(_SEPARATOR)
    if any(not part.startswith("MSG: ") for part in sections):
        return dict(get_types_from_msg(text, msgtype))
    types: dict[str, object] = {}
    try:
        for part in sections:
            got = _SECTIONS.get(part)
            if got is None:
                got = ros_msg_cache.load(part)  # parsed by an earlier process (a scan)
                if got is None:
                    got = dict(make_typesdict(MSGParser(part).specification()))
                    ros_msg_cache.save(part, got)
                if len(_SECTIONS) > _MAX_CACHED:
                    _SECTIONS.clear()
                _SECTIONS[part] = got
            types.update(got)
    except Exception:  # rosbags' parser raises several types; let it say why on the whole
        return dict(get_types_from_msg(text, msgtype))
    return types


def _parse_definition(conn: Connection) -> dict[str, object]:
    msgdef = conn.msgdef
    if msgdef.format == MessageDefinitionFormat.MSG:
        return _parse_msg(msgdef.data, conn.msgtype)
    sep = "=" * 80 + "\n"
    types: dict[str, object] = {}
    if msgdef.data.startswith(f"{sep}IDL: "):
        for section in msgdef.data.split(sep)[1:]:
            _, idl = section.split("\n", 1)
            types.update(get_types_from_idl(idl))
    else:
        types.update(get_types_from_idl(msgdef.data))
    return types


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    if len(text) > 160:
        text = text[:157] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# Process-wide: a typestore collecting embedded definitions (per ROS version), and decoders by
# (ros1, default store, type, definition). A definition conflicting with one already in the
# shared store gets a typestore of its own.
_SHARED = {False: lazy_typestore(Stores.EMPTY), True: lazy_typestore(Stores.EMPTY)}
_DONE: dict[tuple[bool, str, str, str, str], Decoder | str] = {}
_MAX_CACHED = 4096
_LOCK = threading.Lock()


@dataclass
class Decoders:
    """Decoders by connection id, the reason for every connection that has none, and the
    default-typestore decoder to retry with when an embedded definition fails on real data
    (shared talker_sqlite3 embeds truncated definitions such as ``uint8 level`` for Log)."""

    by_id: dict[int, Decoder]
    problems: dict[int, str]
    fallbacks: Mapping[int, Decoder]


class _Fallbacks(Mapping[int, Decoder]):
    """Default-typestore decoders for connections with embedded definitions, built when first
    asked for: building one generates rosbags' deserializer code for the type (a third of a
    33-topic bag's open), and they are needed only when an embedded definition fails."""

    def __init__(self, ros1: bool, default_name: Stores) -> None:
        self._ros1, self._default_name = ros1, default_name
        self._msgtypes: dict[int, str] = {}
        self._built: dict[int, Decoder | None] = {}

    def add(self, conn_id: int, msgtype: str) -> None:
        self._msgtypes[conn_id] = msgtype

    def _build(self, conn_id: int) -> Decoder | None:
        if conn_id not in self._built:
            msgtype = self._msgtypes.get(conn_id)
            got: Decoder | str | None = None
            if msgtype is not None:
                got = _default_decoder(msgtype, self._ros1, self._default_name)
            self._built[conn_id] = got if isinstance(got, Decoder) else None
        return self._built[conn_id]

    def __getitem__(self, conn_id: int) -> Decoder:
        got = self._build(conn_id)
        if got is None:
            raise KeyError(conn_id)
        return got

    def __contains__(self, conn_id: object) -> bool:
        return isinstance(conn_id, int) and self._build(conn_id) is not None

    def __iter__(self) -> Iterator[int]:
        return iter([c for c in self._msgtypes if self._build(c) is not None])

    def __len__(self) -> int:
        return sum(1 for _ in self)


def build_decoders(
    connections: Iterable[Connection], *, ros1: bool, ros_distro: str | None
) -> Decoders:
    decoders: dict[int, Decoder] = {}
    problems: dict[int, str] = {}
    default_name = default_store_name(ros1, ros_distro)
    fallbacks = _Fallbacks(ros1, default_name)
    shared = _SHARED[ros1]
    # Same (type, definition) → same decoder, in this bag (ROS 1 repeats connections per
    # publisher) and across bags: generating rosbags' (de)serialisers is the costly part.
    done = _DONE
    for conn in connections:
        ext = conn.ext
        if isinstance(ext, ConnectionExtRosbag2) and ext.serialization_format != "cdr":
            problems[conn.id] = f"unsupported serialization format {ext.serialization_format!r}"
            continue
        key = (ros1, default_name.value, conn.msgtype, conn.msgdef.format.name, conn.msgdef.data)
        with _LOCK:  # the shared typestore is not safe to extend from two threads at once
            if key not in done:
                if len(done) > _MAX_CACHED:
                    done.clear()
                done[key] = _decoder_for(conn, shared, ros1=ros1, default_name=default_name)
            got = done[key]
        if isinstance(got, str):
            problems[conn.id] = got
            continue
        decoders[conn.id] = got
        if got.source == EMBEDDED:
            fallbacks.add(conn.id, conn.msgtype)
    return Decoders(decoders, problems, fallbacks)


def _decoder_for(
    conn: Connection, shared: Typestore, *, ros1: bool, default_name: Stores
) -> Decoder | str:
    if conn.msgdef.format != MessageDefinitionFormat.NONE and conn.msgdef.data.strip():
        try:
            types = _parse_definition(conn)
        except Exception as exc:  # rosbags' parsers raise several types on bad text
            return _or_default(conn, ros1, default_name, "unparseable message definition", exc)
        last: Exception | None = None
        for typestore in (shared, lazy_typestore(Stores.EMPTY)):
            try:
                # the parsed definitions are rosbags' Typesdict, held as plain dict[str, object]
                # (our cross-process parse cache stores them as JSON values)
                typestore.register(_unknown(typestore, types))  # type: ignore[arg-type]
                prepare_deserializer(typestore, conn.msgtype, ros1=ros1)
            except Exception as exc:
                last = exc
                continue
            return Decoder(typestore, conn.msgtype, ros1, EMBEDDED)
        return _or_default(conn, ros1, default_name, "cannot build decoder", last)
    return _default_decoder(conn.msgtype, ros1, default_name, "no type definition in the bag")


def _unknown(typestore: Typestore, types: dict[str, object]) -> dict[str, object]:
    """``types`` less those the store already holds with exactly this definition: registering
    them again is a no-op that still generates and executes their dataclass code (a bag's
    definitions repeat std_msgs/Header and geometry types 89 times in 33 topics)."""
    have = typestore.fielddefs
    return {name: value for name, value in types.items() if have.get(name) != value}


def _or_default(
    conn: Connection, ros1: bool, default_name: Stores, what: str, exc: Exception | None
) -> Decoder | str:
    """The default typestore's decoder when the embedded definition is unusable."""
    reason = f"{what} ({_reason(exc) if exc else 'unknown error'})"
    return _default_decoder(conn.msgtype, ros1, default_name, reason)


def _default_decoder(
    msgtype: str, ros1: bool, default_name: Stores, why: str = "embedded definition failed"
) -> Decoder | str:
    default = store(default_name)
    if msgtype not in default.fielddefs:
        return f"{why} and {msgtype} is not in the default typestore ({default_name.value})"
    try:
        prepare_deserializer(default, msgtype, ros1=ros1)
    except Exception as exc:
        return f"{why}; cannot build decoder from {default_name.value} ({_reason(exc)})"
    return Decoder(default, msgtype, ros1, default_name.value)
