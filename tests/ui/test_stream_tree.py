"""StreamTree: search filtering, tri-state parents, select all/none of the filtered set and the
selectionChanged payload — on the demo and on the real G1 LeRobot episode."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTreeWidgetItem
from pytestqt.qtbot import QtBot

from robotrace_desktop.core.channels import default_selection
from robotrace_desktop.core.episode import EpisodeInfo
from robotrace_desktop.readers.registry import reader_for
from robotrace_desktop.ui.stream_tree import StreamTree
from tests.demo_cache import demo_copy


@pytest.fixture(scope="module")
def demo_info(tmp_path_factory: pytest.TempPathFactory) -> EpisodeInfo:
    path = demo_copy(tmp_path_factory.mktemp("demo") / "demo")
    (info,) = list(reader_for(path).index(path))
    return info


@pytest.fixture
def tree(qtbot: QtBot, demo_info: EpisodeInfo) -> StreamTree:
    widget = StreamTree(demo_info)
    qtbot.addWidget(widget)
    widget.resize(320, 600)
    widget.show()
    return widget


def _top(tree: StreamTree, name: str) -> QTreeWidgetItem:
    items = [tree.tree.topLevelItem(i) for i in range(tree.tree.topLevelItemCount())]
    return next(item for item in items if item.text(0) == name)


def test_lists_signal_streams_and_channels(tree: StreamTree) -> None:
    names = [tree.tree.topLevelItem(i).text(0) for i in range(tree.tree.topLevelItemCount())]
    assert names == ["/joint_states", "/action"]  # cameras and the log are not channels
    assert _top(tree, "/joint_states").childCount() == 24
    assert _top(tree, "/joint_states").text(1) == "1200"
    assert tree.selection() == []


def test_search_filters_and_keeps_parents(tree: StreamTree) -> None:
    tree.search.setText("EFFORT")  # case-insensitive
    assert tree.visible_channels() == [
        ("/joint_states", f"effort/{j}") for j in [*(f"joint_{i}" for i in range(1, 8)), "gripper"]
    ]
    assert not _top(tree, "/joint_states").isHidden()
    assert _top(tree, "/action").isHidden()
    tree.search.setText("joint_3")
    assert tree.visible_channels() == [
        ("/joint_states", "position/joint_3"),
        ("/joint_states", "velocity/joint_3"),
        ("/joint_states", "effort/joint_3"),
        ("/action", "joint_position/joint_3"),
    ]
    tree.search.setText("/action")  # the stream name matches all its channels
    assert len(tree.visible_channels()) == 8
    tree.search.setText("")
    assert len(tree.visible_channels()) == 32


def test_select_all_of_the_filtered_set(tree: StreamTree, qtbot: QtBot) -> None:
    tree.search.setText("effort")
    with qtbot.waitSignal(tree.selectionChanged, timeout=1000) as blocker:
        tree.all_button.click()
    (payload,) = blocker.args
    assert payload == tree.visible_channels()
    assert len(payload) == 8
    tree.search.setText("gripper")
    with qtbot.waitSignal(tree.selectionChanged, timeout=1000) as blocker:
        tree.none_button.click()
    # only the filtered channel was unchecked; the other efforts stay selected
    assert blocker.args[0] == [("/joint_states", f"effort/joint_{i}") for i in range(1, 8)]


def test_checking_a_parent_checks_its_children(tree: StreamTree, qtbot: QtBot) -> None:
    action = _top(tree, "/action")
    with qtbot.waitSignal(tree.selectionChanged, timeout=1000) as blocker:
        action.setCheckState(0, Qt.CheckState.Checked)
    (payload,) = blocker.args
    assert payload == [("/action", c) for c in tree.info.stream("/action").channels]
    assert all(
        action.child(i).checkState(0) == Qt.CheckState.Checked for i in range(action.childCount())
    )
    # one child unchecked: the parent becomes partially checked, the payload loses it
    with qtbot.waitSignal(tree.selectionChanged, timeout=1000) as blocker:
        action.child(7).setCheckState(0, Qt.CheckState.Unchecked)
    assert action.checkState(0) == Qt.CheckState.PartiallyChecked
    assert ("/action", "gripper") not in blocker.args[0] and len(blocker.args[0]) == 7


def test_one_signal_per_user_change(tree: StreamTree, qtbot: QtBot) -> None:
    received: list[list[tuple[str, str]]] = []
    tree.selectionChanged.connect(received.append)
    _top(tree, "/joint_states").setCheckState(0, Qt.CheckState.Checked)  # 24 children
    qtbot.waitUntil(lambda: len(received) == 1, timeout=1000)
    qtbot.wait(20)
    assert len(received) == 1 and len(received[0]) == 24


def test_set_selection(tree: StreamTree, qtbot: QtBot, demo_info: EpisodeInfo) -> None:
    wanted = default_selection(demo_info)
    with qtbot.waitSignal(tree.selectionChanged, timeout=1000) as blocker:
        tree.set_selection([*wanted, ("/nope", "x")])
    assert blocker.args[0] == wanted  # tree order == default order here
    assert tree.selection() == wanted
    assert _top(tree, "/joint_states").checkState(0) == Qt.CheckState.PartiallyChecked
    with qtbot.assertNotEmitted(tree.selectionChanged):
        tree.set_selection(wanted)  # unchanged: no signal


def test_real_lerobot_episode(qtbot: QtBot, shared_data: Path) -> None:
    path = shared_data / "lerobot" / "g1_pick_bottle_v21"
    info = next(i for i in reader_for(path).index(path) if i.episode_index == 1)
    tree = StreamTree(info)
    qtbot.addWidget(tree)
    tree.set_filter("elbow")
    assert tree.visible_channels() == [
        ("observation.state", "kLeftElbow"),
        ("observation.state", "kRightElbow"),
        ("action", "kLeftElbow"),
        ("action", "kRightElbow"),
    ]
    assert tree.search.text() == "elbow"
