"""Deterministic test inputs (the demo bundle, the hardening trees' recordings) built once per
test run and shared by every process of that run.

The suite runs on two xdist workers (pyproject addopts); a per-process cache built the same
demo bundles and recordings once in each. Under xdist the cache lives in the run's base
temporary folder (the parent of each worker's ``--basetemp``, which pytest rotates away
with the run), and a build is guarded by a file lock, so the first worker that needs an
input builds it and the other waits for it and reads it. A build goes into a private folder
and is renamed into place whole: an entry that exists is complete. Without xdist the cache is
a temporary folder of this process, removed at exit.

Only deterministic builds belong here (the same bytes whoever builds them): callers copy the
cached input wherever a test wants it, so every test still gets files of its own.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: builds are not shared between processes
    fcntl = None  # type: ignore[assignment]

_root: Path | None = None
_shared = False


def share_between_workers(run_folder: Path) -> None:
    """Called once per xdist worker (tests/conftest.py) with the run's base temporary folder."""
    global _root, _shared
    if fcntl is None:
        return
    _root = run_folder / "build-cache"
    _root.mkdir(parents=True, exist_ok=True)
    _shared = True


def _cache_root() -> Path:
    global _root
    if _root is None:
        _root = Path(tempfile.mkdtemp(prefix="robotrace-build-cache-"))
        atexit.register(shutil.rmtree, _root, ignore_errors=True)
    return _root


@contextlib.contextmanager
def _locked(lock: Path) -> Iterator[None]:
    if not _shared:
        yield
        return
    with open(lock, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def built(key: str, name: str, build: Callable[[Path], object]) -> Path:
    """The file or folder ``build(path)`` writes at ``path`` (a path named ``name`` that does
    not exist yet), built once for ``key`` in this test run and returned from then on."""
    root = _cache_root()
    final = root / key / name
    if final.exists():
        return final
    with _locked(root / f"{key}.lock"):
        if final.exists():  # another worker built it while this one waited
            return final
        private = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
        build(private / name)  # same name: writers may name files inside after it
        final.parent.mkdir(exist_ok=True)
        os.replace(private / name, final)
        shutil.rmtree(private, ignore_errors=True)
    return final
