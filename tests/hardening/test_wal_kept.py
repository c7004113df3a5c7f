"""A process that holds a catalog open keeps its write-ahead log while Explain's pool workers
open and close their own connections to it.

Opening the catalog again in the same process used to read the file's header with a plain
``open()``; closing that descriptor dropped every POSIX lock the process held on the file —
SQLite's too — so the last worker to exit believed it was the last connection, checkpointed
and deleted the WAL under the live ones ("How To Corrupt An SQLite Database File", 2.2). The
viewer then saw its own catalog as damaged ("disk I/O error") after a scan with Explain."""

from __future__ import annotations

from pathlib import Path

from robotrace_desktop.catalog.health import quick_check
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.library.explain_runner import explain_many
from robotrace_desktop.library.scanner import scan
from tests.catalog_files import read_only
from tests.hardening.trees import many_recordings


def test_explain_workers_leave_the_wal_of_a_catalog_held_open(tmp_path: Path) -> None:
    many_recordings(tmp_path / "tree", 6)
    path = tmp_path / "catalog.sqlite"
    holder = Catalog(path)  # the viewer's connection, open all along
    try:
        with Catalog(path) as catalog:
            scan(catalog, [tmp_path / "tree"])
            ids = [e.id for e in catalog.list_episodes()]
        run = explain_many(path, ids, workers=2)  # a spawn pool: workers connect and exit
        assert sorted(run.explained) == sorted(ids) and not run.errors
        assert Path(f"{path}-wal").exists() and Path(f"{path}-shm").exists()
        assert quick_check(path) is None  # another reader sees an intact catalog
        with read_only(path) as conn:
            assert conn.execute("SELECT count(*) FROM explained").fetchone()[0] == len(ids)
        assert len(holder.list_episodes()) == len(ids)
    finally:
        holder.close()
