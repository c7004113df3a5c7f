"""Time at the edges: parse user strings into int64 nanoseconds, format them back.

Inside the package time is always an int of nanoseconds relative to the episode start. A
``frame:N`` reference cannot be resolved without a camera, so it parses to a FrameRef.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from robotrace_desktop.errors import ValidationError

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000

_UNITS = {"ns": 1, "us": 1_000, "ms": NS_PER_MS, "s": NS_PER_S, "": NS_PER_S}
_TIME_RE = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(ns|us|ms|s|)\s*$")


@dataclass(frozen=True, slots=True)
class FrameRef:
    """``frame:385`` — the presentation time of frame 385 of the chosen camera."""

    index: int


def parse_time(text: str) -> int | FrameRef:
    """Parse ``12840ms``, ``12.84s``, ``12.84``, ``500us``, ``42ns`` or ``frame:385``."""
    raw = text.strip()
    if raw.lower().startswith("frame:"):
        rest = raw[6:].strip()
        if not rest.isdigit():
            raise ValidationError(f"time {text!r}: frame index must be a non-negative integer")
        return FrameRef(int(rest))
    match = _TIME_RE.match(raw)
    if not match:
        raise ValidationError(
            f"time {text!r}: expected forms like 12840ms, 12.84s, 12.84 or frame:385"
        )
    number, unit = match.groups()
    scale = _UNITS[unit]
    if "." in number:
        whole, _, frac = number.lstrip("+-").partition(".")
        frac = (frac + "0" * 9)[:9]
        ns = (int(whole or "0") * NS_PER_S + int(frac)) * scale // NS_PER_S
        return -ns if number.startswith("-") else ns
    return int(number) * scale


def parse_time_ns(text: str) -> int:
    """Like parse_time but refuses frame references (for contexts without a camera)."""
    value = parse_time(text)
    if isinstance(value, FrameRef):
        raise ValidationError(f"time {text!r}: a frame reference needs a camera here")
    return value


def format_ms(t_ns: int) -> str:
    """``12840ms`` — the form used in deep links and exports (rounded to the nearest ms)."""
    return f"{round(t_ns / NS_PER_MS)}ms"


def format_seconds(t_ns: int | None, digits: int = 3) -> str:
    if t_ns is None:
        return "-"
    return f"{t_ns / NS_PER_S:.{digits}f}s"
