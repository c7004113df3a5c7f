"""Qt tests run without a display: the offscreen platform must be chosen before Qt is imported
(pytest imports conftest files before the test modules). An explicit QT_QPA_PLATFORM wins, so
`QT_QPA_PLATFORM=xcb pytest tests/ui` still shows the widgets on a desktop."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.library.scanner import scan
from tests.demo_cache import demo_copy


@pytest.fixture(scope="module")
def demo_catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A catalog holding the demo episode (once per test module): (catalog path, its id)."""
    root = tmp_path_factory.mktemp("demo")
    bundle = demo_copy(root / "bundle")
    path = root / "catalog.sqlite"
    with Catalog(path) as catalog:
        scan(catalog, [bundle])
        (episode,) = catalog.list_episodes()
    return path, episode.id


@contextmanager
def shown_browser(qtbot: Any, catalog: Path) -> Iterator[Any]:
    """The catalog browser on ``catalog``, shown at 1600×1000 as a person sees it, shut down
    after (its workers and file watcher stopped)."""
    from robotrace_desktop.ui.catalog_browser import CatalogBrowser

    made = CatalogBrowser(catalog)
    qtbot.addWidget(made)
    made.resize(1600, 1000)
    made.show()
    qtbot.waitExposed(made)
    try:
        yield made
    finally:
        made.shutdown()
