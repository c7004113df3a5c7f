"""Names, notes, tags and channel names come from recordings and users: Qt renders any label or
tooltip that looks like HTML as rich text, so an unescaped ``<u>PWN`` would be underlined (and an
``<img src=…>`` would load a local file). Every text the window shows must display such a string
literally. The check is generic: walk every widget, label, tooltip, text view and item-view cell
of the opened windows and render each text the way Qt would."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QAbstractItemModel, QModelIndex, Qt
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QGraphicsTextItem,
    QGraphicsView,
    QGroupBox,
    QLabel,
    QMenu,
    QTabBar,
    QTextEdit,
    QWidget,
)

import robotrace_desktop as rt
from robotrace_desktop.catalog.bookmarks import add_bookmark
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.ui.episode_view import EpisodeView
from robotrace_desktop.ui.main_window import MainWindow
from robotrace_desktop.verify.run import run_verify
from robotrace_desktop.verify.spec import Selector, VerifySpec

MARK = "PWN"
TAG = f"<u>{MARK}"  # no "/": channel and column names may not hold one
TAIL = '> & "q" {joint}'  # "&" is a mnemonic in tabs and menus; "{…}" a str.format field
HOSTILE = f'{TAG}</u><img src="/etc/hostname{TAIL}'
S = 1_000_000_000


def _rendered(text: str, rich: bool) -> str:
    """What a user reads: rich text goes through Qt's HTML parser, plain text stays as is."""
    if not rich:
        return text
    doc = QTextDocument()
    doc.setHtml(text)
    return doc.toPlainText()


def _auto_rich(text: str) -> bool:
    return bool(GuiQt.mightBeRichText(text))


def _label_rich(label: QLabel) -> bool:
    fmt = label.textFormat()
    if fmt == Qt.TextFormat.RichText:
        return True
    if fmt == Qt.TextFormat.PlainText:
        return False
    return _auto_rich(label.text())


