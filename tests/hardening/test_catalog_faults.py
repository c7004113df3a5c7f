"""The catalog under fire: a short run of the fault-injection engine (the long run is
``python benchmarks/catalog_faults.py --rounds 60``), and the case from issue 14 on its own —
the ``-wal`` deleted while bookmarks are written, then ``kill -9``: every bookmark reported saved
comes back (the database alone had lost them all, with integrity_check still ok)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.hardening.catalog_faults import KINDS, Engine, Saved, run


def test_every_fault_kind_loses_nothing_reported_saved(tmp_path: Path) -> None:
    counts = run(tmp_path, rounds=len(KINDS), seed=3)
    print(counts.line())
    assert counts.tried >= len(KINDS) - 1  # enospc needs a tmpfs mount (root)
    assert counts.saved > 0
    assert counts.lost == 0, counts.problems
    assert counts.tracebacks == 0, counts.problems
    assert counts.hangs == 0, counts.problems
    assert counts.survived + counts.recovered == counts.tried
    assert counts.problems == []  # refusals say "disk full: …", no debris left behind


def test_bookmarks_written_while_the_wal_is_deleted_come_back(tmp_path: Path) -> None:
    engine = Engine(tmp_path, seed=5)
    catalog = engine._fresh(tmp_path / "round")
    saved = Saved()
    engine._write(catalog, saved, "wal", kill_after=1.2,
                  during=lambda: Path(f"{catalog}-wal").unlink(missing_ok=True))  # fmt: skip
    assert len(saved.bookmarks) > 10
    with sqlite3.connect(f"file:{catalog}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert engine._missing(catalog, saved) > 0  # what the database alone kept: not all of it
    assert engine._cli(catalog, "catalog", "restore") == 0
    assert engine._missing(catalog, saved) == 0
    assert engine.counts.tracebacks == engine.counts.hangs == 0, engine.counts.problems
    assert list(tmp_path.glob("round/catalog.sqlite.replaced-*"))  # moved aside, not deleted
