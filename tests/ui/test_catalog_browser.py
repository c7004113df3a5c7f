"""The catalog browser on a catalog of the real recordings (129 episodes, 2 failed rows)."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QModelIndex, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem

from robotrace_desktop.catalog.findings import store_findings
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.finding import Finding
from robotrace_desktop.library import scanner
from robotrace_desktop.library.scanner import ScanSummary, scan
from robotrace_desktop.ui import scan_worker
from robotrace_desktop.ui.catalog_browser import CatalogBrowser
from robotrace_desktop.ui.catalog_model import (
    AMBER,
    COLUMN_KEYS,
    ID_ROLE,
    NODE_ROLE,
    STATUS_COLORS,
)
from tests.catalog_files import copy_catalog

SHOTS = Path(os.environ.get("ROBOTRACE_SHOT_DIR", tempfile.gettempdir())) / "robotrace_shots"
WAIT_MS = 60_000
TOOLTIP = Qt.ItemDataRole.ToolTipRole


def col(key: str) -> int:
    return COLUMN_KEYS.index(key)


@pytest.fixture(scope="module")
def real_catalog(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """The real recordings scanned once; tests work on copies of this file."""
    path = tmp_path_factory.mktemp("catalog") / "real.sqlite"
    with Catalog(path) as catalog:
        summary = scan(catalog, [shared_data])
    assert (summary.recordings, summary.new, summary.errors) == (23, 127, 2)
    return path


@pytest.fixture
def catalog_copy(real_catalog: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "catalog.sqlite"
    return copy_catalog(real_catalog, dest)


@pytest.fixture
def make_browser(qtbot: Any) -> Iterator[Callable[[Path], CatalogBrowser]]:
    made: list[CatalogBrowser] = []

    def make(path: Path) -> CatalogBrowser:
        browser = CatalogBrowser(path)
        qtbot.addWidget(browser)
        browser.resize(1500, 720)
        made.append(browser)
        return browser

    yield make
    for browser in made:
        browser.shutdown()


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Holds the worker at its first recording until the test sets the event."""
    event = threading.Event()
    original = scanner._scan_one
    waited: list[bool] = []

    def gated(*args: Any, **kwargs: Any) -> None:
        if not waited:
            waited.append(event.wait(WAIT_MS / 1000))
        original(*args, **kwargs)

    monkeypatch.setattr(scanner, "_scan_one", gated)
    try:
        yield event
    finally:
        event.set()  # never leave a worker blocked when a test fails


def shown_indexes(browser: CatalogBrowser, column: int = 0) -> list[QModelIndex]:
    """Every episode the filters let through, in view order: top-level episodes and the
    episodes under each dataset row (whether or not the dataset is expanded: a dataset's
    episodes are read as expanding it would)."""
    proxy, found = browser.proxy, []
    for row in range(proxy.rowCount()):
        index = proxy.index(row, column)
        parent = proxy.index(row, 0)
        if proxy.canFetchMore(parent):
            proxy.fetchMore(parent)
        if proxy.rowCount(parent):
            found += [proxy.index(c, column, parent) for c in range(proxy.rowCount(parent))]
        else:
            found.append(index)
    return found


def shown_column(browser: CatalogBrowser, key: str, role: int = 0) -> list[Any]:
    """What each shown episode has in column ``key``; for "name", the episode's full name
    (under its dataset row the view shows only '#4')."""
    if key == "name" and role == 0:
        return [i.data(NODE_ROLE).name for i in shown_indexes(browser)]
    return [i.data(role) for i in shown_indexes(browser, col(key))]


def top_rows(browser: CatalogBrowser, key: str = "name") -> list[str]:
    proxy = browser.proxy
    return [proxy.index(r, col(key)).data() for r in range(proxy.rowCount())]


def index_of(browser: CatalogBrowser, name: str, key: str = "name") -> QModelIndex:
    """The (proxy) index of the episode called ``name``, in column ``key``."""
    for index in shown_indexes(browser, col(key)):
        if index.data(NODE_ROLE).name == name:
            return index
    raise AssertionError(f"{name} is not shown")


def bag_folder(shared_data: Path, tmp_path: Path, name: str = "drop") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(shared_data / "ros1" / "example.bag", folder / "example.bag")
    return folder


# --- the table ------------------------------------------------------------------------------------


