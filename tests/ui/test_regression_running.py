"""The Regression panel while a run goes: the banner says it is running, not "No run yet"
(and not the previous verdict, which would sit above tables that are about to change)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from robotrace_desktop.ui import verify_worker
from robotrace_desktop.ui.regression_panel import RegressionPanel
from robotrace_desktop.verify.model import VerifyResult


def test_the_banner_says_a_run_is_going(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()

    def held_run(catalog_path: Path, spec: Any, *, progress: Any, cancel: threading.Event):  # type: ignore[no-untyped-def]
        progress("metrics", 1, 8)
        release.wait(60)
        return VerifyResult(verdict="pass", baseline="v1", candidate="v2")

    monkeypatch.setattr("robotrace_desktop.verify.run.run_verify", held_run)
    panel = RegressionPanel(tmp_path / "catalog.sqlite")
    qtbot.addWidget(panel)
    panel.resize(1280, 800)
    panel.show()
    assert panel.banner.text().startswith("No run yet")
    panel.baseline_combo.setEditText("v1")
    panel.candidate_combo.setEditText("v2")
    try:
        panel.run()
        qtbot.waitUntil(lambda: panel.progress.format() == "metrics 1/8", timeout=30_000)
        assert panel.banner_text() == "Running — v2 vs baseline v1; the verdict appears here"
        assert "No run yet" not in panel.banner.text()
    finally:
        release.set()
    with qtbot.waitSignal(panel.resultShown, timeout=30_000):
        pass
    assert panel.banner_text().startswith("PASS — candidate v2 vs baseline v1")
    panel.shutdown()
    verify_worker.wait_parked()
