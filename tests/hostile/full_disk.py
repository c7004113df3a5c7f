"""A really full disk for tests: a small tmpfs (root only), filled but for a few KiB."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


@contextmanager
def small_tmpfs(folder: Path, size: str = "3m") -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path, leave_kib: int = 0) -> Path:
    """Fill the file system of ``folder`` but for ``leave_kib`` KiB; returns the filler file."""
    filler = folder / "filler"
    free_kib = shutil.disk_usage(folder).free // 1024
    with filler.open("wb") as out:
        block = b"\0" * 1024
        try:
            for _ in range(max(0, free_kib - leave_kib)):
                out.write(block)
        except OSError:
            pass
    return filler
