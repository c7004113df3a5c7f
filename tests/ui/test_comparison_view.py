"""The side-by-side comparison as a person uses it: two runs on one timeline, both cameras at the
exact frame for the playhead, the candidate shifted by the chosen alignment, recorded and
candidate actions overlaid in one plot row, a replay opened against the run it replays."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from robotrace_desktop.catalog.findings import store_findings
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.demo import read_frame_number
from robotrace_desktop.episodes import ResolvedEpisode
from robotrace_desktop.library.scanner import scan
from robotrace_desktop.readers.registry import reader_by_kind
from robotrace_desktop.ui.comparison_plots import SIDE_COLORS
from robotrace_desktop.ui.comparison_view import ComparisonView, alignment_offset
from robotrace_desktop.ui.qimage import qimage_to_rgb
from tests.demo_cache import demo_copy
from tests.made_up_findings import finding
from tests.readers.lerobot_fixtures import action_value, decode_position, write_v2

S = 1_000_000_000
MS = 1_000_000
SHOTS = Path(os.environ.get("ROBOTRACE_SHOT_DIR", tempfile.gettempdir())) / "robotrace_shots"
WAIT_MS = 30_000
G1 = "lerobot/g1_pick_bottle_v21"


@pytest.fixture(scope="module")
def demo_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Demo runs with seeds 7, 8 and 9 in one catalog; 7 and 8 carry hand-made findings
    (first finding 3.9 s vs 4.4 s, failure 7.5 s vs 8.1 s), 9 has none."""
    root = tmp_path_factory.mktemp("demo_pair")
    path = root / "catalog.sqlite"
    ids: dict[str, str] = {}
    with Catalog(path) as catalog:
        for seed in (7, 8, 9):
            bundle = demo_copy(root / f"seed{seed}", seed=seed)
            scan(catalog, [bundle])
            (info,) = [i for i in catalog.list_episodes() if i.seed == seed]
            ids[f"seed{seed}"] = info.id
        store_findings(
            catalog,
            ids["seed7"],
            [finding("gripper_closed_early", 3.9, failure_s=7.5), finding("late", 6.0)],
        )
        store_findings(
            catalog,
            ids["seed8"],
            [
                finding("low", 1.0, confidence=0.2, failure_s=8.1),
                finding("gripper_closed_early", 4.4),
            ],
        )
        store_findings(catalog, ids["seed9"], [])
    return path, ids


@pytest.fixture
def make_view(qtbot) -> Iterator:  # type: ignore[no-untyped-def]
    made: list[ComparisonView] = []

    def make(catalog: Path, baseline: str, candidate: str, **kwargs: object) -> ComparisonView:
        view = ComparisonView(catalog, baseline, candidate, **kwargs)  # type: ignore[arg-type]
        qtbot.addWidget(view)
        view.resize(1500, 950)
        view.show()
        made.append(view)
        qtbot.waitUntil(
            lambda: all(p.is_ready() or p.problem() for p in view.panes.values()), timeout=WAIT_MS
        )
        return view

    yield make
    for view in made:
        view.shutdown()


def settle(qtbot, view: ComparisonView) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(view.settled, timeout=WAIT_MS)


def painted(pane) -> int | None:  # type: ignore[no-untyped-def]
    image = pane.current_image()
    return None if image is None else read_frame_number(qimage_to_rgb(image))


def demo_frame(t_ns: int) -> int:
    """The front camera's frame at demo episode time t (30 fps, frame k at round(k/30 s))."""
    times = (np.arange(360, dtype=np.int64) * S + 15) // 30
    return int(np.searchsorted(times, t_ns, side="right")) - 1