def _without_mnemonics(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def _shown_texts(root: QWidget) -> list[tuple[str, str, bool]]:
    """(where, raw text, rendered as rich?) for everything ``root`` and its children show."""
    found: list[tuple[str, str, bool]] = []
    widgets = [root, *root.findChildren(QWidget)]
    for widget in widgets:
        where = f"{type(widget).__name__}({widget.objectName()})"
        if widget.toolTip():
            found.append((f"{where}.toolTip", widget.toolTip(), _auto_rich(widget.toolTip())))
        if isinstance(widget, QLabel) and widget.text():
            found.append((f"{where}.text", widget.text(), _label_rich(widget)))
        if isinstance(widget, QAbstractButton) and widget.text():
            found.append((f"{where}.text", widget.text(), False))
        if isinstance(widget, QTextEdit):
            found.append((f"{where}.document", widget.toHtml(), True))
        if isinstance(widget, QAbstractItemView) and widget.model() is not None:
            found += _model_texts(where, widget.model(), QModelIndex())
        if isinstance(widget, QTabBar):
            for i in range(widget.count()):
                found.append((f"{where}.tab[{i}]", _without_mnemonics(widget.tabText(i)), False))
        if isinstance(widget, QGroupBox) and widget.title():
            found.append((f"{where}.title", _without_mnemonics(widget.title()), False))
        if isinstance(widget, QMenu):
            for action in widget.actions():
                found.append((f"{where}.action", _without_mnemonics(action.text()), False))
        if isinstance(widget, QGraphicsView) and widget.scene() is not None:
            # pyqtgraph axis labels, titles and line labels are QGraphicsTextItems
            for item in widget.scene().items():
                if isinstance(item, QGraphicsTextItem):
                    found.append((f"{where}.scene.text", item.toHtml(), True))
    return found


def _model_texts(
    where: str, model: QAbstractItemModel, parent: QModelIndex, depth: int = 0
) -> list[tuple[str, str, bool]]:
    found: list[tuple[str, str, bool]] = []
    try:
        columns = model.columnCount(parent)
    except TypeError:  # list models keep columnCount private: one column
        columns = 1
    for column in range(columns):
        header = model.headerData(column, Qt.Orientation.Horizontal)
        if isinstance(header, str):
            found.append((f"{where}.header[{column}]", header, False))
    for row in range(min(model.rowCount(parent), 200)):
        for column in range(columns):
            index = model.index(row, column, parent)
            display = model.data(index, Qt.ItemDataRole.DisplayRole)
            if isinstance(display, str):  # item views paint DisplayRole as plain text
                found.append((f"{where}[{row},{column}]", display, False))
            tip = model.data(index, Qt.ItemDataRole.ToolTipRole)
            if isinstance(tip, str) and tip:
                found.append((f"{where}[{row},{column}].toolTip", tip, _auto_rich(tip)))
        first = model.index(row, 0, parent)
        if depth < 4 and columns > 1 and model.rowCount(first) > 0:
            found += _model_texts(where, model, first, depth + 1)
    return found


def _injected(texts: list[tuple[str, str, bool]]) -> list[str]:
    """Texts where the hostile markup was interpreted instead of shown."""
    bad = []
    for where, raw, rich in texts:
        shown = _rendered(raw, rich)
        mangled = "/etc/hostname" in shown and TAIL not in shown
        if (MARK in shown and TAG not in shown) or mangled:
            bad.append(f"{where}: {raw[:160]!r}")
    return bad


def _log_hostile(client: rt.Client, policy: str, success: bool) -> str:
    t = np.arange(200, dtype=np.int64) * (S // 50)
    position = np.sin(t / S)
    position[120:] = 1.0  # a long flat top: something for Explain to find
    episode = client.log_episode(
        name=f"run {HOSTILE}",
        robot=f"arm {HOSTILE}",
        policy_version=f"{policy} {HOSTILE}",
        env_version=f"env {HOSTILE}",
        git_sha="0123456789abcdef0123456789abcdef01234567",
        seed=7,
        task=f"pick {HOSTILE}",
        success=success,
        sensors={f"joints {TAG}": {"t_ns": t, f"q {TAG}": position, "v": np.cos(t / S)}},
        actions={f"cmd {TAG}": {"t_ns": t, f"u {TAG}": position * 2.0}},
        metadata={"operator": HOSTILE, "failure_reason": f"gripper {HOSTILE}"},
    )
    return episode.id


@pytest.fixture()
def hostile_episode(tmp_path: Path) -> tuple[Path, str]:
    """A failed run whose every free-text field, stream and channel name is hostile, with a
    hostile tag and a hostile bookmark note."""
    catalog_path = tmp_path / "catalog.sqlite"
    client = rt.Client(library=tmp_path / "library", catalog=catalog_path)
    episode_id = _log_hostile(client, "v1", success=False)
    with Catalog(catalog_path) as catalog:
        catalog.add_tags([episode_id], [f"label {HOSTILE}"])
        add_bookmark(catalog, episode_id, 2 * S, note=f"look here {HOSTILE}")
    return catalog_path, episode_id


def test_hostile_strings_are_shown_literally_everywhere(
    qtbot, hostile_episode: tuple[Path, str], tmp_path: Path
) -> None:
    catalog_path, episode_id = hostile_episode
    window = MainWindow(catalog_path)
    qtbot.addWidget(window)
    window.resize(1500, 950)
    window.show()
    browser_texts = _shown_texts(window.browser)
    # the hostile name really reached the browser (the check would be empty otherwise)
    assert any(MARK in raw for _, raw, _ in browser_texts)

    view = window.open_episode(episode_id, 2 * S)
    assert isinstance(view, EpisodeView)
    qtbot.waitUntil(view.settled, timeout=20_000)
    QApplication.processEvents()
    view_texts = _shown_texts(window)
    # names of streams/channels, the bookmark note and the failure reason are all on screen
    shown = "\n".join(_rendered(raw, rich) for _, raw, rich in view_texts)
    for literal in (f"joints {TAG}", f"look here {TAG}", f"pick {TAG}"):
        assert literal in shown, literal
    window.grab().save(str(tmp_path / "hostile.png"))
    assert _injected(browser_texts + view_texts) == []


def test_hostile_versions_in_the_regression_panel_and_comparison(
    qtbot, hostile_episode: tuple[Path, str], tmp_path: Path
) -> None:
    catalog_path, baseline_id = hostile_episode
    client = rt.Client(library=tmp_path / "library", catalog=catalog_path)
    candidate_id = _log_hostile(client, "v2", success=True)
    spec = VerifySpec(
        baseline=Selector.parse(f"v1 {HOSTILE}"),
        candidate=Selector.parse(f"v2 {HOSTILE}"),
        workers=1,
    )
    result = run_verify(catalog_path, spec)
    assert len(result.pairs) == 1
    window = MainWindow(catalog_path)
    qtbot.addWidget(window)
    window.resize(1500, 950)
    window.show()
    panel = window.open_regression()
    panel.show_result(result)
    panel_texts = _shown_texts(panel)
    assert any(MARK in raw for _, raw, _ in panel_texts)
    view = window.open_comparison(baseline_id, candidate_id)
    assert view is not None
    qtbot.waitUntil(lambda: not view.plots.is_loading(), timeout=20_000)
    QApplication.processEvents()
    view_texts = _shown_texts(view)
    assert any(MARK in raw for _, raw, _ in view_texts)
    window.grab().save(str(tmp_path / "hostile_comparison.png"))
    assert _injected(panel_texts + view_texts + _shown_texts(window.tabs.tabBar())) == []
