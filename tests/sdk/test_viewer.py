"""A logged episode opens in the viewer from its deep link, with its streams on one clock: at any
playhead time the camera shows the frame whose number the logged signals hold at that time."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported

from pathlib import Path

import numpy as np

import robotrace_desktop as rt
from robotrace_desktop import paths
from robotrace_desktop.bundle.tables import SignalData, write_npz, write_parquet
from robotrace_desktop.ui.main_window import MainWindow
from robotrace_desktop.ui.qimage import qimage_to_rgb
from tests.sdk.sdk_fixtures import painted_video
from tests.video.video_fixtures import frame_number

FRAME_NS = 100_000_000  # the video: 10 fps, frame k paints k


def _log(tmp_path: Path) -> rt.Episode:
    video = painted_video(tmp_path / "front.mp4", frames=30, fps=10)
    t = np.arange(60, dtype=np.int64) * (FRAME_NS // 2)  # 20 Hz
    frame = t // FRAME_NS
    sensors = write_parquet(
        tmp_path / "joint_states.parquet",
        SignalData(t, {"position": np.column_stack([frame, -frame])}, {"position": ["j1", "j2"]}),
    )
    steps = np.arange(30, dtype=np.int64) * FRAME_NS
    actions = write_npz(
        tmp_path / "policy.npz", {"action": SignalData(steps, {"cmd": steps / 5e7})}
    )
    return rt.log_episode(name="viewer check", video=video, sensors=sensors, actions=actions)


def test_logged_episode_opens_from_its_link_on_one_clock(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    episode = _log(tmp_path)
    window = MainWindow(paths.catalog_path())
    qtbot.addWidget(window)
    view = window.open_episode(episode.url)
    assert view is not None and view.info.id == episode.id
    view.resize(1200, 800)
    view.show()
    qtbot.waitUntil(lambda: all(p.is_ready() for p in view.panes.values()), timeout=20_000)
    assert set(view.panes) == {"front"}
    assert ("joint_states", "position/j1") in view.plots.selection()
    for t_ns in (0, 49_999_999, 1_250_000_000, 2_099_999_999, 2_950_000_000):
        view.timeline.set_time(t_ns)
        qtbot.waitUntil(view.settled, timeout=20_000)
        index, _shown, exact = view.panes["front"].shown_frame()
        image = view.panes["front"].current_image()
        assert exact and image is not None
        shown = frame_number(qimage_to_rgb(image))
        assert shown == index == t_ns // FRAME_NS, t_ns
        assert view.plots.time_ns() == t_ns
        assert view.store.value_at("joint_states", "position/j1", t_ns) == shown
        assert view.store.value_at("action", "cmd", t_ns) == 2 * shown
    window.close()
