"""Help → Keyboard shortcuts: every key the viewer answers to, listed from the tables the keys
are installed from (``timeline.TRANSPORT_KEYS``, ``episode_view.VIEW_KEYS``) and from the menu
actions themselves, so the list cannot drift from what the keys do."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMenu,
    QMenuBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from robotrace_desktop.ui.episode_view import VIEW_KEYS
from robotrace_desktop.ui.timeline import TRANSPORT_KEYS

_ARROWS = {"Right": "→", "Left": "←", "Up": "↑", "Down": "↓"}


def key_text(key: str) -> str:
    """A key as people read it: "Shift+→", "Ctrl+Shift+C", "Space"."""
    text = QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText)
    return "+".join(_ARROWS.get(part, part) for part in text.split("+"))


def shortcut_rows(menu_bar: QMenuBar | None = None) -> list[tuple[str, str, str]]:
    """(where, key, what it does): the episode view's keys, then every menu action with one."""
    rows = [("Episode view", key_text(key), does) for key, _method, does in TRANSPORT_KEYS]
    rows += [("Episode view", key_text(key), does) for key, _method, does in VIEW_KEYS]
    if menu_bar is not None:
        for menu_action in menu_bar.actions():
            menu = menu_action.menu()
            if not isinstance(menu, QMenu):  # None: a plain action (Qt types it as QObject)
                continue
            title = menu_action.text().replace("&", "")
            for action in menu.actions():
                if isinstance(action, QAction) and not action.shortcut().isEmpty():
                    does = action.text().replace("&", "").rstrip("…")
                    text = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                    rows.append((f"{title} menu", text, does))
    return rows


class ShortcutsDialog(QDialog):
    """A read-only table of ``shortcut_rows``."""

    def __init__(self, menu_bar: QMenuBar | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_rows(menu_bar)
        self.table = QTableWidget(len(rows), 3, self)
        self.table.setHorizontalHeaderLabels(["Key", "Does", "Where"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for r, (where, key, does) in enumerate(rows):
            for c, text in enumerate((key, does, where)):
                self.table.setItem(r, c, QTableWidgetItem(text))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        note = QLabel("Episode-view keys work anywhere in an open episode's tab.", self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.resize(560, 520)

    def rows(self) -> list[tuple[str, str, str]]:
        """(key, does, where) as shown."""

        def cell(row: int, column: int) -> str:
            item = self.table.item(row, column)
            if item is None:  # every row is filled with its three cells
                raise RuntimeError(f"shortcut row {row} has no cell {column}")
            return item.text()

        return [(cell(r, 0), cell(r, 1), cell(r, 2)) for r in range(self.table.rowCount())]
