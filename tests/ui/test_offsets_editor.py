"""Per-stream clock offsets: saved in the catalog, emitted, and explained by the clock hints of
the real iiwa bag (header stamps in simulation time)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDoubleSpinBox

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.episode import EpisodeInfo
from robotrace_desktop.library.scanner import scan
from robotrace_desktop.session import EpisodeSession
from robotrace_desktop.ui.offsets_editor import OffsetsEditor, clock_hint
from tests.demo_cache import demo_copy

MS = 1_000_000
SHOTS = Path(os.environ.get("ROBOTRACE_SHOT_DIR", tempfile.gettempdir())) / "robotrace_shots"


@pytest.fixture(scope="module")
def demo_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_copy(tmp_path_factory.mktemp("demo") / "bundle")


@pytest.fixture
def demo(tmp_path: Path, demo_bundle: Path) -> Iterator[tuple[Catalog, EpisodeInfo]]:
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [demo_bundle])
        yield catalog, catalog.get(catalog.list_episodes()[0].id)


def make_editor(qtbot, catalog: Catalog, info: EpisodeInfo, width: int = 380) -> OffsetsEditor:
    editor = OffsetsEditor(EpisodeSession(catalog, info).load())
    qtbot.addWidget(editor)
    editor.resize(width, 520)
    editor.show()
    qtbot.waitExposed(editor)
    return editor


def test_rows_for_every_stream_with_a_wide_fine_range(qtbot, demo) -> None:
    catalog, info = demo
    editor = make_editor(qtbot, catalog, info)
    assert list(editor.spins) == ["front", "wrist", "/joint_states", "/action", "/log"]
    spin = editor.spins["wrist"]
    assert (spin.minimum(), spin.maximum()) == (-1_000_000.0, 1_000_000.0)
    assert spin.singleStep() == pytest.approx(0.1) and spin.decimals() == 1
    assert spin.value() == 0.0 and not editor.resets["wrist"].isEnabled()
    assert editor.hints["wrist"].text() == "clock: container pts + t0_ns"


def test_typing_an_offset_saves_and_emits(qtbot, demo) -> None:
    catalog, info = demo
    editor = make_editor(qtbot, catalog, info)
    spin = editor.spins["/joint_states"]
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, "-40.5")
    with qtbot.waitSignal(editor.offsetsChanged, timeout=1000) as blocker:
        qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert blocker.args == [{"/joint_states": -40_500_000}]
    with Catalog(catalog.path) as other:  # committed: another connection sees it
        assert other.stream_offsets(info.id) == {"/joint_states": -40_500_000}
    assert editor.resets["/joint_states"].isEnabled() and spin.font().bold()

    with qtbot.waitSignal(editor.offsetsChanged, timeout=1000) as blocker:
        qtbot.keyClick(editor.spins["front"], Qt.Key.Key_Up)  # one 0.1 ms step
    assert blocker.args == [{"/joint_states": -40_500_000, "front": 100_000}]

    with qtbot.waitSignal(editor.offsetsChanged, timeout=1000) as blocker:
        qtbot.mouseClick(editor.resets["/joint_states"], Qt.MouseButton.LeftButton)
    assert blocker.args == [{"/joint_states": 0, "front": 100_000}]
    assert spin.value() == 0.0 and catalog.stream_offsets(info.id)["/joint_states"] == 0

    with qtbot.waitSignal(editor.offsetsChanged, timeout=1000) as blocker:
        qtbot.mouseClick(editor.reset_all_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [{"/joint_states": 0, "front": 0}]
    assert set(catalog.stream_offsets(info.id).values()) == {0}


def test_offsets_load_from_the_catalog_and_unchanged_values_do_not_emit(qtbot, demo) -> None:
    catalog, info = demo
    catalog.set_stream_offset(info.id, "wrist", 1_250_000_000)  # +1250 ms, set elsewhere (CLI)
    editor = make_editor(qtbot, catalog, info)
    assert editor.spins["wrist"].value() == 1250.0 and editor.offsets() == {"wrist": 1_250_000_000}
    emitted: list[dict] = []
    editor.offsetsChanged.connect(emitted.append)
    editor.set_offset("wrist", 1_250_000_000)
    editor.set_offset("front", 0)
    assert emitted == []
    editor.set_offset("wrist", -999_999_900_000)  # near the end of the range
    assert emitted == [{"wrist": -999_999_900_000}]
    assert editor.spins["wrist"].value() == -999_999.9


def test_iiwa_bag_shows_why_its_clocks_disagree(qtbot, tmp_path: Path, shared_data: Path) -> None:
    bag = shared_data / "rosbag2" / "iiwa7_gazebo_joint_torque_sqlite3"
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [bag])
        info = catalog.get(catalog.list_episodes()[0].id)
        editor = make_editor(qtbot, catalog, info, width=270)  # as narrow as the side tab
        hint = editor.hints["/joint_states"].text()
        assert hint.startswith("clock: record; header.stamp is more than 1 s from the record time")
        assert "header stamps differ by -1732210584.271 s" in hint
        assert clock_hint(info.stream("/joint_states")) == hint
        assert "no messages" in editor.hints["/initialpose"].text()
        assert "/effort_controller/commands" in editor.spins
        assert all(isinstance(s, QDoubleSpinBox) for s in editor.spins.values())
        spin, reset = editor.spins["/tf"], editor.resets["/tf"]
        assert reset.geometry().right() <= reset.parentWidget().width()  # nothing cut off
        assert spin.width() >= 110
        SHOTS.mkdir(parents=True, exist_ok=True)
        editor.grab().save(str(SHOTS / "offsets_editor_iiwa.png"))
