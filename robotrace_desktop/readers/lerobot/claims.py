"""Numbers in a LeRobot ``meta/info.json`` are claims; the files on disk are the facts.

A downloaded dataset whose info.json says ``"total_episodes": 1e12`` once made indexing loop a
trillion times (minutes, gigabytes) to create placeholder rows for episodes that were never
there. Every loop and allocation is now bounded by what exists: the episodes listed in
meta/episodes.jsonl and the data files found under the data template's folder. When the claim
and the disk disagree, the dataset gets one problem saying both numbers.
"""

from __future__ import annotations

import os
import re
import string
from pathlib import Path

#: More data files than this under one dataset is itself a hostile input: stop listing there.
MAX_LISTED_FILES = 1_000_000

_FIELD_PATTERNS = {"episode_index": r"(?P<episode_index>\d+)", "episode_chunk": r"\d+"}


def template_regex(template: str) -> re.Pattern[str] | None:
    """A regex matching the paths a data template (``data/chunk-{episode_chunk:03d}/…``)
    produces, capturing ``episode_index``; None when the template cannot be read that way."""
    parts: list[str] = []
    seen_index = False
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return None
    for literal, name, _spec, _conversion in parsed:
        parts.append(re.escape(literal))
        if name is None:
            continue
        if name == "episode_index":
            if seen_index:
                parts.append(r"\d+")
                continue
            seen_index = True
        parts.append(_FIELD_PATTERNS.get(name, r"[^/]+"))
    return re.compile("".join(parts) + r"\Z") if seen_index else None


def data_indices_on_disk(root: Path, template: str) -> set[int]:
    """Episode indices whose data file exists, from one walk of the template's top folder.
    Unreadable folders are skipped here; the per-episode check reports them."""
    pattern = template_regex(template)
    top = template.split("/", 1)[0]
    if pattern is None or "{" in top or not top:
        return set()
    found: set[int] = set()
    listed = 0
    for dirpath, _dirs, files in os.walk(root / top):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        for name in files:
            listed += 1
            if listed > MAX_LISTED_FILES:
                return found
            match = pattern.match(f"{rel_dir}/{name}")
            if match is not None:
                found.add(int(match.group("episode_index")))
    return found


def count_claim_problem(claimed: int | None, found: int, what: str = "episodes") -> str | None:
    """'meta/info.json claims 1000000000000 episodes; 3 found on disk', or None if they agree."""
    if claimed is None or claimed == found:
        return None
    return f"meta/info.json claims {claimed} {what}; {found} found on disk"


DEFAULT_CHUNKS_SIZE = 1000


def chunks_size(value: object, problems: list[str]) -> int:
    """info.json's ``chunks_size`` (episodes per chunk folder) when it is a positive integer;
    else LeRobot's default 1000 and a problem (zero would divide by zero, a string crashed v3)."""
    if value is None:
        return DEFAULT_CHUNKS_SIZE
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and value == value
        and 0 < value < 2**63
        and float(value).is_integer()
    ):
        return int(value)
    problems.append(
        f"meta/info.json: chunks_size {value!r} is not a positive integer; "
        f"{DEFAULT_CHUNKS_SIZE} assumed"
    )
    return DEFAULT_CHUNKS_SIZE
