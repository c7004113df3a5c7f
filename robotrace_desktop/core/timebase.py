"""Time at the edges: parse user strings into int64 nanoseconds, format them back.

Inside the package time is always an int of nanoseconds relative to the episode start. A
``frame:N`` reference cannot be resolved without a camera, so it parses to a FrameRef.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from robotrace_desktop.errors import UsageError, ValidationError

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000

#: Times are int64 nanoseconds: about ±292 years. Beyond that numpy and parquet overflow.
INT64_MAX = 2**63 - 1
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
        ns = -ns if number.startswith("-") else ns
    else:
        ns = int(number) * scale
    if not -INT64_MAX <= ns <= INT64_MAX:
        raise UsageError(f"time {text!r} is out of range: times are nanoseconds within ±292 years")
    return ns


def parse_time_ns(text: str) -> int:
    """Like parse_time but refuses frame references (for contexts without a camera)."""
    value = parse_time(text)
    if isinstance(value, FrameRef):
        raise ValidationError(f"time {text!r}: a frame reference needs a camera here")
    return value


def parse_period_ns(flag: str, text: str) -> int:
    """A duration such as ``--grid 10ms``: longer than zero (a zero or negative grid has no
    next row; the export once died of it with an internal error)."""
    value = parse_time_ns(text)
    if value <= 0:
        raise UsageError(f"{flag} {text}: a period must be longer than zero")
    return value


def check_in_episode(
    flag: str, text: str, t_ns: int, duration_ns: int, *, before_start: bool = False
) -> int:
    """``t_ns`` when it lies within the episode, else the usage error naming its span — one
    rule for every command that takes a TIME of an episode. ``before_start``: a time before
    the start is allowed (a slice clamps it to the start)."""
    if t_ns > duration_ns or (t_ns < 0 and not before_start):
        raise UsageError(
            f"{flag} {text} is outside the episode "
            f"({format_seconds_exact(0)}–{format_seconds_exact(duration_ns)})"
        )
    return t_ns


def parse_episode_time_ns(
    flag: str, text: str, duration_ns: int, *, before_start: bool = False
) -> int:
    """A TIME of an episode (no frame reference): parsed and within the episode, or a usage
    error that names the episode's span — also for a number past the int64 range."""
    try:
        value = parse_time_ns(text)
    except UsageError:  # past int64: outside any episode
        value = INT64_MAX if not text.strip().startswith("-") else -INT64_MAX
    return check_in_episode(flag, text, value, duration_ns, before_start=before_start)


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
