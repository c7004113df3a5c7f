"""Marks on the timeline (bookmarks now, explain findings later), shared by every plot."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Marker:
    """A moment (``t_end_ns`` None) or a range ``[t_ns, t_end_ns]`` in episode time (ns)."""

    t_ns: int
    label: str
    color: str = "#ffb300"
    t_end_ns: int | None = None

    @property
    def is_range(self) -> bool:
        return self.t_end_ns is not None and self.t_end_ns != self.t_ns
