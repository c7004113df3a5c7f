"""The Regression panel's first impression: it offers two versions of ONE robot (never the
alphabetically first two versions of a mixed catalog), and a run the data could not answer
reads INCONCLUSIVE, not PASS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.episode import EpisodeInfo
from robotrace_desktop.ui import verify_worker
from robotrace_desktop.ui.regression_panel import RegressionPanel
from robotrace_desktop.verify.defaults import default_pair
from robotrace_desktop.verify.gate import GateConfig, evaluate, verdict_of
from robotrace_desktop.verify.model import EpisodeMetrics, VerifyResult

S = 10**9


def add(catalog: Catalog, name: str, robot: str | None, version: str, start_s: int, **kw) -> None:  # type: ignore[no-untyped-def]
    info = EpisodeInfo(
        id=f"{name:0<16}"[:16],
        kind="bundle",
        path=f"/recordings/{name}",
        episode_index=None,
        name=name,
        duration_ns=5 * S,
        start_time_ns=start_s * S,
        robot=robot,
        policy_version=version,
        **kw,
    )
    catalog.upsert_episode(info.path, info)


@pytest.fixture
def two_robots(tmp_path: Path) -> Path:
    """A G1 humanoid with two versions (v4 the newest) and an SO-101 arm whose only version
    sorts first: the old default compared the arm with the humanoid."""
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as catalog:
        add(catalog, "arm1", "so101_follower", "act-so101", 3_000)
        add(catalog, "g1a", "Unitree_G1", "g1-act-v3", 1_000)
        add(catalog, "g1b", "Unitree_G1", "g1-act-v4", 2_000)
        add(catalog, "g1c", "Unitree_G1", "g1-act-v2", 500)
        # a replay is newer than everything, but it is not a recorded run of a version
        add(catalog, "replay1", "Unitree_G1", "g1-hold", 9_000, source="replay")
    return path


def make_panel(qtbot, path: Path) -> RegressionPanel:  # type: ignore[no-untyped-def]
    panel = RegressionPanel(path)
    qtbot.addWidget(panel)
    panel.show()
    return panel


@pytest.fixture
def shutdown() -> Iterator[list[RegressionPanel]]:
    panels: list[RegressionPanel] = []
    yield panels
    for panel in panels:
        panel.shutdown()
    verify_worker.wait_parked()


def test_defaults_to_the_two_newest_versions_of_one_robot(qtbot, two_robots, shutdown) -> None:  # type: ignore[no-untyped-def]
    with Catalog(two_robots) as catalog:
        assert default_pair(catalog) == ("g1-act-v3", "g1-act-v4")
    panel = make_panel(qtbot, two_robots)
    shutdown.append(panel)
    assert panel.baseline_combo.currentText() == "g1-act-v3"
    assert panel.candidate_combo.currentText() == "g1-act-v4"
    assert "act-so101" in panel.choices()  # still offered, just not preselected


def test_versions_of_different_robots_are_not_preselected(qtbot, tmp_path, shutdown) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as catalog:
        add(catalog, "arm1", "so101_follower", "act-so101", 3_000)
        add(catalog, "g1a", "Unitree_G1", "g1-act-v3", 1_000)
        assert default_pair(catalog) is None
    panel = make_panel(qtbot, path)
    shutdown.append(panel)
    assert panel.baseline_combo.currentText() == panel.candidate_combo.currentText() == ""
    assert set(panel.choices()) == {"act-so101", "g1-act-v3"}


def test_same_task_pairs_versions_without_a_robot(tmp_path: Path) -> None:
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        add(catalog, "a", None, "pick-v1", 100, task="pick the cube")
        add(catalog, "b", None, "pick-v2", 200, task="pick the cube")
        add(catalog, "c", None, "push-v1", 300, task="push the cube")
        assert default_pair(catalog) == ("pick-v1", "pick-v2")


def test_inconclusive_run_renders_as_inconclusive(qtbot, two_robots, shutdown) -> None:  # type: ignore[no-untyped-def]
    unknown = [EpisodeMetrics(f"e{i}", "unknown", 5.0) for i in range(3)]
    checks = evaluate(GateConfig(), unknown, unknown, [])
    result = VerifyResult(
        verdict=verdict_of(checks, False),
        baseline="g1-act-v3",
        candidate="g1-act-v4",
        checks=checks,
    )
    panel = make_panel(qtbot, two_robots)
    shutdown.append(panel)
    panel.show_result(result)
    banner = panel.banner_text()
    assert banner.startswith("INCONCLUSIVE — candidate g1-act-v4 vs baseline g1-act-v3")
    assert "? success_rate_drop inconclusive: no baseline episode has a known outcome" in banner
    rows = {
        panel.checks.item(r, 1).text(): (panel.checks.item(r, 0).text(), panel.checks.item(r, 2))
        for r in range(panel.checks.rowCount())
    }
    mark, detail = rows["success_rate_drop"]
    assert mark == "?" and detail.text().startswith("inconclusive: ")
