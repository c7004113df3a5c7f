"""The Explain panel: an episode's ranked findings, each one a click away from its evidence.

The list shows rank, confidence (the figure, then a slim bar in the severity colour), time and
title, in rank order under section headings (``analysis.sections``: likely cause, after the
failure, symptoms, less likely) so confidence never seems to contradict rank; the area below
explains the selected finding (explanation, next step, evidence values and thresholds).
Clicking a finding emits ``findingActivated`` — the episode view moves the playhead there,
plots and highlights the channels and fits their y axes to the finding's span. Explaining
runs on a worker thread with its own catalog connection and EpisodeSource (never the UI
thread); catalog episodes get their findings stored, episodes opened from disk are explained
without writing anything. The panel renders the ``EpisodeSession``'s findings: Re-run asks the
session (``request_explain``), the panel's worker answers, and the result goes back through
``set_findings`` so every subscriber (markers, the plots) hears of it.
"""

from __future__ import annotations

import contextlib
import html
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    QRunnable,
    Qt,
    QThreadPool,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from robotrace_desktop.analysis.sections import finding_sections
from robotrace_desktop.core import colors
from robotrace_desktop.core.episode import EpisodeInfo, StreamKind
from robotrace_desktop.core.finding import CONFIDENT, Finding
from robotrace_desktop.core.markers import Marker
from robotrace_desktop.core.timebase import NS_PER_S as NS
from robotrace_desktop.episodes import ResolvedEpisode
from robotrace_desktop.errors import RobotraceError
from robotrace_desktop.session.episode import EpisodeSession
from robotrace_desktop.session.explain_run import explain_and_store
from robotrace_desktop.ui.plain_text import literal_tip

log = logging.getLogger(__name__)
ChannelRef = tuple[str, str]

# Not red: red is the playhead (core.colors).
SEVERITY_COLORS = colors.SEVERITY
TEXT_COLOR = "#263238"  # the confidence figure: dark on the light row, never on the bar
SECTION_COLOR = "#546e7a"
EMPTY_TEXT = "No findings — nothing unusual detected"
NOT_EXPLAINED_TEXT = "Not explained yet — Re-run"
RUNNING_TEXT = "Explaining…"
COL_RANK, COL_CONFIDENCE, COL_TIME, COL_TITLE = range(4)
FINDING_ROLE = Qt.ItemDataRole.UserRole


def finding_refs(info: EpisodeInfo, channels: Sequence[str]) -> list[ChannelRef]:
    """A finding's ``"stream/channel"`` names as (stream, channel) refs of this episode.

    Stream names contain slashes too ("/joint_states/effort/joint_3"), so the longest stream
    name that prefixes the entry wins; a bare stream name stands for its channels (first 8).
    """
    streams = {s.name: list(s.channels) for s in info.streams_of(StreamKind.SIGNAL)}
    by_length = sorted(streams, key=len, reverse=True)
    refs: list[ChannelRef] = []
    for entry in channels:
        if entry in streams:
            refs += [(entry, c) for c in streams[entry][:8]]
            continue
        for name in by_length:
            if entry.startswith(name + "/") and entry[len(name) + 1 :] in streams[name]:
                refs.append((name, entry[len(name) + 1 :]))
                break
    return list(dict.fromkeys(refs))


def finding_markers(findings: Sequence[Finding]) -> list[Marker]:
    """Timeline marks: every confident finding with a time, plus the top-ranked one — which,
    when unconfident, is a line at its start only: a shaded 16 s span would claim more than a
    30 % finding knows."""
    marks = []
    for f in findings:
        if f.t_start_ns is None or (f.confidence < CONFIDENT and f.rank != 1):
            continue
        ranged = f.t_end_ns is not None and f.t_end_ns > f.t_start_ns
        end = f.t_end_ns if ranged and f.confidence >= CONFIDENT else None
        color = SEVERITY_COLORS.get(f.severity, "#78909c")
        marks.append(Marker(int(f.t_start_ns), f.title, color, end))
    return marks


def time_text(f: Finding) -> str:
    if f.t_start_ns is None:
        return "—"
    if f.t_end_ns is None or f.t_end_ns == f.t_start_ns:
        return f"{f.t_start_ns / NS:.2f} s"
    return f"{f.t_start_ns / NS:.2f}–{f.t_end_ns / NS:.2f} s"


