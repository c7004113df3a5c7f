"""A run of a few episodes is computed inline, in the caller's thread: two runs from two
threads (the viewer's scan threads) each use a catalog connection of their own thread."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.cli import main
from robotrace_desktop.library import explain_runner
from robotrace_desktop.library.explain_runner import explain_many
from tests.demo_cache import demo_copy


def test_inline_runs_from_two_threads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demo_copy(tmp_path / "data" / "demo1", seed=1)
    catalog = tmp_path / "c.sqlite"
    assert main(["--catalog", str(catalog), "scan", "--no-explain", str(tmp_path / "data")]) == 0
    with Catalog(catalog) as c:
        ids = [e.id for e in c.list_episodes()]
    runs = []
    for _ in range(2):  # one after the other, each in a new thread, as two scans would
        thread = threading.Thread(
            target=lambda: runs.append(explain_many(catalog, ids, workers=2, force=True))
        )
        thread.start()
        thread.join()
    assert [set(r.explained) for r in runs] == [set(ids)] * 2
    assert all(not r.errors for r in runs)
    assert not explain_runner._catalogs  # the inline runs closed what they opened
