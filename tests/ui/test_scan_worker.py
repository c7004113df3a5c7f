"""ScanWorker: scanning in its own thread with its own catalog connection, progress and cancel."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QObject, Qt

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.library.scanner import ScanSummary
from robotrace_desktop.ui.scan_worker import ScanWorker, summary_text
from tests.readers import ros_fixtures as fx

WAIT_MS = 60_000


@pytest.fixture(scope="module")
def bag_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve small ROS 1 bags in nested folders (sorted discovery order: a/, b/)."""
    root = tmp_path_factory.mktemp("bags")
    for n in range(12):
        folder = root / ("a" if n < 6 else "b")
        folder.mkdir(exist_ok=True)
        fx.write_rosbag1(folder / f"run_{n:02d}.bag", ks=range(3))
    return root


class Receiver(QObject):
    """A UI-thread object, as the browser is: worker signals are queued to it."""

    def __init__(self) -> None:
        super().__init__()
        self.outcome: list[tuple[str, Any]] = []
        self.progress: list[tuple[int, int, str]] = []
        self.threads: set[int] = set()

    def on_progress(self, done: int, total: int, path: str) -> None:
        self.progress.append((done, total, path))
        self.threads.add(threading.get_ident())

    def on_finished(self, summary: ScanSummary) -> None:
        self.outcome.append(("finished", summary))
        self.threads.add(threading.get_ident())

    def on_failed(self, message: str) -> None:
        self.outcome.append(("failed", message))
        self.threads.add(threading.get_ident())


def run_worker(qtbot: Any, worker: ScanWorker, receiver: Receiver | None = None) -> tuple[str, Any]:
    receiver = receiver or Receiver()
    worker.progress.connect(receiver.on_progress)
    worker.finished.connect(receiver.on_finished)
    worker.failed.connect(receiver.on_failed)
    worker.start()
    qtbot.waitUntil(lambda: bool(receiver.outcome), timeout=WAIT_MS)
    assert worker.wait(WAIT_MS)
    assert not worker.is_running()
    assert len(receiver.outcome) == 1
    assert receiver.threads == {threading.get_ident()}  # everything arrived in the UI thread
    return receiver.outcome[0]


def test_worker_scans_in_its_own_thread_with_progress(
    qtbot: Any, bag_tree: Path, tmp_path: Path
) -> None:
    catalog_path = tmp_path / "c.sqlite"
    ui_catalog = Catalog(catalog_path)  # the UI's connection stays open meanwhile (WAL)
    worker = ScanWorker(catalog_path, [bag_tree])
    receiver = Receiver()
    kind, summary = run_worker(qtbot, worker, receiver)
    assert kind == "finished" and isinstance(summary, ScanSummary)
    assert (summary.recordings, summary.new, summary.errors, summary.cancelled) == (
        12,
        12,
        0,
        False,
    )
    expected = [
        (n, 12, str(bag_tree / ("a" if n < 6 else "b") / f"run_{n:02d}.bag")) for n in range(12)
    ]
    assert receiver.progress == [*expected, (12, 12, "")]
    assert ui_catalog.count() == 12
    ui_catalog.close()


def test_cancel_from_progress_stops_after_the_current_recording(
    qtbot: Any, bag_tree: Path, tmp_path: Path
) -> None:
    worker = ScanWorker(tmp_path / "c.sqlite", [bag_tree])
    scanned_in: list[int] = []

    def cancel_at_three(done: int, _total: int, _path: str) -> None:
        scanned_in.append(threading.get_ident())
        if done == 3:
            worker.cancel()  # thread-safe: runs in the worker thread here

    worker.progress.connect(cancel_at_three, Qt.ConnectionType.DirectConnection)
    kind, summary = run_worker(qtbot, worker)
    assert kind == "finished"
    assert summary.cancelled and worker.is_cancelled()
    assert (summary.recordings, summary.new, summary.missing) == (12, 4, 0)  # 0..3 indexed
    assert threading.get_ident() not in scanned_in  # the scan itself ran elsewhere
    with Catalog(tmp_path / "c.sqlite") as catalog:
        assert catalog.count() == 4
    assert summary_text(summary) == "Scan cancelled — 12 recordings: 4 new"


def test_failure_is_reported_not_raised(qtbot: Any, tmp_path: Path, bag_tree: Path) -> None:
    not_a_catalog = tmp_path / "folder.sqlite"
    not_a_catalog.mkdir()  # sqlite cannot open a directory
    kind, message = run_worker(qtbot, ScanWorker(not_a_catalog, [bag_tree]))
    assert kind == "failed"
    assert str(not_a_catalog) in message and "cannot open the catalog" in message


def test_rescan_counts_unchanged_and_a_missing_root_is_an_error(
    qtbot: Any, bag_tree: Path, tmp_path: Path
) -> None:
    catalog_path = tmp_path / "c.sqlite"
    run_worker(qtbot, ScanWorker(catalog_path, [bag_tree / "a"]))
    gone = tmp_path / "nowhere"
    kind, summary = run_worker(qtbot, ScanWorker(catalog_path, [bag_tree / "a", gone]))
    assert kind == "finished"
    assert (summary.unchanged, summary.new, summary.errors) == (6, 0, 1)
    assert summary_text(summary) == (
        f"6 recordings: 6 unchanged, 1 error — {gone}: no such file or folder"
    )


def test_summary_text() -> None:
    summary = ScanSummary(new=114, errors=2, recordings=17, problems=["a: bad", "b: worse"])
    assert summary_text(summary) == "17 recordings: 114 new, 2 errors — a: bad (+1 more)"
    assert summary_text(ScanSummary(recordings=1, new=1)) == "1 recording: 1 new"
    assert summary_text(ScanSummary()) == "0 recordings: nothing indexed"
    assert summary_text(ScanSummary(recordings=3, updated=1, missing=2)) == (
        "3 recordings: 1 updated, 2 missing"
    )
