"""What the bag index tests ask of a bag: its topics that recorded messages."""

from __future__ import annotations

from typing import Any

from robotrace_desktop.readers.rosbag.topics import group_by_topic


def topics_with_messages(connections: list[Any]) -> list[list[Any]]:
    """Each topic's connections (grouped as the reader groups them), for topics with at least
    one message."""
    return [g for g in group_by_topic(connections).values() if sum(c.msgcount for c in g)]