def confidence_rects(cell: QRect, metrics: QFontMetrics) -> tuple[QRect, QRect]:
    """(text, bar track) of a confidence cell: the figure on the left, a slim bar after it —
    side by side, so the figure is never drawn over a bar of its own colour."""
    inner = cell.adjusted(4, 0, -4, 0)
    text_width = metrics.horizontalAdvance("100%") + 2
    text = QRect(inner.left(), inner.top(), text_width, inner.height())
    track_height = 6
    track = QRect(
        text.right() + 5,
        inner.center().y() - track_height // 2,
        max(inner.right() - text.right() - 5, 8),
        track_height,
    )
    return text, track


class _ConfidenceDelegate(QStyledItemDelegate):
    """ "90%" in dark text, then a slim bar in the severity colour (see ``confidence_rects``)."""

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        finding = index.data(FINDING_ROLE)
        if not isinstance(finding, Finding):
            super().paint(painter, option, index)
            return
        cell: QRect = option.rect
        text, track = confidence_rects(cell, QFontMetrics(option.font))
        painter.save()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#dfe4e8"))
        painter.drawRoundedRect(track, 2, 2)
        bar = QRect(track)
        bar.setWidth(max(round(track.width() * finding.confidence), 1))
        fill = QColor(colors.severity_color(finding.severity))
        fill.setAlpha(255 if finding.confidence >= CONFIDENT else 110)
        painter.setBrush(fill)
        painter.drawRoundedRect(bar, 2, 2)
        painter.setPen(QColor(TEXT_COLOR))
        align = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(text, align, f"{finding.confidence:.0%}")
        painter.restore()


class _ExplainSignals(QObject):
    done = Signal(int, object, str)  # job id, [finding dicts], error message ("" when fine)


class _ExplainJob(QRunnable):
    """Runs ``explain_and_store`` on one episode in a pool thread."""

    def __init__(
        self,
        catalog_path: Path | None,
        resolved: ResolvedEpisode,
        job: int,
        signals: _ExplainSignals,
    ) -> None:
        super().__init__()
        self.catalog_path, self.resolved, self.job, self.signals = (
            catalog_path,
            resolved,
            job,
            signals,
        )
        self.finished = threading.Event()

    def run(self) -> None:
        findings: list[dict[str, Any]] = []
        error = ""
        try:
            result = explain_and_store(self.catalog_path, self.resolved)
            findings = [f.to_dict() for f in result]
        except Exception as exc:  # shown in the panel; the view stays usable
            log.exception("explain failed for %s", self.resolved.info.id)
            error = str(exc) or type(exc).__name__
        try:
            with contextlib.suppress(RuntimeError):  # the panel is gone: nobody listens
                self.signals.done.emit(self.job, findings, error)
        finally:
            self.finished.set()


