"""The demo bundle, generated once per seed per test run and copied where a test wants it.

Writing a demo bundle encodes two H.264 videos (seconds of CPU); ~40 tests in ~26 files need
one, mostly the same seed. ``write_demo_bundle`` is deterministic (``tests/test_demo.py`` checks
byte equality), so a copy of one written earlier in the session is exactly what a fresh write
would give — only the files' mtimes are new, as they would be. Every test still gets its own
folder, so a test may mutate its copy. Tests of the generator itself still call
``write_demo_bundle``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.episode import EpisodeInfo
from robotrace_desktop.demo import write_demo_bundle
from robotrace_desktop.library.scanner import scan
from tests.build_cache import built


def demo_copy(dest: Path, *, seed: int = 7) -> Path:
    """A demo bundle for ``seed`` at ``dest`` (which must not exist yet), like
    ``write_demo_bundle(dest, seed=seed)``; the bundle is written once per test run
    (``tests.build_cache``, shared by the xdist workers)."""
    source = built(f"demo-seed{seed}", "bundle", lambda path: write_demo_bundle(path, seed=seed))
    dest = Path(dest)
    shutil.copytree(source, dest, copy_function=shutil.copyfile)  # fresh mtimes, as a write
    return dest


def demo_catalog(folder: Path) -> tuple[Catalog, dict[str, EpisodeInfo]]:
    """Demo bundles of seeds 1, 2 and 3 (``folder/lib/seedN``) scanned into an open catalog
    ``folder/catalog.sqlite``; their episodes by folder name. The caller closes the catalog."""
    for seed in (1, 2, 3):
        demo_copy(folder / "lib" / f"seed{seed}", seed=seed)
    catalog = Catalog(folder / "catalog.sqlite")
    scan(catalog, [folder / "lib"])
    return catalog, {Path(e.path).name: e for e in catalog.list_episodes()}
