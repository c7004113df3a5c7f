"""The catalog browser's table: rows of episodes, Enter opens, a context menu for the selection.

The browser owns the model and what the actions do; the table only reports what was asked
(open, save the selection, compare two) through signals.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QMenu,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)


class ElideMiddleDelegate(QStyledItemDelegate):
    """Long paths keep both ends visible: '/work/data/…/episode_000001.parquet'."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: Any) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle


class EpisodeTable(QTableView):
    """Read-only, row-selecting, sortable; Enter/Return is an open request (QTableView would
    ignore it) and right-click offers Open / Save selection as… / Compare side by side."""

    openPressed = Signal()
    saveSelectionPressed = Signal()
    comparePressed = Signal()

    def __init__(self, row_height: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSortingEnabled(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setShowGrid(False)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(row_height)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionsMovable(True)
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)

    def elide_middle(self, column: int) -> None:
        self._path_delegate = ElideMiddleDelegate(self)
        self.setItemDelegateForColumn(column, self._path_delegate)

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

    def _menu(self, pos: QPoint) -> None:
        if not self.selected_count():
            return
        menu = QMenu(self)
        menu.addAction("Open", self.openPressed.emit)
        menu.addAction("Save selection as…", self.saveSelectionPressed.emit)
        compare = menu.addAction("Compare side by side", self.comparePressed.emit)
        compare.setEnabled(self.selected_count() == 2)
        menu.exec(self.viewport().mapToGlobal(pos))
