"""The main window: the catalog browser as the first tab, one tab per opened episode.

The window must paint at once on launch (issue 16), so this module imports only what the empty
window needs: the episode view (pyqtgraph, the readers), the comparison view and the Verify
panel are imported when the first one is opened.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeGuard

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTabWidget,
    QWidget,
)

from robotrace_desktop import __version__
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.timebase import format_seconds, parse_time_ns
from robotrace_desktop.errors import RobotraceError
from robotrace_desktop.ui.catalog_browser import CatalogBrowser
from robotrace_desktop.ui.plain_text import literal_mnemonic

if TYPE_CHECKING:
    from robotrace_desktop.ui.comparison_view import ComparisonView
    from robotrace_desktop.ui.episode_view import EpisodeView
    from robotrace_desktop.ui.regression_panel import RegressionPanel
    from robotrace_desktop.ui.shortcuts_dialog import ShortcutsDialog

log = logging.getLogger(__name__)
_EPISODE_VIEW = ("robotrace_desktop.ui.episode_view", "EpisodeView")
_COMPARISON_VIEW = ("robotrace_desktop.ui.comparison_view", "ComparisonView")
_REGRESSION_PANEL = ("robotrace_desktop.ui.regression_panel", "RegressionPanel")


def _is_a(widget: object, *kinds: tuple[str, str]) -> bool:
    """isinstance against lazily imported classes: a module never imported has no instances,
    so checking a tab's type never imports (and never pays for) a view nobody opened."""
    for module, name in kinds:
        loaded = sys.modules.get(module)
        cls = getattr(loaded, name, None) if loaded is not None else None
        if cls is not None and isinstance(widget, cls):
            return True
    return False


def _is_episode_view(widget: object) -> TypeGuard[EpisodeView]:
    return _is_a(widget, _EPISODE_VIEW)


def _is_view_tab(widget: object) -> TypeGuard[EpisodeView | ComparisonView | RegressionPanel]:
    """A tab that holds resources (readers, workers) until ``shutdown``."""
    return _is_a(widget, _EPISODE_VIEW, _COMPARISON_VIEW, _REGRESSION_PANEL)


