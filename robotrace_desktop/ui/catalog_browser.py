"""The catalog browser: every indexed episode in a sortable, filterable table.

The user's first screen. It answers "which run do I open?" fast (search + column filters over
thousands of rows), makes broken or unreproducible runs visible at a glance, and gets new
recordings in (open / drop / recent) without ever freezing: scans run in a ScanWorker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from html import escape
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from robotrace_desktop.catalog.scanner import ScanSummary
from robotrace_desktop.catalog.selections import save_selection
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.errors import RobotraceError
from robotrace_desktop.ui.catalog_model import (
    COLUMN_KEYS,
    FILTER_COLUMNS,
    ID_ROLE,
    CatalogFilterProxy,
    CatalogModel,
    CatalogRow,
    load_rows,
)
from robotrace_desktop.ui.episode_table import EpisodeTable
from robotrace_desktop.ui.plain_text import literal_mnemonic, literal_tip
from robotrace_desktop.ui.scan_worker import ScanWorker, summary_text

log = logging.getLogger(__name__)

ANY = "any"
FILTER_LABELS = {
    "kind": "Kind",
    "status": "Status",
    "outcome": "Outcome",
    "robot": "Robot",
    "policy_version": "Policy",
    "env_version": "Env",
    "cause": "Cause",
}
#: Default widths (px) of the columns; the path column takes the rest.
COLUMN_WIDTHS = {
    "name": 230,
    "kind": 70,
    "robot": 120,
    "policy_version": 70,
    "env_version": 60,
    "git_sha": 70,
    "seed": 50,
    "task": 170,
    "duration": 86,
    "outcome": 70,
    "status": 74,
    "findings": 150,
    "problems": 240,
}
EMPTY_TEXT = (
    "<h3>No episodes yet</h3>"
    "<p>Use <b>Open folder…</b> or <b>Open file…</b>, drop a recording here,<br>"
    "or run <code>robotrace-desktop demo</code> for a built-in example.</p>"
)
STATUS_LINE_COLORS = {"ok": "palette(text)", "warning": "#a35f00", "error": "#c62828"}
FILE_FILTER = "Recordings (*.bag *.mcap *.db3 *.h5 *.hdf5 *.hdf *.json *.yaml);;All files (*)"


class CatalogBrowser(QWidget):
    """Table of catalog episodes with search, filters, scanning and recent items."""

    openRequested = Signal(list)  # episode ids
    scanFinished = Signal(object)  # ScanSummary (also for cancelled scans)
    compareRequested = Signal(str, str)  # two selected episode ids, in table order
    selectionSaved = Signal(str)  # the name of a selection just saved

    def __init__(self, catalog_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog_path = Path(catalog_path)
        self._catalog: Catalog | None = None
        self._worker: ScanWorker | None = None
        self._queue: list[list[Path]] = []
        self.setAcceptDrops(True)

        self.model = CatalogModel(self)
        self.proxy = CatalogFilterProxy(self)
        self.proxy.setSourceModel(self.model)

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
        self.recent_menu = QMenu(self.recent_button)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.recent_menu.triggered.connect(self._on_recent_action)
        self.recent_button.setMenu(self.recent_menu)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search name, path, task, robot, policy, problems…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_search)

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

        self.filters: dict[str, QComboBox] = {}
        filters = QHBoxLayout()
        filters.setContentsMargins(0, 0, 0, 0)
        for key in FILTER_COLUMNS:
            combo = QComboBox()
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            combo.setMinimumContentsLength(6)
            combo.addItem(ANY)
            combo.setProperty("filterKey", key)
            # Bound methods, not lambdas, on signals of widgets Qt deletes (PySide 6.12 crashes
            # in ~QObject when a lambda slot's references are dropped twice).
            combo.currentTextChanged.connect(self._on_filter_combo)
            label = QLabel(FILTER_LABELS[key])
            label.setBuddy(combo)
            filters.addWidget(label)
            filters.addWidget(combo)
            filters.addSpacing(6)
            self.filters[key] = combo
        self.clear_filters_button = QToolButton()
        self.clear_filters_button.setText("Clear")
        self.clear_filters_button.setToolTip("Clear the search and every filter")
        self.clear_filters_button.clicked.connect(self.clear_filters)
        filters.addWidget(self.clear_filters_button)
        filters.addStretch(1)
        self.count_label = QLabel()
        self.count_label.setTextFormat(Qt.TextFormat.PlainText)
        filters.addWidget(self.count_label)

        self.table = EpisodeTable(self.fontMetrics().height() + 8)
        self.table.setModel(self.proxy)
        self.table.sortByColumn(COLUMN_KEYS.index("path"), Qt.SortOrder.AscendingOrder)
        for key, width in COLUMN_WIDTHS.items():
            self.table.setColumnWidth(COLUMN_KEYS.index(key), width)
        self.table.elide_middle(COLUMN_KEYS.index("path"))
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

        self.progress_label = QLabel()
        self.progress_label.setTextFormat(Qt.TextFormat.PlainText)  # paths
        self.progress_label.setMinimumWidth(120)
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(260)
        self.progress_bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_scan)
        self.progress_row = QWidget()
        progress = QHBoxLayout(self.progress_row)
        progress.setContentsMargins(0, 0, 0, 0)
        progress.addWidget(self.progress_label, 1)
        progress.addWidget(self.progress_bar)
        progress.addWidget(self.cancel_button)
        self.progress_row.setVisible(False)

        self.status_label = QLabel()
        self.status_label.setTextFormat(Qt.TextFormat.RichText)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.status_label.linkActivated.connect(self._show_problems)
        self._status_problems: list[str] = []

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addLayout(filters)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.progress_row)
        layout.addWidget(self.status_label)

    # --- the catalog -----------------------------------------------------------------------

    def catalog(self) -> Catalog:
        """The UI thread's own connection (the scan worker opens another)."""
        if self._catalog is None:
            self._catalog = Catalog(self.catalog_path)
        return self._catalog

    def refresh(self) -> None:
        """Reload every row with one query, keeping the selection and the filters."""
        selected = set(self.selected_ids())
        try:
            rows = load_rows(self.catalog())
        except RobotraceError as exc:
            self._set_status(f"Cannot read the catalog: {exc}", level="error")
            rows = []
        self.model.set_rows(rows)
        self._fill_filter_values(rows)
        self.stack.setCurrentWidget(self.empty_label if not rows else self.table)
        if selected:
            self._select_ids(selected)
        self._update_count()

    def _fill_filter_values(self, rows: Sequence[CatalogRow]) -> None:
        for key, combo in self.filters.items():
            values = sorted(set().union(*(r.filter_values(key) for r in rows)), key=str.casefold)
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([ANY, *values])
            index = combo.findText(current)
            combo.setCurrentIndex(max(index, 0))
            combo.blockSignals(False)
            if index < 0 and current != ANY:  # the value vanished: drop the filter
                self.proxy.set_column_filter(key, None)

    def _update_count(self) -> None:
        total, shown = self.model.rowCount(), self.proxy.rowCount()
        noun = "episode" if total == 1 else "episodes"
        self.count_label.setText(
            f"{total} {noun}" if shown == total else f"{shown} of {total} {noun}"
        )

    # --- search and filters ----------------------------------------------------------------

    def set_search(self, text: str) -> None:
        self.search.setText(text)  # textChanged applies it

    def _on_search(self, text: str) -> None:
        self.proxy.set_search(text)
        self._update_count()

    def set_filter(self, key: str, value: str | None) -> None:
        """Programmatic column filter (``None``/"any" clears it); updates the combo box."""
        combo = self.filters[key]
        text = ANY if value is None else value
        index = combo.findText(text)
        if index < 0:
            raise ValueError(f"{key} has no value {value!r} in the catalog")
        combo.setCurrentIndex(index)

    def _on_filter_combo(self, text: str) -> None:
        combo = self.sender()
        key = combo.property("filterKey") if combo is not None else None
        if key in self.filters:
            self._on_filter(str(key), text)

    def _on_filter(self, key: str, text: str) -> None:
        self.proxy.set_column_filter(key, None if text in ("", ANY) else text)
        self._update_count()

    def clear_filters(self) -> None:
        self.search.clear()
        for combo in self.filters.values():
            combo.setCurrentIndex(0)

    # --- selection and opening ---------------------------------------------------------------

    def selected_ids(self) -> list[str]:
        """Ids of the selected rows, in table order."""
        rows = sorted(self.table.selectionModel().selectedRows(), key=lambda i: i.row())
        return [str(i.data(ID_ROLE)) for i in rows]

    def _select_ids(self, ids: set[str]) -> None:
        selection = self.table.selectionModel()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if index.data(ID_ROLE) in ids:
                selection.select(index, flags)

    def _on_double_click(self, _index: object) -> None:
        self._emit_open()

    def _on_selection(self, *_args: object) -> None:
        count = len(self.table.selectionModel().selectedRows())
        self.open_button.setEnabled(count > 0)
        self.open_button.setText("Open" if count <= 1 else f"Open {count}")

    def _emit_open(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        self._remember(ids, "episode")
        self.openRequested.emit(ids)

    # --- context menu: selections and comparisons -------------------------------------------

    def compare_action_enabled(self) -> bool:
        return self.table.selected_count() == 2

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

    # --- recent items ------------------------------------------------------------------------

    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        try:
            paths = [item for item, _ in self.catalog().recent("path")]
            episodes = [item for item, _ in self.catalog().recent("episode")]
        except Exception as exc:
            menu.addAction(literal_mnemonic(f"Recent items unavailable: {exc}")).setEnabled(False)
            return
        names = {r.id: r for r in self.model.rows()}
        menu.addSection("Episodes")
        for episode in episodes[:12]:
            row = names.get(episode)
            label = episode if row is None else f"{row.name}  —  {row.kind}"
            action = menu.addAction(literal_mnemonic(label))
            action.setEnabled(row is not None)
            action.setData(["episode", episode])
        if not episodes:
            menu.addAction("(none yet)").setEnabled(False)
        menu.addSection("Scanned folders and files")
        for path in paths[:12]:
            action = menu.addAction(literal_mnemonic(f"Re-scan {path}"))
            action.setToolTip(literal_tip(path))
            action.setData(["path", path])
        if not paths:
            menu.addAction("(none yet)").setEnabled(False)

    def _on_recent_action(self, action: QAction) -> None:
        data = action.data()
        if not isinstance(data, list) or len(data) != 2:
            return
        kind, item = data
        if kind == "episode":
            self._remember([item], "episode")
            self.openRequested.emit([item])
        elif kind == "path":
            self.scan_paths([Path(item)])

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
        return self._worker is not None

    def queued_scans(self) -> list[list[Path]]:
        return [list(q) for q in self._queue]

    def scan_paths(self, paths: Sequence[Path]) -> None:
        """Scan ``paths`` in the worker thread; while a scan runs, the request is queued."""
        roots = [Path(p) for p in paths]
        if not roots:
            return
        if self._worker is not None:
            self._queue.append(roots)
            names = ", ".join(p.name or str(p) for p in roots)
            self._set_status(
                f"Queued: {escape(names)} (scans after the current one finishes)", html=True
            )
            return
        self._start_scan(roots)

    def _start_scan(self, roots: list[Path]) -> None:
        self._remember([str(p.expanduser().resolve()) for p in roots], "path")
        worker = ScanWorker(self.catalog_path, roots)
        worker.progress.connect(self._on_progress)
        worker.explainProgress.connect(self._on_explain_progress)
        worker.finished.connect(self._on_scan_finished)
        worker.failed.connect(self._on_scan_failed)
        self._worker = worker
        self.progress_bar.setRange(0, 0)  # busy until the scanner knows the total
        self.progress_label.setText("Looking for recordings in " + ", ".join(map(str, roots)))
        self.cancel_button.setEnabled(True)
        self.progress_row.setVisible(True)
        worker.start()

    def cancel_scan(self) -> None:
        """Stop the running scan after its current recording and drop queued ones."""
        dropped = len(self._queue)
        self._queue.clear()
        if self._worker is None:
            return
        self._worker.cancel()
        self.cancel_button.setEnabled(False)
        self.progress_label.setText(
            "Cancelling…" + (f" ({dropped} queued scan(s) dropped)" if dropped else "")
        )

    def _on_progress(self, done: int, total: int, path: str) -> None:
        if self.sender() is not self._worker:
            return
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        self.progress_bar.setFormat(f"{done} / {total}")
        if path and not (self._worker and self._worker.is_cancelled()):
            elided = self.progress_label.fontMetrics().elidedText(
                path, Qt.TextElideMode.ElideMiddle, max(self.progress_label.width(), 200)
            )
            self.progress_label.setText(f"Indexing {elided}")
            self.progress_label.setToolTip(literal_tip(path))

    def _on_explain_progress(self, done: int, total: int, _episode: str) -> None:
        if self.sender() is not self._worker:
            return
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        self.progress_bar.setFormat(f"{done} / {total}")
        self.progress_label.setText(f"Explaining new episodes ({done} of {total})")
        self.progress_label.setToolTip("")

    def _on_scan_finished(self, summary: ScanSummary) -> None:
        if self.sender() is not self._worker:  # a worker abandoned by shutdown()
            return
        self._end_scan()
        self.refresh()
        text = summary_text(summary)
        level = "ok" if not summary.errors else ("warning" if summary.indexed else "error")
        self._set_status(text, problems=summary.problems, level=level)
        self.scanFinished.emit(summary)
        self._next_scan()

    def _on_scan_failed(self, message: str) -> None:
        if self.sender() is not self._worker:
            return
        self._end_scan()
        self.refresh()
        self._set_status(f"Scan failed: {message}", problems=[message], level="error")
        self._next_scan()

    def _end_scan(self) -> None:
        worker = self._worker
        self._worker = None
        self.progress_row.setVisible(False)
        if worker is not None:
            worker.wait()  # run() has returned: the thread is quitting, this is immediate

    def _next_scan(self) -> None:
        if self._queue and self._worker is None:
            self._start_scan(self._queue.pop(0))

    # --- status line ---------------------------------------------------------------------------

    def status_text(self) -> str:
        return self.status_label.property("plainText") or ""

    def _set_status(
        self,
        text: str,
        *,
        problems: Sequence[str] = (),
        level: str = "ok",
        html: bool = False,
    ) -> None:
        self._status_problems = list(problems)
        body = text if html else escape(text)
        if problems:
            body += ' &nbsp;<a href="#problems">details…</a>'
        color = STATUS_LINE_COLORS.get(level, "palette(text)")
        self.status_label.setStyleSheet(f"color: {color};")
        self.status_label.setText(body)
        self.status_label.setToolTip("\n".join(self._status_problems))
        self.status_label.setProperty("plainText", text)

    def _show_problems(self, _link: str = "") -> None:
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Scan problems")
        box.setText(f"{len(self._status_problems)} recording(s) could not be indexed fully.")
        box.setDetailedText("\n".join(self._status_problems))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

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
        self._queue.clear()
        worker = self._worker
        if worker is not None:
            worker.cancel()
            worker.wait()
            self._worker = None
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)
