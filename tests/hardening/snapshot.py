"""A byte-exact picture of a folder tree, to prove that nothing we run writes into recordings.

Every entry (hidden ones included) is listed with its type; files carry size, mtime_ns and
sha256; folders carry their mtime_ns too, so even a temporary file created and removed again
(which changes the folder's mtime) is caught.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

Entry = tuple[str, int, int, str]  # (type, size, mtime_ns, sha256 or link target)


def snapshot(*roots: Path) -> dict[str, Entry]:
    """Every entry under ``roots`` keyed by "<root>/<relative path>"."""
    result: dict[str, Entry] = {}
    for root in roots:
        root = Path(root)
        result[str(root)] = _entry(root)
        for folder, dirs, files in os.walk(root, followlinks=False):
            for name in sorted(dirs) + sorted(files):
                path = Path(folder) / name
                result[str(path)] = _entry(path)
    return result


def _entry(path: Path) -> Entry:
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return ("link", 0, info.st_mtime_ns, os.readlink(path))
    if stat.S_ISDIR(info.st_mode):
        return ("dir", 0, info.st_mtime_ns, "")
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return ("file", info.st_size, info.st_mtime_ns, digest.hexdigest())


def differences(before: dict[str, Entry], after: dict[str, Entry]) -> list[str]:
    """Plain sentences, one per changed, new or removed entry (empty when identical)."""
    lines = [f"new: {p}" for p in sorted(after.keys() - before.keys())]
    lines += [f"removed: {p}" for p in sorted(before.keys() - after.keys())]
    for path in sorted(before.keys() & after.keys()):
        old, new = before[path], after[path]
        if old != new:
            labels = ("type", "size", "mtime_ns", "content")
            what = [label for label, a, b in zip(labels, old, new, strict=True) if a != b]
            lines.append(f"changed ({', '.join(what)}): {path}")
    return lines
