"""The episode view fits the data it shows (issue 12): no camera area without a camera, a time
axis that never scrolls away and a ruler on the timeline, a clicked finding's evidence plotted
and fitted, one red for the playhead only, readable confidence in a consistent order, units from
the recording on every axis, whole side tabs and a shortcut list in Help."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF
from PySide6.QtGui import QColor, QFontMetrics, QImage

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core import colors
from robotrace_desktop.core.finding import Finding
from robotrace_desktop.episodes import resolve
from robotrace_desktop.ui.episode_view import EpisodeView
from robotrace_desktop.ui.explain_panel import COL_CONFIDENCE, TEXT_COLOR, confidence_rects
from robotrace_desktop.ui.plot_row import PlotRow

S = 1_000_000_000
WAIT_MS = 60_000
SHOTS = Path(os.environ.get("ROBOTRACE_SHOT_DIR", tempfile.gettempdir())) / "robotrace_shots"
IIWA = "rosbag2/iiwa7_gazebo_joint_torque_sqlite3"
TURTLE = "ros1/example.bag"
G1 = "lerobot/g1_pick_bottle_v21#1"
AUV = "rosbag2/cougars_auv/SO_lastbag_mcap"


@pytest.fixture
def opened(qtbot, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Opens episodes (id, or a path into the shared data) at a window size; closes them."""
    views: list[tuple[EpisodeView, Catalog]] = []

    def open_view(argument: str, catalog_path: Path | None = None, size=(1600, 940)):  # type: ignore[no-untyped-def]
        catalog = Catalog(catalog_path or tmp_path / "c.sqlite")
        view = EpisodeView(resolve(argument, catalog), catalog)
        qtbot.addWidget(view)
        view.resize(*size)
        view.show()
        qtbot.waitExposed(view)
        qtbot.waitUntil(lambda: not view.plots.is_loading(), timeout=WAIT_MS)
        views.append((view, catalog))
        return view

    yield open_view
    for view, catalog in views:
        view.shutdown()
        catalog.close()


def shot(widget, name: str) -> QImage:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    image = widget.grab().toImage()
    image.save(str(SHOTS / name))
    return image


def x_of(row: PlotRow, seconds: float, into) -> int:  # type: ignore[no-untyped-def]
    """The x pixel of ``seconds`` on ``row``'s time axis, in ``into``'s coordinates."""
    scene = row.viewbox.mapViewToScene(QPointF(seconds, 0.0))
    return row.plot.mapTo(into, row.plot.mapFromScene(scene)).x()


def near(a: QColor, b: QColor, tolerance: int = 40) -> bool:
    return all(
        abs(p - q) <= tolerance
        for p, q in ((a.red(), b.red()), (a.green(), b.green()), (a.blue(), b.blue()))
    )


# --- 1. no camera, no camera area ---------------------------------------------------------


def test_without_a_camera_the_plots_take_the_space(opened, shared_data: Path) -> None:
    view = opened(str(shared_data / IIWA))
    assert not view.panes and not view.grid.isVisible()
    assert view.plots.height() > 0.9 * view.main.height()  # the whole column, not half of it
    assert view.plots.width() > 0.6 * view.width()
    assert view.transport.camera.isHidden() and view.transport.camera_label.isHidden()
    shot(view, "fit_iiwa_no_camera.png")


def test_with_cameras_the_grid_and_step_chooser_show(opened, demo_catalog) -> None:
    path, episode = demo_catalog
    view = opened(episode, path)
    assert view.grid.isVisible() and view.grid.height() > 200
    assert view.plots.height() > 300
    assert view.transport.camera.isVisible() and view.transport.camera.currentText() == "front"


# --- 2. time axis and ruler ----------------------------------------------------------------


