"""Deep links: ``robotrace://episode/<id>?t=12840ms`` lands a teammate on one moment.

The time is written exactly (``?t=8033.333333ms`` when the moment is not a whole millisecond),
so the link reopens on the very frame it was copied on, for every camera. Any TIME form is
read back (``12840ms``, ``12.84s``, ``8033333333ns``…).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlsplit

from robotrace_desktop.core.timebase import format_ms, parse_time_ns
from robotrace_desktop.errors import ValidationError

SCHEME = "robotrace"


@dataclass(frozen=True, slots=True)
class EpisodeLink:
    episode_id: str
    t_ns: int | None = None

    def url(self) -> str:
        base = f"{SCHEME}://episode/{quote(self.episode_id, safe='')}"
        return base if self.t_ns is None else f"{base}?t={format_ms(self.t_ns)}"


def is_link(text: str) -> bool:
    return text.lower().startswith(f"{SCHEME}://")


def parse_link(text: str) -> EpisodeLink:
    parts = urlsplit(text.strip())
    if parts.scheme.lower() != SCHEME or parts.netloc != "episode":
        raise ValidationError(f"not a RoboTrace episode link: {text!r}")
    episode = parts.path.strip("/")
    if not episode or "/" in episode or not all(c.isalnum() or c in "-_" for c in episode):
        raise ValidationError(f"link {text!r}: bad episode id")
    times = parse_qs(parts.query).get("t")
    return EpisodeLink(episode, parse_time_ns(times[0]) if times else None)
