"""Typestores that generate each message (de)serializer when it is first used.

rosbags' ``Typestore.get_msgdef`` generates and compiles 13 functions per message type (CDR and
ROS 1 sizes, serializers for both endiannesses, deserializers, ROS 1 <-> CDR converters). A reader
needs one of them: the CDR little-endian deserializer for ROS 2, the ROS 1 deserializer for ROS 1.
Compiling the other twelve was half of building the decoders of a 33-topic bag (0.3 s of 0.6 s,
before any message is read). Here each function is generated on first access, with the very
same rosbags generators, so a message decodes exactly as rosbags' eager Msgdef decodes it.

Generated code looks nested types up through ``typestore.get_msgdef(name).<function>`` at call
time, so a lazy Msgdef is a drop-in for the nested lookups as well.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from rosbags.interfaces import Nodetype
from rosbags.serde.cdr import (
    generate_deserialize_cdr,
    generate_getsize_cdr,
    generate_serialize_cdr,
)
from rosbags.serde.ros1 import (
    generate_cdr_to_ros1,
    generate_deserialize_ros1,
    generate_getsize_ros1,
    generate_ros1_to_cdr,
    generate_serialize_ros1,
)
from rosbags.typesys import Stores, get_typestore
from rosbags.typesys.base import normalize_fieldname
from rosbags.typesys.store import Typestore

if TYPE_CHECKING:
    from rosbags.interfaces import Msgdef
    from rosbags.interfaces.typing import Fielddefs

_Make = Callable[["LazyMsgdef"], dict[str, Any]]


def _sizes_cdr(m: LazyMsgdef) -> dict[str, Any]:
    getsize, size = generate_getsize_cdr(m.fields, m.typestore)
    return {"getsize_cdr": getsize, "size_cdr": size}


def _sizes_ros1(m: LazyMsgdef) -> dict[str, Any]:
    getsize, size = generate_getsize_ros1(m.fields, m.typestore)
    return {"getsize_ros1": getsize, "size_ros1": size}


def _one(name: str, make: Callable[[LazyMsgdef], Any]) -> _Make:
    return lambda m: {name: make(m)}


# Attribute of rosbags' Msgdef -> how to make it (and what else that generator yields).
_MAKERS: dict[str, _Make] = {
    "size_cdr": _sizes_cdr,
    "getsize_cdr": _sizes_cdr,
    "size_ros1": _sizes_ros1,
    "getsize_ros1": _sizes_ros1,
    "serialize_cdr_le": _one(
        "serialize_cdr_le", lambda m: generate_serialize_cdr(m.fields, m.typestore, "le")
    ),
    "serialize_cdr_be": _one(
        "serialize_cdr_be", lambda m: generate_serialize_cdr(m.fields, m.typestore, "be")
    ),
    "deserialize_cdr_le": _one(
        "deserialize_cdr_le", lambda m: generate_deserialize_cdr(m.fields, m.typestore, "le")
    ),
    "deserialize_cdr_be": _one(
        "deserialize_cdr_be", lambda m: generate_deserialize_cdr(m.fields, m.typestore, "be")
    ),
    "serialize_ros1": _one(
        "serialize_ros1", lambda m: generate_serialize_ros1(m.fields, m.typestore)
    ),
    "deserialize_ros1": _one(
        "deserialize_ros1", lambda m: generate_deserialize_ros1(m.fields, m.typestore)
    ),
    "getsize_ros1_to_cdr": _one(
        "getsize_ros1_to_cdr",
        lambda m: generate_ros1_to_cdr(m.fields, m.name, m.typestore, copy=False),
    ),
    "ros1_to_cdr": _one(
        "ros1_to_cdr", lambda m: generate_ros1_to_cdr(m.fields, m.name, m.typestore, copy=True)
    ),
    "getsize_cdr_to_ros1": _one(
        "getsize_cdr_to_ros1",
        lambda m: generate_cdr_to_ros1(m.fields, m.name, m.typestore, copy=False),
    ),
    "cdr_to_ros1": _one(
        "cdr_to_ros1", lambda m: generate_cdr_to_ros1(m.fields, m.name, m.typestore, copy=True)
    ),
}


class LazyMsgdef:
    """rosbags' Msgdef with the same attributes, each function generated when first read."""

    # declared here: the generator lambdas above read them before the class body is analysed
    typestore: Typestore
    name: str
    fields: Fielddefs
    cls: type

    def __init__(self, typestore: Typestore, name: str) -> None:
        self.typestore = typestore
        self.name = name
        self.fields = [
            (normalize_fieldname(field), desc) for field, desc in typestore.fielddefs[name][1]
        ]
        self.cls = typestore.types[name]

    def __getattr__(self, attr: str) -> Any:  # only called for attributes not made yet
        make = _MAKERS.get(attr)
        if make is None:
            raise AttributeError(attr)
        self.__dict__.update(make(self))
        return self.__dict__[attr]


class LazyTypestore(Typestore):
    """A Typestore whose ``get_msgdef`` returns LazyMsgdefs."""

    def get_msgdef(self, typename: str) -> Any:
        got = self.cache.get(typename)
        if got is not None:
            return got
        lazy = LazyMsgdef(self, typename)
        # the cache holds rosbags' Msgdef; a LazyMsgdef has the same attributes (duck-typed)
        self.cache[typename] = cast("Msgdef[object]", lazy)
        return lazy


def lazy_typestore(name: Stores) -> LazyTypestore:
    """rosbags' ``get_typestore(name)`` as a LazyTypestore (same types, same field lists)."""
    base = get_typestore(name)
    lazy = LazyTypestore(max_sequence_length=base.max_sequence_length)
    lazy.fielddefs.update(base.fielddefs)
    lazy.types.update(base.types)
    return lazy


def prepare_deserializer(typestore: Typestore, typename: str, *, ros1: bool) -> None:
    """Generate the deserializer of ``typename`` and of every type nested in it, now: the eager
    rosbags Msgdef did (so an unusable type fails while the decoder is built, where the caller
    falls back to another typestore), and the first message then decodes without a pause."""
    attr = "deserialize_ros1" if ros1 else "deserialize_cdr_le"
    seen: set[str] = set()
    todo = [typename]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        msgdef = typestore.get_msgdef(name)
        getattr(msgdef, attr)
        for _, desc in msgdef.fields:
            todo.extend(_nested(desc))


def _nested(desc: Any) -> list[str]:
    """Message type names inside one field description (a name, or an array/sequence of one)."""
    if desc[0] == Nodetype.NAME:
        return [desc[1]]
    if desc[0] in (Nodetype.ARRAY, Nodetype.SEQUENCE) and desc[1][0][0] == Nodetype.NAME:
        return [desc[1][0][1]]
    return []
