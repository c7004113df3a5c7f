"""``open EPISODE --t TIME --screenshot OUT.png`` in a fresh process: the whole window rendered
offscreen at that moment, checked by pixels."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.cli import main
from robotrace_desktop.library.scanner import scan
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


def _text_bands(image: np.ndarray) -> list[tuple[int, int]]:
    """Vertical bands (first, last pixel row) of rows holding dark text."""
    dark = (image.max(axis=2) < 110).sum(axis=1) > 3
    bands, start = [], None
    for y, has_text in enumerate([*dark, False]):
        if has_text and start is None:
            start = y
        elif not has_text and start is not None:
            bands.append((start, y - 1))
            start = None
    return bands


def test_screenshot_without_an_episode_renders_the_catalog(
    qtbot, tmp_path: Path, shared_data: Path, capsys
) -> None:
    """The README's ``open --screenshot OUT.png`` with no EPISODE: the catalog window, one
    table row per episode (it used to fail with "--screenshot needs an EPISODE")."""
    catalog = tmp_path / "catalog.sqlite"
    bags = ["example.bag", "example-lz4.bag", "example-unsorted-chunks.bag", "no-messages.bag"]
    with Catalog(catalog) as c:
        scan(c, [shared_data / "ros1" / name for name in bags])
        assert len(c.list_episodes()) == len(bags)
    shots = {}
    for name, path in (("empty", tmp_path / "empty.sqlite"), ("four", catalog)):
        out = tmp_path / f"{name}.png"
        argv = ["--catalog", str(path), "open", "--screenshot", str(out), "--size", "1280x800"]
        assert main(argv) == 0
        assert capsys.readouterr().out.strip() == str(out)
        shots[name] = decode_image_bytes(out.read_bytes())
        assert shots[name].shape == (800, 1280, 3)
    empty, four = shots["empty"], shots["four"]
    # the rows are where the two windows differ (above the status bar, which names the
    # catalog file): one band of text per episode, below the filters and the table header
    table = slice(0, 800 - 40)
    changed = np.abs(four[table].astype(int) - empty[table].astype(int)).max(axis=2) > 60
    bands = _text_bands(np.where(changed[..., None], four[table], 255))
    text = [a for a, b in bands if b - a >= 5]  # lines of text, not grid lines
    assert len(text) >= len(bags), bands
    rows = np.array(text[-len(bags) :])  # the header and the count label come first
    pitch = np.diff(rows)
    assert pitch.min() > 10 and pitch.max() - pitch.min() <= 3, bands  # evenly spaced rows
