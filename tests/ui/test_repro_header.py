"""The reproducibility header on the demo (complete) and a real LeRobot episode (incomplete)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from robotrace_desktop.catalog.scanner import scan
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.episode import EpisodeInfo, Status
from robotrace_desktop.ui.qimage import qimage_to_rgb
from robotrace_desktop.ui.repro_header import BADGE_RED, ReproHeader
from tests.demo_cache import demo_copy

# Screenshots land here so a person can look at them after a run.
SHOTS = Path(os.environ.get("ROBOTRACE_SHOT_DIR", tempfile.gettempdir())) / "robotrace_shots"


@pytest.fixture(scope="module")
def demo_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_copy(tmp_path_factory.mktemp("demo") / "bundle")


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    with Catalog(tmp_path / "c.sqlite") as cat:
        yield cat


def demo_info(catalog: Catalog, bundle: Path) -> EpisodeInfo:
    scan(catalog, [bundle])
    return catalog.get(catalog.list_episodes()[0].id)


def lerobot_info(catalog: Catalog, shared_data: Path) -> EpisodeInfo:
    dataset = shared_data / "lerobot" / "g1_pick_bottle_v21"
    scan(catalog, [dataset])
    info = catalog.find(str(dataset.resolve()), 1)
    assert info is not None
    return info


def red_pixels(rgb: np.ndarray) -> int:
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    target = tuple(int(BADGE_RED[i : i + 2], 16) for i in (1, 3, 5))
    return int(
        ((abs(r - target[0]) < 12) & (abs(g - target[1]) < 12) & (abs(b - target[2]) < 12)).sum()
    )


def save_shot(widget: ReproHeader, name: str) -> np.ndarray:
    SHOTS.mkdir(parents=True, exist_ok=True)
    image = widget.grab().toImage()
    image.save(str(SHOTS / name))
    return qimage_to_rgb(image)


def test_complete_demo_episode_has_no_badge(qtbot, catalog: Catalog, demo_bundle: Path) -> None:
    info = demo_info(catalog, demo_bundle)
    header = ReproHeader(info)
    qtbot.addWidget(header)
    header.resize(1100, header.sizeHint().height())
    header.show()
    qtbot.waitExposed(header)
    assert not header.badge_shown()
    assert header.displayed("policy_version") == "pick-v0.3.1"
    assert header.displayed("env_version") == "tabletop-v2"
    assert header.displayed("seed") == "7"
    assert header.displayed("robot") == "demo-arm-7dof" and header.displayed("source") == "sim"
    assert header.status.text() == "failed" and header.outcome.text() == "failure"
    assert header.name.full_text() == info.name
    assert info.git_sha is not None and header.displayed("git_sha") == info.git_sha[:10]
    qtbot.mouseClick(header.fields["git_sha"].copy_button, _left())
    assert QGuiApplication.clipboard().text() == info.git_sha  # the full sha, not the short one
    reason = header.fields["failure_reason"]
    assert reason.isVisible() and reason.value.toolTip() == info.metadata["failure_reason"]
    text = header.copy_all()
    assert QGuiApplication.clipboard().text() == text
    assert f"git_sha: {info.git_sha}" in text.splitlines()
    assert "seed: 7" in text.splitlines() and "not reproducible" not in text
    rgb = save_shot(header, "repro_header_complete.png")
    # Red appears only in the "failed" / "failure" chips: no badge anywhere.
    chips = [header.status.geometry(), header.outcome.geometry()]
    assert 0 < red_pixels(rgb) <= sum(g.width() * g.height() for g in chips)
    assert red_pixels(rgb[:, : header.kind.geometry().left()]) == 0


def test_missing_fields_show_the_badge(qtbot, catalog: Catalog, shared_data: Path) -> None:
    info = lerobot_info(catalog, shared_data)
    header = ReproHeader(info)
    qtbot.addWidget(header)
    header.resize(1100, header.sizeHint().height())
    header.show()
    qtbot.waitExposed(header)
    assert header.badge_shown()
    assert header.badge.full_text() == (
        "NOT REPRODUCIBLE — missing policy_version, env_version, git_sha, seed"
    )
    for key in ("policy_version", "env_version", "git_sha", "seed"):
        assert header.displayed(key) == "—"
        assert header.fields[key].copy_button.isHidden()  # nothing to copy
    assert header.displayed("robot") == "Unitree_G1_Inspire"
    assert not header.fields["failure_reason"].isVisible()  # the dataset gives no reason
    text = header.as_text()
    assert "seed: —" in text.splitlines()
    assert text.splitlines()[-1] == (
        "not reproducible: missing policy_version, env_version, git_sha, seed"
    )
    rgb = save_shot(header, "repro_header_missing.png")
    badge = header.badge.geometry()
    crop = rgb[badge.top() : badge.bottom(), badge.left() : badge.right()]
    assert red_pixels(crop) > 0.5 * crop.shape[0] * crop.shape[1]  # a solid red badge


def test_set_info_switches_states_and_elides_a_long_reason(
    qtbot, catalog: Catalog, demo_bundle: Path, shared_data: Path
) -> None:
    complete = demo_info(catalog, demo_bundle)
    header = ReproHeader(complete)
    qtbot.addWidget(header)
    header.show()
    header.set_info(lerobot_info(catalog, shared_data))
    assert header.badge_shown()
    complete.name = "<b>run</b> <img src='x'>"  # a name from a file is shown literally
    complete.metadata["failure_reason"] = "Timeout: " + "very long explanation " * 40
    complete.status = Status.MISSING
    header.set_info(complete)
    header.layout().activate()
    assert header.minimumSizeHint().width() < 640  # long values elide; the window stays narrow
    header.resize(640, header.heightForWidth(640))
    qtbot.waitUntil(lambda: header.width() == 640, timeout=2000)
    robot, policy = header.fields["robot"].geometry(), header.fields["policy_version"].geometry()
    assert robot.top() > policy.top() and robot.bottom() < header.height()  # wrapped, not cut
    qtbot.waitUntil(lambda: header.displayed("failure_reason").endswith("…"), timeout=2000)
    qtbot.waitUntil(lambda: header.name.text() == complete.name, timeout=2000)
    assert not header.badge_shown() and header.status.text() == "missing"
    assert header.name.textFormat() == Qt.TextFormat.PlainText
    save_shot(header, "repro_header_narrow.png")
    assert header.fields["failure_reason"].value.toolTip() == complete.metadata["failure_reason"]
    assert header.copy_field("failure_reason") == complete.metadata["failure_reason"]
    assert QGuiApplication.clipboard().text() == complete.metadata["failure_reason"]


def _left() -> Qt.MouseButton:
    return Qt.MouseButton.LeftButton
