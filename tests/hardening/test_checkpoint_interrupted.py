"""A scan killed in the middle of a checkpoint leaves a catalog SQLite opens as intact.

A checkpoint copies the WAL's pages into the database file in page order, page 1 — the
header with the new page count — first. Killed half-way, the file's header counts pages the
file does not hold yet; the WAL still holds every one of them and SQLite finishes the copy on
the next open. The catalog's own header check used to call that file "truncated" and refuse
every write (CI, stop 15: ``test_one_big_recording_is_indexed_all_or_nothing``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from robotrace_desktop.catalog.bookmarks import add_bookmark, all_bookmarks
from robotrace_desktop.catalog.health import header_problem
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.library.scanner import scan
from tests.catalog_files import read_only
from tests.hardening.trees import many_recordings

WAL_HEADER, FRAME_HEADER = 32, 24


def _start_checkpoint(database: Path) -> None:
    """What a checkpoint killed after its first page leaves: the newest committed page 1 of
    the WAL written over the file's page 1, nothing else copied."""
    wal = Path(f"{database}-wal").read_bytes()
    page_size = int.from_bytes(wal[8:12], "big")
    frame = FRAME_HEADER + page_size
    newest_page_1, pending = None, None
    for at in range(WAL_HEADER, len(wal) - frame + 1, frame):
        page, size_after_commit = (int.from_bytes(wal[at + i : at + i + 4], "big") for i in (0, 4))
        if page == 1:
            pending = wal[at + FRAME_HEADER : at + frame]
        if size_after_commit:  # a commit frame: what came before it is committed
            newest_page_1 = pending or newest_page_1
    assert newest_page_1 is not None
    with open(database, "r+b") as handle:
        handle.write(newest_page_1)


def test_a_checkpoint_killed_after_the_header_leaves_a_catalog_that_opens(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    many_recordings(first, 3)
    many_recordings(second, 40, start=3)
    live = tmp_path / "live" / "catalog.sqlite"
    live.parent.mkdir()
    with Catalog(live) as catalog:
        scan(catalog, [first])
    # a reader's snapshot from before the big scan keeps its pages out of the file
    with read_only(live) as reader:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM recordings").fetchone()
        with Catalog(live) as catalog:
            scan(catalog, [second])
            add_bookmark(catalog, catalog.list_episodes()[0].id, 1_000_000_000, "failure frame")
            crashed = tmp_path / "crashed" / "catalog.sqlite"
            crashed.parent.mkdir()
            for suffix in ("", "-wal"):  # the files as a kill -9 leaves them
                shutil.copyfile(f"{live}{suffix}", f"{crashed}{suffix}")
    _start_checkpoint(crashed)
    with open(crashed, "rb") as handle:
        header = handle.read(100)
    held = crashed.stat().st_size // int.from_bytes(header[16:18], "big")
    counted = int.from_bytes(header[28:32], "big")
    assert counted > held  # the state the old check called truncated

    assert header_problem(crashed) is None
    with Catalog(crashed) as reopened:
        assert not reopened.read_only
        assert len(reopened.recordings_under("/")) == 43
        assert [b.note for b in all_bookmarks(reopened)] == ["failure frame"]
    with read_only(crashed) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_header_counting_missing_pages_without_a_wal_is_still_truncated(tmp_path: Path) -> None:
    many_recordings(tmp_path / "tree", 20)
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as catalog:
        scan(catalog, [tmp_path / "tree"])
    assert not Path(f"{path}-wal").exists()
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size // 2)
    assert "truncated" in (header_problem(path) or "")
