"""The bookmarks panel on the demo episode: add, edit in place, jump, copy, export."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import QDialog, QLineEdit

from robotrace_desktop import paths
from robotrace_desktop.catalog.bookmarks import list_bookmarks
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.episode import EpisodeInfo
from robotrace_desktop.core.links import parse_link
from robotrace_desktop.demo import read_frame_number
from robotrace_desktop.library.scanner import scan
from robotrace_desktop.readers.bundle.reader import BundleReader
from robotrace_desktop.session import EpisodeSession
from robotrace_desktop.ui import bookmarks_panel
from robotrace_desktop.ui.bookmarks_panel import NOTE_COL, TIME_COL, BookmarksPanel
from robotrace_desktop.ui.qimage import qimage_to_rgb
from robotrace_desktop.video.images import write_png
from tests.demo_cache import demo_copy

MS = 1_000_000
SHOTS = Path(os.environ.get("ROBOTRACE_SHOT_DIR", tempfile.gettempdir())) / "robotrace_shots"


@pytest.fixture(scope="module")
def demo_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_copy(tmp_path_factory.mktemp("demo") / "bundle")


@pytest.fixture(scope="module")
def frame_times(demo_bundle: Path) -> dict[str, np.ndarray]:
    with BundleReader().open(demo_bundle) as episode:
        return {cam: episode.video(cam).frame_times_ns().copy() for cam in ("front", "wrist")}


@pytest.fixture
def demo(tmp_path: Path, demo_bundle: Path) -> Iterator[tuple[Catalog, EpisodeInfo]]:
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [demo_bundle])
        yield catalog, catalog.get(catalog.list_episodes()[0].id)


@pytest.fixture
def panel(qtbot, demo: tuple[Catalog, EpisodeInfo], frame_times) -> BookmarksPanel:
    catalog, info = demo
    widget = BookmarksPanel(EpisodeSession(catalog, info))
    widget.set_frame_times(frame_times)
    qtbot.addWidget(widget)
    widget.resize(420, 360)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def stored(catalog: Catalog, episode: str) -> list[tuple[int, int | None, str]]:
    """What a second connection to the catalog file sees (i.e. what was committed)."""
    with Catalog(catalog.path) as other:
        return [(m.t_ns, m.t_end_ns, m.note) for m in list_bookmarks(other, episode)]


def cell_center(panel: BookmarksPanel, row: int, col: int) -> QPoint:
    return panel.table.visualItemRect(panel.table.item(row, col)).center()


def test_add_at_shows_a_row_and_commits(qtbot, panel: BookmarksPanel, demo) -> None:
    catalog, info = demo
    with qtbot.waitSignal(panel.bookmarksChanged, timeout=1000):
        panel.add_at(7_500 * MS, "GraspError raised")
    newest = panel.add_at(3_900 * MS, "gripper closes early", t_end_ns=5_600 * MS)
    assert panel.table.rowCount() == 2
    rows = [
        [panel.table.item(r, c).text() for c in range(3)] for r in range(panel.table.rowCount())
    ]
    assert rows == [
        ["3.900 s", "5.600 s", "gripper closes early"],
        ["7.500 s", "", "GraspError raised"],
    ]
    assert [b.id for b in panel.selected_bookmarks()] == [newest.id]  # the newest is selected
    assert stored(catalog, info.id) == [
        (3_900 * MS, 5_600 * MS, "gripper closes early"),
        (7_500 * MS, None, "GraspError raised"),
    ]
    assert [b.t_ns for b in panel.bookmarks()] == [3_900 * MS, 7_500 * MS]


def test_note_edited_in_place_is_saved(qtbot, panel: BookmarksPanel, demo) -> None:
    catalog, info = demo
    panel.add_at(3_900 * MS, "draft")
    viewport, where = panel.table.viewport(), cell_center(panel, 0, NOTE_COL)
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=where)  # a real double click
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=where)  # starts with a press
    qtbot.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=where)
    qtbot.waitUntil(lambda: panel.table.findChild(QLineEdit) is not None, timeout=2000)
    editor = panel.table.findChild(QLineEdit)
    assert panel.table.state() == panel.table.State.EditingState
    editor.selectAll()
    qtbot.keyClicks(editor, "gripper closes, 1.7 s early")
    with qtbot.waitSignal(panel.bookmarksChanged, timeout=2000):
        qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert stored(catalog, info.id) == [(3_900 * MS, None, "gripper closes, 1.7 s early")]
    assert panel.bookmarks()[0].note == "gripper closes, 1.7 s early"
    assert not panel.table.item(0, TIME_COL).flags() & Qt.ItemFlag.ItemIsEditable


def test_click_jumps_to_the_bookmark(qtbot, panel: BookmarksPanel) -> None:
    panel.add_at(1_000 * MS, "one")
    panel.add_at(3_900 * MS, "range", t_end_ns=5_600 * MS)
    viewport = panel.table.viewport()
    with qtbot.waitSignal(panel.jumpRequested, timeout=1000) as blocker:
        qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=cell_center(panel, 1, TIME_COL))
    assert blocker.args == [3_900 * MS]  # a range jumps to its start
    with qtbot.waitSignal(panel.jumpRequested, timeout=1000) as blocker:
        qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=cell_center(panel, 0, NOTE_COL))
    assert blocker.args == [1_000 * MS]


def test_copy_link_puts_the_deep_link_on_the_clipboard(qtbot, panel: BookmarksPanel, demo) -> None:
    _, info = demo
    assert not panel.copy_link_button.isEnabled()  # nothing selected yet
    panel.add_at(12_840 * MS, "end")
    QGuiApplication.clipboard().clear()
    qtbot.mouseClick(panel.copy_link_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == f"robotrace://episode/{info.id}?t=12840ms"
    assert parse_link(QGuiApplication.clipboard().text()).t_ns == 12_840 * MS


def test_export_json_and_csv_read_back(tmp_path: Path, panel: BookmarksPanel, demo) -> None:
    _, info = demo
    panel.add_at(10 * MS, "before the wrist camera")
    panel.add_at(3_900 * MS, 'close, "early"\nsecond line', t_end_ns=5_600 * MS)
    panel.add_at(7_500 * MS, "error")
    data = json.loads(panel.export_to(tmp_path / "all.json").read_text())
    assert [(r["t"], r["frame_index"]) for r in data] == [
        ("10ms", {"front": 0, "wrist": None}),
        ("3900ms", {"front": 117, "wrist": 58}),
        ("7500ms", {"front": 225, "wrist": 112}),
    ]
    assert data[1]["note"] == 'close, "early"\nsecond line' and data[1]["t_end_ns"] == 5_600 * MS
    assert data[2]["link"] == f"robotrace://episode/{info.id}?t=7500ms"
    assert {r["policy_version"] for r in data} == {"pick-v0.3.1"}
    panel.table.clearSelection()
    panel.table.selectRow(1)
    text = panel.export_to(tmp_path / "one.csv", selected_only=True).read_text()
    (row,) = csv.DictReader(io.StringIO(text, newline=""))
    assert row["note"] == 'close, "early"\nsecond line'
    assert (row["frame[front]"], row["frame[wrist]"], row["t"]) == ("117", "58", "3900ms")
    assert "Exported 1 bookmark(s)" in panel.status.text()


def test_copy_for_bug_report_uses_the_cache_folder(
    qtbot, panel: BookmarksPanel, demo, demo_bundle: Path
) -> None:
    _, info = demo
    asked: list[int] = []

    def provider(t_ns: int) -> Path:
        asked.append(t_ns)
        with BundleReader().open(demo_bundle) as episode:
            frame = episode.video("front").frame_at(t_ns)
        return write_png(paths.cache_dir() / "bug_reports" / f"{info.id}_{t_ns}.png", frame.rgb)

    panel.set_frame_png_provider(provider)
    panel.add_at(3_900 * MS, "closes | early")
    qtbot.mouseClick(panel.bug_report_button, Qt.MouseButton.LeftButton)
    text = QGuiApplication.clipboard().text()
    png = paths.cache_dir() / "bug_reports" / f"{info.id}_{3_900 * MS}.png"
    assert asked == [3_900 * MS] and png.is_file()
    assert text.splitlines()[-1] == f"![frame](<{png.as_posix()}>)"
    assert f"`robotrace://episode/{info.id}?t=3900ms`" in text
    assert "**Frames:** front #117, wrist #58" in text and r"> closes \| early" in text
    from PySide6.QtGui import QImage

    assert read_frame_number(qimage_to_rgb(QImage(str(png)))) == 117
    assert not any(p.suffix == ".png" for p in demo_bundle.rglob("*"))  # recording untouched


def test_a_png_written_into_the_recording_is_moved_out(
    panel: BookmarksPanel, demo_bundle: Path
) -> None:
    stray = demo_bundle / "stray_frame.png"
    panel.set_frame_png_provider(lambda t: write_png(stray, np.zeros((4, 4, 3), np.uint8)))
    panel.add_at(0, "start")
    text = panel.copy_bug_report()
    moved = paths.cache_dir() / "bug_reports" / "stray_frame.png"
    assert not stray.exists() and moved.is_file()
    assert text is not None and text.endswith(f"![frame](<{moved.as_posix()}>)\n")


def test_prompt_delete_and_validation(
    qtbot, panel: BookmarksPanel, demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog, info = demo

    def fill(dialog: bookmarks_panel.AddBookmarkDialog) -> int:
        dialog.note.setText("ranged from the dialog")
        dialog.ranged.setChecked(True)
        dialog.end.setValue(6.25)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(bookmarks_panel.AddBookmarkDialog, "exec", fill)
    panel.set_time_provider(lambda: 4_000 * MS)
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    assert stored(catalog, info.id) == [(4_000 * MS, 6_250 * MS, "ranged from the dialog")]
    monkeypatch.setattr(
        bookmarks_panel.AddBookmarkDialog, "exec", lambda d: QDialog.DialogCode.Rejected
    )
    assert panel.prompt_and_add(5 * MS) is None and len(panel.bookmarks()) == 1
    with pytest.raises(Exception, match="t_ns must be >= 0"):
        panel.add_at(-5)
    panel.table.selectAll()
    with qtbot.waitSignal(panel.bookmarksChanged, timeout=1000):
        assert panel.delete_selected(confirm=False) == 1
    assert stored(catalog, info.id) == [] and panel.table.rowCount() == 0
    assert not panel.export_all_button.isEnabled()


def test_screenshot_of_the_panel(qtbot, panel: BookmarksPanel) -> None:
    panel.add_at(500 * MS, "approach starts")
    panel.add_at(3_900 * MS, "gripper closes early — 1.7 s before the cube", t_end_ns=5_600 * MS)
    panel.add_at(7_500 * MS, "GraspError: object slipped")
    panel.table.clearSelection()
    panel.table.selectRow(1)
    qtbot.wait(50)
    SHOTS.mkdir(parents=True, exist_ok=True)
    image = panel.grab().toImage()
    image.save(str(SHOTS / "bookmarks_panel.png"))
    rgb = qimage_to_rgb(image)
    highlight = panel.table.palette().color(QPalette.ColorRole.Highlight)
    rect = panel.table.visualItemRect(panel.table.item(1, NOTE_COL))
    origin = panel.table.viewport().mapTo(panel, rect.topLeft())
    pixel = rgb[origin.y() + 2, origin.x() + rect.width() - 4].astype(int)
    assert np.abs(pixel - [highlight.red(), highlight.green(), highlight.blue()]).max() < 30
    other = panel.table.visualItemRect(panel.table.item(2, NOTE_COL))
    origin2 = panel.table.viewport().mapTo(panel, other.topLeft())
    unselected = rgb[origin2.y() + 2, origin2.x() + other.width() - 4].astype(int)
    assert np.abs(unselected - [highlight.red(), highlight.green(), highlight.blue()]).max() > 60
