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
    """``12840ms`` or ``8033.333333ms``: the time of deep links and bookmark exports.

    Exact to the nanosecond (``parse_time`` gives ``t_ns`` back), because a rounded time can
    leave the frame it was taken on: frame 241 of a 30 fps video starts at 8033.333333 ms, and
    ``8033ms`` is still frame 240. Whole milliseconds keep their short form."""
    return _exact_decimal(t_ns, NS_PER_MS, min_digits=0) + "ms"


def format_seconds_exact(t_ns: int) -> str:
    """``8.033333333s`` / ``12.840s``: seconds with every nanosecond that is not zero (at least
    three decimals), so two frames never print alike and the text pastes back as a TIME."""
    return _exact_decimal(t_ns, NS_PER_S, min_digits=3) + "s"


def _exact_decimal(t_ns: int, unit_ns: int, *, min_digits: int) -> str:
    digits = len(str(unit_ns)) - 1
    whole, rest = divmod(abs(int(t_ns)), unit_ns)
    fraction = f"{rest:0{digits}d}".rstrip("0").ljust(min_digits, "0")
    sign = "-" if t_ns < 0 else ""
    return f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"


def format_seconds(t_ns: int | None, digits: int = 3) -> str:
    if t_ns is None:
        return "-"
    return f"{t_ns / NS_PER_S:.{digits}f}s"