def test_both_runs_show_the_exact_frame_for_the_playhead(qtbot, make_view, demo_pair) -> None:
    path, ids = demo_pair
    view = make_view(path, ids["seed7"], ids["seed8"])
    assert view.alignment() == "start" and view.offset_ns() == 0
    assert {k for k in view.panes} == {
        ("baseline", "front"),
        ("baseline", "wrist"),
        ("candidate", "front"),
        ("candidate", "wrist"),
    }
    assert view.pane("candidate", "front").name() == "candidate · front"
    for t_ns in (0, 2_500_000_000, 3_933_333_333, 9_000_000_001):
        view.set_time(t_ns)
        settle(qtbot, view)
        for side in ("baseline", "candidate"):
            pane = view.pane(side, "front")
            index, _t, exact = pane.shown_frame()
            assert exact and index == demo_frame(t_ns), (side, t_ns)
            assert painted(pane) == index, (side, t_ns)
    assert "pick-and-place" in view.cards["baseline"].text()
    assert "pick-v0.3.1" in view.cards["candidate"].text()
    assert "failure" in view.cards["candidate"].text()


def test_first_finding_alignment_shifts_the_candidate(qtbot, make_view, demo_pair) -> None:
    path, ids = demo_pair
    view = make_view(path, ids["seed7"], ids["seed8"], align="first_finding")
    # baseline's top confident finding at 3.9 s, candidate's at 4.4 s (its rank-1 is not
    # confident): candidate time = t − offset with offset = 3.9 − 4.4 s
    assert view.offset_ns() == -500 * MS
    assert view.offset_spin.value() == -500
    assert view.time_ns() == 3_900_000_000, "the playhead jumps to the aligned moment"
    assert view.candidate_time_ns() == 4_400_000_000
    settle(qtbot, view)
    assert painted(view.pane("baseline", "front")) == demo_frame(3_900_000_000)
    assert painted(view.pane("candidate", "front")) == demo_frame(4_400_000_000)
    # the candidate starts half a second before the baseline: the timeline reaches it
    view.set_time(-500 * MS)
    settle(qtbot, view)
    assert view.time_ns() == -500 * MS
    assert painted(view.pane("candidate", "front")) == 0
    assert view.pane("baseline", "front").shown_frame() is None
    assert "starts at" in (view.pane("baseline", "front").status_text() or "")
    assert view.transport.time_label.text().startswith("baseline  -0.500 s · candidate   0.000 s")


def test_failure_time_alignment_and_manual_shift(qtbot, make_view, demo_pair) -> None:
    path, ids = demo_pair
    view = make_view(path, ids["seed7"], ids["seed8"])
    view.set_alignment("failure_time")
    assert view.offset_ns() == (7_500 - 8_100) * MS
    assert view.time_ns() == 7_500_000_000
    view.set_offset_ms(250)
    assert view.alignment() == "manual" and view.align_combo.currentText() == "Manual"
    assert view.offset_ns() == 250 * MS
    view.set_time(5 * S)
    settle(qtbot, view)
    assert painted(view.pane("candidate", "front")) == demo_frame(5 * S - 250 * MS)
    assert painted(view.pane("baseline", "front")) == demo_frame(5 * S)
    view.transport.loop_button.click()  # loops the plotted span: both runs whole
    loop = view.timeline.playback.loop
    assert loop is not None and abs(loop[1] - (12 * S + 250 * MS)) <= 1 and loop[0] == 0


def test_alignment_falls_back_to_the_start_with_a_note(qtbot, make_view, demo_pair) -> None:
    path, ids = demo_pair
    view = make_view(path, ids["seed7"], ids["seed9"], align="first_finding")
    assert view.offset_ns() == 0
    assert "candidate has no confident finding" in view.alignment_note()
    assert view.note.text() == view.alignment_note()
    assert alignment_offset("failure_time", [], [])[0] == 0