def test_the_time_axis_stays_in_view_however_the_plots_scroll(
    opened, shared_data: Path, qtbot
) -> None:
    view = opened(str(shared_data / TURTLE), size=(1280, 760))
    plots = view.plots
    bar = plots._scroll.verticalScrollBar()
    assert len(plots.rows()) >= 4 and bar.maximum() > 0  # the stack scrolls
    axis = plots.time_axis
    for value in (0, bar.maximum()):
        bar.setValue(value)
        qtbot.wait(20)
        assert axis.isVisible()
        top_left = axis.mapTo(view, QPoint(0, 0))
        assert top_left.y() >= 0 and top_left.y() + axis.height() <= view.transport.y()
        bottom = axis.getPlotItem().getAxis("bottom")
        assert bottom.style["showValues"] and "time (s)" in bottom.labelText
    # the shared axis is x-aligned with the plots: the same second at the same pixel
    row = plots.rows()[0]
    axis_item = axis.getPlotItem()
    for seconds in (2.0, 10.0, 18.0):
        scene = axis_item.getViewBox().mapViewToScene(QPointF(seconds, 0.0))
        axis_x = axis.mapTo(view, axis.mapFromScene(scene)).x()
        assert abs(axis_x - x_of(row, seconds, view)) <= 2
    # plots do not repeat values on their own bottom axes (the shared one carries them)
    assert not any(r.plot.getPlotItem().getAxis("bottom").style["showValues"] for r in plots.rows())


def test_the_timeline_strip_is_a_ruler(opened, shared_data: Path) -> None:
    view = opened(str(shared_data / TURTLE), size=(1280, 760))
    strip = view.transport.strip
    ticks = strip.ticks()
    labels = [label for _, label in ticks]
    assert labels[0] == "0 s" and "20 s" in labels and len(labels) >= 5
    xs = [x for x, _ in ticks]
    assert xs == sorted(xs) and xs[0] == strip.x_for(0)
    image = shot(strip, "fit_strip_ruler.png")
    rgb = np.array([[image.pixelColor(x, y).lightness() for x in range(image.width())]
                    for y in range(image.height())])  # fmt: skip
    label_band = rgb[strip.TRACK_TOP + 20 :]
    assert (label_band < 140).sum() > 100  # dark label text below the track


# --- 3. clicking a finding shows and fits its evidence --------------------------------------


def test_a_clicked_finding_plots_and_fits_its_evidence(opened, demo_catalog, qtbot) -> None:
    path, episode = demo_catalog
    view = opened(episode, path)
    joints = [("/joint_states", f"position/joint_{i}") for i in range(1, 8)]
    view.tree.set_selection(joints)  # the gripper channels are not plotted
    qtbot.waitUntil(lambda: view.plots.selection() == joints, timeout=WAIT_MS)
    panel = view.explain
    qtbot.waitUntil(lambda: not panel.is_running() and bool(panel.findings()), timeout=WAIT_MS)
    top = panel.select(0)
    assert top.cause == "gripper_empty_close"
    for ref in (("/joint_states", "position/gripper"), ("/joint_states", "effort/gripper")):
        assert ref in view.tree.selection() and ref in view.plots.selection()
    qtbot.waitUntil(lambda: not view.plots.is_loading(), timeout=WAIT_MS)
    row = next(r for r in view.plots.rows() if r.title == "/joint_states position")
    qtbot.waitUntil(lambda: row.y_fitted, timeout=WAIT_MS)
    low, high = row.viewbox.viewRange()[1]
    assert -0.02 < low <= 0.0 and 0.08 <= high < 0.1  # the 0.08 m → 0 close fills the plot
    x0, x1 = view.plots.visible_range_ns()
    assert x0 <= 3.9 * S and x1 >= 8.0 * S and x1 - x0 < 9 * S  # the span, with a margin
    shot(view, "fit_demo_finding_focus.png")
    row.fit_all_y()  # what a double-click does: every joint again
    qtbot.waitUntil(lambda: row.viewbox.viewRange()[1][0] < -1.5, timeout=WAIT_MS)


def test_a_clicked_finding_scrolls_its_plot_into_view(opened, shared_data: Path, qtbot) -> None:
    """turtlesim: the cmd_vel gap finding's plot is the last of four, below the fold."""
    view = opened(str(shared_data / TURTLE), size=(1280, 760))
    panel = view.explain
    qtbot.waitUntil(lambda: not panel.is_running() and bool(panel.findings()), timeout=WAIT_MS)
    bar = view.plots._scroll.verticalScrollBar()
    bar.setValue(0)
    top = panel.select(0)
    assert top.channels == ["/turtle1/cmd_vel"]
    row = next(r for r in view.plots.rows() if r.title == "/turtle1/cmd_vel")
    viewport = view.plots._scroll.viewport()

    def row_on_screen() -> bool:
        y = row.mapTo(viewport, QPoint(0, 0)).y()
        return y >= 0 and y + row.height() <= viewport.height() + 1

    qtbot.waitUntil(row_on_screen, timeout=WAIT_MS)
    assert bar.value() > 0


