"""The bookmarks list of one episode: add, annotate, jump, export, share.

Storage and export formats are Qt-free (``catalog.bookmarks``, ``catalog.bookmark_export``);
this panel is only the table and the buttons. Every edit goes through the ``EpisodeSession``,
which writes it to the catalog at once (one transaction per change), so a note typed here
survives a crash; the table repaints on the session's ``bookmarks_changed``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from robotrace_desktop import paths
from robotrace_desktop.catalog.bookmark_export import (
    bookmark_rows,
    bug_report_markdown,
    frame_indices,
    write_export,
)
from robotrace_desktop.catalog.bookmarks import Bookmark
from robotrace_desktop.core.links import EpisodeLink
from robotrace_desktop.core.timebase import NS_PER_S
from robotrace_desktop.errors import RobotraceError
from robotrace_desktop.session.episode import EpisodeSession
from robotrace_desktop.ui.plain_text import literal_tip

TIME_COL, END_COL, NOTE_COL = range(3)
ID_ROLE = Qt.ItemDataRole.UserRole
FramePngProvider = Callable[[int], Path | None]


def seconds_text(t_ns: int | None) -> str:
    return "" if t_ns is None else f"{t_ns / NS_PER_S:.3f} s"


class AddBookmarkDialog(QDialog):
    """Note plus an optional range end (seconds), defaulting to one second after the start."""

    def __init__(self, t_ns: int, duration_ns: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add bookmark")
        self.setMinimumWidth(360)
        self.t_ns = t_ns
        form = QFormLayout(self)
        form.addRow("At", QLabel(seconds_text(t_ns), self))
        self.note = QLineEdit(self)
        self.note.setPlaceholderText("what happens here")
        form.addRow("Note", self.note)
        self.ranged = QCheckBox("Range until", self)
        self.end = QDoubleSpinBox(self)
        self.end.setDecimals(3)
        self.end.setSuffix(" s")
        start_s = t_ns / NS_PER_S
        self.end.setRange(
            start_s + 0.001, max(start_s + 0.001, duration_ns / NS_PER_S, start_s + 1)
        )
        self.end.setValue(min(start_s + 1.0, self.end.maximum()))
        self.end.setEnabled(False)
        self.ranged.toggled.connect(self.end.setEnabled)
        form.addRow(self.ranged, self.end)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def t_end_ns(self) -> int | None:
        return round(self.end.value() * NS_PER_S) if self.ranged.isChecked() else None


class BookmarksPanel(QWidget):
    # ns need 64 bits: a plain Signal(int) is a C int and overflows after 2.147 s.
    # t_ns (a range's start)
    jumpRequested = Signal("qint64")  # type: ignore[arg-type]  # stub: no C++ type names
    bookmarksChanged = Signal()
    statusMessage = Signal(str)

    def __init__(self, session: EpisodeSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.info = session.info
        self._marks: list[Bookmark] = []
        self._frame_times: dict[str, np.ndarray] = {}
        self._png_provider: FramePngProvider | None = None
        self._time_provider: Callable[[], int] | None = None
        self._current_t_ns = 0
        self._populating = False

        self.table = QTableWidget(0, 3, self)
        self.table.setHorizontalHeaderLabels(["Time", "End", "Note"])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.SelectedClicked
        )
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(TIME_COL, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(END_COL, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(NOTE_COL, QHeaderView.ResizeMode.Stretch)
        self.table.cellClicked.connect(self._jump_to_row)
        self.table.cellDoubleClicked.connect(self._jump_to_row)
        self.table.cellActivated.connect(self._jump_to_row)
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.itemSelectionChanged.connect(self._update_buttons)

        self.add_button = QPushButton("Add…", self)
        self.add_button.setToolTip("Bookmark the playhead with a note (B)")
        self.delete_button = QPushButton("Delete", self)
        self.copy_link_button = QPushButton("Copy link", self)
        self.copy_link_button.setToolTip("robotrace:// link to the selected bookmark")
        self.bug_report_button = QPushButton("Copy for bug report", self)
        self.bug_report_button.setToolTip(
            "Markdown with the link, the reproducibility fields and the frame as a PNG"
        )
        self.export_selected_button = QPushButton("Export selected…", self)
        self.export_all_button = QPushButton("Export all…", self)
        self.add_button.clicked.connect(lambda: self.prompt_and_add(self.current_time()))
        self.delete_button.clicked.connect(lambda: self.delete_selected(confirm=True))
        self.copy_link_button.clicked.connect(self.copy_link)
        self.bug_report_button.clicked.connect(self.copy_bug_report)
        self.export_selected_button.clicked.connect(lambda: self.export_dialog(True))
        self.export_all_button.clicked.connect(lambda: self.export_dialog(False))
        self.status = QLabel(self)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setStyleSheet("color: palette(mid);")

        buttons = QGridLayout()
        buttons.setSpacing(4)
        for i, button in enumerate(
            (
                self.add_button,
                self.delete_button,
                self.copy_link_button,
                self.bug_report_button,
                self.export_selected_button,
                self.export_all_button,
            )
        ):
            buttons.addWidget(button, i // 2, i % 2)  # two columns: fits a narrow side tab
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self.refresh()
        session.bookmarks_changed.connect(self._on_session_bookmarks)

    # --- wiring from the episode view ------------------------------------------------------

    def set_frame_times(self, frame_times: Mapping[str, object]) -> None:
        """camera → sorted frame times (episode time, offsets applied) for frame indices."""
        self._frame_times = {
            name: np.asarray(times, dtype=np.int64)
            for name, times in frame_times.items()
            if times is not None
        }

    def set_frame_png_provider(self, provider: FramePngProvider | None) -> None:
        """``provider(t_ns)`` writes the frame shown at t_ns as PNG and returns its path."""
        self._png_provider = provider

    def set_time_provider(self, provider: Callable[[], int] | None) -> None:
        """Where the Add button reads the playhead (else the last ``set_current_time``)."""
        self._time_provider = provider

    def set_current_time(self, t_ns: int) -> None:
        self._current_t_ns = int(t_ns)

    def current_time(self) -> int:
        return int(self._time_provider()) if self._time_provider else self._current_t_ns

    # --- data -----------------------------------------------------------------------------

    def bookmarks(self) -> list[Bookmark]:
        return list(self._marks)

    def refresh(self) -> None:
        """Reload from the catalog, keeping the selection."""
        try:
            self.session.reload_bookmarks()
        except RobotraceError as exc:
            self._show(f"Could not read bookmarks: {exc}", error=True)
        self._render(self.session.bookmarks())

    def _on_session_bookmarks(self, marks: list[Bookmark]) -> None:
        """The session stored a change (here or elsewhere in the view): repaint, tell the view."""
        if [m.id for m in marks] == [m.id for m in self._marks]:
            self._update_notes(marks)  # a note edit: never replace the item being edited
        else:
            self._render(marks)
        self.bookmarksChanged.emit()

    def _update_notes(self, marks: list[Bookmark]) -> None:
        self._marks = list(marks)
        self._populating = True
        try:
            for row, mark in enumerate(marks):
                item = self.table.item(row, NOTE_COL)
                if item is not None and item.text() != mark.note:
                    item.setText(mark.note)
                if item is not None:
                    item.setToolTip(literal_tip(mark.note or "double-click to add a note"))
        finally:
            self._populating = False

    def _render(self, marks: list[Bookmark]) -> None:
        selected = {m.id for m in self.selected_bookmarks()}
        self._marks = list(marks)
        self._populating = True
        try:
            self.table.setRowCount(len(self._marks))
            for row, mark in enumerate(self._marks):
                self._set_row(row, mark)
        finally:
            self._populating = False
        self.table.clearSelection()
        for row, mark in enumerate(self._marks):
            if mark.id in selected:
                self.table.selectRow(row)
        self._update_buttons()

    def _set_row(self, row: int, mark: Bookmark) -> None:
        fixed = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled
        time_item = QTableWidgetItem(seconds_text(mark.t_ns))
        time_item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        end_item = QTableWidgetItem(seconds_text(mark.t_end_ns))
        end_item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        note_item = QTableWidgetItem(mark.note)
        note_item.setToolTip(literal_tip(mark.note or "double-click to add a note"))
        for item in (time_item, end_item):
            item.setFlags(fixed)
            item.setToolTip(EpisodeLink(self.info.id, mark.t_ns).url())
        note_item.setFlags(fixed | Qt.ItemFlag.ItemIsEditable)
        for col, item in ((TIME_COL, time_item), (END_COL, end_item), (NOTE_COL, note_item)):
            item.setData(ID_ROLE, mark.id)
            self.table.setItem(row, col, item)

    def selected_bookmarks(self) -> list[Bookmark]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self._marks[r] for r in rows if 0 <= r < len(self._marks)]

    def select_bookmark(self, bookmark_id: int) -> None:
        for row, mark in enumerate(self._marks):
            if mark.id == bookmark_id:
                self.table.selectRow(row)
                item = self.table.item(row, TIME_COL)
                if item is None:  # every row is filled with its cells
                    raise RuntimeError(f"bookmark row {row} has no time cell")
                self.table.scrollToItem(item)
                return

    # --- actions ----------------------------------------------------------------------------

    def add_at(self, t_ns: int, note: str = "", t_end_ns: int | None = None) -> Bookmark:
        """Store a bookmark (no prompt) and select it. Raises ValidationError for bad input."""
        mark = self.session.add_bookmark(int(t_ns), note, t_end_ns)  # repaints via the event
        self.table.clearSelection()
        self.select_bookmark(mark.id)
        self._show(f"Bookmarked {seconds_text(mark.t_ns)}")
        return mark

    def prompt_and_add(self, t_ns: int) -> Bookmark | None:
        """Ask for a note (and optional range end), then add. None when cancelled."""
        dialog = AddBookmarkDialog(int(t_ns), self.info.duration_ns, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        try:
            return self.add_at(t_ns, dialog.note.text(), dialog.t_end_ns())
        except RobotraceError as exc:
            self._show(f"Could not add the bookmark: {exc}", error=True)
            return None

    def delete_selected(self, *, confirm: bool = True) -> int:
        marks = self.selected_bookmarks()
        if not marks:
            return 0
        if confirm:
            answer = QMessageBox.question(
                self,
                "Delete bookmarks",
                f"Delete {len(marks)} bookmark(s)? This cannot be undone.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return 0
        try:
            deleted = self.session.delete_bookmarks([mark.id for mark in marks])
        except RobotraceError as exc:
            self._show(f"Could not delete: {exc}", error=True)
            self.refresh()
            return 0
        self._show(f"Deleted {deleted} bookmark(s)")
        return deleted

    def export_to(self, path: Path, selected_only: bool = False) -> Path:
        """Write JSON or CSV (by suffix) of the selected bookmarks or all of them."""
        marks = self.selected_bookmarks() if selected_only else self.bookmarks()
        rows = bookmark_rows(self.info, marks, self._frame_times)
        written = write_export(Path(path), rows)
        self._show(f"Exported {len(rows)} bookmark(s) to {written}")
        return written

    def export_dialog(self, selected_only: bool) -> Path | None:
        if selected_only and not self.selected_bookmarks():
            self._show("Select the bookmarks to export first", error=True)
            return None
        default = str(Path.home() / f"bookmarks_{self.info.id}.json")
        name, chosen = QFileDialog.getSaveFileName(
            self, "Export bookmarks", default, "JSON (*.json);;CSV (*.csv)"
        )
        if not name:
            return None
        path = Path(name)
        if path.suffix.lower() not in (".json", ".csv"):
            path = path.with_suffix(".csv" if "csv" in chosen.lower() else ".json")
        try:
            return self.export_to(path, selected_only)
        except (RobotraceError, OSError) as exc:
            self._show(f"Export failed: {exc}", error=True)
            return None

    def _current(self) -> Bookmark | None:
        selected = self.selected_bookmarks()
        if selected:
            row = self.table.currentRow()
            current = self._marks[row] if 0 <= row < len(self._marks) else None
            return current if current in selected else selected[0]
        return None

    def copy_link(self) -> str | None:
        mark = self._current()
        if mark is None:
            self._show("Select a bookmark first", error=True)
            return None
        link = EpisodeLink(self.info.id, mark.t_ns).url()
        QGuiApplication.clipboard().setText(link)
        self._show(f"Copied {link}")
        return link

    def copy_bug_report(self) -> str | None:
        """Markdown for an issue on the clipboard; the frame PNG goes to the cache folder."""
        mark = self._current()
        if mark is None:
            self._show("Select a bookmark first", error=True)
            return None
        png = self._frame_png(mark.t_ns)
        text = bug_report_markdown(
            self.info, mark, png, frame_indices(self._frame_times, mark.t_ns)
        )
        QGuiApplication.clipboard().setText(text)
        self._show("Copied a bug report" + (f" (frame saved as {png})" if png else ""))
        return text

    def _frame_png(self, t_ns: int) -> Path | None:
        if self._png_provider is None:
            return None
        try:
            png = self._png_provider(t_ns)
        except (RobotraceError, OSError) as exc:
            self._show(f"Could not save the frame: {exc}", error=True)
            return None
        if png is None:
            return None
        png = Path(png)
        reports = paths.cache_dir() / "bug_reports"
        recording = Path(self.info.path).resolve()
        folder = recording if recording.is_dir() else recording.parent
        inside_cache = png.resolve().is_relative_to(reports.resolve())
        if not inside_cache and png.resolve().is_relative_to(folder):  # never in a recording
            target = reports / png.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(png), target)
            png = target
        return png

    # --- reactions ----------------------------------------------------------------------------

    def _jump_to_row(self, row: int, _column: int = 0) -> None:
        if 0 <= row < len(self._marks):
            self.jumpRequested.emit(self._marks[row].t_ns)

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if self._populating or item.column() != NOTE_COL:
            return
        bookmark_id = int(item.data(ID_ROLE))
        try:
            self.session.update_bookmark_note(bookmark_id, item.text())  # repaints via the event
        except RobotraceError as exc:
            self._show(f"Note not saved: {exc}", error=True)
            self.refresh()
            return
        self._show("Note saved")

    def _update_buttons(self) -> None:
        has_selection = bool(self.selected_bookmarks())
        for button in (
            self.delete_button,
            self.copy_link_button,
            self.bug_report_button,
            self.export_selected_button,
        ):
            button.setEnabled(has_selection)
        self.export_all_button.setEnabled(bool(self._marks))

    def _show(self, text: str, *, error: bool = False) -> None:
        self.status.setStyleSheet("color: #c62828;" if error else "color: palette(mid);")
        self.status.setText(text)
        self.statusMessage.emit(text)
