"""PlotPanel on the demo episode: plots, playhead (by pixels), clicks, markers, hover values,
exports; plus loading off the UI thread and the pyramid behind a big channel."""

from __future__ import annotations

import csv
import math
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot

from robotrace_desktop.core.channels import default_selection
from robotrace_desktop.core.episode import (
    EpisodeInfo,
    EpisodeSource,
    SignalChunk,
    StreamInfo,
    StreamKind,
)
from robotrace_desktop.core.markers import Marker
from robotrace_desktop.core.signal_store import SignalStore
from robotrace_desktop.readers.base import Reader
from robotrace_desktop.readers.registry import reader_for
from robotrace_desktop.ui import plot_style
from robotrace_desktop.ui.plot_row import PlotRow
from robotrace_desktop.ui.plots import PlotPanel, format_value
from tests.demo_cache import demo_copy

NS = 1_000_000_000


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Reader, Path, EpisodeInfo]:
    path = demo_copy(tmp_path_factory.mktemp("demo") / "demo")
    reader = reader_for(path)
    (info,) = list(reader.index(path))
    return reader, path, info


@pytest.fixture
def panel(qtbot: QtBot, demo: tuple[Reader, Path, EpisodeInfo]) -> Iterator[PlotPanel]:
    reader, path, info = demo
    store = SignalStore(lambda: reader.open(path, None), info)
    widget = PlotPanel(store)
    qtbot.addWidget(widget)
    widget.resize(1100, 760)
    widget.show()
    qtbot.waitExposed(widget)
    with qtbot.waitSignal(widget.loaded, timeout=20_000):
        widget.show_channels(default_selection(info))
    yield widget
    widget.shutdown()
    store.close()


def _x_in_panel(panel: PlotPanel, row: PlotRow, seconds: float) -> int:
    scene = row.viewbox.mapViewToScene(QPointF(seconds, 0.0))
    local = row.plot.mapFromScene(scene)
    return row.plot.mapTo(panel, local).x()


def _y_range_in_panel(panel: PlotPanel, row: PlotRow) -> tuple[int, int]:
    rect = row.viewbox.sceneBoundingRect()
    top = row.plot.mapTo(panel, row.plot.mapFromScene(rect.topLeft())).y()
    bottom = row.plot.mapTo(panel, row.plot.mapFromScene(rect.bottomLeft())).y()
    return top + 3, bottom - 3


def _close(a: QColor, b: QColor, tolerance: int = 48) -> bool:
    """Equal up to the light grid lines pyqtgraph draws over the plot area."""
    pairs = ((a.red(), b.red()), (a.green(), b.green()), (a.blue(), b.blue()))
    return all(abs(p - q) <= tolerance for p, q in pairs)


def _column_share(image: QImage, x: int, y0: int, y1: int, color: str) -> float:
    """Share of the rows y0..y1 whose pixel at x (±1) has ``color``."""
    want = QColor(color)
    hits = sum(
        any(_close(image.pixelColor(x + dx, y), want) for dx in (-1, 0, 1)) for y in range(y0, y1)
    )
    return hits / max(1, y1 - y0)


def test_default_selection_and_overlays(panel: PlotPanel, tmp_path: Path) -> None:
    rows = panel.rows()
    assert [r.title for r in rows] == ["/joint_states position", "/joint_states effort", "/action"]
    position = rows[0]
    solid = [c for c in position.curves if not c.commanded]
    dashed = [c for c in position.curves if c.commanded]
    # the demo says its gripper is prismatic (m) among revolute joints (rad): the legend marks it
    assert [c.label for c in solid] == [*(f"joint_{i}" for i in range(1, 8)), "gripper [m]"]
    assert [c.ref for c in dashed] == [
        ("/action", f"joint_position/joint_{i}") for i in range(1, 8)
    ]
    for cmd in dashed:  # same colour as the measured joint, dashed
        joint = cmd.ref[1].split("/")[1]
        partner = next(c for c in solid if c.label == joint)
        assert cmd.color == partner.color
        assert cmd.item.opts["pen"].style() == Qt.PenStyle.DashLine
    assert len({c.color for c in solid}) == len(solid)  # distinct colours in a plot
    assert [c.ref for c in rows[2].curves] == [("/action", "gripper")]
    axes = [r.plot.getPlotItem().getAxis("left").labelText for r in rows]
    assert axes == ["position (rad, m)", "effort (N·m, N)", "action"]
    assert "loading" not in rows[0].header.text()
    # the curves hold exactly the demo's samples (small signal: raw, no decimation)
    t, y = panel.store.channel("/joint_states", "position/joint_3")
    curve = next(c for c in solid if c.label == "joint_3")
    xs, ys = curve.item.getData()
    np.testing.assert_array_equal(xs, t / NS)
    np.testing.assert_array_equal(ys, y)
    assert panel.visible_range_ns() == (0, 12 * NS)
    panel.grab().save(str(tmp_path / "plots.png"))