# --- 4. the playhead's own colour ------------------------------------------------------------


def test_playhead_markers_and_spans_have_distinct_colours(opened, demo_catalog, qtbot) -> None:
    path, episode = demo_catalog
    view = opened(episode, path)
    panel = view.explain
    qtbot.waitUntil(lambda: not panel.is_running() and bool(panel.findings()), timeout=WAIT_MS)
    view.bookmarks.add_at(2 * S, "look here")
    view.timeline.set_time(6 * S)  # inside the gripper finding's span (3.9–8.0 s)
    qtbot.waitUntil(lambda: not view.plots.is_loading(), timeout=WAIT_MS)
    row = view.plots.rows()[1]  # effort: no labels over the lines
    image = shot(row.plot, "fit_playhead_colours.png")
    top = row.viewbox.sceneBoundingRect().top() + 4
    bottom = row.viewbox.sceneBoundingRect().bottom() - 4
    ys = range(int(top), int(bottom))

    def column(seconds: float, color: str) -> float:
        x = x_of(row, seconds, row.plot)
        hits = sum(
            any(near(image.pixelColor(x + dx, y), QColor(color)) for dx in (-1, 0, 1)) for y in ys
        )
        return hits / len(ys)

    span_color = colors.SEVERITY[panel.findings()[0].severity]
    assert column(6.0, colors.PLAYHEAD) > 0.9
    assert column(2.0, colors.BOOKMARK) > 0.3  # dashed
    assert column(3.9, span_color) > 0.3  # the span's edge
    assert column(2.0, colors.PLAYHEAD) == 0 and column(3.9, colors.PLAYHEAD) == 0
    # inside the span, away from lines and curves: the span's tint over white, not red
    tint = image.pixelColor(x_of(row, 5.0, row.plot), int(top) + 3)
    assert tint != QColor("#ffffff") and not near(tint, QColor(colors.PLAYHEAD), 60)
    # the strip: the same red for the playhead, nowhere else
    strip = view.transport.strip
    strip_image = shot(strip, "fit_strip_colours.png")
    x = round(strip.x_for(6 * S))
    assert near(strip_image.pixelColor(x, 2), QColor(colors.PLAYHEAD))
    reds = [
        xx
        for xx in range(strip_image.width())
        if near(strip_image.pixelColor(xx, 2), QColor(colors.PLAYHEAD), 30)
    ]
    assert reds and max(reds) - min(reds) <= 4


# --- 5. confidence is readable and agrees with rank -------------------------------------------


def test_confidence_is_readable_and_in_rank_order(opened, demo_catalog, qtbot) -> None:
    path, episode = demo_catalog
    view = opened(episode, path)
    panel = view.explain
    qtbot.waitUntil(lambda: not panel.is_running() and bool(panel.findings()), timeout=WAIT_MS)
    rows = panel.shown_rows()
    findings = [r for r in rows if isinstance(r, Finding)]
    assert [f.rank for f in findings] == list(range(1, len(findings) + 1))
    sections: list[list[Finding]] = []
    for r in rows:
        if isinstance(r, str):
            sections.append([])
        else:
            sections[-1].append(r)
    assert rows[0] == "Likely cause" and len(sections) >= 2
    for members in sections:  # within a section, a higher rank never has lower confidence
        assert [f.confidence for f in members] == sorted(
            (f.confidence for f in members), reverse=True
        )
    # text beside the bar, never on it; dark on light
    assert colors.contrast_ratio(TEXT_COLOR, "#ffffff") > 7
    image = shot(panel.list.viewport(), "fit_confidence.png")
    item = panel._items[0]
    cell = panel.list.visualItemRect(item)
    cell.setLeft(panel.list.header().sectionViewportPosition(COL_CONFIDENCE))
    cell.setWidth(panel.list.header().sectionSize(COL_CONFIDENCE))
    text, track = confidence_rects(cell, QFontMetrics(panel.list.font()))
    assert not text.intersects(track)
    bar = QColor(colors.SEVERITY[findings[0].severity])
    in_text = [image.pixelColor(x, y) for x in range(text.left(), text.right()) for y in
               range(text.top(), text.bottom())]  # fmt: skip
    assert not any(near(c, bar, 30) for c in in_text)
    assert sum(c.lightness() < 110 for c in in_text) > 10  # the figure is drawn, dark
    in_bar = [image.pixelColor(x, track.center().y()) for x in range(track.left(), track.right())]
    assert sum(near(c, bar, 30) for c in in_bar) > 0.5 * track.width() * findings[0].confidence


