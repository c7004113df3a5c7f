"""The browser's Recent menu: episodes opened and folders scanned lately, one click away.

Filled when it opens (the catalog's ``recent`` table is written by the browser, the main window
and the CLI), so it is never stale; an episode no longer in the catalog shows disabled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QWidget

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.ui.catalog_rows import CatalogRow
from robotrace_desktop.ui.plain_text import literal_mnemonic, literal_tip

SHOWN = 12  # items of each kind


class RecentMenu(QMenu):
    """Emits ``openEpisode(id)`` or ``rescan(path)`` for the item chosen."""

    openEpisode = Signal(str)
    rescan = Signal(str)

    def __init__(
        self,
        catalog: Callable[[], Catalog],
        rows: Callable[[Sequence[str]], Mapping[str, CatalogRow]],  # the rows of these ids
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._catalog = catalog
        self._rows = rows
        self.aboutToShow.connect(self.fill)
        self.triggered.connect(self._on_action)

    def fill(self) -> None:
        self.clear()
        try:
            paths = [item for item, _ in self._catalog().recent("path")]
            episodes = [item for item, _ in self._catalog().recent("episode")]
        except Exception as exc:  # sqlite busy...: a convenience, never an error dialog
            self.addAction(literal_mnemonic(f"Recent items unavailable: {exc}")).setEnabled(False)
            return
        names = self._rows(episodes[:SHOWN])
        self.addSection("Episodes")
        for episode in episodes[:SHOWN]:
            row = names.get(episode)
            label = episode if row is None else f"{row.name}  —  {row.kind}"
            action = self.addAction(literal_mnemonic(label))
            action.setEnabled(row is not None)
            action.setData(["episode", episode])
        if not episodes:
            self.addAction("(none yet)").setEnabled(False)
        self.addSection("Scanned folders and files")
        for path in paths[:SHOWN]:
            action = self.addAction(literal_mnemonic(f"Re-scan {path}"))
            action.setToolTip(literal_tip(path))
            action.setData(["path", path])
        if not paths:
            self.addAction("(none yet)").setEnabled(False)

    def _on_action(self, action: QAction) -> None:
        data = action.data()
        if not isinstance(data, list) or len(data) != 2:
            return
        kind, item = data
        if kind == "episode":
            self.openEpisode.emit(item)
        elif kind == "path":
            self.rescan.emit(item)