class MainWindow(QMainWindow):
    def __init__(self, catalog_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog_path = catalog_path
        self.catalog = Catalog(catalog_path)
        self.setWindowTitle("RoboTrace Desktop")
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.setTabsClosable(True)
        self.tabs.tabCloseRequested.connect(self.close_tab)
        self.browser = CatalogBrowser(catalog_path, self)
        self.browser.openRequested.connect(self.open_ids)
        self.browser.compareRequested.connect(self.open_comparison)
        self.browser.selectionSaved.connect(self._selections_changed)
        self.regression: RegressionPanel | None = None
        self.tabs.addTab(self.browser, "Catalog")
        self.tabs.tabBar().setTabButton(0, self.tabs.tabBar().ButtonPosition.RightSide, None)
        self.setCentralWidget(self.tabs)
        self._menus()
        self.statusBar().showMessage(f"Catalog: {catalog_path}")
        self.resize(1500, 950)

    # --- menus --------------------------------------------------------------------------

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "Open &folder…", self._open_folder, QKeySequence.StandardKey.Open)
        self._action(file_menu, "Open f&ile…", self._open_file)
        self._action(file_menu, "Open &link…", self._open_link, "Ctrl+L")
        file_menu.addSeparator()
        self._action(file_menu, "Export current &frame (PNG)…", self._export_frame, "Ctrl+E")
        self._action(file_menu, "Export visible &plot (PNG)…", self._export_plot_png)
        self._action(file_menu, "Export visible plot data (&CSV)…", self._export_plot_csv)
        self._action(file_menu, "Export time &slice (CSV/parquet)…", self._export_slice)
        file_menu.addSeparator()
        self._action(file_menu, "&Close tab", self._close_current, QKeySequence.StandardKey.Close)
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self.browser.reload_action)  # F5
        episode_menu = self.menuBar().addMenu("&Episode")
        self._action(episode_menu, "Add &bookmark (B)", self._bookmark)
        self._action(episode_menu, "Copy &link at playhead", self._copy_link, "Ctrl+Shift+C")
        self._action(episode_menu, "Compare replay with its &baseline", self._compare_replay)
        tools_menu = self.menuBar().addMenu("&Tools")
        self._action(tools_menu, "&Verify a policy…", self.open_regression, "Ctrl+Shift+V")
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", self.show_shortcuts, "F1")
        self._action(help_menu, "&About", self._about)

    def _action(
        self,
        menu: QMenu,
        text: str,
        slot: Callable[[], object],
        shortcut: str | QKeySequence.StandardKey | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    # --- opening ------------------------------------------------------------------------

    def open_ids(self, ids: list[str]) -> None:
        for episode in ids:
            self.open_episode(episode)

    def open_episode(self, argument: str, t_ns: int | None = None) -> EpisodeView | None:
        """Open (or focus) an episode by id, path or link; errors go to the status bar."""
        self.statusBar().showMessage(f"Opening {argument}…")
        self.statusBar().repaint()  # indexing a recording not in the catalog takes a moment
        from robotrace_desktop.episodes import resolve
        from robotrace_desktop.ui.episode_view import EpisodeView

        try:
            resolved = resolve(argument, self.catalog)
        except RobotraceError as exc:
            self.show_error(str(exc))
            return None
        start = t_ns if t_ns is not None else resolved.t_ns
        for index in range(1, self.tabs.count()):
            view = self.tabs.widget(index)
            if _is_episode_view(view) and view.info.id == resolved.info.id:
                self.tabs.setCurrentIndex(index)
                if start is not None:
                    view.timeline.set_time(start)
                return view
        try:
            view = EpisodeView(resolved, self.catalog, self, start_ns=start)
        except RobotraceError as exc:
            self.show_error(str(exc))
            return None
        view.statusMessage.connect(self._show_status)
        index = self.tabs.addTab(view, literal_mnemonic(resolved.info.name))
        self.tabs.setTabToolTip(index, resolved.info.path)
        self.tabs.setCurrentIndex(index)
        if resolved.in_catalog:
            self.catalog.touch_recent(resolved.info.id, "episode")
        self.statusBar().showMessage(
            f"{resolved.info.name}: {format_seconds(resolved.info.duration_ns)}, "
            f"{len(resolved.info.streams)} streams",
            8000,
        )
        return view

    def open_regression(self) -> RegressionPanel:
        """The Regression panel tab (one instance)."""
        from robotrace_desktop.ui.regression_panel import RegressionPanel

        if self.regression is None or self.tabs.indexOf(self.regression) < 0:
            self.regression = RegressionPanel(self.catalog_path, self)
            self.regression.openPair.connect(self.open_comparison)
            self.regression.openEpisode.connect(self._open_episode_at)
            self.tabs.addTab(self.regression, "Regression")
        self.tabs.setCurrentWidget(self.regression)
        return self.regression

    def open_comparison(self, baseline: str, candidate: str) -> ComparisonView | None:
        """Open (or focus) baseline and candidate side by side; errors go to the status bar."""
        from robotrace_desktop.ui.comparison_view import ComparisonView

        for index in range(1, self.tabs.count()):
            view = self.tabs.widget(index)
            if isinstance(view, ComparisonView) and set(view.pair_ids()) == {baseline, candidate}:
                self.tabs.setCurrentIndex(index)
                return view
        try:
            view = ComparisonView(self.catalog_path, baseline, candidate, parent=self)
        except RobotraceError as exc:
            self.show_error(str(exc))
            return None
        index = self.tabs.addTab(view, literal_mnemonic(view.title()))
        self.tabs.setTabToolTip(index, f"{view.baseline.name} ⇄ {view.candidate.name}")
        self.tabs.setCurrentIndex(index)
        return view

    def _open_episode_at(self, episode: str, t_ns: int) -> None:
        self.open_episode(episode, t_ns)

    def _compare_replay(self) -> None:
        from robotrace_desktop.session.alignment import replay_of

        view = self.current_view()
        baseline = None if view is None else replay_of(view.info)
        if view is None or baseline is None:
            self.statusBar().showMessage("The current tab is not a replay episode", 5000)
            return
        self.open_comparison(baseline, view.info.id)

    def _selections_changed(self, _name: str) -> None:
        if self.regression is not None:
            self.regression.refresh_choices()

    def handle_message(self, message: str) -> None:
        """A second launch handed us what to open (JSON {"open": ..., "t_ns": ...})."""
        try:
            data = json.loads(message)
            argument, t_ns = str(data["open"]), data.get("t_ns")
        except (ValueError, KeyError, TypeError):
            argument, t_ns = message.strip(), None
        if argument:
            self.open_episode(argument, t_ns)
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def _show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def current_view(self) -> EpisodeView | None:
        widget = self.tabs.currentWidget()
        return widget if _is_episode_view(widget) else None

    def show_error(self, text: str) -> None:
        log.info("shown to the user: %s", text)
        self.statusBar().showMessage(text, 15000)
        box = QMessageBox(QMessageBox.Icon.Warning, "RoboTrace Desktop", text, parent=self)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.show()

    # --- actions ------------------------------------------------------------------------

    def _open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Scan a folder of recordings")
        if folder:
            self.tabs.setCurrentIndex(0)
            self.browser.scan_paths([Path(folder)])

    def _open_file(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self,
            "Open recordings",
            "",
            "Recordings (*.bag *.mcap *.db3 *.hdf5 *.h5 *.yaml *.json);;All files (*)",
        )
        if files:
            self.tabs.setCurrentIndex(0)
            self.browser.scan_paths([Path(f) for f in files])

    def _open_link(self) -> None:
        text, ok = QInputDialog.getText(self, "Open link", "robotrace:// link, id or path:")
        if ok and text.strip():
            self.open_episode(text.strip())

    def _save_path(self, title: str, suggestion: str, filters: str) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self, title, suggestion, filters)
        return Path(path) if path else None

    def _with_view(self, action: Callable[[EpisodeView], object]) -> None:
        view = self.current_view()
        if view is None:
            self.statusBar().showMessage("Open an episode first", 5000)
            return
        try:
            result = action(view)
        except RobotraceError as exc:
            self.show_error(str(exc))
            return
        if result:
            self.statusBar().showMessage(f"Wrote {result}", 8000)

    def _export_frame(self) -> None:
        def run(view: EpisodeView) -> Path | None:
            path = self._save_path(
                "Export frame", f"{view.info.name}_{view.timeline.time_ns()}.png", "PNG (*.png)"
            )
            return None if path is None else view.export_frame_png(path)

        self._with_view(run)

    def _export_plot_png(self) -> None:
        def run(view: EpisodeView) -> Path | None:
            path = self._save_path("Export plot", f"{view.info.name}_plot.png", "PNG (*.png)")
            return None if path is None else view.plots.export_png(path)

        self._with_view(run)

    def _export_plot_csv(self) -> None:
        def run(view: EpisodeView) -> Path | None:
            path = self._save_path("Export plot data", f"{view.info.name}_plot.csv", "CSV (*.csv)")
            return None if path is None else view.plots.export_csv(path)

        self._with_view(run)

    def _export_slice(self) -> None:
        def run(view: EpisodeView) -> Path | None:
            start, end = view.plots.visible_range_ns()
            text, ok = QInputDialog.getText(
                self,
                "Export time slice",
                "Range (start end, e.g. 2.5s 4s):",
                text=f"{start / 1e9:.3f}s {end / 1e9:.3f}s",
            )
            if not ok:
                return None
            parts = text.split()
            if len(parts) != 2:
                raise RobotraceError(f"expected two times, got {text!r}")
            path = self._save_path(
                "Export time slice",
                f"{view.info.name}_slice.csv",
                "CSV (*.csv);;Parquet (*.parquet)",
            )
            if path is None:
                return None
            return view.export_slice(path, parse_time_ns(parts[0]), parse_time_ns(parts[1]))

        self._with_view(run)

    def _bookmark(self) -> None:
        self._with_view(lambda view: view.add_bookmark_prompt())

    def _copy_link(self) -> None:
        from PySide6.QtGui import QGuiApplication

        from robotrace_desktop.core.links import EpisodeLink

        def run(view: EpisodeView) -> None:
            link = EpisodeLink(view.info.id, view.timeline.time_ns()).url()
            QGuiApplication.clipboard().setText(link)
            self.statusBar().showMessage(f"Copied {link}", 8000)

        self._with_view(run)

    def show_shortcuts(self) -> ShortcutsDialog:
        from robotrace_desktop.ui.shortcuts_dialog import ShortcutsDialog

        dialog = ShortcutsDialog(self.menuBar(), self)
        dialog.setModal(False)
        dialog.show()
        return dialog

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "RoboTrace Desktop",
            f"RoboTrace Desktop {__version__}\nReplay, explain and verify robot episodes.\n"
            f"Catalog: {self.catalog_path}",
        )

    # --- tabs and shutdown --------------------------------------------------------------

    def close_tab(self, index: int) -> None:
        view = self.tabs.widget(index)
        if _is_view_tab(view):
            view.shutdown()
            self.tabs.removeTab(index)
            # Hand the view to Python to free: a deleteLater() racing the window's own
            # destruction (closing the app) crashed PySide ("pure virtual method called").
            view.setParent(None)

    def _close_current(self) -> None:
        if self.tabs.currentIndex() > 0:
            self.close_tab(self.tabs.currentIndex())

    def closeEvent(self, event: QCloseEvent) -> None:
        for index in range(self.tabs.count() - 1, 0, -1):
            self.close_tab(index)
        self.browser.shutdown()
        self.catalog.close()
        super().closeEvent(event)
