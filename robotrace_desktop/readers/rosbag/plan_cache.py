"""The last few bags' decoders and topic plans, reused when the same unchanged bag is opened
again in this process.

The viewer indexes a bag, opens it for the episode view, then opens it once more per camera
(each decode thread needs its own file handle: rosbags' readers are not thread-safe). Each open
used to repeat the planning: decoders for every connection and a read of every topic's first
message. A new file handle is cheap (the MCAP summary / metadata.yaml again); the plan is not,
and it is a pure function of the bag's bytes, so it is kept here, keyed by the bag's path and
the size and mtime of each of its files (a rewritten bag is planned afresh).

Entries are few (``MAX_ENTRIES``): a plan holds each topic's first message (an image for a
camera), so the cache stays a few MB, not a function of the number of bags scanned.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from robotrace_desktop.readers.rosbag.topics import BagPlan
    from robotrace_desktop.readers.rosbag.typestore import Decoders

MAX_ENTRIES = 4
Key = tuple[str, tuple[tuple[str, int, int], ...]]

_PLANS: OrderedDict[Key, tuple[Decoders, BagPlan]] = OrderedDict()
_LOCK = threading.Lock()


def plan_key(path: Path) -> Key | None:
    """The bag's identity: resolved path plus (name, size, mtime ns) of its files; None when
    the files cannot be listed (then nothing is cached)."""
    try:
        files = sorted(path.iterdir()) if path.is_dir() else [path]
        stats = tuple(
            (f.name, (s := f.stat()).st_size, s.st_mtime_ns) for f in files if f.is_file()
        )
        return str(path.resolve()), stats
    except OSError:
        return None


def get(key: Key | None) -> tuple[Decoders, BagPlan] | None:
    if key is None:
        return None
    with _LOCK:
        got = _PLANS.get(key)
        if got is not None:
            _PLANS.move_to_end(key)
        return got


def put(key: Key | None, decoders: Decoders, plan: BagPlan) -> None:
    if key is None:
        return
    with _LOCK:
        _PLANS[key] = (decoders, plan)
        _PLANS.move_to_end(key)
        while len(_PLANS) > MAX_ENTRIES:
            _PLANS.popitem(last=False)


def clear() -> None:
    with _LOCK:
        _PLANS.clear()