def test_real_catalog_rows_columns_and_hints(
    make_browser: Callable[[Path], CatalogBrowser], catalog_copy: Path, shared_data: Path
) -> None:
    browser = make_browser(catalog_copy)
    assert browser.stack.currentWidget() is browser.table
    assert browser.count_label.text() == "129 episodes"
    headers = [browser.proxy.headerData(c, Qt.Orientation.Horizontal) for c in range(15)]
    assert headers == [
        "Name", "Kind", "Robot", "Policy", "Env", "Git", "Seed", "Task",
        "Duration (s)", "Outcome", "Status", "Anomaly", "Findings", "Problems", "Path",
    ]  # fmt: skip

    statuses = shown_column(browser, "status")
    assert len(statuses) == 129
    assert statuses.count("failed") == 2 and statuses.count("ready") == 127
    failed = index_of(browser, "empty-file", "status")
    assert failed.data(Qt.ItemDataRole.ForegroundRole).color() == QColor(STATUS_COLORS["failed"])
    assert failed.data(Qt.ItemDataRole.BackgroundRole) is not None  # the whole row is tinted
    ready = index_of(browser, "example", "status")
    assert ready.data(Qt.ItemDataRole.BackgroundRole) is None

    problems = index_of(browser, "empty-file", "problems")
    assert problems.data() == "1 · empty file (0 bytes)"  # the path is in its own column
    assert problems.data(Qt.ItemDataRole.ToolTipRole) == (
        f"• {shared_data.resolve() / 'ros1' / 'empty-file.bag'}: empty file (0 bytes)"
    )
    assert index_of(browser, "empty-file", "policy_version").data() == "—"
    tip = index_of(browser, "iiwa7_gazebo_joint_torque_sqlite3", "problems").data(
        Qt.ItemDataRole.ToolTipRole
    )
    assert "/dynamic_joint_states" in tip and tip.startswith("• ")

    # No recording carries policy/env/git/seed: every row has the amber "not reproducible" dot.
    name = index_of(browser, "iiwa7_gazebo_joint_torque_sqlite3")
    assert name.data(Qt.ItemDataRole.DecorationRole) is not None
    assert "Not reproducible: missing policy_version, env_version, git_sha, seed" in name.data(
        Qt.ItemDataRole.ToolTipRole
    )
    assert index_of(browser, "g1_pick_bottle_v21 #1", "duration").data() == "13.10"
    assert index_of(browser, "iiwa7_gazebo_joint_torque_sqlite3", "robot").data() == "iiwa"


def test_a_datasets_episodes_group_under_one_expandable_row(
    qtbot: Any,
    make_browser: Callable[[Path], CatalogBrowser],
    catalog_copy: Path,
    shared_data: Path,
) -> None:
    browser = make_browser(catalog_copy)
    browser.resize(1600, 1000)
    browser.show()
    # 3 LeRobot datasets (109 episodes) become 3 rows; the 20 bags stay rows of their own.
    names = top_rows(browser)
    assert len(names) == 23
    groups = [n for n in names if "episode" in n]
    assert groups == [
        "g1_pick_bottle_v21  (100 episodes)",
        "reachy2_v30_trimmed  (3 episodes)",
        "so101_v30  (6 episodes)",
    ]
    g1 = browser.proxy.index(names.index(groups[0]), 0)
    cell = {k: g1.siblingAtColumn(col(k)).data() for k in COLUMN_KEYS}
    assert cell["kind"] == "lerobot" and cell["robot"] == "Unitree_G1_Inspire"
    assert cell["task"] == "Pick up the yellow bottle on the table."
    assert cell["path"] == str(shared_data.resolve() / "lerobot" / "g1_pick_bottle_v21")
    assert cell["status"] == "ready" and cell["outcome"] == "unknown"
    assert cell["problems"] == "96 with problems"  # 96 episodes lack their video
    browser.proxy.fetchMore(g1)  # its episodes (read when the dataset is first expanded)
    children = [browser.proxy.index(r, col("duration"), g1) for r in range(100)]
    total = sum(float(i.data()) for i in children)
    assert abs(float(cell["duration"]) - total) < 0.01 * 100  # the total of its episodes
    tip = g1.siblingAtColumn(col("status")).data(Qt.ItemDataRole.ToolTipRole)
    assert tip == "status of the 100 episodes: 100 ready"

    # Collapsed at first: the bags are on the first screen, not under 100 G1 rows.
    view = browser.table
    assert not view.isExpanded(g1)
    example = index_of(browser, "example")
    assert view.viewport().rect().contains(view.visualRect(example))
    view.expand(g1)
    first_child = browser.proxy.index(0, 0, g1)
    assert first_child.data() == "#0"  # the row above names the dataset
    assert first_child.data(Qt.ItemDataRole.ToolTipRole).startswith("g1_pick_bottle_v21 #0\n")
    assert view.visualRect(first_child).top() > view.visualRect(g1).top()

    # Selecting the dataset row stands for its episodes (a verify baseline in one click).
    view.selectionModel().select(
        g1, view.selectionModel().SelectionFlag.ClearAndSelect
        | view.selectionModel().SelectionFlag.Rows,
    )  # fmt: skip
    assert len(browser.selected_ids()) == 100
    assert not browser.open_button.isEnabled()  # Open does not open 100 tabs
    with qtbot.assertNotEmitted(browser.openRequested):
        qtbot.keyClick(view, Qt.Key.Key_Return)  # Enter on a dataset folds it instead
    assert not view.isExpanded(g1)


