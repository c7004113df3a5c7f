"""The Explain panel in the episode view: the demo's ranked findings appear (computed off the UI
thread), clicking the top one moves the playhead to its time and highlights its channels on the
plots, and findings are marked on the timeline strip and the plots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from robotrace_desktop.analysis import explain as explain_module
from robotrace_desktop.analysis import registry
from robotrace_desktop.catalog.findings import findings_for, was_explained
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.episodes import resolve
from robotrace_desktop.library.scanner import scan
from robotrace_desktop.session import EpisodeSession
from robotrace_desktop.ui.episode_view import EpisodeView
from robotrace_desktop.ui.explain_panel import (
    EMPTY_TEXT,
    SEVERITY_COLORS,
    ExplainPanel,
    finding_refs,
)
from tests.catalog_files import copy_catalog
from tests.demo_cache import demo_copy

WAIT_MS = 30_000


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("demo")
    bundle = demo_copy(root / "bundle")
    with Catalog(root / "catalog.sqlite") as catalog:
        scan(catalog, [bundle])  # indexed, not explained: the panel explains it
    return root / "catalog.sqlite", bundle


@pytest.fixture
def view(qtbot, demo, tmp_path):  # type: ignore[no-untyped-def]
    source = demo[0]
    path = tmp_path / "catalog.sqlite"
    catalog = Catalog(copy_catalog(source, path))
    widget = EpisodeView(resolve(str(demo[1]), catalog), catalog)
    qtbot.addWidget(widget)
    widget.resize(1400, 900)
    widget.show()
    yield widget
    widget.shutdown()
    catalog.close()


def test_demo_findings_click_moves_the_playhead_and_highlights(
    qtbot, view: EpisodeView, tmp_path: Path
) -> None:
    panel = view.explain
    assert view.side.tabText(0) == "Explain" and view.side.widget(0) is panel
    qtbot.waitUntil(lambda: not panel.is_running() and bool(panel.findings()), timeout=WAIT_MS)
    findings = panel.findings()
    assert [f.rank for f in findings] == list(range(1, len(findings) + 1))
    assert [r for r in panel.shown_rows() if not isinstance(r, str)] == findings
    assert panel.empty_text() is None
    top = findings[0]
    assert top.confidence >= 0.5 and top.t_start_ns is not None
    # the one demo episode in its catalog: judged on itself alone, and the panel says so
    assert panel.status.text().endswith(" · judged alone")
    assert "judged on this episode alone" in panel.status.toolTip()
    # stored in the catalog by the worker
    assert [f.cause for f in findings_for(view.catalog, view.info.id)] == [
        f.cause for f in findings
    ]

    qtbot.waitUntil(lambda: not view.plots.is_loading(), timeout=WAIT_MS)
    with qtbot.waitSignal(panel.findingActivated, timeout=5_000) as activated:
        panel.select(0)
    assert activated.args[0].cause == top.cause
    assert view.timeline.time_ns() == top.t_start_ns
    assert view.plots.time_ns() == top.t_start_ns
    refs = finding_refs(view.info, top.channels)
    assert view.plots.highlighted() == refs
    for ref in refs:
        assert ref in view.plots.selection()
        assert view.plots.curve_emphasis(ref) == "bold"
    others = [r for r in view.plots.selection() if r not in refs]
    if refs and others:
        assert view.plots.curve_emphasis(others[0]) == "dimmed"
    assert top.title in panel.detail.toPlainText()
    if top.next_step:
        assert top.next_step in panel.detail.toPlainText()

    # markers: the top finding on the strip and on the first plot, in its severity colour
    strip = view.transport.strip._markers
    mark = next(m for m in strip if m.label == top.title)
    assert mark.t_ns == top.t_start_ns and mark.color == SEVERITY_COLORS[top.severity]
    assert view.plots.rows()[0].marker_items()
    view.plots.highlight([])
    assert all(view.plots.curve_emphasis(r) == "normal" for r in view.plots.selection())

    panel.select(0)
    qtbot.waitUntil(view.settled, timeout=WAIT_MS)
    assert view.panes["front"].shown_frame()[0] == 117  # the cameras followed the finding
    shots = Path(os.environ.get("ROBOTRACE_SHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    view.grab().save(str(shots / "explain_view.png"))


def test_empty_state_and_rerun_off_the_ui_thread(
    qtbot, demo, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "analyzers", lambda: ())
    monkeypatch.setattr(explain_module, "analyzers", lambda: ())
    path = tmp_path / "c.sqlite"
    catalog = Catalog(copy_catalog(demo[0], path))
    info = resolve(str(demo[1]), catalog).info
    panel = ExplainPanel(EpisodeSession(catalog, info), auto_run=False)
    qtbot.addWidget(panel)
    assert panel.empty_text() == "Not explained yet — Re-run"
    panel.rerun_button.click()
    assert panel.is_running() and not panel.rerun_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=WAIT_MS)
    assert panel.empty_text() == EMPTY_TEXT == "No findings — nothing unusual detected"
    # remembered even though nothing was found: reopening does not run Explain again
    assert was_explained(catalog, info.id) is True
    again = ExplainPanel(EpisodeSession(catalog, info), auto_run=True)
    qtbot.addWidget(again)
    assert not again.is_running() and again.empty_text() == EMPTY_TEXT
    catalog.close()


def test_an_episode_opened_from_disk_is_explained_without_storing(qtbot, tmp_path) -> None:
    bundle = demo_copy(tmp_path / "loose", seed=3)
    catalog = Catalog(tmp_path / "c.sqlite")
    resolved = resolve(str(bundle), catalog)
    assert not resolved.in_catalog
    session = EpisodeSession(catalog, resolved.info, in_catalog=resolved.in_catalog)
    panel = ExplainPanel(session, resolved=resolved)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=WAIT_MS)
    assert panel.findings() and panel.findings()[0].rank == 1
    assert not was_explained(catalog, resolved.info.id) and catalog.count() == 0
    catalog.close()


def test_finding_channel_names_map_to_plot_refs(demo) -> None:
    with Catalog(demo[0]) as catalog:
        info = catalog.list_episodes()[0]
        info = catalog.get(info.id)
    refs = finding_refs(
        info, ["/joint_states/effort/gripper", "/action/gripper", "/nope/x", "/action"]
    )
    assert refs[:2] == [("/joint_states", "effort/gripper"), ("/action", "gripper")]
    assert all(stream == "/action" for stream, _ in refs[2:]) and len(refs) > 2


def test_catalog_browser_shows_the_top_finding_and_filters_by_cause(qtbot, demo, tmp_path) -> None:
    from robotrace_desktop.catalog.findings import store_findings
    from robotrace_desktop.core.finding import Finding
    from robotrace_desktop.ui.catalog_browser import CatalogBrowser
    from robotrace_desktop.ui.catalog_model import COLUMN_KEYS

    path = tmp_path / "c.sqlite"
    other = demo_copy(tmp_path / "other", seed=5)
    with Catalog(copy_catalog(demo[0], path)) as copy:
        scan(copy, [other])
        first, second = (e.id for e in copy.list_episodes())
        found = Finding("action_saturation", "joint_2 pinned", "at its limit", 0.8, "high", 10)
        store_findings(copy, first, [found, Finding("nan_inf", "NaN", "x", 0.3, "low")])
        store_findings(copy, second, [Finding("nan_inf", "NaN", "x", 0.3, "low")])
    browser = CatalogBrowser(path)
    qtbot.addWidget(browser)
    browser.refresh()
    column = COLUMN_KEYS.index("findings")
    texts = {
        browser.model.row_at(r).id: browser.model.index(r, column).data()
        for r in range(browser.model.rowCount())
    }
    assert texts == {first: "joint_2 pinned (2)", second: "— (1 low)"}
    combo = browser.filters["cause"]
    assert [combo.itemText(i) for i in range(combo.count())] == ["any", "action_saturation"]
    browser.set_filter("cause", "action_saturation")
    assert browser.proxy.rowCount() == 1
    assert browser.proxy.index(0, 0).data(Qt.ItemDataRole.UserRole) == first
    browser.shutdown()
