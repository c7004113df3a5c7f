"""LeRobot v2.1 per-episode stats (``meta/episodes_stats.jsonl``), parsed only where needed.

The file is large: min/max/mean/std/count of every feature of every episode, 53 MB for 10,000
episodes. Parsing all of it into dicts took 1.6 s and 290 MB, and the viewer did it just to open
one episode. Indexing needs every episode's outcome stats, so it streams through the lines and
keeps only the wanted features; opening one episode finds that episode's line by its leading
``"episode_index"`` (as LeRobot writes it) and parses that line alone. A line that does not
start that way is parsed up front, so an unusual writer costs time, never correctness.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from robotrace_desktop.errors import RecordingError

log = logging.getLogger(__name__)

_LEADING_INDEX = re.compile(rb'\A\s*\{\s*"episode_index"\s*:\s*(\d+)\s*[,}]')


class EpisodeStats:
    """Where each episode's stats line is; the wanted features of a line on request."""

    def __init__(self, path: Path, keep: tuple[str, ...] | None) -> None:
        self.path = path
        self.keep = keep
        self.spans: dict[int, tuple[int, int]] = {}  # episode index -> (start, end) in the file
        self.parsed: dict[int, dict[str, Any]] = {}  # lines without a leading episode_index
        self.bad: list[str] = []
        self.lines = 0  # lines that are not blank
        self.nested = 0  # the most "[" and "{" in one line: bounds how deep it nests

    @classmethod
    def scan(cls, path: Path, keep: tuple[str, ...] | None) -> tuple[EpisodeStats, bytes] | None:
        """Index the file's lines (None when it is absent); ``keep``: the features to return
        (None: all). Returns the bytes read too, so an eager caller parses them without
        reading the file again."""
        data = read_optional(path)
        if data is None:
            return None
        stats = cls(path, keep)
        start = 0
        for number, line in enumerate(data.splitlines(keepends=True), 1):
            end = start + len(line)
            match = _LEADING_INDEX.match(line)
            if match is not None:
                stats.spans[int(match.group(1))] = (start, end)
                stats.lines += 1
                stats.nested = max(stats.nested, line.count(b"[") + line.count(b"{"))
            elif line.strip():
                stats.lines += 1
                record = stats._record(line, number)
                index = _index_of(record)
                if index is not None:
                    stats.parsed[index] = stats._wanted(record)
            start = end
        return stats, data

    def all(self, data: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
        """Every episode's wanted stats, one line parsed at a time (``data``: from ``scan``)."""
        yield from self.parsed.items()
        for index, (start, end) in self.spans.items():
            yield index, self._wanted(self._record(data[start:end], None))

    def all_bulk(self, data: bytes) -> dict[int, dict[str, Any]] | None:
        """Every episode's wanted stats as ``all`` gives them, parsed by pyarrow in one call
        (C threads) instead of one ``json.loads`` per line: that was a fifth of a 10,000-
        episode scan. Only the ``min`` and ``max`` of each wanted feature are kept: all that
        indexing reads (outcome, task). None when this file is not one the bulk parse is
        known to read exactly as ``all`` does; the caller then uses ``all``."""
        from robotrace_desktop.readers.lerobot.stats_bulk import bulk_stats

        return bulk_stats(self, data)

    def get(self, index: int) -> dict[str, Any]:
        """The wanted stats of one episode ({} when the file has none for it)."""
        if index in self.parsed:
            return self.parsed[index]
        span = self.spans.get(index)
        if span is None:
            return {}
        try:
            with self.path.open("rb") as handle:
                handle.seek(span[0])
                line = handle.read(span[1] - span[0])
        except OSError as exc:
            log.warning("%s: cannot read the stats of episode %d: %s", self.path, index, exc)
            return {}
        bad_before = len(self.bad)
        found = self._wanted(self._record(line, None))
        if len(self.bad) > bad_before:
            log.warning("%s: the stats line of episode %d: %s", self.path, index, self.bad[-1])
        return found

    def _record(self, line: bytes, number: int | None) -> dict[str, Any] | None:
        try:
            record = json.loads(line)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # nested past the stack
            self._bad(number, f"is not JSON ({exc})")
            return None
        if not isinstance(record, dict):
            self._bad(number, "is not a JSON object")
            return None
        return record

    def _wanted(self, record: dict[str, Any] | None) -> dict[str, Any]:
        stats = record.get("stats") if record is not None else None
        if not isinstance(stats, dict):
            return {}
        if self.keep is None:
            return stats
        return {k: stats[k] for k in self.keep if k in stats}

    def _bad(self, number: int | None, reason: str) -> None:
        self.bad.append(f"line {number} {reason}" if number is not None else f"a line {reason}")


def read_optional(path: Path) -> bytes | None:
    """A metadata file's bytes; None when it is absent, a RecordingError when unreadable."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RecordingError(path, f"cannot read: {exc.strerror or exc}") from exc


def _index_of(record: dict[str, Any] | None) -> int | None:
    value = record.get("episode_index") if record is not None else None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return int(value) if float(value).is_integer() else None