def test_a_group_summarises_worst_status_outcome_and_findings(
    make_browser: Callable[[Path], CatalogBrowser], catalog_copy: Path
) -> None:
    with Catalog(catalog_copy) as catalog:
        so101 = [e for e in catalog.list_episodes() if e.path.endswith("so101_v30")]
        catalog.set_overrides([so101[2].id], {"outcome": "failure"})
        catalog.set_overrides([so101[3].id], {"outcome": "success"})
        found = Finding("action_saturation", "gripper pinned", "at its limit", 0.9, "high")
        store_findings(catalog, so101[2].id, [found])
        store_findings(catalog, so101[4].id, [Finding("nan_inf", "NaN", "x", 0.2, "low")])
    browser = make_browser(catalog_copy)
    group = browser.proxy.index(top_rows(browser).index("so101_v30  (6 episodes)"), 0)
    outcome = group.siblingAtColumn(col("outcome"))
    assert outcome.data() == "failure"  # the worst of its episodes
    assert outcome.data(Qt.ItemDataRole.ForegroundRole).color() == QColor("#c62828")
    assert outcome.data(Qt.ItemDataRole.ToolTipRole) == (
        "outcome of the 6 episodes: 4 unknown, 1 failure, 1 success"
    )
    assert group.siblingAtColumn(col("findings")).data() == "1 with findings"  # not the low one


def test_search_matches_episodes_and_shows_their_dataset(
    make_browser: Callable[[Path], CatalogBrowser], catalog_copy: Path
) -> None:
    browser = make_browser(catalog_copy)
    browser.set_search("iiwa")
    assert shown_column(browser, "name") == ["iiwa7_gazebo_joint_torque_sqlite3"]
    assert browser.count_label.text() == "1 of 129 episodes"
    browser.set_search("IIWA")
    assert len(shown_indexes(browser)) == 1
    browser.set_search("EMPTY FILE (0 bytes)")  # text of a problem
    assert shown_column(browser, "name") == ["empty-file"]
    browser.set_search("g1_pick_bottle_v21 #42")  # one episode inside a dataset
    assert top_rows(browser) == ["g1_pick_bottle_v21  (100 episodes)"]
    assert shown_column(browser, "name") == ["g1_pick_bottle_v21 #42"]
    episode = index_of(browser, "g1_pick_bottle_v21 #42")
    assert browser.table.isExpanded(episode.parent())  # the match is on screen, not folded
    assert browser.count_label.text() == "1 of 129 episodes"
    browser.set_search("yellow bottle")  # the LeRobot task
    assert len(shown_indexes(browser)) == 100
    browser.set_search("ros1/")  # a path fragment
    assert len(shown_indexes(browser)) == 7
    browser.set_search("")
    assert len(shown_indexes(browser)) == 129
    assert not browser.table.isExpanded(browser.proxy.index(0, 0))  # folded again


def test_column_filters_combine_with_search(
    make_browser: Callable[[Path], CatalogBrowser], catalog_copy: Path
) -> None:
    browser = make_browser(catalog_copy)
    kinds = [browser.filters["kind"].itemText(i) for i in range(browser.filters["kind"].count())]
    assert kinds == ["any", "lerobot", "rosbag1", "rosbag2"]
    browser.filters["kind"].setCurrentText("lerobot")
    assert len(shown_indexes(browser)) == 109
    assert set(shown_column(browser, "kind")) == {"lerobot"}
    assert len(top_rows(browser)) == 3  # the three datasets
    browser.set_filter("kind", None)
    browser.set_filter("status", "failed")
    assert sorted(shown_column(browser, "name")) == ["empty-file", "wrong_format_mcap"]
    assert len(top_rows(browser)) == 2  # no dataset has a failed episode: none is shown
    browser.set_filter("kind", "rosbag2")
    assert shown_column(browser, "name") == ["wrong_format_mcap"]
    browser.set_filter("status", None)
    browser.set_filter("robot", "(none)")  # rows without a robot
    assert len(shown_indexes(browser)) == 12  # 13 rosbag2 rows, one (iiwa) names its robot
    browser.set_search("talker")
    assert sorted(shown_column(browser, "name")) == ["talker_mcap", "talker_sqlite3"]
    browser.clear_filters()
    assert len(shown_indexes(browser)) == 129


def test_sorting_by_duration_is_numeric_and_sorts_within_datasets(
    make_browser: Callable[[Path], CatalogBrowser], catalog_copy: Path
) -> None:
    browser = make_browser(catalog_copy)
    browser.table.sortByColumn(col("duration"), Qt.SortOrder.AscendingOrder)
    top = [float(d) for d in top_rows(browser, "duration")]
    assert top == sorted(top)  # datasets sort by their total among the bags
    g1 = browser.proxy.index(top_rows(browser).index("g1_pick_bottle_v21  (100 episodes)"), 0)
    browser.table.expand(g1)
    inside = [float(browser.proxy.index(r, col("duration"), g1).data()) for r in range(100)]
    assert inside == sorted(inside) and inside[0] < inside[-1]
    shown = top_rows(browser, "duration")
    assert shown.index("4.53") < shown.index("17.78") < shown.index("21.70")  # not "17" < "4"
    browser.table.sortByColumn(col("duration"), Qt.SortOrder.DescendingOrder)
    top = [float(d) for d in top_rows(browser, "duration")]
    assert top == sorted(top, reverse=True)
    assert top_rows(browser)[0] == "g1_pick_bottle_v21  (100 episodes)"  # 1,199 s in total
    g1 = browser.proxy.index(0, 0)
    inside = [float(browser.proxy.index(r, col("duration"), g1).data()) for r in range(100)]
    assert inside == sorted(inside, reverse=True)
    # Names sort naturally: episode #2 before #10.
    browser.table.sortByColumn(col("name"), Qt.SortOrder.AscendingOrder)
    names = shown_column(browser, "name")
    assert names.index("g1_pick_bottle_v21 #2") < names.index("g1_pick_bottle_v21 #10")
    # Sorting keeps the filter.
    browser.set_filter("kind", "rosbag1")
    browser.table.sortByColumn(col("duration"), Qt.SortOrder.AscendingOrder)
    assert sorted(shown_column(browser, "name")[:2]) == ["empty-file", "no-messages"]  # 0 s
    assert shown_column(browser, "duration")[-3:] == ["21.70", "57.75", "395.31"]


