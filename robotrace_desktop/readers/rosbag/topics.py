"""What each topic of a bag becomes (video / signal / event stream, channels, clock), decided
from the connection list and the FIRST message of each topic only.

Clock rule: a stream uses ``header.stamp`` when its first message has one that is non-zero and
within ``HEADER_TOLERANCE_NS`` (1 s) of that message's record time; otherwise the record time,
and the stream's details say why (e.g. a simulation-time header). Video frames always use the
record time (listing header stamps would mean reading every image); the header offset of the
first frame is reported in the details.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rosbags.interfaces import Connection

from robotrace_desktop.core.episode import StreamKind
from robotrace_desktop.readers.rosbag.bagfile import BagFile
from robotrace_desktop.readers.rosbag.flatten import (
    EVENT_TYPES,
    EventFields,
    Flattener,
    flattener_for,
    has_text,
    message_kind,
    stamp_ns,
    text_event,
)
from robotrace_desktop.readers.rosbag.typestore import Decoders

log = logging.getLogger(__name__)

HEADER_TOLERANCE_NS = 1_000_000_000


@dataclass
class TopicPlan:
    topic: str
    msgtype: str
    kind: StreamKind
    connections: list[Connection]
    count: int
    clock: str = "record"  # record / header
    flattener: Flattener | None = None
    event: Callable[[Any, str], EventFields] | None = None
    details: dict[str, Any] = field(default_factory=dict)
    first: Any = None  # the first message, deserialised

    @property
    def channels(self) -> tuple[str, ...]:
        return self.flattener.channels if self.flattener is not None else ()


@dataclass
class BagPlan:
    topics: dict[str, TopicPlan]
    problems: list[str]
    # Every topic of the bag with type, count and (when not a stream) why not.
    catalog: list[dict[str, Any]]


def group_by_topic(connections: list[Connection]) -> dict[str, list[Connection]]:
    """A bag's connections by topic (a topic recorded by several publishers has several)."""
    groups: dict[str, list[Connection]] = {}
    for conn in connections:
        groups.setdefault(conn.topic, []).append(conn)
    return groups


def _clock(first: Any, record_ns: int, kind: StreamKind) -> dict[str, Any]:
    stamp = stamp_ns(first)
    if stamp is None:
        return {"clock": "record", "clock_reason": "message has no header stamp"}
    offset = stamp - record_ns
    if stamp == 0:
        return {"clock": "record", "clock_reason": "header.stamp is zero"}
    if abs(offset) > HEADER_TOLERANCE_NS:
        return {
            "clock": "record",
            "header_offset_ns": offset,
            "clock_reason": (
                "header.stamp is more than 1 s from the record time on the first message: "
                "header on a different clock (simulation time?)"
            ),
        }
    if kind == StreamKind.VIDEO:
        return {
            "clock": "record",
            "header_offset_ns": offset,
            "clock_reason": "video frames use record time (header stamps need every image read)",
        }
    return {"clock": "header", "header_offset_ns": offset}


def plan_bag(bag: BagFile, decoders: Decoders) -> BagPlan:
    """Topic plans. May replace an embedded-definition decoder in ``decoders.by_id`` with its
    default-typestore fallback when the embedded one fails on the first message."""
    topics: dict[str, TopicPlan] = {}
    problems: list[str] = []
    catalog: list[dict[str, Any]] = []
    groups = group_by_topic(bag.connections)
    firsts = _first_messages(bag, groups, decoders)
    for topic, conns in groups.items():
        msgtype = conns[0].msgtype
        count = sum(c.msgcount for c in conns)
        entry: dict[str, Any] = {"name": topic, "type": msgtype, "count": count}
        catalog.append(entry)
        usable = _usable(conns, decoders)
        if not usable:
            reason = next(
                (decoders.problems[c.id] for c in conns if c.id in decoders.problems), "unknown"
            )
            problems.append(f"topic {topic} ({msgtype}): cannot decode: {reason}")
            entry["note"] = f"cannot decode: {reason}"
            continue
        if len(usable) < len(conns):
            problems.append(
                f"topic {topic} ({msgtype}): {len(conns) - len(usable)} of {len(conns)} "
                "connections cannot be decoded and are left out"
            )
        plan = _plan_topic(firsts.get(topic), topic, msgtype, usable, decoders, problems, entry)
        if plan is not None:
            topics[topic] = plan
    return BagPlan(topics, problems, catalog)