class ExplainPanel(QWidget):
    """Ranked findings of one episode (see module doc)."""

    findingActivated = Signal(object)  # Finding
    findingsChanged = Signal(object)  # list[Finding], after a load or a re-run

    def __init__(
        self,
        session: EpisodeSession,
        parent: QWidget | None = None,
        *,
        resolved: ResolvedEpisode | None = None,
        auto_run: bool = True,
        defer_run: bool = False,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.info = info = session.info
        self.resolved = resolved or ResolvedEpisode(info, session.in_catalog)
        self._findings: list[Finding] = []
        self._items: list[QTreeWidgetItem] = []  # finding rows, in rank order
        self._job = 0
        self._running: dict[int, threading.Event] = {}
        self._signals = _ExplainSignals()  # parentless: a late job emits into a live object
        self._history_line: tuple[int, str] | None = None
        self._signals.done.connect(self._job_done)

        self.status = QLabel(self)
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # finding titles hold channel names
        self.status.setWordWrap(True)
        self.rerun_button = QPushButton("Re-run", self)
        self.rerun_button.setToolTip("Run every analyzer on this episode again")
        self.rerun_button.clicked.connect(session.request_explain)
        top = QHBoxLayout()
        top.setContentsMargins(4, 4, 4, 0)
        top.addWidget(self.status, 1)
        top.addWidget(self.rerun_button)

        self.list = QTreeWidget(self)
        self.list.setRootIsDecorated(False)
        self.list.setUniformRowHeights(True)
        self.list.setAlternatingRowColors(True)
        self.list.setHeaderLabels(["#", "Confidence", "Time", "Finding"])
        header = self.list.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(COL_RANK, QHeaderView.ResizeMode.ResizeToContents)
        header.resizeSection(COL_CONFIDENCE, 96)
        header.setSectionResizeMode(COL_TIME, QHeaderView.ResizeMode.ResizeToContents)
        self.list.setItemDelegateForColumn(COL_CONFIDENCE, _ConfidenceDelegate(self.list))
        self.list.itemClicked.connect(self._on_clicked)
        self.list.itemActivated.connect(self._on_clicked)
        self.list.currentItemChanged.connect(self._on_current)

        self.detail = QTextBrowser(self)
        self.detail.setOpenLinks(False)
        self.empty = QLabel(self)
        self.empty.setTextFormat(Qt.TextFormat.PlainText)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: #607d8b; padding: 12px;")

        self.split = QSplitter(Qt.Orientation.Vertical, self)
        self.split.addWidget(self.list)
        self.split.addWidget(self.detail)
        self.split.setSizes([300, 200])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.empty, 1)
        layout.addWidget(self.split, 1)

        explained = False
        if self.resolved.in_catalog:
            self._findings = session.load_findings()
            explained = session.explained()
        self._show(explained=explained)
        session.explain_requested.connect(self._on_explain_requested)
        session.findings_changed.connect(self._on_findings)
        # defer_run: the episode view starts the run once its frames and plots are in, so
        # Explain's own read of the recording does not compete with them (issue 16)
        self._pending = auto_run and not explained and defer_run
        if self._pending:
            self.status.setText(RUNNING_TEXT)
            self.empty.setText(RUNNING_TEXT)
        elif auto_run and not explained:
            self.rerun()

    # --- public API ---------------------------------------------------------------------

    def findings(self) -> list[Finding]:
        return list(self._findings)

    def markers(self) -> list[Marker]:
        return finding_markers(self._findings)

    def is_running(self) -> bool:
        """Running, or waiting to start (``defer_run``)."""
        return bool(self._running) or self._pending

    def empty_text(self) -> str | None:
        """The empty-state sentence on screen, or None when findings are listed."""
        return None if self.empty.isHidden() else self.empty.text()

    def select(self, rank_index: int) -> Finding:
        """Select (and activate) the finding at list position ``rank_index`` (0 = top)."""
        if not 0 <= rank_index < len(self._items):
            raise IndexError(rank_index)
        item = self._items[rank_index]
        self.list.setCurrentItem(item)
        self._on_clicked(item)
        return item.data(COL_RANK, FINDING_ROLE)

    def start_pending(self) -> None:
        """Start the run ``defer_run`` put off (nothing when there is none)."""
        if self._pending:
            self.rerun()

    def rerun(self) -> None:
        """Explain the episode again in a pool thread; the list updates when it is done."""
        self._pending = False
        if self._running:
            return
        self._job += 1
        job = _ExplainJob(self.session.catalog.path, self.resolved, self._job, self._signals)
        self._running[self._job] = job.finished
        self.rerun_button.setEnabled(False)
        self.status.setText(RUNNING_TEXT)
        if not self._findings:
            self.empty.setText(RUNNING_TEXT)
        QThreadPool.globalInstance().start(job)

    def shutdown(self, timeout_s: float = 30.0) -> None:
        """Wait for a running explain (call before the view closes)."""
        for finished in list(self._running.values()):
            finished.wait(timeout_s)
        self._running.clear()

    # --- internals ----------------------------------------------------------------------

    def _job_done(self, job: int, findings: list[dict[str, Any]], error: str) -> None:
        self._running.pop(job, None)
        self.rerun_button.setEnabled(True)
        if error:
            self.status.setText(f"Explain failed: {error}")
            self.status.setStyleSheet("color: #b71c1c;")
            if not self._findings:
                self.empty.setText(f"Explain failed: {error}")
            return
        self.status.setStyleSheet("")
        self.session.set_findings([Finding.from_dict(d) for d in findings])  # → _on_findings

    def _on_explain_requested(self, _: None) -> None:
        self.rerun()

    def _on_findings(self, findings: list[Finding]) -> None:
        self._findings = list(findings)
        self._show(explained=True)
        self.findingsChanged.emit(list(self._findings))

    def shown_rows(self) -> list[str | Finding]:
        """The table top to bottom: section headings (str) and findings."""
        rows: list[str | Finding] = []
        for i in range(self.list.topLevelItemCount()):
            item = self.list.topLevelItem(i)
            if item is None:  # in range: Qt types the lookup as Optional
                raise RuntimeError(
                    f"the findings table has no row {i} of {self.list.topLevelItemCount()}"
                )
            finding = item.data(COL_RANK, FINDING_ROLE)
            rows.append(finding if isinstance(finding, Finding) else item.text(0))
        return rows

    def _section_item(self, title: str) -> None:
        item = QTreeWidgetItem([title])
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)  # a heading: not selectable, not a finding
        font = QFont(self.list.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 0.9)
        item.setFont(0, font)
        item.setForeground(0, QBrush(QColor(SECTION_COLOR)))
        self.list.addTopLevelItem(item)
        item.setFirstColumnSpanned(True)

    def _show(self, *, explained: bool) -> None:
        self.list.clear()
        self._items = []
        sections = finding_sections(self._findings)
        self._findings = [f for _, members in sections for f in members]  # rank order
        for title, members in sections:
            if len(sections) > 1:
                self._section_item(title)
            for f in members:
                self._add_finding(f)
        self._show_status(explained=explained)

    def _add_finding(self, f: Finding) -> None:
        item = QTreeWidgetItem(["", "", time_text(f), f.title])
        item.setText(COL_RANK, str(f.rank))
        item.setData(COL_RANK, FINDING_ROLE, f)
        item.setData(COL_CONFIDENCE, FINDING_ROLE, f)
        color = QColor(SEVERITY_COLORS.get(f.severity, "#78909c"))
        item.setForeground(COL_RANK, QBrush(color))
        if f.confidence < CONFIDENT:
            item.setForeground(COL_TITLE, QBrush(QColor("#78909c")))
        item.setToolTip(COL_TITLE, literal_tip(f"{f.severity}: {f.explanation}"))
        item.setToolTip(COL_CONFIDENCE, f"confidence {f.confidence:.0%}, {f.severity}")
        self.list.addTopLevelItem(item)
        self._items.append(item)

    def _history(self) -> tuple[int, str]:
        """What the findings were judged against (asked once: peers change with a scan)."""
        if self._history_line is None:
            try:
                self._history_line = self.session.history()
            except RobotraceError:
                self._history_line = (0, "")
        return self._history_line

    def _show_status(self, *, explained: bool) -> None:
        confident = sum(f.confidence >= CONFIDENT for f in self._findings)
        count, history = self._history()
        self.status.setToolTip(literal_tip(history) if history else "")
        if self._findings:
            against = f" · vs {count} other episode(s)" if count else " · judged alone"
            self.status.setText(
                f"{len(self._findings)} finding(s), {confident} confident"
                + (f" — most likely: {self._findings[0].title}" if confident else "")
                + (against if history else "")
            )
            self.list.setCurrentItem(self._items[0])
        elif not self._running:
            self.status.setText("")
        text = EMPTY_TEXT if explained else NOT_EXPLAINED_TEXT
        self.empty.setText(RUNNING_TEXT if self._running and not explained else text)
        self.empty.setVisible(not self._findings)
        self.split.setVisible(bool(self._findings))

    def _on_current(self, item: QTreeWidgetItem | None, _previous: object = None) -> None:
        finding = None if item is None else item.data(COL_RANK, FINDING_ROLE)
        self.detail.setHtml(detail_html(finding) if isinstance(finding, Finding) else "")

    def _on_clicked(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        finding = item.data(COL_RANK, FINDING_ROLE)
        if isinstance(finding, Finding):
            self._on_current(item)
            self.findingActivated.emit(finding)


def detail_html(f: Finding) -> str:
    color = SEVERITY_COLORS.get(f.severity, "#78909c")
    rows = "".join(
        f"<tr><td style='color:#546e7a; padding-right:8px'>{html.escape(str(k))}</td>"
        f"<td>{html.escape(_value(v))}</td></tr>"
        for k, v in f.evidence.items()
    )
    channels = ", ".join(html.escape(c) for c in f.channels) or "—"
    parts = [
        f"<p><b>{html.escape(f.title)}</b><br><span style='color:{color}'>{f.severity}</span>"
        f" · confidence {f.confidence:.0%} · {html.escape(time_text(f))}"
        f" · <code>{html.escape(f.cause)}</code></p>",
        f"<p>{html.escape(f.explanation)}</p>",
    ]
    if f.next_step:
        parts.append(f"<p><b>Next step:</b> {html.escape(f.next_step)}</p>")
    parts.append(f"<p><b>Channels:</b> {channels}</p>")
    if rows:
        parts.append(f"<p><b>Evidence</b></p><table>{rows}</table>")
    return "".join(parts)


def _value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**8:
        return f"{value} ns ({value / NS:.3f} s)"
    text = str(value)
    return text if len(text) < 200 else text[:199] + "…"