def test_multi_select_and_enter_emit_open_requested(
    qtbot: Any, make_browser: Callable[[Path], CatalogBrowser], catalog_copy: Path
) -> None:
    browser = make_browser(catalog_copy)
    browser.show()
    browser.set_search("talker")
    table = browser.table
    table.setFocus()
    table.selectRow(0)
    qtbot.mouseClick(
        table.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.ControlModifier,
        table.visualRect(browser.proxy.index(1, 0)).center(),
    )
    ids = [browser.proxy.index(r, 0).data(ID_ROLE) for r in range(2)]
    assert browser.selected_ids() == ids
    assert browser.open_button.isEnabled() and browser.open_button.text() == "Open 2"
    with qtbot.waitSignal(browser.openRequested, timeout=WAIT_MS) as blocker:
        qtbot.keyClick(table, Qt.Key.Key_Return)
    assert blocker.args == [ids]
    with Catalog(catalog_copy) as catalog:
        assert [item for item, _ in catalog.recent("episode")] == ids  # first selected newest

    with qtbot.waitSignal(browser.openRequested, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(browser.open_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [ids]

    table.clearSelection()
    index = browser.proxy.index(1, col("task"))
    where = table.visualRect(index).center()
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=where)  # a real double
    with qtbot.waitSignal(browser.openRequested, timeout=WAIT_MS) as blocker:  # click presses
        qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert blocker.args == [[ids[1]]]


def test_empty_catalog_shows_friendly_state(
    make_browser: Callable[[Path], CatalogBrowser], tmp_path: Path
) -> None:
    browser = make_browser(tmp_path / "empty.sqlite")
    assert browser.stack.currentWidget() is browser.empty_label
    text = browser.empty_label.text()
    assert "No episodes yet" in text and "Open folder…" in text and "robotrace-desktop demo" in text
    assert browser.count_label.text() == "0 episodes"


# --- scanning -------------------------------------------------------------------------------------


def test_scan_runs_in_a_worker_and_the_ui_keeps_ticking(
    qtbot: Any,
    make_browser: Callable[[Path], CatalogBrowser],
    catalog_copy: Path,
    shared_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = bag_folder(shared_data, tmp_path)
    browser = make_browser(catalog_copy)
    ticks: list[int] = []
    alive = threading.Event()

    def beat() -> None:
        ticks.append(1)
        if len(ticks) >= 3:
            alive.set()

    # The worker waits (in its thread) until the UI thread's timer has ticked: if the scan ran
    # on the UI thread, the timer could not tick and the wait would time out.
    seen: list[bool] = []
    original = scanner._scan_one

    def wait_for_heartbeat(*args: Any, **kwargs: Any) -> None:
        seen.append(alive.wait(WAIT_MS / 1000))
        original(*args, **kwargs)

    monkeypatch.setattr(scanner, "_scan_one", wait_for_heartbeat)
    heartbeat = QTimer()
    heartbeat.setInterval(2)
    heartbeat.timeout.connect(beat)
    heartbeat.start()
    with qtbot.waitSignal(browser.scanFinished, timeout=WAIT_MS) as blocker:
        browser.scan_paths([folder])
        assert browser.is_scanning() and browser.progress_row.isVisibleTo(browser)
    heartbeat.stop()
    assert seen == [True]
    summary = blocker.args[0]
    assert isinstance(summary, ScanSummary)
    assert (summary.recordings, summary.new, summary.errors, summary.cancelled) == (1, 1, 0, False)
    assert not browser.is_scanning() and not browser.progress_row.isVisibleTo(browser)
    assert len(shown_indexes(browser)) == 130
    assert browser.status_text() == "1 recording: 1 new"
    # The new row is the copy (the shared example.bag is a different path, a different id).
    browser.set_search(str(folder))
    assert shown_column(browser, "name") == ["example"]
    assert shown_column(browser, "duration") == ["21.70"]
    with Catalog(catalog_copy) as catalog:
        assert catalog.recent("path")[0] == (str(folder.resolve()), "path")


def test_cancel_mid_scan_of_real_recordings(
    qtbot: Any,
    make_browser: Callable[[Path], CatalogBrowser],
    shared_data: Path,
    tmp_path: Path,
    gate: threading.Event,
) -> None:
    browser = make_browser(tmp_path / "fresh.sqlite")
    browser.show()
    browser.scan_paths([shared_data / "lerobot", shared_data / "ros1"])
    # The worker sits in the first recording (the 100-episode LeRobot dataset) until released.
    qtbot.waitUntil(lambda: browser.progress_bar.maximum() == 10, timeout=WAIT_MS)
    assert "g1_pick_bottle_v21" in browser.progress_label.toolTip()
    qtbot.mouseClick(browser.cancel_button, Qt.MouseButton.LeftButton)
    assert browser.progress_label.text().startswith("Cancelling")
    with qtbot.waitSignal(browser.scanFinished, timeout=WAIT_MS) as blocker:
        gate.set()
    summary = blocker.args[0]
    assert summary.cancelled
    assert (summary.recordings, summary.new) == (10, 100)  # the bags were never reached
    assert browser.status_text() == "Scan cancelled — 10 recordings: 100 new"
    assert len(shown_indexes(browser)) == 100
    assert not browser.is_scanning()


def test_second_scan_request_is_queued(
    qtbot: Any,
    make_browser: Callable[[Path], CatalogBrowser],
    shared_data: Path,
    tmp_path: Path,
    gate: threading.Event,
) -> None:
    first, second = bag_folder(shared_data, tmp_path, "a"), bag_folder(shared_data, tmp_path, "b")
    browser = make_browser(tmp_path / "fresh.sqlite")
    finished: list[ScanSummary] = []
    browser.scanFinished.connect(finished.append)
    browser.scan_paths([first])
    browser.scan_paths([second])
    assert browser.status_text() == "Queued: b (scans after the current one finishes)"
    assert browser.queued_scans() == [[second]]
    gate.set()
    qtbot.waitUntil(lambda: len(finished) == 2, timeout=WAIT_MS)
    assert [s.new for s in finished] == [1, 1]
    assert browser.proxy.rowCount() == 2 and not browser.is_scanning()
    with Catalog(tmp_path / "fresh.sqlite") as catalog:
        paths = [item for item, _ in catalog.recent("path")]
    assert paths == [str(second.resolve()), str(first.resolve())]


def test_scan_with_errors_and_a_failing_scan_report_in_the_status_line(
    qtbot: Any,
    make_browser: Callable[[Path], CatalogBrowser],
    shared_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    browser = make_browser(tmp_path / "fresh.sqlite")
    with qtbot.waitSignal(browser.scanFinished, timeout=WAIT_MS):
        browser.scan_paths([shared_data / "ros1"])
    text = browser.status_text()
    assert text.startswith("7 recordings: 6 new, 1 error — ")
    assert text.endswith("ros1/empty-file.bag: empty file (0 bytes)")
    assert "empty-file.bag: empty file (0 bytes)" in browser.status_label.toolTip()
    assert 'href="#problems"' in browser.status_label.text()
    assert "#a35f00" in browser.status_label.styleSheet()  # amber: indexed, with an error

    def broken(*_args: Any, **_kwargs: Any) -> ScanSummary:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(scan_worker, "scan", broken)
    browser.scan_paths([shared_data / "ros1"])
    qtbot.waitUntil(lambda: not browser.is_scanning(), timeout=WAIT_MS)
    assert browser.status_text() == "Scan failed: disk on fire"
    assert "#c62828" in browser.status_label.styleSheet()
    assert browser.proxy.rowCount() == 7  # the table is still there


def drag_enter(mime: QMimeData) -> QDragEnterEvent:
    """PySide6 >= 6.12 wants a QPointF (the QPoint form is deprecated); 6.11 only has QPoint."""
    rest = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier(0))
    try:
        return QDragEnterEvent(QPointF(200, 200), *rest)
    except TypeError:
        return QDragEnterEvent(QPoint(200, 200), *rest)


def test_drop_of_a_folder_starts_a_scan(
    qtbot: Any,
    make_browser: Callable[[Path], CatalogBrowser],
    catalog_copy: Path,
    shared_data: Path,
    tmp_path: Path,
) -> None:
    folder = bag_folder(shared_data, tmp_path)
    browser = make_browser(catalog_copy)
    browser.show()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    enter = drag_enter(mime)
    QApplication.sendEvent(browser, enter)
    assert enter.isAccepted()
    text_only = QMimeData()
    text_only.setText("not a file")
    refused = drag_enter(text_only)
    QApplication.sendEvent(browser, refused)
    assert not refused.isAccepted()

    drop = QDropEvent(
        QPointF(200, 200),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(browser.scanFinished, timeout=WAIT_MS) as blocker:
        QApplication.sendEvent(browser, drop)
        assert drop.isAccepted() and browser.is_scanning()
    assert blocker.args[0].new == 1
    assert len(shown_indexes(browser)) == 130


def test_recent_menu_reopens_episodes_and_rescans_paths(
    qtbot: Any,
    make_browser: Callable[[Path], CatalogBrowser],
    catalog_copy: Path,
    shared_data: Path,
    tmp_path: Path,
) -> None:
    folder = bag_folder(shared_data, tmp_path)
    browser = make_browser(catalog_copy)
    with qtbot.waitSignal(browser.scanFinished, timeout=WAIT_MS):
        browser.scan_paths([folder])
    browser.set_search("iiwa")
    browser.table.selectRow(0)
    iiwa = browser.selected_ids()
    with qtbot.waitSignal(browser.openRequested, timeout=WAIT_MS):
        browser.open_button.click()

    browser.recent_menu.fill()
    actions = {a.text(): a for a in browser.recent_menu.actions() if a.text()}
    assert "iiwa7_gazebo_joint_torque_sqlite3  —  rosbag2" in actions
    assert f"Re-scan {folder.resolve()}" in actions
    with qtbot.waitSignal(browser.openRequested, timeout=WAIT_MS) as blocker:
        actions["iiwa7_gazebo_joint_torque_sqlite3  —  rosbag2"].trigger()
    assert blocker.args == [iiwa]
    with qtbot.waitSignal(browser.scanFinished, timeout=WAIT_MS) as blocker:
        actions[f"Re-scan {folder.resolve()}"].trigger()
    assert blocker.args[0].unchanged == 1


# --- looks ----------------------------------------------------------------------------------------


def _has_color(image: Any, rect: Any, target: str, tolerance: int = 40) -> bool:
    want = QColor(target)
    for y in range(rect.top(), rect.bottom()):
        for x in range(rect.left(), rect.right()):
            c = image.pixelColor(x, y)
            if (
                abs(c.red() - want.red()) < tolerance
                and abs(c.green() - want.green()) < tolerance
                and abs(c.blue() - want.blue()) < tolerance
            ):
                return True
    return False


def test_screenshot_shows_status_colours_and_reproducibility_dots(
    qtbot: Any, make_browser: Callable[[Path], CatalogBrowser], catalog_copy: Path
) -> None:
    browser = make_browser(catalog_copy)
    browser.resize(1600, 760)
    browser.show()
    qtbot.waitExposed(browser)
    browser.table.sortByColumn(col("kind"), Qt.SortOrder.DescendingOrder)  # bags first
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert browser.grab().save(str(SHOTS / "catalog_browser.png"))

    image = browser.table.viewport().grab().toImage()
    scale = image.devicePixelRatio()
    assert scale == 1.0
    failed = index_of(browser, "wrong_format_mcap", "status")
    ready = index_of(browser, "example", "status")
    assert browser.table.viewport().rect().contains(browser.table.visualRect(failed))
    assert _has_color(image, browser.table.visualRect(failed), STATUS_COLORS["failed"])
    assert not _has_color(image, browser.table.visualRect(ready), STATUS_COLORS["failed"])
    assert _has_color(image, browser.table.visualRect(ready), STATUS_COLORS["ready"])
    name = browser.table.visualRect(index_of(browser, "example"))
    assert _has_color(image, name, AMBER)
    # Long paths are elided in the middle: both ends stay readable.
    path_index = browser.proxy.index(0, col("path"))
    assert browser.table.columnWidth(col("path")) > 100
    assert path_index.data().startswith("/")


def test_shutdown_mid_scan_stops_the_worker_and_ignores_its_late_result(
    qtbot: Any,
    make_browser: Callable[[Path], CatalogBrowser],
    shared_data: Path,
    tmp_path: Path,
    gate: threading.Event,
) -> None:
    browser = make_browser(tmp_path / "fresh.sqlite")
    browser.scan_paths([shared_data / "ros1"])
    worker = browser.scan_panel.worker
    assert worker is not None
    qtbot.waitUntil(lambda: browser.progress_bar.maximum() == 7, timeout=WAIT_MS)
    threading.Timer(0.1, gate.set).start()  # the worker finishes its current recording
    browser.shutdown()  # cancels and waits for the thread
    assert not worker.is_running() and worker.is_cancelled()
    assert not browser.is_scanning()
    with qtbot.assertNotEmitted(browser.scanFinished, wait=300):
        pass
    assert browser._catalog is None  # not reopened by the late result


# --- live: rows appear while scanning, and when another program adds them ----------------------


@pytest.fixture
def hold_second(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Holds the worker before its second recording (the first is committed) until set."""
    event = threading.Event()
    original = scanner._scan_one
    calls: list[int] = []

    def gated(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 2:
            event.wait(WAIT_MS / 1000)
        original(*args, **kwargs)

    monkeypatch.setattr(scanner, "_scan_one", gated)
    try:
        yield event
    finally:
        event.set()


def test_rows_appear_while_a_scan_indexes(
    qtbot: Any,
    make_browser: Callable[[Path], CatalogBrowser],
    catalog_copy: Path,
    shared_data: Path,
    tmp_path: Path,
    hold_second: threading.Event,
) -> None:
    folder = tmp_path / "two"
    folder.mkdir()
    shutil.copy(shared_data / "ros1" / "example.bag", folder / "a_first.bag")
    shutil.copy(shared_data / "ros1" / "example-lz4.bag", folder / "b_second.bag")
    browser = make_browser(catalog_copy)
    browser.show()
    browser.scan_paths([folder])
    # The worker is parked before the second bag: the first one's row is already listed.
    qtbot.waitUntil(lambda: "a_first" in shown_column(browser, "name"), timeout=WAIT_MS)
    assert browser.is_scanning()
    assert "b_second" not in shown_column(browser, "name")
    assert browser.count_label.text() == "130 episodes"
    with qtbot.waitSignal(browser.scanFinished, timeout=WAIT_MS):
        hold_second.set()
    assert {"a_first", "b_second"} <= set(shown_column(browser, "name"))


def test_findings_and_new_rows_from_elsewhere_update_in_place(
    qtbot: Any,
    make_browser: Callable[[Path], CatalogBrowser],
    catalog_copy: Path,
    shared_data: Path,
    tmp_path: Path,
) -> None:
    """Explain storing findings and a scan on another connection: the rows update while the
    user's selection, the expanded dataset and the row at the top of the view stay put."""
    browser = make_browser(catalog_copy)
    browser.resize(1280, 800)
    browser.show()
    qtbot.waitExposed(browser)
    view = browser.table
    g1 = browser.proxy.index(top_rows(browser).index("g1_pick_bottle_v21  (100 episodes)"), 0)
    view.expand(g1)
    view.scrollTo(index_of(browser, "g1_pick_bottle_v21 #40"), view.ScrollHint.PositionAtTop)
    chosen = index_of(browser, "g1_pick_bottle_v21 #45")
    view.selectionModel().select(
        chosen, view.selectionModel().SelectionFlag.ClearAndSelect
        | view.selectionModel().SelectionFlag.Rows,
    )  # fmt: skip
    episode = str(chosen.data(ID_ROLE))
    assert view.indexAt(QPoint(4, 2)).data() == "#40"
    assert index_of(browser, "g1_pick_bottle_v21 #45", "findings").data() == ""

    folder = bag_folder(shared_data, tmp_path)  # /tmp/… sorts above /work/…: a row above
    with Catalog(catalog_copy) as other:  # another connection, as the scan worker or a CLI
        found = Finding("torque_spike", "Elbow torque spike", "3 sigma", 0.8, "high")
        store_findings(other, episode, [found])
        scan(other, [folder])
    qtbot.waitUntil(
        lambda: (
            index_of(browser, "g1_pick_bottle_v21 #45", "findings").data()
            == "Elbow torque spike (1)"
        ),
        timeout=WAIT_MS,
    )
    assert len(shown_indexes(browser)) == 130  # the new bag is listed too
    assert browser.selected_ids() == [episode]
    assert view.isExpanded(browser.proxy.index(top_rows(browser).index(
        "g1_pick_bottle_v21  (100 episodes)"), 0))  # fmt: skip
    assert view.indexAt(QPoint(4, 2)).data() == "#40"  # not scrolled away
    group = index_of(browser, "g1_pick_bottle_v21 #45").parent()
    assert group.siblingAtColumn(col("findings")).data() == "1 with findings"


def test_a_cli_scan_appears_without_a_restart_and_f5_reloads(
    qtbot: Any,
    make_browser: Callable[[Path], CatalogBrowser],
    catalog_copy: Path,
    shared_data: Path,
    tmp_path: Path,
) -> None:
    from tests.hardening.trees import cli

    folder = bag_folder(shared_data, tmp_path)
    browser = make_browser(catalog_copy)
    browser.show()
    proc = cli(catalog_copy, "scan", str(folder), "--no-explain")
    _, err = proc.communicate()
    assert proc.returncode == 0, err
    qtbot.waitUntil(lambda: len(shown_indexes(browser)) == 130, timeout=WAIT_MS)
    browser.set_search(str(folder.resolve()))
    assert shown_column(browser, "name") == ["example"]

    # View ▸ Reload (F5) reads the catalog at once, watcher or not.
    assert browser.reload_action.shortcut() == QKeySequence("F5")
    browser.watcher.stop()
    (example,) = shown_column(browser, "name", ID_ROLE)
    with Catalog(catalog_copy) as other:
        other.set_overrides([example], {"robot": "turtlebot"})
    assert shown_column(browser, "robot") == [""]
    browser.reload_action.trigger()
    assert shown_column(browser, "robot") == ["turtlebot"]
    assert browser.status_text() == "Reloaded the catalog: 130 episodes"


def test_the_main_window_offers_view_reload(qtbot: Any, catalog_copy: Path) -> None:
    from robotrace_desktop.ui.main_window import MainWindow

    window = MainWindow(catalog_copy)
    qtbot.addWidget(window)
    menus = {a.text(): a.menu() for a in window.menuBar().actions()}
    assert "&View" in menus
    actions = [a for a in menus["&View"].actions() if a.text() == "&Reload catalog"]
    assert actions == [window.browser.reload_action]
    assert actions[0].shortcut() == QKeySequence("F5")
    window.close()


# --- replays --------------------------------------------------------------------------------------


def test_replays_are_hidden_unless_asked_for(
    make_browser: Callable[[Path], CatalogBrowser], catalog_copy: Path
) -> None:
    with Catalog(catalog_copy) as catalog:
        replays = [e.id for e in catalog.list_episodes() if e.name.startswith("talker")]
        catalog.set_overrides(replays, {"source": "replay"})
    browser = make_browser(catalog_copy)
    assert not browser.show_replays.isChecked()
    assert len(shown_indexes(browser)) == 127
    assert "talker_mcap" not in shown_column(browser, "name")
    assert browser.count_label.text() == "127 episodes · 2 replays hidden"
    browser.set_search("talker")  # a search does not dig them out either
    assert shown_column(browser, "name") == []
    browser.show_replays.setChecked(True)
    assert sorted(shown_column(browser, "name")) == ["talker_mcap", "talker_sqlite3"]
    assert top_rows(browser) == ["replays  (2 episodes)"]  # one row, not one per replay
    browser.set_search("")
    assert browser.count_label.text() == "129 episodes"


# --- the window fits the data ---------------------------------------------------------------------


def test_at_1280x800_every_column_fits_and_the_path_elides_in_the_middle(
    qtbot: Any, make_browser: Callable[[Path], CatalogBrowser], catalog_copy: Path
) -> None:
    with Catalog(catalog_copy) as catalog:  # the longest count text: "… · 2 replays hidden"
        replays = [e.id for e in catalog.list_episodes() if e.name.startswith("talker")]
        catalog.set_overrides(replays, {"source": "replay"})
    browser = make_browser(catalog_copy)
    browser.resize(1280, 800)
    browser.show()
    qtbot.waitExposed(browser)
    assert browser.minimumSizeHint().width() <= 1280  # the filter row does not widen the window
    assert browser.width() == 1280
    view, header = browser.table, browser.table.header()
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert browser.grab().save(str(SHOTS / "catalog_browser_1280.png"))
    assert not view.horizontalScrollBar().isVisible()  # nothing hides off to the right
    path = col("path")
    right = header.sectionViewportPosition(path) + header.sectionSize(path)
    assert header.sectionSize(path) >= 150 and right <= view.viewport().width()
    metrics = header.fontMetrics()
    for column in range(header.count()):
        if header.isSectionHidden(column):
            continue
        text = str(browser.proxy.headerData(column, Qt.Orientation.Horizontal))
        assert metrics.horizontalAdvance(text) + 12 <= header.sectionSize(column), text
    # Policy/Env/Git/Seed are empty for every third-party recording: hidden, not 4 × "—".
    hidden = [k for k in COLUMN_KEYS if header.isSectionHidden(col(k))]
    assert hidden == ["policy_version", "env_version", "git_sha", "seed"]

    delegate = view.itemDelegateForColumn(path)
    option = QStyleOptionViewItem()
    child = index_of(browser, "g1_pick_bottle_v21 #3", "path")
    delegate.initStyleOption(option, child)
    assert option.textElideMode == Qt.TextElideMode.ElideMiddle
    assert child.data(Qt.ItemDataRole.ToolTipRole) == f"{child.data()}  (episode 3)"
    assert child.data().endswith("lerobot/g1_pick_bottle_v21")


def test_a_tagged_policy_brings_its_column_back(
    qtbot: Any, make_browser: Callable[[Path], CatalogBrowser], catalog_copy: Path
) -> None:
    browser = make_browser(catalog_copy)
    browser.show()
    header = browser.table.header()
    assert header.isSectionHidden(col("policy_version"))
    with Catalog(catalog_copy) as other:
        other.set_overrides([other.list_episodes()[0].id], {"policy_version": "act-v4"})
    qtbot.waitUntil(lambda: not header.isSectionHidden(col("policy_version")), timeout=WAIT_MS)
    assert "act-v4" in shown_column(browser, "policy_version")
    assert header.isSectionHidden(col("seed"))
    # The header's menu shows a column by hand; reloads leave that choice alone.
    seed = next(a for a in browser.table.column_menu().actions() if a.text() == "Seed")
    assert not seed.isChecked()
    seed.trigger()
    assert not header.isSectionHidden(col("seed"))
    browser.reload()
    assert not header.isSectionHidden(col("seed"))


def test_the_row_colours_are_explained(
    qtbot: Any, make_browser: Callable[[Path], CatalogBrowser], catalog_copy: Path
) -> None:
    browser = make_browser(catalog_copy)
    browser.resize(1280, 800)
    browser.show()
    qtbot.waitExposed(browser)
    legend = browser.status_line.legend
    assert legend.isVisible()
    assert list(legend.entries) == ["ready", "failed", "missing", "not reproducible"]
    image = legend.grab().toImage()
    for colour in (*STATUS_COLORS.values(), AMBER):
        assert _has_color(image, image.rect(), colour, tolerance=20), colour
    assert "policy, env, git sha or seed not recorded" in legend.toolTip()
    tip = browser.proxy.headerData(col("status"), Qt.Orientation.Horizontal, TOOLTIP)
    assert "green ready" in tip and "red failed" in tip and "grey missing" in tip
    tip = browser.proxy.headerData(col("name"), Qt.Orientation.Horizontal, TOOLTIP)
    assert tip.startswith("Amber dot: not reproducible")


def test_changes_made_while_the_catalog_tab_is_hidden_load_when_it_shows(
    qtbot: Any, make_browser: Callable[[Path], CatalogBrowser], catalog_copy: Path
) -> None:
    browser = make_browser(catalog_copy)
    browser.show()
    qtbot.waitExposed(browser)
    assert "act-v4" not in shown_column(browser, "policy_version")  # every dataset read
    browser.hide()  # the user is on an episode tab
    with Catalog(catalog_copy) as other:
        other.set_overrides([other.list_episodes()[0].id], {"policy_version": "act-v4"})
    qtbot.waitUntil(lambda: browser._stale, timeout=WAIT_MS)  # noticed, not reloaded
    assert "act-v4" not in shown_column(browser, "policy_version")
    browser.show()
    assert "act-v4" in shown_column(browser, "policy_version")
