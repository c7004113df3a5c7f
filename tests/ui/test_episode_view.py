"""The episode view as a person uses it: open the demo, move the playhead, see the exact frames
of both cameras and the plots' playhead, step with the keys, bookmark a moment and land on the
same frame through its deep link, shift a camera's clock, get the layout back, and keep working
when a video is missing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.demo import read_frame_number
from robotrace_desktop.episodes import resolve
from robotrace_desktop.ui.episode_view import EpisodeView
from robotrace_desktop.ui.main_window import MainWindow
from robotrace_desktop.ui.qimage import qimage_to_rgb

S = 1_000_000_000
LEROBOT = "lerobot/g1_pick_bottle_v21"


@pytest.fixture
def view(qtbot, demo_catalog):  # type: ignore[no-untyped-def]
    path, episode_id = demo_catalog
    catalog = Catalog(path)
    widget = EpisodeView(resolve(episode_id, catalog), catalog)
    qtbot.addWidget(widget)
    widget.resize(1400, 900)
    widget.show()
    qtbot.waitUntil(lambda: all(p.is_ready() for p in widget.panes.values()), timeout=20_000)
    yield widget
    widget.shutdown()
    catalog.close()


def expected_index(times: np.ndarray, t_ns: int) -> int:
    return int(np.searchsorted(times, t_ns, side="right")) - 1


def settle(qtbot, view: EpisodeView) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(view.settled, timeout=20_000)


def test_both_cameras_show_the_exact_frame_at_the_playhead(qtbot, view: EpisodeView) -> None:
    assert set(view.panes) == {"front", "wrist"}
    for t_ns in (20_000_000, 3_900_000_000, 3_933_333_333, 7_512_000_000, 11_950_000_000):
        view.timeline.set_time(t_ns)
        settle(qtbot, view)
        for name, pane in view.panes.items():
            index, _shown_t, exact = pane.shown_frame()
            assert exact and index == expected_index(pane.frame_times_ns(), t_ns), (name, t_ns)
            assert read_frame_number(qimage_to_rgb(pane.current_image())) == index, (name, t_ns)


def test_keys_step_frames_of_the_chosen_camera_and_seconds(qtbot, view: EpisodeView) -> None:
    view.transport.camera.setCurrentText("wrist")
    wrist = view.panes["wrist"].frame_times_ns()
    assert wrist is not None
    view.timeline.set_time(2 * S)
    view.setFocus()
    next_frame = int(wrist[expected_index(wrist, 2 * S) + 1])
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.timeline.time_ns() == next_frame
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert view.timeline.time_ns() == next_frame + S
    qtbot.keyClick(view, Qt.Key.Key_Left)  # from inside a frame or its first instant: back one
    here = expected_index(wrist, next_frame + S)
    on_start = wrist[here] == next_frame + S
    assert view.timeline.time_ns() == int(wrist[here - 1 if on_start else here])
    qtbot.keyClick(view, Qt.Key.Key_End)
    assert view.timeline.time_ns() == view.info.duration_ns
    qtbot.keyClick(view, Qt.Key.Key_Home)
    assert view.timeline.time_ns() == 0
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert view.timeline.is_playing()
    qtbot.waitUntil(lambda: view.timeline.time_ns() > 200_000_000, timeout=5000)
    qtbot.keyClick(view, Qt.Key.Key_K)
    assert not view.timeline.is_playing()


def test_plots_follow_the_playhead_and_a_plot_click_moves_it(qtbot, view: EpisodeView) -> None:
    assert view.plots.selection(), "the demo opens with channels plotted"
    view.timeline.set_time(4 * S)
    settle(qtbot, view)
    view.plots.timeClicked.emit(6 * S)
    assert view.timeline.time_ns() == 6 * S
    settle(qtbot, view)
    assert view.panes["front"].shown_frame()[0] == 180  # 6 s at 30 fps


def test_bookmark_round_trip_through_a_deep_link(qtbot, demo_catalog, tmp_path: Path) -> None:
    path, episode_id = demo_catalog
    window = MainWindow(path)
    qtbot.addWidget(window)
    window.show()
    view = window.open_episode(episode_id, 3_900_000_000)
    assert view is not None and view.bookmarks is not None
    settle(qtbot, view)
    shown = view.panes["front"].shown_frame()
    bookmark = view.bookmarks.add_at(view.timeline.time_ns(), "gripper closes early")
    out = view.bookmarks.export_to(tmp_path / "bookmarks.json", selected_only=False)
    (row,) = [r for r in json.loads(out.read_text()) if r["note"] == "gripper closes early"]
    assert row["t"] == "3900ms" and row["t_ns"] == bookmark.t_ns
    window.close_tab(window.tabs.currentIndex())
    again = window.open_episode(row["link"])
    assert again is not None
    settle(qtbot, again)
    assert again.timeline.time_ns() == 3_900_000_000
    assert again.panes["front"].shown_frame() == shown
    window.close()


def test_clock_offset_shifts_what_a_camera_shows(qtbot, view: EpisodeView) -> None:
    view.timeline.set_time(5 * S)
    settle(qtbot, view)
    before = view.panes["front"].shown_frame()[0]
    view._on_offsets({"front": 500_000_000})
    settle(qtbot, view)
    assert view.panes["front"].shown_frame()[0] == before - 15  # 0.5 s at 30 fps
    view._on_offsets({})


def test_layout_is_remembered_per_robot(qtbot, demo_catalog) -> None:
    path, episode_id = demo_catalog
    catalog = Catalog(path)
    first = EpisodeView(resolve(episode_id, catalog), catalog)
    qtbot.addWidget(first)
    chosen = [("/joint_states", "effort/gripper")]
    first.tree.set_selection(chosen)
    first.shutdown()
    second = EpisodeView(resolve(episode_id, catalog), catalog)
    qtbot.addWidget(second)
    assert second.plots.selection() == chosen
    second.shutdown()
    catalog.save_layout("bundle:demo-arm-7dof", {})
    catalog.close()


def test_missing_video_shows_a_placeholder_and_the_rest_works(
    qtbot, shared_data: Path, tmp_path: Path
) -> None:
    catalog = Catalog(tmp_path / "c.sqlite")
    resolved = resolve(f"{shared_data / LEROBOT}#3", catalog)
    view = EpisodeView(resolved, catalog)
    qtbot.addWidget(view)
    view.resize(1200, 800)
    view.show()
    pane = view.panes["observation.images.cam_high"]
    assert "episode_000003.mp4" in (pane.problem() or "")
    assert "episode_000003.mp4" in (pane.status_text() or "")
    assert view.plots.selection()
    view.timeline.set_time(2 * S)
    qtbot.waitUntil(view.settled, timeout=20_000)
    view.shutdown()
    catalog.close()


def test_plots_and_video_agree_at_the_playhead(qtbot, view: EpisodeView) -> None:
    """At 3.95 s the gripper is already commanded closed (the demo's fault at 3.9 s) and the
    front camera shows frame 118; at 3.85 s, still open and frame 115."""
    for t_ns, gripper, frame in ((3_850_000_000, 0.0, 115), (3_950_000_000, 1.0, 118)):
        view.timeline.set_time(t_ns)
        settle(qtbot, view)
        assert view.plots.time_ns() == t_ns
        assert view.store.value_at("/action", "gripper", t_ns) == gripper
        assert view.panes["front"].shown_frame()[0] == frame


def test_exports_of_the_frame_and_a_time_slice(qtbot, view: EpisodeView, tmp_path: Path) -> None:
    import pyarrow.csv as pacsv

    from robotrace_desktop.video.images import decode_image_bytes

    view.timeline.set_time(5 * S)
    settle(qtbot, view)
    png = view.export_frame_png(tmp_path / "frame.png", "front")
    assert read_frame_number(decode_image_bytes(png.read_bytes())) == 150
    out = view.export_slice(tmp_path / "slice.csv", 2 * S, 3 * S)
    table = pacsv.read_csv(out)
    assert table.num_rows > 0
    assert min(table["t_ns"].to_pylist()) >= 2 * S and max(table["t_ns"].to_pylist()) < 3 * S
    assert any(name.endswith("position/joint_1") for name in table.column_names)


def test_a_second_launch_hands_its_link_to_the_running_window(qtbot, demo_catalog) -> None:
    import os
    import subprocess
    import sys

    from robotrace_desktop.ui.single_instance import SingleInstance, server_key

    path, episode_id = demo_catalog
    running = SingleInstance(server_key(path))
    assert running.listen()
    received: list[str] = []
    running.messageReceived.connect(received.append)
    link = f"robotrace://episode/{episode_id}?t=12840ms"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    second = subprocess.Popen(
        [sys.executable, "-m", "robotrace_desktop", "--catalog", str(path), "open", link],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:  # the test's event loop must run so the "running window" can answer
        qtbot.waitUntil(lambda: second.poll() is not None, timeout=30_000)
    finally:
        if second.poll() is None:
            second.kill()
    out, err = second.communicate()
    assert second.returncode == 0, err
    assert "handed over" in out
    assert [json.loads(m) for m in received] == [{"open": link, "t_ns": None}]
    running.close()