def test_overlaid_actions_are_the_two_runs_values(qtbot, make_view, tmp_path: Path) -> None:
    """LeRobot episodes 0 and 2 (different action values, 6 and 7 frames at 10 fps):
    one row per action channel, two curves, each with its own episode's values."""
    root = write_v2(tmp_path / "ds", "v2.1")
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as catalog:
        scan(catalog, [root])
        by_index = {i.episode_index: i.id for i in catalog.list_episodes()}
    view = make_view(path, by_index[0], by_index[2])
    ref = ("action", "action[0]")
    assert view.plots.selection() == [("action", "action[0]"), ("action", "action[1]")]
    qtbot.waitUntil(lambda: not view.plots.is_loading(), timeout=WAIT_MS)
    for side, episode, frames in (("baseline", 0, 6), ("candidate", 2, 7)):
        x, y = view.plots.curve_data(side, ref)
        assert y == [action_value(episode, f, 0) for f in range(frames)], side
        assert x == pytest.approx([f / 10 for f in range(frames)])
    assert view.plots.curve("baseline", ref).color == SIDE_COLORS["baseline"]
    assert view.plots.curve("candidate", ref).commanded, "the candidate is dashed"
    # shifting the candidate moves its curve, not its values
    view.set_offset_ms(200)
    x, y = view.plots.curve_data("candidate", ref)
    assert x == pytest.approx([0.2 + f / 10 for f in range(7)])
    assert view.plots.value_at("candidate", ref, 450 * MS) == action_value(2, 2, 0)
    # both cameras of both runs at the playhead: frame k paints gray 8k (+4 per camera)
    view.set_time(450 * MS)
    settle(qtbot, view)
    for side, expected in (("baseline", 4), ("candidate", 2)):
        for number, camera in enumerate(("observation.images.top", "observation.images.wrist")):
            rgb = qimage_to_rgb(view.pane(side, camera).current_image())
            assert decode_position(rgb, number) == expected, (side, camera)
    # a channel only one run has can still be plotted
    view.show_channels([("observation.state", "shoulder"), ref])
    assert [r.ref for r in view.plots.rows()] == [("observation.state", "shoulder"), ref]


def test_a_replay_opens_against_the_run_it_replays(qtbot, make_view, tmp_path: Path) -> None:
    """A replay bundle (no cameras, source "replay", replay_of the baseline) opens on the
    right whichever way round it is asked for; its missing cameras say why."""
    path = tmp_path / "catalog.sqlite"
    base_dir = demo_copy(tmp_path / "base", seed=7)
    replay_dir = demo_copy(tmp_path / "replay", seed=8)
    with Catalog(path) as catalog:
        scan(catalog, [base_dir])
        (base,) = catalog.list_episodes()
        (info,) = reader_by_kind("bundle").index(replay_dir)
        replay = dataclasses.replace(
            info,
            id="replay-of-seed7",
            source="replay",
            policy_version="cand-v2",
            metadata={"replay_of": base.id},
            streams=[s for s in info.streams if s.kind.value != "video"],
        )
        catalog.upsert_episode(replay.path, replay)
    view = make_view(path, "replay-of-seed7", base.id)
    assert view.pair_ids() == (base.id, "replay-of-seed7")
    assert "CANDIDATE REPLAY" in view.cards["candidate"].text()
    assert "cand-v2" in view.cards["candidate"].text()
    problem = view.pane("candidate", "front").problem() or ""
    assert "replay has no camera" in problem
    # from the replay's own episode view: Episode → Compare replay with its baseline
    from robotrace_desktop.ui.main_window import MainWindow

    window = MainWindow(path)
    qtbot.addWidget(window)
    assert window.open_episode("replay-of-seed7") is not None
    (action,) = [
        a for m in window.menuBar().actions() for a in m.menu().actions() if "replay" in a.text()
    ]
    action.trigger()
    opened = window.tabs.currentWidget()
    assert isinstance(opened, ComparisonView)
    assert opened.pair_ids() == (base.id, "replay-of-seed7")
    window.close()


