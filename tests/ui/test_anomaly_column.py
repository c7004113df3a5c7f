"""The browser's Anomaly column on the real recordings: the score of each episode, sorted as a
number with the never-explained episodes last either way, the finding in its tooltip.

The catalog is the session's scan of ../shared/data (Explain included) plus a copy of the
Reachy 2 dataset scanned with ``--no-explain`` (three episodes without a score).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt

from robotrace_desktop.catalog.anomaly import anomaly_scores
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.ui.catalog_browser import CatalogBrowser
from robotrace_desktop.ui.catalog_model import COLUMN_KEYS, NODE_ROLE
from tests.catalog_files import copy_catalog
from tests.ui.conftest import shown_browser

ANOMALY = COLUMN_KEYS.index("anomaly")
TOOLTIP = Qt.ItemDataRole.ToolTipRole


@pytest.fixture
def browser(qtbot: Any, triage_catalog: Path, tmp_path: Path) -> Iterator[CatalogBrowser]:
    with shown_browser(qtbot, copy_catalog(triage_catalog, tmp_path / "catalog.sqlite")) as made:
        yield made


def column(browser: CatalogBrowser, parent: Any = None) -> list[str]:
    """The Anomaly cells of the top-level rows (or of one dataset's episodes), in view order."""
    proxy = browser.proxy
    if parent is None:
        return [proxy.index(r, ANOMALY).data() for r in range(proxy.rowCount())]
    return [proxy.index(r, ANOMALY, parent).data() for r in range(proxy.rowCount(parent))]


def scored_then_dashes(cells: list[str], descending: bool) -> None:
    """Numbers sorted as numbers (not as text), then every '—' (never explained)."""
    numbers = [c for c in cells if c != "—"]
    assert cells == numbers + ["—"] * (len(cells) - len(numbers)), cells
    values = [float(c) for c in numbers]
    assert values == sorted(values, reverse=descending)


def dataset(browser: CatalogBrowser, name: str) -> Any:
    proxy = browser.proxy
    for row in range(proxy.rowCount()):
        if proxy.index(row, 0).data().startswith(name + "  ("):
            browser.table.expand(proxy.index(row, 0))  # its episodes are read when expanded
            return proxy.index(row, 0)
    raise AssertionError(f"no dataset row {name}")


def test_the_anomaly_column_sorts_by_score_unexplained_last_both_ways(
    browser: CatalogBrowser, triage_catalog: Path
) -> None:
    for order in (Qt.SortOrder.DescendingOrder, Qt.SortOrder.AscendingOrder):
        descending = order == Qt.SortOrder.DescendingOrder
        browser.table.sortByColumn(ANOMALY, order)
        top = column(browser)
        scored_then_dashes(top, descending)
        assert top[-1] == "—"  # the unexplained Reachy copy (and the unreadable rows)
        g1 = column(browser, dataset(browser, "g1_pick_bottle_v21"))
        scored_then_dashes(g1, descending)
        assert len(g1) == 100 and "—" not in g1
        assert column(browser, dataset(browser, "reachy2_unexplained")) == ["—"] * 3
    # the scores are those of the stored findings: descending starts at the catalog's highest
    browser.table.sortByColumn(ANOMALY, Qt.SortOrder.DescendingOrder)
    with Catalog(triage_catalog) as catalog:
        best = max(a.score for a in anomaly_scores(catalog).values())
    assert column(browser)[0] == f"{best:.2f}"
    g1_rows = [r for r in browser.model.rows() if r.name.startswith("g1_pick_bottle_v21 #")]
    g1_best = max(r.anomaly.score for r in g1_rows if r.anomaly is not None)
    assert column(browser, dataset(browser, "g1_pick_bottle_v21"))[0] == f"{g1_best:.2f}"


def test_the_tooltip_names_the_finding_and_its_time(browser: CatalogBrowser) -> None:
    browser.table.sortByColumn(ANOMALY, Qt.SortOrder.DescendingOrder)
    g1 = dataset(browser, "g1_pick_bottle_v21")
    worst = browser.proxy.index(0, ANOMALY, g1)
    row = worst.data(NODE_ROLE)
    found = row.anomaly
    tip = worst.data(TOOLTIP)
    assert found.title in tip
    assert f"at {found.t_start_ns / 1e9:.2f} s" in tip
    assert "Most abnormal: #" in g1.siblingAtColumn(ANOMALY).data(TOOLTIP)
    proxy = browser.proxy
    clean = next(  # e.g. the talker bags: explained, nothing specific found
        proxy.index(r, ANOMALY) for r in range(proxy.rowCount())
        if proxy.index(r, ANOMALY).data() == "0.00" and not proxy.rowCount(proxy.index(r, 0))
    )  # fmt: skip
    assert "nothing specific" in clean.data(TOOLTIP)
    reachy = browser.proxy.index(0, ANOMALY, dataset(browser, "reachy2_unexplained"))
    assert "not explained yet" in reachy.data(TOOLTIP)
    assert "explain --all" in reachy.data(TOOLTIP)


def test_a_click_on_the_header_shows_the_most_abnormal_first_in_a_narrow_column(
    qtbot: Any, browser: CatalogBrowser
) -> None:
    header = browser.table.header()
    assert header.sectionSize(ANOMALY) <= 90  # a number, not a sentence
    metrics = header.fontMetrics()
    assert metrics.horizontalAdvance("Anomaly") + 12 <= header.sectionSize(ANOMALY)
    x = header.sectionViewportPosition(ANOMALY) + header.sectionSize(ANOMALY) // 2
    qtbot.mouseClick(
        header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2)
    )
    assert header.sortIndicatorSection() == ANOMALY
    assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    scored_then_dashes(column(browser), descending=True)
    qtbot.mouseClick(
        header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2)
    )
    assert header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder  # a second click flips
    scored_then_dashes(column(browser), descending=False)