def test_set_time_moves_the_playhead_on_every_plot(panel: PlotPanel, qtbot: QtBot) -> None:
    panel.set_time(4_200_000_000)
    for row in panel.rows():
        assert row.playhead.value() == pytest.approx(4.2)
    qtbot.wait(10)
    image = panel.grab().toImage()
    for row in panel.rows():
        x = _x_in_panel(panel, row, 4.2)
        y0, y1 = _y_range_in_panel(panel, row)
        assert _column_share(image, x, y0, y1, plot_style.PLAYHEAD) > 0.97
        # and nowhere else: 2 s earlier the column is not the playhead colour
        x_other = _x_in_panel(panel, row, 2.2)
        assert _column_share(image, x_other, y0, y1, plot_style.PLAYHEAD) < 0.1


def test_click_in_a_plot_emits_time(panel: PlotPanel, qtbot: QtBot) -> None:
    row = panel.rows()[1]
    x = _x_in_panel(panel, row, 6.0)
    y0, y1 = _y_range_in_panel(panel, row)
    local = row.plot.viewport().mapFrom(panel, QPoint(x, (y0 + y1) // 2))
    with qtbot.waitSignal(panel.timeClicked, timeout=2000) as blocker:
        qtbot.mouseClick(row.plot.viewport(), Qt.MouseButton.LeftButton, pos=local)
    (t_ns,) = blocker.args
    seconds_per_pixel = 12.0 / row.viewbox.width()
    assert abs(t_ns / NS - 6.0) <= 1.5 * seconds_per_pixel
    for other in panel.rows():  # every playhead followed the click
        assert other.playhead.value() == pytest.approx(t_ns / NS)


def test_dragging_the_playhead_emits_time(panel: PlotPanel, qtbot: QtBot) -> None:
    row = panel.rows()[0]
    with qtbot.waitSignal(panel.timeClicked, timeout=2000) as blocker:
        row.playhead.setValue(7.25)
        row.playhead.sigDragged.emit(row.playhead)
    assert blocker.args == [7_250_000_000]
    assert panel.rows()[2].playhead.value() == pytest.approx(7.25)


def test_markers(panel: PlotPanel, qtbot: QtBot) -> None:
    import pyqtgraph as pg

    panel.set_markers(
        [
            Marker(3_900_000_000, "gripper close"),
            Marker(5_600_000_000, "reach", "#2e7d32", t_end_ns=6_000_000_000),
        ]
    )
    for i, row in enumerate(panel.rows()):
        items = row.marker_items()
        lines = [it for it in items if isinstance(it, pg.InfiniteLine)]
        regions = [it for it in items if isinstance(it, pg.LinearRegionItem)]
        assert sorted(line.value() for line in lines) == [3.9, 5.6]
        assert [r.getRegion() for r in regions] == [(5.6, 6.0)]
        labels = [c for line in lines for c in line.childItems() if isinstance(c, pg.InfLineLabel)]
        assert sorted(lb.textItem.toPlainText() for lb in labels) == (
            ["gripper close", "reach"] if i == 0 else []
        )
    qtbot.wait(10)
    image = panel.grab().toImage()
    row = panel.rows()[1]
    y0, y1 = _y_range_in_panel(panel, row)
    x = _x_in_panel(panel, row, 3.9)
    assert _column_share(image, x, y0, y1, "#ffb300") > 0.4  # dashed amber line
    panel.set_markers([])
    assert panel.rows()[0].marker_items() == []


def test_hover_shows_every_curve_value(panel: PlotPanel, qtbot: QtBot) -> None:
    row = panel.rows()[0]
    t_ns = 3_912_000_000
    text = panel.show_hover(row, t_ns)
    assert text.startswith("t=3.912 s  ")
    value = panel.store.value_at("/joint_states", "position/joint_3", t_ns)
    assert value is not None
    assert f"position/joint_3={format_value(value)}" in text
    cmd = panel.store.value_at("/action", "joint_position/joint_3", t_ns)
    assert f"joint_position/joint_3 (cmd)={format_value(cmd)}" in text
    assert text.count("=") == 1 + len(row.curves)
    # a real mouse move over the effort plot
    effort = panel.rows()[1]
    x = _x_in_panel(panel, effort, 5.0)
    y0, y1 = _y_range_in_panel(panel, effort)
    local = effort.plot.viewport().mapFrom(panel, QPoint(x, (y0 + y1) // 2))
    qtbot.mouseMove(effort.plot.viewport(), local)
    qtbot.waitUntil(lambda: "effort/joint_2=" in panel.hover_text(), timeout=2000)
    shown = float(panel.hover_text().split()[0][2:])
    assert abs(shown - 5.0) < 0.05
    assert effort.hover_line.isVisible()


def test_export_csv_is_the_visible_range(panel: PlotPanel, tmp_path: Path) -> None:
    panel.set_visible_range_ns(2 * NS, 3 * NS)
    t0, t1 = panel.visible_range_ns()
    assert (t0, t1) == (2 * NS, 3 * NS)
    path = panel.export_csv(tmp_path / "out" / "plot.csv")
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    selection = panel.selection()
    assert header == ["t_ns", "t_s", *(f"{s}/{c}" for s, c in selection)]
    store = panel.store
    t_state, _ = store.channel("/joint_states", "position/joint_1")
    t_action, _ = store.channel("/action", "gripper")
    union = np.union1d(t_state[(t_state >= t0) & (t_state < t1)], t_action)
    union = union[(union >= t0) & (union < t1)]
    assert [int(r[0]) for r in body] == union.tolist()
    assert len(body) == 120  # 100 sensor + 30 action samples; every 3rd action is on the grid
    for r in body:
        assert float(r[1]) == pytest.approx(int(r[0]) / NS)
    for col, (stream, channel) in enumerate(selection, start=2):
        t, y = store.channel(stream, channel)
        for r in body:
            i = np.searchsorted(t, int(r[0]))
            if i < len(t) and t[i] == int(r[0]):
                assert float(r[col]) == y[i]  # exact (repr round trip)
            else:
                assert r[col] == ""


def test_export_png_is_not_blank(panel: PlotPanel, tmp_path: Path) -> None:
    panel.set_time(6 * NS)
    path = panel.export_png(tmp_path / "plot.png")
    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB32)
    assert image.width() > 800 and image.height() > 500
    pixels = np.frombuffer(image.constBits(), np.uint32).reshape(image.height(), -1)
    assert len(np.unique(pixels)) > 20
    # the playhead is one vertical red line through every plot
    red = pixels[:, : image.width()] == QColor(plot_style.PLAYHEAD).rgb()
    columns = np.flatnonzero(red.sum(axis=0) > 0.5 * image.height())
    assert len(columns) >= 1 and columns.max() - columns.min() <= 2


def test_show_channels_regroups_and_keeps_state(panel: PlotPanel, qtbot: QtBot) -> None:
    panel.set_time(5 * NS)
    panel.set_visible_range_ns(4 * NS, 8 * NS)
    with qtbot.waitSignal(panel.loaded, timeout=5000):
        panel.show_channels([("/action", "joint_position/joint_3")])
    (row,) = panel.rows()
    assert row.title == "/action joint_position"  # no partner shown: its own plot, solid
    assert not row.curves[0].commanded
    assert row.playhead.value() == pytest.approx(5.0)
    assert panel.visible_range_ns() == (4 * NS, 8 * NS)
    panel.show_channels([])
    assert panel.rows() == []


# ---------------------------------------------------------------- loading and big data


class _BigSource(EpisodeSource):
    """A synthetic 2 M-sample channel with a single-sample spike; optionally slow to open."""

    def __init__(self, info: EpisodeInfo, gate: threading.Event | None = None) -> None:
        self.info, self.gate = info, gate

    def read_signal(
        self, stream: str, start_ns: int | None = None, stop_ns: int | None = None
    ) -> SignalChunk:
        if self.gate is not None:
            assert self.gate.wait(20)
        if stream == "/broken":
            raise OSError("/data/run.mcap: truncated chunk at byte 1234")
        n = 2_000_000
        t = np.arange(n, dtype=np.int64) * 1_000_000  # 1 kHz, 2000 s
        y = np.sin(np.arange(n) / 5000.0)
        y[1_234_567] = 9.0
        return SignalChunk(stream, ("torque",), t, y[:, None])


def _big_info() -> EpisodeInfo:
    streams = [
        StreamInfo(name, StreamKind.SIGNAL, 2_000_000, ("torque",), 0, 1_999_999_000_000)
        for name in ("/big", "/broken")
    ]
    return EpisodeInfo("big", "bundle", "/x", None, "big", duration_ns=2000 * NS, streams=streams)


def test_big_channel_is_drawn_from_the_pyramid(qtbot: QtBot) -> None:
    info = _big_info()
    gate = threading.Event()
    store = SignalStore(lambda: _BigSource(info, gate), info)
    panel = PlotPanel(store)
    qtbot.addWidget(panel)
    panel.resize(900, 400)
    panel.show()
    panel.show_channels([("/big", "torque")])
    assert panel.is_loading()  # the UI thread did not wait for the read
    (row,) = panel.rows()
    assert "loading…" in row.header.text()
    with qtbot.waitSignal(panel.loaded, timeout=20_000):
        gate.set()
    assert not panel.is_loading()
    assert "loading" not in row.header.text()
    xs, ys = row.curves[0].item.getData()
    width = int(row.viewbox.width())
    assert len(xs) <= 4 * width + 4  # 2 M samples → a few thousand points
    assert ys.max() == 9.0  # the single-sample spike is drawn
    assert xs[ys.argmax()] == pytest.approx(1234.567)
    # zoom into 1 s around the spike: raw samples
    panel.set_visible_range_ns(1234 * NS, 1235 * NS)
    xs, ys = row.curves[0].item.getData()
    assert len(xs) == 1002 and ys.max() == 9.0
    panel.shutdown()
    store.close()


def test_a_failing_stream_is_named_in_its_plot(qtbot: QtBot) -> None:
    info = _big_info()
    store = SignalStore(lambda: _BigSource(info), info)
    panel = PlotPanel(store)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.loaded, timeout=20_000):
        panel.show_channels([("/broken", "torque"), ("/big", "torque")])
    broken, big = panel.rows()
    assert "truncated chunk" in broken.header.text() and "failed" in broken.header.text()
    assert "failed" not in big.header.text()
    assert "truncated chunk" in panel.problems()["/broken"]
    assert len(big.curves[0].item.getData()[0]) > 0
    assert "—" in panel.show_hover(broken, 5 * NS)  # no value, no crash
    assert not math.isnan(float(panel.show_hover(big, 5 * NS).split("torque=")[1]))
    panel.shutdown()
    store.close()


def test_panel_deleted_while_a_load_is_running(qtbot: QtBot) -> None:
    """Closing the episode while a big stream is still loading must not crash or hang."""
    from PySide6.QtWidgets import QWidget

    info = _big_info()
    gate = threading.Event()
    store = SignalStore(lambda: _BigSource(info, gate), info)
    parent = QWidget()
    panel = PlotPanel(store, parent)
    panel.show_channels([("/big", "torque")])
    assert panel.is_loading()
    parent.deleteLater()
    qtbot.wait(20)
    del panel, parent
    gate.set()
    store.close()  # waits for the running read; the job then finds the store closed
    qtbot.wait(50)
    assert store.is_prepared([("/big", "torque")]) is False
