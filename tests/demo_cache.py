"""The demo bundle, generated once per seed per test session and copied where a test wants it.

Writing a demo bundle encodes two H.264 videos (seconds of CPU); ~40 tests in ~26 files need
one, mostly the same seed. ``write_demo_bundle`` is deterministic (``tests/test_demo.py`` checks
byte equality), so a copy of one written earlier in the session is exactly what a fresh write
would give — only the files' mtimes are new, as they would be. Every test still gets its own
folder, so a test may mutate its copy. Tests of the generator itself still call
``write_demo_bundle``.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from robotrace_desktop.demo import write_demo_bundle

_written: dict[int, Path] = {}
_root: Path | None = None


def _cache_root() -> Path:
    global _root
    if _root is None:
        _root = Path(tempfile.mkdtemp(prefix="robotrace-demo-cache-"))
        atexit.register(shutil.rmtree, _root, ignore_errors=True)
    return _root


def demo_copy(dest: Path, *, seed: int = 7) -> Path:
    """A demo bundle for ``seed`` at ``dest`` (which must not exist yet), like
    ``write_demo_bundle(dest, seed=seed)``."""
    source = _written.get(seed)
    if source is None:
        source = write_demo_bundle(_cache_root() / f"seed{seed}", seed=seed)
        _written[seed] = source
    dest = Path(dest)
    shutil.copytree(source, dest, copy_function=shutil.copyfile)  # fresh mtimes, as a write
    return dest
