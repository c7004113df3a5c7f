"""The Regression panel's three tables — summary, gate checks, episode pairs — filled from
one VerifyResult, with the same number formatting as the HTML report."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from robotrace_desktop.ui.plain_text import literal_tip
from robotrace_desktop.verify.model import GateCheck, MetricComparison, PairDiff
from robotrace_desktop.verify.report_html import fmt_delta, fmt_interval, fmt_p, fmt_value

BETTER, WORSE, NEUTRAL = "#2e7d32", "#c62828", "#78909c"
UNKNOWN = "#9a6700"
#: gate check state -> (mark, colour, tooltip)
CHECK_LOOK = {
    "pass": ("✓", BETTER, "passed"),
    "fail": ("✗", WORSE, "failed"),
    "inconclusive": ("?", UNKNOWN, "inconclusive: the data could not answer this check"),
}
PAIR_ROLE = Qt.ItemDataRole.UserRole
SUMMARY_COLUMNS = ("Metric", "Baseline", "Candidate", "Δ", "", "p")
CHECK_COLUMNS = ("", "Gate check", "Detail")
PAIR_COLUMNS = ("Regression", "Baseline", "Candidate / replay", "Matched on", "Summary")


def trend(better: bool | None) -> tuple[str, str]:
    """(arrow, colour): ▲ better, ▼ worse, – no significant difference."""
    if better is None:
        return "–", NEUTRAL
    return ("▲", BETTER) if better else ("▼", WORSE)


def counterpart(pair: PairDiff) -> str | None:
    """What a pair opens next to its baseline: the recorded candidate, else the replay."""
    return pair.candidate_id or pair.replay_id


def _item(
    text: str, *, color: str | None = None, tip: str = "", bold: bool = False
) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if color is not None:
        item.setForeground(QBrush(QColor(color)))
    if tip:
        item.setToolTip(literal_tip(tip))
    if bold:
        font = QFont()
        font.setBold(True)
        item.setFont(font)
    return item


def make_table(columns: Sequence[str], parent: QWidget) -> QTableWidget:
    table = QTableWidget(0, len(columns), parent)
    table.setHorizontalHeaderLabels(list(columns))
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    header.setStretchLastSection(True)
    header.setHighlightSections(False)
    return table


def fill_summary(table: QTableWidget, metrics: Sequence[MetricComparison]) -> None:
    """One row per metric: value, Δ and ▲/▼/– coloured better/worse."""
    table.setRowCount(len(metrics))
    for row, m in enumerate(metrics):
        arrow, color = trend(m.better)
        tip = (
            f"{m.label}\nbaseline n={m.n_baseline} {fmt_interval(m.baseline_interval, m.unit)}"
            f"\ncandidate n={m.n_candidate} {fmt_interval(m.candidate_interval, m.unit)}"
            f"\nΔ interval {fmt_interval((m.delta_low, m.delta_high), m.unit) or '–'}"
            f", p = {fmt_p(m.p_value)}"
        )
        table.setItem(row, 0, _item(m.label, tip=tip))
        table.setItem(row, 1, _item(fmt_value(m.baseline, m.unit), tip=tip))
        table.setItem(row, 2, _item(fmt_value(m.candidate, m.unit), tip=tip))
        delta_color = None if m.better is None else color
        table.setItem(row, 3, _item(fmt_delta(m.delta, m.unit), color=delta_color, tip=tip))
        word = {"▲": "better", "▼": "worse", "–": "no significant difference"}[arrow]
        arrow_item = _item(arrow, color=color, tip=word, bold=True)
        arrow_item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        table.setItem(row, 4, arrow_item)
        table.setItem(row, 5, _item(fmt_p(m.p_value), tip=tip))
    fit_columns(table, stretch=0)


def fill_checks(table: QTableWidget, checks: Sequence[GateCheck]) -> None:
    table.setRowCount(len(checks))
    for row, c in enumerate(checks):
        symbol, color, word = CHECK_LOOK[c.state]
        mark = _item(symbol, color=color, bold=True, tip=word)
        mark.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        table.setItem(row, 0, mark)
        name_color = None if c.passed else color
        table.setItem(row, 1, _item(c.name, color=name_color, bold=not c.passed))
        detail = f"inconclusive: {c.detail}" if c.inconclusive else c.detail
        table.setItem(row, 2, _item(detail, tip=detail))
    fit_columns(table, stretch=2)


def fill_pairs(table: QTableWidget, pairs_in: Sequence[PairDiff]) -> None:
    """Pairs worst regression first; each row's first cell carries its PairDiff."""
    pairs = sorted(pairs_in, key=lambda p: -p.regression)  # stable: keeps ties' order
    table.setRowCount(len(pairs))
    for row, p in enumerate(pairs):
        score = f"{'⚠ ' if p.regressed else ''}{p.regression:.1f}"
        first = _item(score, color=WORSE if p.regressed else None, bold=p.regressed)
        first.setData(PAIR_ROLE, p)
        first.setToolTip("must look" if p.regressed else "")
        table.setItem(row, 0, first)
        table.setItem(row, 1, _item(p.baseline_name or p.baseline_id, tip=p.baseline_id))
        other = p.candidate_name or (counterpart(p) or "—")
        if p.candidate_id is None and p.replay_id is not None:
            other += " (replay)"
        elif p.candidate_id and p.replay_id:
            other += " + replay"
        table.setItem(row, 2, _item(other, tip=counterpart(p) or ""))
        matched = ", ".join(p.matched_on) or ("replay of the baseline" if p.replay_id else "—")
        table.setItem(row, 3, _item(matched))
        table.setItem(row, 4, _item(p.summary, tip=f"{p.summary}\n{p.link or ''}"))
    fit_columns(table, stretch=4)


def fit_columns(table: QTableWidget, *, stretch: int) -> None:
    """Columns as wide as their contents (within reason); ``stretch`` takes the rest."""
    table.resizeColumnsToContents()
    header = table.horizontalHeader()
    header.setStretchLastSection(False)
    for column in range(table.columnCount()):
        if column == stretch:
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
            continue
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        width = table.columnWidth(column)
        table.setColumnWidth(column, min(max(width + 14, 36), 360))
