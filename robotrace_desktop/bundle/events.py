"""Log events as JSON lines: one ``{"t_ns", "level", "text", "source"}`` object a line.

Reader and writers share the level rules (aliases, unknown levels read as INFO) so an event
written by one RoboTrace reads back the same, and a line a reader cannot parse is counted in a
problem sentence instead of failing the whole stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from robotrace_desktop.core.episode import LogEvent

LOG_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_LEVEL_ALIASES = {"WARNING": "WARN", "CRITICAL": "FATAL", "ERR": "ERROR"}


def normalize_level(level: object) -> str:
    text = str(level or "INFO").strip().upper()
    text = _LEVEL_ALIASES.get(text, text)
    return text if text in LOG_LEVELS else "INFO"


def write_events_jsonl(path: Path, events: Iterable[LogEvent]) -> Path:
    """One JSON object per line: {"t_ns", "level", "text", "source"}, sorted by time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps(
            {
                "t_ns": int(e.t_ns),
                "level": normalize_level(e.level),
                "text": e.text,
                "source": e.source,
            },
            ensure_ascii=False,
        )
        for e in sorted(events, key=lambda e: e.t_ns)
    ]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def read_events_jsonl(path: Path) -> tuple[list[LogEvent], list[str]]:
    """Events sorted by time, plus a problem sentence per line that could not be read."""
    events: list[LogEvent] = []
    bad: list[int] = []
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                t_ns = item["t_ns"]
                if isinstance(t_ns, bool) or not isinstance(t_ns, int):
                    raise TypeError("t_ns must be an integer")
                events.append(
                    LogEvent(
                        t_ns=t_ns,
                        level=normalize_level(item.get("level")),
                        text=str(item.get("text", "")),
                        source=str(item.get("source", "") or ""),
                    )
                )
            except (ValueError, TypeError, KeyError, AttributeError):
                bad.append(number)
    events.sort(key=lambda e: e.t_ns)
    problems = []
    if bad:
        shown = ", ".join(str(n) for n in bad[:5]) + (" …" if len(bad) > 5 else "")
        problems.append(f"{path}: {len(bad)} unreadable event line(s) skipped (line {shown})")
    return events, problems
