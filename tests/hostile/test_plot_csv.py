"""The viewer's "Export visible plot data (CSV)" neutralises formula-like column headers that
come from a recording's stream and channel names."""

from __future__ import annotations

import csv
from pathlib import Path

from pytestqt.qtbot import QtBot

from robotrace_desktop.core.signal_store import SignalStore
from robotrace_desktop.readers.registry import reader_for
from robotrace_desktop.ui.plots import PlotPanel
from tests.hostile.hostile_data import FORMULA_STREAM, hostile_bundle


def test_plot_csv_headers_are_not_formulas(qtbot: QtBot, tmp_path: Path) -> None:
    path = hostile_bundle(tmp_path / "bundle")
    reader = reader_for(path)
    (info,) = list(reader.index(path))
    store = SignalStore(lambda: reader.open(path, None), info)
    panel = PlotPanel(store)
    qtbot.addWidget(panel)
    panel.resize(900, 600)
    panel.show()
    qtbot.waitExposed(panel)
    try:
        with qtbot.waitSignal(panel.loaded, timeout=20_000):
            panel.show_channels([(FORMULA_STREAM, "=SUM(A1)")])
        out = panel.export_csv(tmp_path / "plot.csv")
        with out.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle))
        assert header == ["t_ns", "t_s", "'=SUM(A1)"]  # one stream: its channel names
    finally:
        panel.shutdown()
        store.close()
