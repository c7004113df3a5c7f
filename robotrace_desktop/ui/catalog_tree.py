"""The catalog browser's view: a tree of episodes (datasets expand), Enter opens, a context menu
for the selection.

The browser owns the model and what the actions do; the view only reports what was asked (open,
save the selection, compare two) through signals.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QMenu,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeView,
    QWidget,
)

from robotrace_desktop.ui.catalog_rows import COLUMN_KEYS

LAST_COLUMN_MIN = 170  # px the path column keeps when the window is narrow
#: (preferred, minimum) width in px of each column; the path column takes the rest.
COLUMN_WIDTHS = {
    "name": (290, 250),
    "kind": (70, 62),
    "robot": (120, 80),
    "policy_version": (80, 60),
    "env_version": (70, 50),
    "git_sha": (74, 60),
    "seed": (50, 44),
    "task": (170, 80),
    "duration": (92, 92),
    "outcome": (76, 70),
    "status": (78, 74),
    "anomaly": (76, 76),
    "findings": (160, 100),
    "problems": (240, 110),
}
#: shrink first when the window is narrow
FLEXIBLE = ("name", "robot", "task", "findings", "problems")
#: hidden while no episode has a value (every third-party recording lacks them; the amber dot
#: already says so); the header's context menu shows them again
HIDE_WHEN_EMPTY = ("policy_version", "env_version", "git_sha", "seed")
#: a first click on these headers sorts descending: what a person wants first is the most
#: abnormal episode, not the most normal one
DESCENDING_FIRST = ("anomaly",)


class ElideMiddleDelegate(QStyledItemDelegate):
    """Long paths keep both ends visible: '/work/data/…/episode_000001.parquet'."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: Any) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle


class EpisodeTree(QTreeView):
    """Read-only, row-selecting, sortable; Enter/Return is an open request (QTreeView would
    ignore it) and right-click offers Open / Save selection as… / Compare side by side."""

    openPressed = Signal()
    saveSelectionPressed = Signal()
    comparePressed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSortingEnabled(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setUniformRowHeights(True)  # what keeps 10,000 rows cheap to lay out
        self.setAllColumnsShowFocus(True)
        self.setIndentation(14)
        self.setExpandsOnDoubleClick(True)
        header = self.header()
        header.setHighlightSections(False)
        header.setSectionsMovable(True)
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.sectionResized.connect(self._on_section_resized)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)
        self._sorted_by = (header.sortIndicatorSection(), header.sortIndicatorSection())
        header.sortIndicatorChanged.connect(self._on_sort_indicator)
        header.sectionClicked.connect(self._on_header_clicked)
        self._fitting = False
        self._user_sized = False
        self._user_columns: set[int] = set()  # shown or hidden by hand: left alone
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)

    def hide_empty_columns(self, filled: Set[str] | None) -> None:
        """Hide the reproducibility columns no episode fills (unless the user chose);
        ``filled``: the columns some episode sets (None: no episodes, hide nothing)."""
        header = self.header()
        changed = False
        for key in HIDE_WHEN_EMPTY:
            column = COLUMN_KEYS.index(key)
            if column in self._user_columns:
                continue
            empty = filled is not None and key not in filled
            if header.isSectionHidden(column) != empty:
                header.setSectionHidden(column, empty)
                changed = True
        if changed:
            self.fit_columns()

    def fit_columns(self) -> None:
        """Give each column its preferred width, or — when the viewport is narrower than the
        preferred total — shrink the flexible ones (never below their minimum) so the last
        column (the path) stays on screen. Stops once the user resizes a column by hand."""
        if self._user_sized:
            return
        widths = {COLUMN_KEYS.index(k): w for k, w in COLUMN_WIDTHS.items()}
        flexible = [COLUMN_KEYS.index(k) for k in FLEXIBLE]
        header = self.header()
        shown = {c: w for c, w in widths.items() if not header.isSectionHidden(c)}
        available = self.viewport().width() - LAST_COLUMN_MIN
        preferred = sum(p for p, _ in shown.values())
        spare = sum(shown[c][0] - shown[c][1] for c in flexible if c in shown)
        excess = max(0, preferred - available)
        ratio = min(1.0, excess / spare) if spare else 0.0
        self._fitting = True
        try:
            for column, (want, least) in shown.items():
                width = want - round((want - least) * ratio) if column in flexible else want
                self.setColumnWidth(column, width)
        finally:
            self._fitting = False

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Refit here too: the browser's own resize comes before the view's, so on the first
        show it saw the viewport's stale (default) width and left every column at its minimum."""
        super().resizeEvent(event)
        self.fit_columns()

    def _on_sort_indicator(self, column: int, _order: Qt.SortOrder) -> None:
        self._sorted_by = (self._sorted_by[1], column)  # (before, now)

    def _on_header_clicked(self, column: int) -> None:
        """A click that newly sorts by a DESCENDING_FIRST column flips it to descending (the
        header flips the indicator before it reports the click, hence the remembered column)."""
        header = self.header()
        if self._sorted_by[0] == column or not 0 <= column < len(COLUMN_KEYS):
            return
        if (
            COLUMN_KEYS[column] in DESCENDING_FIRST
            and header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
        ):
            header.setSortIndicator(column, Qt.SortOrder.DescendingOrder)

    def _on_section_resized(self, *_args: object) -> None:
        if not self._fitting and self.isVisible() and QApplication.mouseButtons():
            self._user_sized = True  # a drag on the header: the user's widths win from now on

    def elide_middle(self, column: int) -> None:
        self._path_delegate = ElideMiddleDelegate(self)
        self.setItemDelegateForColumn(column, self._path_delegate)

    def selectRow(self, row: int) -> None:
        """Select top-level row ``row`` alone (what QTableView.selectRow does)."""
        model = self.model()
        if model is None or not 0 <= row < model.rowCount():
            return
        self.selectionModel().select(
            model.index(row, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.setCurrentIndex(model.index(row, 0))

    def selected_count(self) -> int:
        selection = self.selectionModel()
        return 0 if selection is None else len(selection.selectedRows())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.state() != (
            QAbstractItemView.State.EditingState
        ):
            self.openPressed.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def column_menu(self) -> QMenu:
        """Tick the columns to show (the header's context menu); a column chosen here is no
        longer shown or hidden automatically."""
        model, header = self.model(), self.header()
        menu = QMenu(self)
        for column in range(1, header.count()):  # the first column (the tree) always shows
            action = menu.addAction(str(model.headerData(column, Qt.Orientation.Horizontal)))
            action.setCheckable(True)
            action.setChecked(not header.isSectionHidden(column))
            action.setData(column)
        menu.triggered.connect(self._on_column_chosen)
        return menu

    def _on_column_chosen(self, action: QAction) -> None:
        column = int(action.data())
        self.header().setSectionHidden(column, not action.isChecked())
        self._user_columns.add(column)
        self.fit_columns()

    def _header_menu(self, pos: QPoint) -> None:
        if self.model() is not None:
            menu = self.column_menu()
            menu.exec(self.header().mapToGlobal(pos))
            menu.deleteLater()

    def _menu(self, pos: QPoint) -> None:
        if not self.selected_count():
            return
        menu = QMenu(self)
        menu.addAction("Open", self.openPressed.emit)
        menu.addAction("Save selection as…", self.saveSelectionPressed.emit)
        compare = menu.addAction("Compare side by side", self.comparePressed.emit)
        compare.setEnabled(self.selected_count() == 2)
        menu.exec(self.viewport().mapToGlobal(pos))
