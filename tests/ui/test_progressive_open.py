"""Opening a bag fills the window in progressively (issue 16): the camera shows the exact frame
at the requested time first, while the plots wait; then the plots fill in; Explain, which reads
the recording once more, starts last. ``open --t --screenshot`` renders once the frame and the
plots of the visible span (the whole episode) are drawn."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core import colors
from robotrace_desktop.episodes import resolve
from robotrace_desktop.ui.episode_view import EpisodeView
from robotrace_desktop.video.images import decode_image_bytes
from tests.readers import ros_fixtures as fx

S = 1_000_000_000
WAIT_MS = 60_000
START = 7 * S + 50_000_000  # inside frame 70 (10 Hz)


@pytest.fixture(scope="module")
def bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("progressive") / "bag"
    return fx.write_rosbag2(folder, "mcap", ks=range(120), only=("/joint_states", "/camera/rgb"))


def test_the_frame_at_the_start_time_comes_first_then_plots_then_explain(
    qtbot, bag: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    catalog = Catalog(tmp_path / "catalog.sqlite")
    view = EpisodeView(resolve(str(bag), catalog), catalog, start_ns=START)
    qtbot.addWidget(view)
    view.resize(1400, 900)
    view.show()
    shown: list[tuple[int, bool, bool]] = []  # (frame index, exact, plots still held)
    pane = view.panes["/camera/rgb"]
    pane.frameShown.connect(lambda i, _t, exact: shown.append((i, exact, view.plots.is_held())))
    try:
        # at once: the window is there, the plots wait (nothing built, nothing read) and
        # Explain is announced but not reading yet
        assert view.plots.is_held() and view.plots.is_loading() and not view.plots.rows()
        assert view.plots.selection(), "the channels to plot are chosen already"
        assert view.explain.is_running() and view.explain.rerun_button.isEnabled()
        qtbot.waitUntil(lambda: bool(shown), timeout=WAIT_MS)
        # the first picture is the exact frame at the start time, shown before any plot
        assert shown[0] == (70, True, True)
        qtbot.waitUntil(lambda: view.settled() and not view.plots.is_loading(), timeout=WAIT_MS)
        assert view.plots.rows()
        for row in view.plots.rows():
            for curve in row.curves:
                x = curve.item.xData
                assert x is not None and x[0] < 0.5 and x[-1] > 11.5  # the whole episode
        assert pane.shown_frame() == (70, int(pane.frame_times_ns()[70]), True)
        qtbot.waitUntil(lambda: not view.explain.is_running(), timeout=WAIT_MS)  # then Explain
    finally:
        view.shutdown()
        catalog.close()


def test_a_playhead_moved_while_plots_load_moves_the_camera(qtbot, bag: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The scrubber never waits for the plots: a move as soon as they start loading lands."""
    catalog = Catalog(tmp_path / "catalog.sqlite")
    view = EpisodeView(resolve(str(bag), catalog), catalog, start_ns=START)
    qtbot.addWidget(view)
    view.show()
    try:
        qtbot.waitUntil(lambda: not view.plots.is_held(), timeout=WAIT_MS)
        view.timeline.set_time(2 * S + 10_000_000)
        pane = view.panes["/camera/rgb"]
        qtbot.waitUntil(lambda: (pane.shown_frame() or (None,))[0] == 20, timeout=WAIT_MS)
        assert view.plots.time_ns() == 2 * S + 10_000_000
        qtbot.waitUntil(view.settled, timeout=WAIT_MS)
    finally:
        view.shutdown()
        catalog.close()


def test_screenshot_of_a_bag_has_the_frame_and_the_whole_plots(bag: Path, tmp_path: Path) -> None:
    out = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "ROBOTRACE_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "robotrace_desktop", "open", str(bag), "--t", "7.05s",
         "--screenshot", str(out), "--size", "1600x1000"],
        capture_output=True, text=True, timeout=180, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "not every pane settled" not in result.stderr
    image = decode_image_bytes(out.read_bytes()).astype(int)
    assert image[120:450, 300:950].std() > 20  # the camera's frame, not a placeholder
    palette = [np.array([int(c[i : i + 2], 16) for i in (1, 3, 5)]) for c in colors.PALETTE[:3]]

    def curve_pixels(x0: int, x1: int) -> int:
        band = image[470:820, x0:x1]
        return sum(int((np.abs(band - rgb).sum(axis=2) < 60).sum()) for rgb in palette)

    # curves at both ends of the time axis: the pieces before and after the playhead are in
    assert curve_pixels(70, 160) > 20 and curve_pixels(1150, 1240) > 20