def _usable(conns: list[Connection], decoders: Decoders) -> list[Connection]:
    """The topic's connections we can decode (those of its first type)."""
    msgtype = conns[0].msgtype
    return [c for c in conns if c.id in decoders.by_id and c.msgtype == msgtype]


def _first_messages(
    bag: BagFile, groups: dict[str, list[Connection]], decoders: Decoders
) -> dict[str, tuple[Connection, int, bytes] | None]:
    """The first message of every decodable topic with messages, located through the bag's
    index (``BagFile.first_messages``), never a pass per topic."""
    wanted = {
        topic: usable
        for topic, conns in groups.items()
        if (usable := _usable(conns, decoders)) and sum(c.msgcount for c in usable)
    }
    found = bag.first_messages(list(wanted.values()))
    return dict(zip(wanted, found, strict=True))


def _plan_topic(
    first_message: tuple[Connection, int, bytes] | None,
    topic: str,
    msgtype: str,
    conns: list[Connection],
    decoders: Decoders,
    problems: list[str],
    entry: dict[str, Any],
) -> TopicPlan | None:
    kind = StreamKind(message_kind(msgtype))
    count = sum(c.msgcount for c in conns)
    plan = TopicPlan(topic, msgtype, kind, conns, count)
    if count == 0:
        plan.details = {"types_from": decoders.by_id[conns[0].id].source, "note": "no messages"}
        if kind == StreamKind.EVENT:
            plan.event = EVENT_TYPES[msgtype]
        return plan
    if first_message is None:
        plan.details["note"] = "no messages found although the index lists some"
        return plan
    conn, record_ns, raw = first_message
    first, failure = _decode_first(conn, raw, conns, decoders)
    plan.details["types_from"] = decoders.by_id[conn.id].source
    if failure is not None:
        problems.append(f"topic {topic} ({msgtype}): cannot decode: {failure}")
        entry["note"] = f"cannot decode: {failure}"
        return None
    plan.first = first
    plan.details.update(_clock(first, record_ns, kind))
    plan.clock = plan.details["clock"]
    if kind == StreamKind.EVENT:
        plan.event = EVENT_TYPES[msgtype]
    elif kind == StreamKind.VIDEO:
        plan.details.update(_video_details(first, msgtype))
    else:
        try:
            plan.flattener, more = flattener_for(msgtype, first)
        except Exception as exc:
            problems.append(f"topic {topic} ({msgtype}): cannot flatten: {exc}")
            entry["note"] = f"cannot flatten: {exc}"
            return None
        plan.details.update(more)
        if not plan.channels:
            if not has_text(first):
                entry["note"] = "no numeric or text fields"
                return None
            # Text only (test_msgs/Strings, diagnostics names…): a log of INFO lines.
            plan.kind, plan.flattener, plan.event = StreamKind.EVENT, None, text_event
            plan.details["layout"] = "text fields as INFO events"
    return plan


def _decode_first(
    conn: Connection, raw: bytes, conns: list[Connection], decoders: Decoders
) -> tuple[Any, str | None]:
    """Decode the first message; on failure retry with the default-typestore fallback and, if
    that works, switch the whole topic to it."""
    try:
        return decoders.by_id[conn.id](raw), None
    except Exception as exc:  # rosbags raises assorted errors on undecodable bytes
        failure = f"{type(exc).__name__}: {exc}"[:200]
    fallback = decoders.fallbacks.get(conn.id)
    if fallback is None:
        return None, failure
    try:
        first = fallback(raw)
    except Exception as exc:
        return None, f"{failure}; {fallback.source}: {type(exc).__name__}: {exc}"[:300]
    for c in conns:
        if c.id in decoders.fallbacks:
            decoders.by_id[c.id] = decoders.fallbacks[c.id]
    decoders.by_id[conn.id] = fallback
    return first, None


def _video_details(first: Any, msgtype: str) -> dict[str, Any]:
    if msgtype.endswith("CompressedImage"):
        return {"format": str(first.format)}
    return {"encoding": str(first.encoding), "width": int(first.width), "height": int(first.height)}
