"""The catalog browser on a 20,000-episode catalog (ten synthetic LeRobot datasets of 2,000,
``benchmarks/gen_catalog.py``): what a person sees is the datasets, each summarised, and a
dataset's episodes only once it is opened — and the browser holds only those in memory.

Counts, not wall clock: the timing targets are measured by ``benchmarks/bench_catalog.py``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from benchmarks.gen_catalog import ROBOTS, build, dataset_root
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.ui.catalog_browser import CatalogBrowser
from robotrace_desktop.ui.catalog_model import COLUMN_KEYS, NODE_ROLE
from robotrace_desktop.ui.catalog_rows import CatalogGroup, CatalogRow
from tests.catalog_files import read_only
from tests.ui.conftest import shown_browser

EPISODES, PER_DATASET = 20_000, 2_000
TOOLTIP = Qt.ItemDataRole.ToolTipRole


def col(key: str) -> int:
    return COLUMN_KEYS.index(key)


@pytest.fixture(scope="module")
def big_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scale") / "catalog.sqlite"
    build(path, EPISODES, PER_DATASET)
    return path


@pytest.fixture
def browser(qtbot: Any, big_catalog: Path, tmp_path: Path) -> Iterator[CatalogBrowser]:
    copy = tmp_path / "catalog.sqlite"
    shutil.copy(big_catalog, copy)
    with shown_browser(qtbot, copy) as made:
        yield made


def groups(browser: CatalogBrowser) -> list[CatalogGroup]:
    return [n for n in browser.model.top_nodes() if isinstance(n, CatalogGroup)]


def read(browser: CatalogBrowser) -> list[str]:
    """The datasets whose episodes are in memory."""
    return [g.name for g in groups(browser) if browser.model.is_read(g)]


def dataset_index(browser: CatalogBrowser, name: str) -> Any:
    proxy = browser.proxy
    for row in range(proxy.rowCount()):
        if proxy.index(row, 0).data().startswith(name + "  ("):
            return proxy.index(row, 0)
    raise AssertionError(f"no dataset row {name}")


def test_the_browser_opens_on_the_datasets_without_reading_their_episodes(
    browser: CatalogBrowser,
) -> None:
    proxy = browser.proxy
    names = [proxy.index(r, 0).data() for r in range(proxy.rowCount())]
    assert names == [f"dataset_{n:04d}  (2000 episodes)" for n in range(10)]
    assert read(browser) == []  # no episode row was made
    assert browser.count_label.text() == "20000 episodes"
    first = proxy.index(0, 0)
    assert browser.table.model().hasChildren(first)  # the expand arrow is there
    assert proxy.index(0, col("robot")).data() == ROBOTS[0]
    assert proxy.index(0, col("findings")).data() == "200 with findings"  # every tenth
    assert proxy.index(0, col("problems")).data() == "40 with problems"  # 2 % unreadable
    tip = proxy.index(0, col("outcome")).data(TOOLTIP)
    assert tip == "outcome of the 2000 episodes: 1200 success, 600 failure, 200 unknown"
    assert set(browser.filters["robot"].itemText(i) for i in range(1, 6)) == set(ROBOTS)


def test_expanding_a_dataset_reads_only_its_episodes_in_the_sorted_order(
    browser: CatalogBrowser,
) -> None:
    index = dataset_index(browser, "dataset_0003")
    browser.table.expand(index)
    assert read(browser) == ["dataset_0003"]
    names = [browser.proxy.index(r, 0, index).data() for r in range(browser.proxy.rowCount(index))]
    assert names[:3] == ["#0", "#1", "#2"] and names[-1] == "#1999" and len(names) == 2000

    browser.table.sortByColumn(col("duration"), Qt.SortOrder.DescendingOrder)
    index = dataset_index(browser, "dataset_0003")  # still expanded, re-sorted inside
    assert browser.table.isExpanded(index)
    rows: list[CatalogRow] = [browser.proxy.index(r, 0, index).data(NODE_ROLE) for r in range(2000)]
    durations = [r.duration_ns for r in rows]
    assert durations == sorted(durations, reverse=True)
    with read_only(browser.catalog_path) as other:
        longest = other.execute(
            "SELECT max(duration_ns) FROM episodes WHERE recording = ?", [dataset_root(3)]
        ).fetchone()[0]
    assert durations[0] == longest
    totals = [g.duration_ns for g in groups(browser)]  # datasets by their total, longest first
    assert totals == sorted(totals, reverse=True)
    assert read(browser) == ["dataset_0003"]  # sorting read nothing else


def test_a_datasets_summary_agrees_with_its_episodes(browser: CatalogBrowser) -> None:
    index = dataset_index(browser, "dataset_0007")
    group = index.data(NODE_ROLE)
    browser.table.expand(index)
    episodes = browser.model.episodes_of(group)
    assert group.count == len(episodes) == 2000
    assert group.duration_ns == sum(r.duration_ns for r in episodes)
    assert group.with_problems == sum(1 for r in episodes if r.problems)
    assert group.with_findings == sum(1 for r in episodes if r.top and r.top.confidence >= 0.5)
    assert group.counts("status") == {"failed": 40, "ready": 1960}
    assert group.status == "failed" and group.outcome == "failure"
    assert group.common["robot"] == ROBOTS[7 % 5] and group.common["task"] == "various"
    tip = index.siblingAtColumn(col("anomaly")).data(TOOLTIP)
    assert tip.startswith("Most abnormal: #3 (0.82)")  # the first of the confident ones


def test_a_change_from_another_program_updates_only_that_datasets_summary(
    qtbot: Any, browser: CatalogBrowser
) -> None:
    with read_only(browser.catalog_path) as conn:
        (one,) = conn.execute(
            "SELECT id FROM episodes WHERE recording = ? AND episode_index = 5", [dataset_root(2)]
        ).fetchone()
    with Catalog(browser.catalog_path) as other:
        other.set_overrides([one], {"robot": "spot"})
    with read_only(browser.catalog_path) as conn:
        clean = {r[0] for r in conn.execute("SELECT recording FROM browse_clean")}
    assert dataset_root(2) not in clean and len(clean) == 9  # the others stay summarised
    browser.refresh()
    index = dataset_index(browser, "dataset_0002")
    assert index.siblingAtColumn(col("robot")).data() == "various"
    assert "spot" in [browser.filters["robot"].itemText(i) for i in range(7)]
    browser.set_filter("robot", "spot")  # a filter looks inside the datasets
    assert browser.proxy.rowCount() == 1 and browser.count_label.text() == "1 of 20000 episodes"
    index = dataset_index(browser, "dataset_0002")
    assert [
        browser.proxy.index(r, 0, index).data() for r in range(browser.proxy.rowCount(index))
    ] == ["#5"]


def test_a_filter_reads_only_the_matching_episodes(browser: CatalogBrowser) -> None:
    browser.set_filter("robot", "g1")  # datasets 2 and 7 (of 10) are the G1's
    proxy = browser.proxy
    names = [proxy.index(r, 0).data() for r in range(proxy.rowCount())]
    assert names == ["dataset_0002  (2000 episodes)", "dataset_0007  (2000 episodes)"]
    in_memory = sum(len(g.children or []) for g in groups(browser))
    assert in_memory == 4000  # the other datasets' 16,000 episodes were never made rows
    browser.set_filter("outcome", "unknown")  # narrower: each dataset read again, narrowed
    assert sum(len(g.children or []) for g in groups(browser)) == 400
    assert browser.count_label.text() == "400 of 20000 episodes"
    index = proxy.index(0, 0)
    assert browser.table.isExpanded(index)  # narrowed: the datasets open on their matches
    shown = [proxy.index(r, 0, index).data(NODE_ROLE) for r in range(proxy.rowCount(index))]
    assert {(r.robot, r.outcome) for r in shown} == {("g1", "unknown")} and len(shown) == 200
    browser.clear_filters()
    assert proxy.rowCount() == 10 and browser.count_label.text() == "20000 episodes"


def test_a_search_reads_only_the_episodes_it_finds(browser: CatalogBrowser) -> None:
    browser.set_search("dataset_0004 #19")  # #19 and #190..#199, #1900..#1999
    assert sum(len(g.children or []) for g in groups(browser)) == 111
    assert browser.count_label.text() == "111 of 20000 episodes"
    browser.set_search("dataset_0004 #199")  # typing on narrows what is in memory
    index = dataset_index(browser, "dataset_0004")
    names = [browser.proxy.index(r, 0, index).data() for r in range(browser.proxy.rowCount(index))]
    assert names == ["#199", *(f"#{n}" for n in range(1990, 2000))]
    browser.set_search("ACTION SATURATED")  # the top finding's title, any case
    assert browser.count_label.text() == "2000 of 20000 episodes"  # every tenth
    browser.set_search("")
    assert browser.proxy.rowCount() == 10 and browser.count_label.text() == "20000 episodes"


def test_clearing_a_broad_search_does_not_read_every_dataset(browser: CatalogBrowser) -> None:
    browser.set_search("dataset_")  # every episode matches: every dataset is read and opened
    assert browser.count_label.text() == "20000 episodes"
    index = dataset_index(browser, "dataset_0005")
    child = browser.proxy.index(7, 0, index)
    browser.table.setCurrentIndex(child)  # an episode the user picked among the results
    picked = child.data(NODE_ROLE).id  # read now: the index is stale once the rows change
    browser.set_search("")
    assert sum(len(g.children or []) for g in groups(browser)) == 2000  # only its dataset
    assert browser.selected_ids() == [picked]