def test_real_g1_episodes_side_by_side(qtbot, make_view, shared_data: Path, tmp_path: Path) -> None:
    """Real LeRobot G1 episodes 1 (AV1 video) and 3 (video file missing): the baseline camera
    decodes the exact frame, the candidate camera names the missing file, and the 26 recorded
    actions of both overlay with the values the reader returns."""
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as catalog:
        scan(catalog, [shared_data / G1])
        ids = {i.episode_index: i for i in catalog.list_episodes()}
    view = make_view(path, ids[1].id, ids[3].id)
    camera = "observation.images.cam_high"
    assert "episode_000003.mp4" in (view.pane("candidate", camera).problem() or "")
    rows = view.plots.selection()
    assert len(rows) == 8 and all(stream == "action" for stream, _ in rows)
    view.set_time(2 * S)
    settle(qtbot, view)
    index, _t, exact = view.pane("baseline", camera).shown_frame()
    assert exact and index == 60  # 2 s at 30 fps
    SHOTS.mkdir(parents=True, exist_ok=True)
    view.grab().save(str(SHOTS / "comparison_g1.png"))
    for side, info in (("baseline", ids[1]), ("candidate", ids[3])):
        with ResolvedEpisode(info, True).open() as source:
            chunk = source.read_signal("action")
        column = list(chunk.channels).index(rows[0][1])
        assert view.plots.curve_data(side, rows[0])[1] == pytest.approx(
            chunk.values[:, column].astype(float).tolist()
        )


def test_screenshot_of_a_comparison(qtbot, make_view, demo_pair) -> None:
    path, ids = demo_pair
    view = make_view(path, ids["seed7"], ids["seed8"], align="first_finding")
    settle(qtbot, view)
    SHOTS.mkdir(parents=True, exist_ok=True)
    image = view.grab().toImage()
    image.save(str(SHOTS / "comparison_view.png"))
    # both runs' curves are on screen in their colours, blue solid and orange dashed
    rgb = qimage_to_rgb(view.plots.rows()[0].plot.grab().toImage()).astype(int)
    for side in ("baseline", "candidate"):
        wanted = QColor(SIDE_COLORS[side])
        target = np.array([wanted.red(), wanted.green(), wanted.blue()])
        close = np.abs(rgb - target).sum(axis=2) < 60
        assert close.sum() > 30, side  # 1 px antialiased lines: dashes leave fewer pixels
    pen = view.plots.curve("candidate", view.plots.selection()[0]).item.opts["pen"]
    assert pen.style() == Qt.PenStyle.DashLine
    assert all(pane.current_image() is not None for pane in view.panes.values())


def test_main_window_opens_the_panel_once_and_pairs_as_tabs(qtbot, demo_pair) -> None:
    from PySide6.QtGui import QKeySequence

    from robotrace_desktop.ui.main_window import MainWindow
    from robotrace_desktop.ui.regression_panel import RegressionPanel

    path, ids = demo_pair
    window = MainWindow(path)
    qtbot.addWidget(window)
    window.show()
    (verify,) = [
        a for m in window.menuBar().actions() for a in m.menu().actions() if "Verify" in a.text()
    ]
    assert verify.shortcut() == QKeySequence("Ctrl+Shift+V")
    verify.trigger()
    verify.trigger()
    panels = [window.tabs.widget(i) for i in range(window.tabs.count())]
    assert sum(isinstance(w, RegressionPanel) for w in panels) == 1
    assert window.tabs.currentWidget() is window.regression
    assert window.tabs.tabText(window.tabs.currentIndex()) == "Regression"
    window.regression.openPair.emit(ids["seed7"], ids["seed8"])
    view = window.tabs.currentWidget()
    assert isinstance(view, ComparisonView)
    assert view.pair_ids() == (ids["seed7"], ids["seed8"])
    title = window.tabs.tabText(window.tabs.currentIndex())
    assert title == "Demo: pick-an…early (seed 7) ⇄ Demo: pick-an…early (seed 8)"
    window.browser.compareRequested.emit(ids["seed8"], ids["seed7"])
    assert window.tabs.currentWidget() is view, "the same pair focuses its tab"
    window.regression.openEpisode.emit(ids["seed9"], 2 * S)
    episode = window.current_view()
    assert episode is not None and episode.timeline.time_ns() == 2 * S
    window.close_tab(window.tabs.indexOf(view))
    assert all(
        not isinstance(window.tabs.widget(i), ComparisonView) for i in range(window.tabs.count())
    )
    window.open_comparison(ids["seed7"], "no-such-episode")
    assert "no-such-episode" in window.statusBar().currentMessage()
    window.close()
