"""``open EPISODE --t TIME --screenshot OUT.png`` in a fresh process: the whole window rendered
offscreen at that moment, checked by pixels."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from robotrace_desktop.catalog.scanner import scan
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.ui.timeline import TimelineStrip
from robotrace_desktop.video.images import decode_image_bytes
from tests.demo_cache import demo_copy


def test_screenshot_renders_the_moment_offscreen(tmp_path: Path) -> None:
    bundle = demo_copy(tmp_path / "demo")
    catalog = tmp_path / "catalog.sqlite"
    with Catalog(catalog) as c:
        scan(c, [bundle])
        episode = c.list_episodes()[0].id
    out = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "ROBOTRACE_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "robotrace_desktop", "--catalog", str(catalog), "open",
         f"robotrace://episode/{episode}?t=3900ms", "--screenshot", str(out),
         "--size", "1600x1000"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "not every pane settled" not in result.stderr
    image = decode_image_bytes(out.read_bytes())
    assert image.shape == (1000, 1600, 3)
    # the timeline strip's playhead (orange) stands at 3.9 s of 12 s, near the bottom
    orange = np.array(TimelineStrip.PLAYHEAD.getRgb()[:3])
    hits = np.argwhere(np.abs(image[850:].astype(int) - orange).sum(axis=2) < 30)
    assert len(hits) > 20
    expected_x = 6 + 6 + (1600 - 12 - 12) * 3.9 / 12  # strip margins inside the transport bar
    assert abs(np.median(hits[:, 1]) - expected_x) < 12
    # the cameras rendered real frames: the top half is far from a flat colour
    assert image[100:500].std() > 20
