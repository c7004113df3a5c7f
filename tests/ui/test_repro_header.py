"""The reproducibility header on the demo (complete) and a real LeRobot episode (incomplete):
missing fields are a quiet grey badge with the ``tag`` command in its tooltip, and the neutral
index status never contradicts the coloured outcome."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.episode import EpisodeInfo, Outcome, Status
from robotrace_desktop.library.scanner import scan
from robotrace_desktop.ui.qimage import qimage_to_rgb
from robotrace_desktop.ui.repro_header import NEUTRAL, OUTCOME_COLORS, ReproHeader
from tests.demo_cache import demo_copy

RED = OUTCOME_COLORS[Outcome.FAILURE]
GREEN = OUTCOME_COLORS[Outcome.SUCCESS]

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


def color_pixels(rgb: np.ndarray, color: str) -> int:
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    target = tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))
    return int(
        ((abs(r - target[0]) < 12) & (abs(g - target[1]) < 12) & (abs(b - target[2]) < 12)).sum()
    )


def red_pixels(rgb: np.ndarray) -> int:
    return color_pixels(rgb, RED)


def crop(rgb: np.ndarray, widget) -> np.ndarray:  # type: ignore[no-untyped-def]
    g = widget.geometry()
    return rgb[g.top() : g.bottom() + 1, g.left() : g.right() + 1]


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
    assert header.status.text() == "recording: failed"
    assert header.outcome.text() == "outcome: failure"
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
    # Red appears only in the outcome chip: no badge anywhere.
    chip = header.outcome.geometry()
    assert 0 < red_pixels(rgb) <= chip.width() * chip.height()
    assert red_pixels(crop(rgb, header.outcome)) == red_pixels(rgb)


def test_missing_fields_show_the_badge(qtbot, catalog: Catalog, shared_data: Path) -> None:
    info = lerobot_info(catalog, shared_data)
    header = ReproHeader(info)
    qtbot.addWidget(header)
    header.resize(1100, header.sizeHint().height())
    header.show()
    qtbot.waitExposed(header)
    assert header.badge_shown()
    assert header.badge.full_text() == "not reproducible: 4 fields missing"
    tip = header.badge.toolTip()
    assert "Missing: policy_version, env_version, git_sha, seed." in tip
    assert (
        f"robotrace-desktop tag {info.id} --policy-version VERSION --env-version VERSION"
        " --git-sha SHA --seed N"
    ) in tip
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
    assert red_pixels(rgb) == 0  # a third-party bag without the fields is not an alarm
    badge = crop(rgb, header.badge)
    assert badge.mean() > 200  # a light grey badge with dark text, not a solid colour
    # index status "ready" is neutral, never the green of a successful outcome
    assert header.status.text() == "index: ready"
    assert color_pixels(crop(rgb, header.status), NEUTRAL) > 0
    assert color_pixels(rgb, GREEN) == 0


def test_ready_status_beside_a_failure_outcome_is_not_green(
    qtbot, catalog: Catalog, shared_data: Path
) -> None:
    info = lerobot_info(catalog, shared_data)
    info.outcome = Outcome.FAILURE
    header = ReproHeader(info)
    qtbot.addWidget(header)
    header.resize(1100, header.sizeHint().height())
    header.show()
    qtbot.waitExposed(header)
    rgb = save_shot(header, "repro_header_ready_failure.png")
    assert header.status.text() == "index: ready" and header.outcome.text() == "outcome: failure"
    assert color_pixels(rgb, GREEN) == 0
    assert color_pixels(crop(rgb, header.status), NEUTRAL) > 0
    assert red_pixels(crop(rgb, header.outcome)) > 0
    assert red_pixels(rgb) == red_pixels(crop(rgb, header.outcome))


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
    # literal: the name's text (whole, or elided beside the wider chips) is the raw markup
    qtbot.waitUntil(
        lambda: (
            bool(header.name.text()) and complete.name.startswith(header.name.text().rstrip("…"))
        ),
        timeout=2000,
    )
    assert header.name.full_text() == complete.name
    assert not header.badge_shown() and header.status.text() == "file missing"
    assert header.name.textFormat() == Qt.TextFormat.PlainText
    save_shot(header, "repro_header_narrow.png")
    assert header.fields["failure_reason"].value.toolTip() == complete.metadata["failure_reason"]
    assert header.copy_field("failure_reason") == complete.metadata["failure_reason"]
    assert QGuiApplication.clipboard().text() == complete.metadata["failure_reason"]


def _left() -> Qt.MouseButton:
    return Qt.MouseButton.LeftButton
