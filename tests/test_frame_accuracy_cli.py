"""``frame`` on the demo's H.264 cameras (B-frames) at many random times in one call: every PNG
shows the frame whose presentation interval contains its time, read back from the pixels."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.cli import main
from robotrace_desktop.demo import read_frame_number
from robotrace_desktop.video.images import decode_image_bytes
from tests.demo_cache import demo_copy


def test_frame_command_is_exact_on_both_demo_cameras(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = demo_copy(tmp_path / "demo")
    rng = random.Random(3)
    times = sorted({rng.randrange(20_000_000, 12_000_000_000) for _ in range(40)})
    times += [3_900_000_000, 3_933_333_333, 3_933_333_332]  # on and just before a boundary
    argv = ["--catalog", str(tmp_path / "c.sqlite"), "frame", str(bundle), "-o", str(tmp_path)]
    for t in times:
        argv += ["--t", f"{t}ns"]
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert not result["errors"]
    by_camera: dict[str, int] = {}
    for item in result["frames"]:
        rgb = decode_image_bytes(Path(item["path"]).read_bytes())
        assert read_frame_number(rgb) == item["frame_index"], item
        by_camera[item["camera"]] = by_camera.get(item["camera"], 0) + 1
        fps, t0 = (30, 0) if item["camera"] == "front" else (15, 20_000_000)
        grid = np.round(np.arange(400) * 1e9 / fps).astype(np.int64) + t0  # frame k's start
        expected = int(np.searchsorted(grid, item["t_ns"], side="right")) - 1
        assert item["frame_index"] == expected, item
    assert by_camera == {"front": len(times), "wrist": len(times)}


def test_demo_command_without_a_window(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ROBOTRACE_HOME", str(tmp_path))
    capsys.readouterr()
    assert main(["demo", "--no-gui"]) == 0
    out = capsys.readouterr().out
    assert "gripper closed before reaching the cube" in out
    assert "robotrace://episode/" in out and "?t=7500ms" in out
    assert (tmp_path / "library/demo/failure_frame.png").is_file()
    assert main(["demo", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {s["name"] for s in data["streams"] if s["kind"] == "video"} == {"front", "wrist"}
