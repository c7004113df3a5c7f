"""The Regression panel as a release engineer uses it: pick versions or saved selections, run,
read the verdict, the better/worse summary and the pairs worst first, open a pair side by side,
save the report; mistakes show as a red line, a run can be cancelled."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QInputDialog

from robotrace_desktop.catalog.selections import save_selection, selection_ids, selections
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.library.scanner import scan
from robotrace_desktop.ui import verify_worker
from robotrace_desktop.ui.catalog_browser import CatalogBrowser
from robotrace_desktop.ui.regression_panel import RegressionPanel
from robotrace_desktop.ui.regression_tables import BETTER, WORSE
from robotrace_desktop.verify.model import (
    EpisodeMetrics,
    GateCheck,
    MetricComparison,
    PairDiff,
    RerollResult,
    VerifyResult,
)
from tests.catalog_files import copy_catalog
from tests.readers.lerobot_fixtures import EPISODES, EpisodeSpec, write_v2

SHOTS = Path(os.environ.get("ROBOTRACE_SHOT_DIR", tempfile.gettempdir())) / "robotrace_shots"
RUN_MS = 180_000


def realistic_result() -> VerifyResult:
    """A failing run: success rate down 10.5 points, a new saturation cause, a policy error."""
    metrics = [
        MetricComparison(
            "success_rate",
            "Success rate",
            "%",
            True,
            0.81,
            0.705,
            400,
            400,
            -0.105,
            -0.16,
            -0.05,
            0.0003,
            False,
            (0.772, 0.843),
            (0.66, 0.75),
        ),
        MetricComparison(
            "duration_s", "Duration", "s", False, 8.21, 8.64, 400, 400, 0.43, 0.1, 0.7, 0.2, None
        ),
        MetricComparison(
            "time_to_goal_s",
            "Time to goal (successful runs)",
            "s",
            False,
            7.9,
            7.1,
            324,
            282,
            -0.8,
            -1.1,
            -0.5,
            0.001,
            True,
        ),
        MetricComparison(
            "jerk",
            "Action jerk (RMS)",
            "1/s³",
            False,
            12.35,
            10.0,
            400,
            400,
            -2.35,
            -3.0,
            -1.0,
            0.01,
            True,
        ),
        MetricComparison(
            "cause:action_saturation",
            "Rate of action saturation",
            "%",
            False,
            0.02,
            0.115,
            400,
            400,
            0.095,
            0.06,
            0.13,
            1e-6,
            False,
        ),
        MetricComparison(
            "reroll_ood_share",
            "Re-roll: steps out of distribution",
            "%",
            False,
            0.004,
            0.031,
            120,
            120,
            0.027,
            0.01,
            0.04,
            0.002,
            False,
        ),
    ]
    pairs = [
        PairDiff(
            "b4",
            "c4",
            None,
            ["task"],
            "pick #4",
            "pick #4 (v2)",
            {"duration_s": 0.2},
            [],
            0.1,
            False,
            "no regression",
            None,
            "robotrace://episode/c4",
        ),
        PairDiff(
            "b2",
            "c2",
            "r2",
            ["env_version", "task", "seed"],
            "pick #2",
            "pick #2 (v2)",
            {"outcome": "success → failure"},
            ["action_saturation"],
            18.0,
            True,
            "success → failure; new action_saturation at 3.20 s",
            3_200_000_000,
            "robotrace://episode/c2?t=3200ms",
        ),
        PairDiff(
            "b3",
            None,
            "r3",
            [],
            "pick #3",
            "",
            {},
            [],
            8.0,
            True,
            "policy failed: ValueError: bad shape",
            None,
            "robotrace://episode/r3",
        ),
        PairDiff(
            "b1",
            "c1",
            None,
            ["task", "seed"],
            "pick #1",
            "pick #1 (v2)",
            {},
            [],
            0.0,
            False,
            "no regression",
            None,
            "robotrace://episode/c1",
        ),
    ]
    return VerifyResult(
        verdict="fail",
        baseline="v1.2",
        candidate="selection:nightly",
        baseline_ids=["b1", "b2", "b3", "b4"],
        candidate_ids=["c1", "c2", "c4"],
        metrics=metrics,
        pairs=pairs,
        checks=[
            GateCheck("policy_errors", True, "the policy failed on 0 of 120 episodes", 0.0, 0.0),
            GateCheck(
                "ood_share", True, "3.1 % of re-rolled steps out of distribution", 0.031, 0.05
            ),
            GateCheck(
                "success_rate_drop",
                False,
                "success rate 81.0 % → 70.5 % (−10.5 points, p=0.0003) exceeds the 2-point limit",
                0.105,
                0.02,
            ),
            GateCheck(
                "new_critical_findings",
                False,
                "1 new critical finding: action saturation",
                1.0,
                0.0,
            ),
        ],
        episode_metrics={"b1": EpisodeMetrics("b1", "success", 8.0)},
        rerolls=[RerollResult("b3", "v2", error="ValueError: bad shape (step 12, t=0.400 s)")],
        errors={"b9": "CorruptRecordingError: /data/b9.db3: truncated"},
        policy="policies/v2.py:Policy",
        elapsed_s=12.5,
    )


@pytest.fixture(scope="module")
def versions_catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[str]]]:
    """Two LeRobot datasets recorded by policies v1 (3 of 4 succeed) and v2 (1 of 4), with the
    same tasks and seeds, so every baseline episode has a matched candidate."""
    root = tmp_path_factory.mktemp("versions")
    failing = tuple(EpisodeSpec(s.length, s.task, i == 0) for i, s in enumerate(EPISODES))
    seeds = {i: {"seed": 100 + i} for i in range(len(EPISODES))}
    write_v2(root / "v1", cameras=(), info_extra={"policy_version": "v1"}, episode_extra=seeds)
    write_v2(
        root / "v2",
        cameras=(),
        episodes=failing,
        info_extra={"policy_version": "v2"},
        episode_extra=seeds,
    )
    path = root / "catalog.sqlite"
    with Catalog(path) as catalog:
        scan(catalog, [root / "v1", root / "v2"])
        ids: dict[str, list[str]] = {}
        for info in catalog.list_episodes():
            ids.setdefault(info.policy_version or "", []).append(info.id)
    return path, ids


@pytest.fixture
def catalog_copy(versions_catalog, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    dest = tmp_path / "catalog.sqlite"
    return copy_catalog(versions_catalog[0], dest)


@pytest.fixture
def panel(qtbot, catalog_copy: Path) -> Iterator[RegressionPanel]:  # type: ignore[no-untyped-def]
    widget = RegressionPanel(catalog_copy)
    qtbot.addWidget(widget)
    widget.resize(1400, 900)
    widget.show()
    yield widget
    widget.shutdown()
    verify_worker.wait_parked()


def cell(panel_table, row: int, column: int) -> str:  # type: ignore[no-untyped-def]
    return panel_table.item(row, column).text()


def test_show_result_renders_verdict_summary_checks_and_pairs(qtbot, panel) -> None:
    panel.show_result(realistic_result())
    banner = panel.banner_text()
    assert banner.startswith("FAIL — candidate selection:nightly vs baseline v1.2")
    assert "2 of 4 gate checks failed" in banner
    assert "✗ success_rate_drop: success rate 81.0 %" in banner
    assert "✗ new_critical_findings" in banner and "policy_errors" not in banner
    # summary: percent metrics are fractions in the model, shown ×100
    summary = panel.summary
    assert summary.rowCount() == 6
    assert [cell(summary, 0, c) for c in range(6)] == [
        "Success rate",
        "81.0 %",
        "70.5 %",
        "−10.5 points",
        "▼",
        "< 0.001",
    ]
    assert summary.item(0, 4).foreground().color() == QColor(WORSE)
    assert cell(summary, 2, 4) == "▲" and summary.item(2, 4).foreground().color() == QColor(BETTER)
    assert cell(summary, 1, 4) == "–"
    assert cell(summary, 4, 1) == "2.0 %" and cell(summary, 4, 2) == "11.5 %"
    # gate checks in order, failures marked
    assert [cell(panel.checks, r, 0) for r in range(4)] == ["✓", "✓", "✗", "✗"]
    assert panel.checks.item(2, 1).foreground().color() == QColor(WORSE)
    # pairs worst first
    pairs = panel.pairs
    assert pairs.rowCount() == 4
    assert [cell(pairs, r, 1) for r in range(4)] == ["pick #2", "pick #3", "pick #4", "pick #1"]
    assert cell(pairs, 0, 0) == "⚠ 18.0" and pairs.item(0, 0).foreground().color() == QColor(WORSE)
    assert cell(pairs, 0, 2) == "pick #2 (v2) + replay"
    assert cell(pairs, 1, 2) == "r3 (replay)" and cell(pairs, 1, 3) == "replay of the baseline"
    assert cell(pairs, 0, 3) == "env_version, task, seed"
    assert "b9" in panel.facts.text()
    assert "⚠ 2 of 4 pairs regressed" in panel.facts.text()
    assert all(b.isEnabled() for b in panel.save_buttons.values())


def test_a_passing_result_shows_a_green_pass(qtbot, panel) -> None:
    result = realistic_result()
    result.verdict = "pass"
    result.checks = [c for c in result.checks if c.passed]
    panel.show_result(result)
    assert panel.banner_text() == (
        "PASS — candidate selection:nightly vs baseline v1.2: all 2 gate checks passed"
    )
    assert "#2e7d32" in panel.banner.styleSheet()


def test_double_click_opens_the_pair_and_falls_back_to_the_replay(qtbot, panel) -> None:
    panel.show_result(realistic_result())
    with qtbot.waitSignal(panel.openPair) as opened:
        panel.pairs.cellDoubleClicked.emit(0, 2)
    assert opened.args == ["b2", "c2"]
    with qtbot.waitSignal(panel.openPair) as opened:
        panel.pairs.cellDoubleClicked.emit(1, 0)
    assert opened.args == ["b3", "r3"]
    with qtbot.waitSignal(panel.openPair) as opened:
        panel.open_pair(0, replay=True)
    assert opened.args == ["b2", "r2"]


def test_reports_are_saved_in_three_formats(qtbot, panel, tmp_path: Path) -> None:
    result = realistic_result()
    panel.show_result(result)
    data = json.loads(panel.save_report("json", tmp_path / "r.json").read_text())
    assert data["verdict"] == "fail" and [p["baseline_id"] for p in data["pairs"]][1] == "b2"
    assert VerifyResult.from_json_dict(data).metrics[0].baseline == 0.81
    page = panel.save_report("html", tmp_path / "r.html").read_text()
    assert "success_rate_drop" in page and "pick #2" in page
    xml = panel.save_report("junit", tmp_path / "r.xml").read_text()
    assert "<testsuite" in xml and "success_rate_drop" in xml


def test_combos_list_versions_and_saved_selections(qtbot, panel, catalog_copy: Path) -> None:
    assert panel.choices("baseline") == ["v1", "v2"]
    assert panel.baseline_combo.itemText(0) == "v1  (4 episodes)"
    assert panel.selector_text(panel.baseline_combo) == "v1"
    assert panel.selector_text(panel.candidate_combo) == "v2"
    with Catalog(catalog_copy) as catalog:
        (first, *_rest) = catalog.list_episodes()
        save_selection(catalog, "nightly", [first.id])
    panel.refresh_choices()
    assert panel.choices("candidate") == ["v1", "v2", "selection:nightly"]
    assert panel.candidate_combo.itemText(2) == "selection:nightly  (1 episodes)"
    assert panel.selector_text(panel.baseline_combo) == "v1", "typed choices survive a refresh"
    panel.candidate_combo.setCurrentIndex(2)
    panel.candidate_combo.activated.emit(2)
    assert panel.candidate_combo.currentText() == "selection:nightly"
    spec = panel.build_spec()
    assert (str(spec.baseline), str(spec.candidate)) == ("v1", "selection:nightly")


def test_bad_input_shows_a_red_line_not_a_dialog(qtbot, panel) -> None:
    panel.baseline_combo.setEditText("")
    panel.run()
    assert not panel.is_running()
    assert "empty baseline" in panel.error_text()
    panel.baseline_combo.setEditText("v9")
    panel.run()
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=RUN_MS)
    assert "no episode has policy_version 'v9' (known versions: v1, v2)" in panel.error_text()
    assert "#c62828" in panel.error_label.styleSheet()
    assert panel.run_button.isEnabled()


def test_a_real_run_of_v1_against_v2(qtbot, panel) -> None:
    """End to end through run_verify: v2's success rate is 25 % against v1's 75 %."""
    panel.run()
    assert panel.is_running() and panel.cancel_button.isEnabled()
    # no lambda slots on the worker (PySide crashes when such an object is collected later)
    with qtbot.waitSignals(
        [panel.progressed, panel.resultShown],
        check_params_cbs=[lambda stage, *_: stage == "metrics", None],
        timeout=RUN_MS,
    ):
        pass
    result = panel.result()
    assert result is not None
    assert not panel.is_running() and panel.run_button.isEnabled()
    assert (result.baseline, result.candidate) == ("v1", "v2")
    assert len(result.baseline_ids) == len(result.candidate_ids) == 4
    success = next(
        r for r in range(panel.summary.rowCount()) if cell(panel.summary, r, 0) == "Success rate"
    )
    assert cell(panel.summary, success, 1) == "75.0 %"
    assert cell(panel.summary, success, 2) == "25.0 %"
    assert panel.banner_text().split(" ")[0] == result.verdict.upper()
    assert panel.pairs.rowCount() == len(result.pairs) == 4
    assert panel.pair_at(0).matched_on == ["task", "seed"]
    # episodes 1 and 2 flipped success → failure (1 already failed on v1): worst first
    flipped = {panel.pair_at(r).baseline_name for r in (0, 1)}
    assert flipped == {"v1 #2", "v1 #3"}
    assert cell(panel.pairs, 0, 4).startswith("success → failure")
    regressions = [panel.pair_at(r).regression for r in range(panel.pairs.rowCount())]
    assert regressions == sorted(regressions, reverse=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    qtbot.wait(50)
    panel.grab().save(str(SHOTS / "regression_run.png"))


def test_cancel_stops_the_run_and_shows_the_partial_result(
    qtbot, panel, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = threading.Event()

    def slow_run(catalog_path: Path, spec: Any, *, progress: Any, cancel: threading.Event):  # type: ignore[no-untyped-def]
        progress("metrics", 1, 8)
        started.set()
        assert cancel.wait(60), "the panel never cancelled"
        result = realistic_result()
        result.cancelled = True
        return result

    monkeypatch.setattr("robotrace_desktop.verify.run.run_verify", slow_run)
    panel.run()
    qtbot.waitUntil(lambda: panel.progress.format() == "metrics 1/8", timeout=10_000)
    assert panel.stage_label.text() == "Measuring episodes: 1 of 8"
    panel.cancel()
    assert panel.stage_label.text().startswith("Cancelling")
    with qtbot.waitSignal(panel.resultShown, timeout=30_000):
        pass
    assert panel.banner_text().startswith("FAIL (cancelled)")
    assert panel.stage_label.text().startswith("Cancelled — partial result")


def test_browser_saves_a_selection_the_panel_then_offers(
    qtbot, panel, catalog_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = CatalogBrowser(catalog_copy)
    qtbot.addWidget(browser)
    browser.resize(1200, 600)
    browser.show()
    browser.set_filter("policy_version", "v2")
    browser.table.selectAll()
    chosen = browser.selected_ids()
    assert len(chosen) == 4
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("hard seeds", True))
    with qtbot.waitSignal(browser.selectionSaved) as saved:
        browser.prompt_save_selection()
    assert saved.args == ["hard seeds"]
    with Catalog(catalog_copy) as catalog:
        assert ("hard seeds", 4) in selections(catalog)
        assert selection_ids(catalog, "hard seeds") == chosen
    assert "Saved selection" in browser.status_text()
    panel.refresh_choices()
    assert "selection:hard seeds" in panel.choices("baseline")
    # exactly two selected episodes can be compared side by side
    browser.table.clearSelection()
    browser.table.selectRow(0)
    assert not browser.compare_action_enabled()
    browser.table.selectAll()
    browser.table.clearSelection()
    first = browser.proxy.index(0, 0)  # a dataset row: its episodes are one level down
    parent = first if browser.proxy.rowCount(first) else first.parent()
    for row in (0, 1):
        browser.table.selectionModel().select(
            browser.proxy.index(row, 0, parent),
            browser.table.selectionModel().SelectionFlag.Select
            | browser.table.selectionModel().SelectionFlag.Rows,
        )
    assert browser.compare_action_enabled()
    with qtbot.waitSignal(browser.compareRequested) as compared:
        browser.compare_selected()
    assert compared.args == browser.selected_ids()
    browser.shutdown()


def test_screenshot_of_the_panel_with_a_result(qtbot, panel) -> None:
    panel.show_result(realistic_result())
    qtbot.wait(50)  # let the layout give the banner its lines
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert panel.grab().save(str(SHOTS / "regression_panel.png"))
    # the banner is red across the panel
    shot = panel.grab().toImage()
    banner = panel.banner.geometry().center()
    assert shot.pixelColor(QPoint(panel.banner.x() + 3, banner.y())) == QColor("#c62828")


def test_a_policy_reroll_opens_recorded_and_replayed_actions_side_by_side(
    qtbot, panel, tmp_path: Path
) -> None:
    """Re-roll a tiny policy (the action is minus the first two state values) on v1's
    episodes; double-clicking a pair opens the baseline next to its saved replay, with the
    recorded and the re-rolled actions overlaid channel by channel."""
    from robotrace_desktop.ui.comparison_view import ComparisonView
    from tests.readers.lerobot_fixtures import action_value, state_value

    policy = tmp_path / "mirror.py"
    policy.write_text(
        "import numpy as np\n\n\ndef act(obs):\n"
        "    return -np.asarray(obs['observation.state'], dtype=float)[:2]\n"
    )
    panel.baseline_combo.setEditText("v1")
    panel.candidate_combo.setEditText("")
    panel.policy_edit.setText(f"{policy}:act")
    panel.run()
    with qtbot.waitSignals(
        [panel.progressed, panel.resultShown],
        check_params_cbs=[lambda stage, *_: stage == "reroll", None],
        timeout=RUN_MS,
    ):
        pass
    result = panel.result()
    assert result is not None
    assert [r.error for r in result.rerolls] == [None] * 4
    assert panel.pairs.rowCount() == 4
    assert all(cell(panel.pairs, r, 2).endswith("(replay)") for r in range(4))
    assert "act" not in panel.choices("baseline"), "replays are not offered as a recorded version"
    pair = panel.pair_at(0)
    with qtbot.waitSignal(panel.openPair) as opened:
        panel.pairs.cellDoubleClicked.emit(0, 1)
    assert opened.args == [pair.baseline_id, pair.replay_id]
    view = ComparisonView(panel.catalog_path, *opened.args)
    qtbot.addWidget(view)
    try:
        assert (
            view.candidate.source == "replay"
            and "CANDIDATE REPLAY" in view.cards["candidate"].text()
        )
        ref = ("action", "action[0]")
        assert ref in view.plots.selection()
        qtbot.waitUntil(lambda: not view.plots.is_loading(), timeout=30_000)
        episode = view.baseline.episode_index
        frames = len(view.plots.curve_data("baseline", ref)[1])
        assert view.plots.curve_data("baseline", ref)[1] == [
            action_value(episode, f, 0) for f in range(frames)
        ]
        replayed = view.plots.curve_data("candidate", ref)[1]
        assert replayed == pytest.approx([-state_value(episode, f, 0) for f in range(frames)])
    finally:
        view.shutdown()