def test_an_unconfident_top_finding_is_a_line_not_a_span() -> None:
    from robotrace_desktop.ui.explain_panel import finding_markers

    weak = Finding("timestamp_gap", "gap", "", 0.3, "low", 1_610_000_000, 17_540_000_000, rank=1)
    sure = Finding("torque_spike", "spike", "", 0.8, "high", 2 * S, 3 * S, rank=2)
    marks = finding_markers([weak, sure])
    assert [(m.t_ns, m.t_end_ns) for m in marks] == [(1_610_000_000, None), (2 * S, 3 * S)]


# --- 6. units, names and colours per axis -----------------------------------------------------


def axis_labels(view: EpisodeView) -> dict[str, str]:
    return {r.title: r.plot.getPlotItem().getAxis("left").labelText for r in view.plots.rows()}


def test_axes_carry_the_recordings_units(opened, shared_data: Path) -> None:
    iiwa = opened(str(shared_data / IIWA))
    labels = axis_labels(iiwa)
    assert labels["/joint_states position"] == "position (rad)"
    assert labels["/joint_states effort"] == "effort (N·m)"
    g1 = opened(str(shared_data / G1))
    labels = axis_labels(g1)
    assert labels["observation.state"] == "observation.state"  # a feature: no unit, no "value"
    turtle = opened(str(shared_data / TURTLE), size=(1280, 760))
    pose = next(r for r in turtle.plots.rows() if r.title == "/turtle1/pose")
    assert axis_labels(turtle)["/turtle1/pose"] == "pose"  # 4 units: the legend names them
    assert [c.label for c in pose.curves] == [
        "x [m]",
        "y [m]",
        "theta [rad]",
        "linear_velocity [m/s]",
        "angular_velocity [rad/s]",
    ]


def test_no_colour_repeats_within_a_plot_of_up_to_twenty(opened, shared_data: Path, qtbot) -> None:
    view = opened(str(shared_data / G1))
    state = view.info.stream("observation.state")
    chosen = [("observation.state", c) for c in state.channels[:20]]
    view.tree.set_selection(chosen)
    qtbot.waitUntil(lambda: view.plots.selection() == chosen, timeout=WAIT_MS)
    (row,) = view.plots.rows()
    assert len({c.color for c in row.curves}) == 20


# --- 8. side tabs whole; Help lists the shortcuts ---------------------------------------------


@pytest.mark.parametrize("size", [(1600, 1000), (1280, 800)])
def test_side_tabs_are_not_truncated(qtbot, demo_catalog, size) -> None:  # type: ignore[no-untyped-def]
    from robotrace_desktop.ui.main_window import MainWindow

    path, episode = demo_catalog
    window = MainWindow(path)
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    view = window.open_episode(episode)
    assert view is not None
    qtbot.waitExposed(window)
    qtbot.wait(50)
    bar = view.side.tabBar()
    metrics = QFontMetrics(bar.font())
    for i in range(bar.count()):
        rect = bar.tabRect(i)
        assert bar.rect().contains(rect), (size, bar.tabText(i))
        assert rect.width() >= metrics.horizontalAdvance(bar.tabText(i)), bar.tabText(i)
    assert bar.tabText(bar.count() - 1).startswith("Problems (")
    shot(window, f"fit_window_{size[0]}x{size[1]}.png")

    dialog = window.show_shortcuts()
    keys = {key for key, _does, _where in dialog.rows()}
    from robotrace_desktop.ui.shortcuts_dialog import key_text

    for key, does in view.shortcuts():  # every key the view answers to is listed, as it does
        assert key_text(key) in keys, key
        assert (key_text(key), does, "Episode view") in dialog.rows()
    for expected in ("Space", "K", "L", "J", "→", "←", "Shift+→", "Shift+←", "Home", "End", "B"):
        assert expected in keys
    assert "F1" in keys and "Ctrl+L" in keys  # menu shortcuts come from the menus themselves
    dialog.close()
    window.close()
