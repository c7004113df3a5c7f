"""The catalog browser: every indexed episode in a sortable, filterable tree.

The user's first screen. It answers "which run do I open?" fast (search + column filters over
thousands of rows), makes broken or unreproducible runs visible at a glance (with a legend of
what the colours mean), keeps a dataset's episodes under one expandable row and verify's
replays out of the way, and gets new recordings in (open / drop / recent) without ever
freezing: scans run in a worker thread and their rows appear as each recording is committed.
Episodes another program adds (a CLI scan, the SDK) appear too: a CatalogWatcher notices the
commit and the rows are reloaded in place, keeping the selection, the expanded datasets and the
scroll position.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from robotrace_desktop.catalog.browse import ids_scope
from robotrace_desktop.catalog.selections import save_selection
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.errors import RobotraceError
from robotrace_desktop.library.scanner import ScanSummary
from robotrace_desktop.ui.catalog_filter_bar import FilterBar
from robotrace_desktop.ui.catalog_model import ID_ROLE, NODE_ROLE, CatalogModel
from robotrace_desktop.ui.catalog_proxy import CatalogFilterProxy
from robotrace_desktop.ui.catalog_recent import RecentMenu
from robotrace_desktop.ui.catalog_rows import (
    COLUMN_KEYS,
    CatalogGroup,
    CatalogRow,
    CatalogTop,
    load_group,
    load_most_abnormal,
    load_scope,
    load_top,
)
from robotrace_desktop.ui.catalog_scan_panel import ScanPanel
from robotrace_desktop.ui.catalog_status import StatusLine
from robotrace_desktop.ui.catalog_tree import EpisodeTree
from robotrace_desktop.ui.catalog_watch import CatalogWatcher
from robotrace_desktop.ui.scan_worker import summary_text

log = logging.getLogger(__name__)

EMPTY_TEXT = (
    "<h3>No episodes yet</h3>"
    "<p>Use <b>Open folder…</b> or <b>Open file…</b>, drop a recording here,<br>"
    "or run <code>robotrace-desktop demo</code> for a built-in example.</p>"
)
FILE_FILTER = "Recordings (*.bag *.mcap *.db3 *.h5 *.hdf5 *.hdf *.json *.yaml);;All files (*)"


class CatalogBrowser(QWidget):
    """Tree of catalog episodes with search, filters, scanning and recent items."""

    openRequested = Signal(list)  # episode ids
    scanFinished = Signal(object)  # ScanSummary (also for cancelled scans)
    compareRequested = Signal(str, str)  # two selected episode ids, in table order
    selectionSaved = Signal(str)  # the name of a selection just saved

    def __init__(self, catalog_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog_path = Path(catalog_path)
        self._catalog: Catalog | None = None
        self._top = CatalogTop([], 0, 0, {}, frozenset())
        self.setAcceptDrops(True)

        self.model = CatalogModel(self)
        self.proxy = CatalogFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.watcher = CatalogWatcher(self.catalog, self)
        self.watcher.changed.connect(self._on_catalog_changed)
        self._stale = False  # changed while hidden: reload when shown

        self._build()
        self.refresh()
        app = QCoreApplication.instance()
        if app is not None:  # never leave a scan thread running at exit
            app.aboutToQuit.connect(self.shutdown)

    # --- construction --------------------------------------------------------------------

    def _build(self) -> None:
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Open the selected episodes (Enter, double-click)")
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self._emit_open)
        self.open_folder_button = QPushButton("Open folder…")
        self.open_folder_button.clicked.connect(self._choose_folder)
        self.open_file_button = QPushButton("Open file…")
        self.open_file_button.clicked.connect(self._choose_files)
        self.recent_button = QToolButton()
        self.recent_button.setText("Recent")
        self.recent_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.recent_menu = RecentMenu(self.catalog, self._rows_by_id, self.recent_button)
        self.recent_menu.openEpisode.connect(self._open_recent)
        self.recent_menu.rescan.connect(self._rescan_recent)
        self.recent_button.setMenu(self.recent_menu)
        self.reload_action = QAction("&Reload catalog", self)
        self.reload_action.setShortcut(QKeySequence(Qt.Key.Key_F5))
        self.reload_action.setToolTip("Read the catalog again (changes also appear by themselves)")
        self.reload_action.triggered.connect(self.reload)
        self.addAction(self.reload_action)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search name, path, task, robot, policy, problems…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_search)

        self.filter_bar = FilterBar()
        self.filter_bar.filterChosen.connect(self._on_filter)
        self.filter_bar.replaysToggled.connect(self._on_show_replays)
        self.filter_bar.clearPressed.connect(self.clear_filters)
        self.filters = self.filter_bar.filters
        self.show_replays = self.filter_bar.show_replays

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        for widget in (
            self.open_button,
            self.open_folder_button,
            self.open_file_button,
            self.recent_button,
        ):
            top.addWidget(widget)
        top.addSpacing(12)
        top.addWidget(self.search, 1)
        top.addWidget(self.filter_bar.show_replays)
        top.addWidget(self.filter_bar.clear_button)

        self.table = EpisodeTree()
        self.table.setModel(self.proxy)
        self.table.sortByColumn(COLUMN_KEYS.index("path"), Qt.SortOrder.AscendingOrder)
        self.table.fit_columns()
        self.table.elide_middle(COLUMN_KEYS.index("path"))
        self.table.expanded.connect(self._on_expanded)
        self.table.doubleClicked.connect(self._on_double_click)
        self.table.openPressed.connect(self._emit_open)
        self.table.saveSelectionPressed.connect(self.prompt_save_selection)
        self.table.comparePressed.connect(self.compare_selected)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)

        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setTextFormat(Qt.TextFormat.RichText)
        self.empty_label.setStyleSheet("color: palette(mid); padding: 24px;")
        self.empty_label.setWordWrap(True)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty_label)

        self.scan_panel = ScanPanel(self.catalog_path)
        self.scan_panel.started.connect(self._on_scan_started)
        self.scan_panel.committed.connect(self.watcher.check)
        self.scan_panel.finished.connect(self._on_scan_finished)
        self.scan_panel.failed.connect(self._on_scan_failed)
        self.progress_row = self.scan_panel
        self.progress_label = self.scan_panel.progress_label
        self.progress_bar = self.scan_panel.progress_bar
        self.cancel_button = self.scan_panel.cancel_button

        self.status_line = StatusLine()
        self.status_label = self.status_line.label
        self.count_label = self.status_line.count_label

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.scan_panel)
        layout.addWidget(self.status_line)

    # --- the catalog -----------------------------------------------------------------------

    def catalog(self) -> Catalog:
        """The UI thread's own connection (the scan worker opens another)."""
        if self._catalog is None:
            self._catalog = Catalog(self.catalog_path)
        return self._catalog

    def refresh(self) -> None:
        """Re-read the top level (dataset summaries, episodes of their own) and the episodes
        of the expanded datasets, and update the tree in place: selection, expanded datasets,
        filters and the row at the top of the view are kept."""
        began = time.perf_counter()
        try:
            top = load_top(self.catalog())
        except RobotraceError as exc:
            self._set_status(f"Cannot read the catalog: {exc}", level="error")
            return
        anchor = self._top_visible_id()
        self._top = top
        self.model.set_top(top.nodes, self._read_group, self._read_most_abnormal)
        for key in self.filter_bar.fill(top.filter_values):  # the chosen value vanished
            self._set_column_filter(key, None)
        self.stack.setCurrentWidget(self.empty_label if not top.total else self.table)
        self.table.hide_empty_columns(top.filled if top.total else None)
        if self.proxy.is_narrowed():
            self.table.expandAll()
        if anchor is not None:
            self._scroll_to_top(anchor)
        self._update_count()
        self._stale = False
        self.watcher.mark_seen(time.perf_counter() - began)

    def _read_group(
        self, group: CatalogGroup, filters: dict[str, str], needle: str
    ) -> list[CatalogRow]:
        return load_group(self.catalog(), group, filters, needle)

    def _read_most_abnormal(self, group: CatalogGroup) -> CatalogRow | None:
        return load_most_abnormal(self.catalog(), group)

    def _on_catalog_changed(self) -> None:
        """Another connection committed. Reload now if the user can see the table; behind an
        episode tab, once the catalog tab shows again (10,000 rows cost a second to reload)."""
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self._stale = False
            self.refresh()

    def reload(self) -> None:
        """View ▸ Reload (F5): read the catalog again now."""
        self.refresh()
        self._set_status(f"Reloaded the catalog: {self._top.total} episodes")

    def _top_visible_id(self) -> str | None:
        """The episode at the top of a scrolled view (None when not scrolled: new rows at the
        top should then show)."""
        if self.table.verticalScrollBar().value() == 0:
            return None
        index = self.table.indexAt(QPoint(4, 2))
        return None if not index.isValid() else str(index.data(ID_ROLE))

    def _scroll_to_top(self, node_id: str) -> None:
        index = self._proxy_index(node_id)
        if index.isValid():
            self.table.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtTop)

    def _proxy_index(self, node_id: str) -> QModelIndex:
        proxy = self.proxy
        for row in range(proxy.rowCount()):
            index = proxy.index(row, 0)
            if index.data(ID_ROLE) == node_id:
                return index
            for child in range(proxy.rowCount(index) if self.table.isExpanded(index) else 0):
                inner = proxy.index(child, 0, index)
                if inner.data(ID_ROLE) == node_id:
                    return inner
        return QModelIndex()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.table.fit_columns()

    def _rows_by_id(self, ids: Sequence[str]) -> dict[str, CatalogRow]:
        """The episodes ``ids`` names that are in the catalog (the Recent menu's labels)."""
        if not ids:
            return {}
        return {r.id: r for r in load_scope(self.catalog(), *ids_scope(ids))}

    def _update_count(self) -> None:
        """'N episodes' or 'M of N episodes': without a search or filter, from the groups'
        counts (no episode read); narrowed, by testing the episodes of every dataset (the
        filter reads them anyway to decide which datasets match)."""
        hidden = 0 if self.proxy.shows_replays() else self._top.replays
        total = self._top.total - hidden
        shown = total
        if self.proxy.is_narrowed():
            shown = 0
            for node in self.model.top_nodes():
                if isinstance(node, CatalogGroup):
                    shown += sum(map(self.proxy.accepts, self.model.episodes_of(node)))
                else:
                    shown += self.proxy.accepts(node)
        noun = "episode" if total == 1 else "episodes"
        text = f"{total} {noun}" if shown == total else f"{shown} of {total} {noun}"
        if hidden:
            text += f" · {hidden} replay{'' if hidden == 1 else 's'} hidden"
        self.count_label.setText(text)

    # --- search and filters ----------------------------------------------------------------

    def set_search(self, text: str) -> None:
        self.search.setText(text)  # textChanged applies it

    def _on_search(self, text: str) -> None:
        self._narrow(lambda: self._set_search(text))

    def set_filter(self, key: str, value: str | None) -> None:
        """Programmatic column filter (``None``/"any" clears it); updates the combo box."""
        self.filter_bar.choose(key, value)

    def _on_filter(self, key: str, value: str) -> None:
        self._narrow(lambda: self._set_column_filter(key, value or None))

    def _set_column_filter(self, key: str, value: str | None) -> None:
        """The model reads the datasets' episodes through the filters and the search (SQL),
        the proxy hides the top-level rows that do not pass."""
        filters = self.proxy.column_filters()
        if value is None:
            filters.pop(key, None)
        else:
            filters[key] = value
        self._narrow_to(
            filters, self.proxy.search(), lambda: self.proxy.set_column_filter(key, value)
        )

    def _set_search(self, text: str) -> None:
        """As ``_set_column_filter``, for the search text."""
        needle = text.strip().casefold()
        self._narrow_to(self.proxy.column_filters(), needle, lambda: self.proxy.set_search(text))

    def _narrow_to(self, filters: dict[str, str], needle: str, proxy: Callable[[], None]) -> None:
        """Narrowed: the model reads the matches before the proxy asks for them (else it would
        read whole datasets under the old narrowing); cleared: the proxy first stops asking."""
        if filters or needle:
            self.model.set_narrowing(filters, needle)
            proxy()
        else:  # the datasets collapse: only those holding the selection keep their rows
            proxy()
            chosen = [*self.table.selectionModel().selectedRows(), self.table.currentIndex()]
            keep = {str(i.parent().data(ID_ROLE)) for i in chosen if i.parent().isValid()}
            keys = {key[len("dataset:") :] for key in keep}
            self.model.set_narrowing(filters, needle, keys)

    def _on_show_replays(self, show: bool) -> None:
        self.proxy.set_show_replays(show)
        self._update_count()

    def _narrow(self, change: Callable[[], object]) -> None:
        """Apply a search/filter change; while narrowed, datasets open to show their matches."""
        was = self.proxy.is_narrowed()
        change()
        if self.proxy.is_narrowed():
            self.table.expandAll()
        elif was:
            self.table.collapseAll()
        self._update_count()

    def clear_filters(self) -> None:
        self.search.clear()
        self.filter_bar.reset()

    # --- selection and opening ---------------------------------------------------------------

    def selected_ids(self) -> list[str]:
        """Episode ids of the selection, in view order; a selected dataset stands for its
        episodes that the filters show."""
        indexes = self.table.selectionModel().selectedRows()

        def order(index: QModelIndex) -> tuple[int, int]:
            parent = index.parent()
            return (parent.row(), index.row()) if parent.isValid() else (index.row(), -1)

        ids: list[str] = []
        for index in sorted(indexes, key=order):
            if isinstance(index.data(NODE_ROLE), CatalogGroup):
                if self.proxy.canFetchMore(index):  # never expanded: read its episodes
                    self.proxy.fetchMore(index)
                children = range(self.proxy.rowCount(index))
                ids.extend(str(self.proxy.index(c, 0, index).data(ID_ROLE)) for c in children)
            else:
                ids.append(str(index.data(ID_ROLE)))
        return list(dict.fromkeys(ids))

    def _selected_episodes(self) -> list[str]:
        """Only the episode rows selected (what Open opens; a dataset row is not opened)."""
        return [
            str(i.data(ID_ROLE))
            for i in self.table.selectionModel().selectedRows()
            if isinstance(i.data(NODE_ROLE), CatalogRow)
        ]

    def _on_expanded(self, index: QModelIndex) -> None:
        """Read a dataset's episodes as it opens (Qt would too, at its next layout; now, so
        the rows are there when ``expand`` returns)."""
        if self.proxy.canFetchMore(index):
            self.proxy.fetchMore(index)

    def _on_double_click(self, index: QModelIndex) -> None:
        if not isinstance(index.data(NODE_ROLE), CatalogGroup):  # the tree expands groups
            self._emit_open()

    def _on_selection(self, *_args: object) -> None:
        count = len(self._selected_episodes())
        self.open_button.setEnabled(count > 0)
        self.open_button.setText("Open" if count <= 1 else f"Open {count}")

    def _emit_open(self) -> None:
        chosen = set(self._selected_episodes())
        ids = [i for i in self.selected_ids() if i in chosen]
        if not ids:  # only datasets selected: Enter opens them up instead
            for index in self.table.selectionModel().selectedRows():
                self.table.setExpanded(index, not self.table.isExpanded(index))
            return
        self._remember(ids, "episode")
        self.openRequested.emit(ids)

    # --- context menu: selections and comparisons -------------------------------------------

    def compare_action_enabled(self) -> bool:
        return len(self.selected_ids()) == 2

    def compare_selected(self) -> None:
        ids = self.selected_ids()
        if len(ids) == 2:
            self.compareRequested.emit(ids[0], ids[1])

    def prompt_save_selection(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        name, ok = QInputDialog.getText(
            self, "Save selection", f"Name for these {len(ids)} episode(s):"
        )
        if ok and name.strip():
            self.save_selection_as(name.strip(), ids)

    def save_selection_as(self, name: str, ids: Sequence[str] | None = None) -> None:
        """Save the selected (or given) episodes as selection ``name`` (replacing it)."""
        chosen = list(self.selected_ids() if ids is None else ids)
        try:
            count = save_selection(self.catalog(), name, chosen)
        except RobotraceError as exc:
            self._set_status(f"Could not save the selection: {exc}", level="error")
            return
        self._set_status(f"Saved selection {name!r} ({count} episodes): use selection:{name}")
        self.selectionSaved.emit(name)

    def _remember(self, items: Sequence[str], kind: str) -> None:
        try:
            for item in reversed(items):  # the first selected ends up newest
                self.catalog().touch_recent(item, kind)
        except Exception as exc:  # recents are a convenience (sqlite busy...): never block
            log.warning("could not remember %s: %s", kind, exc)

    def _open_recent(self, episode: str) -> None:
        self._remember([episode], "episode")
        self.openRequested.emit([episode])

    def _rescan_recent(self, path: str) -> None:
        self.scan_paths([Path(path)])

    # --- scanning ------------------------------------------------------------------------------

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of recordings")
        if folder:
            self.scan_paths([Path(folder)])

    def _choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open recordings", "", FILE_FILTER)
        if files:
            self.scan_paths([Path(f) for f in files])

    def is_scanning(self) -> bool:
        return self.scan_panel.is_scanning()

    def queued_scans(self) -> list[list[Path]]:
        return self.scan_panel.queued()

    def scan_paths(self, paths: Sequence[Path]) -> None:
        """Scan ``paths`` in the worker thread; while a scan runs, the request is queued."""
        roots = [Path(p) for p in paths]
        if roots and self.scan_panel.request(roots):
            names = ", ".join(p.name or str(p) for p in roots)
            self._set_status(
                f"Queued: {escape(names)} (scans after the current one finishes)", html=True
            )

    def cancel_scan(self) -> None:
        """Stop the running scan after its current recording and drop queued ones."""
        self.scan_panel.cancel()

    def _on_scan_started(self, roots: list[Path]) -> None:
        self._remember([str(p.expanduser().resolve()) for p in roots], "path")

    def _on_scan_finished(self, summary: ScanSummary) -> None:
        self.refresh()
        text = summary_text(summary)
        level = "ok" if not summary.errors else ("warning" if summary.indexed else "error")
        self._set_status(text, problems=summary.problems, level=level)
        self.scanFinished.emit(summary)

    def _on_scan_failed(self, message: str) -> None:
        self.refresh()
        self._set_status(f"Scan failed: {message}", problems=[message], level="error")

    # --- status line ---------------------------------------------------------------------------

    def status_text(self) -> str:
        return self.status_line.text()

    def _set_status(
        self, text: str, *, problems: Sequence[str] = (), level: str = "ok", html: bool = False
    ) -> None:
        self.status_line.set_text(text, problems=problems, level=level, html=html)

    # --- drag and drop -------------------------------------------------------------------------

    @staticmethod
    def _dropped_paths(event: QDragEnterEvent | QDropEvent) -> list[Path]:
        mime = event.mimeData()
        if mime is None or not mime.hasUrls():
            return []
        return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = self._dropped_paths(event)
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.scan_paths(paths)

    # --- teardown ------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Cancel a running scan and wait for its thread; close the catalog connection."""
        self.watcher.stop()
        self.scan_panel.shutdown()
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)
