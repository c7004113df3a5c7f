"""The rules behind LeRobot streams: channel names, the frame grid, outcomes, clip bounds."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from robotrace_desktop.core.episode import Outcome
from robotrace_desktop.readers.lerobot.features import (
    duration_ns,
    first_frame_at_or_after,
    flatten_names,
    fps_fraction,
    frame_time_ns,
    frame_times_ns,
    outcome_from_stats,
    parse_feature,
    video_details,
)
from robotrace_desktop.readers.lerobot.meta import VideoRef
from robotrace_desktop.readers.lerobot.video import clip_bounds, snap_to_grid


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["a", "b"], ("a", "b")),
        ([["a", "b"]], ("a", "b")),
        ({"motors": ["a", "b"]}, ("a", "b")),
        ({"arm": ["a"], "gripper": ["g"]}, ("a", "g")),
        (None, None),
        ([], None),
    ],
)
def test_flatten_names(names: object, expected: tuple[str, ...] | None) -> None:
    assert flatten_names(names) == expected


def test_channels_fall_back_to_indexed_names() -> None:
    feature, _ = parse_feature("action", {"dtype": "float32", "shape": [3], "names": ["x", "y"]})
    assert feature is not None
    assert feature.channels() == ("action[0]", "action[1]", "action[2]")  # 2 names for 3 values
    scalar, _ = parse_feature("next.reward", {"dtype": "float32", "shape": [1], "names": None})
    assert scalar is not None and scalar.channels() == ("next.reward",)
    grid, _ = parse_feature("obs.grid", {"dtype": "float64", "shape": [2, 2]})
    assert grid is not None and grid.channels() == tuple(f"obs.grid[{i}]" for i in range(4))
    assert not parse_feature("index", {"dtype": "int64", "shape": [1]})[0].is_signal  # type: ignore[union-attr]


def test_features_that_cannot_be_used() -> None:
    assert parse_feature("a", {"dtype": "float32"}) == (
        None,
        "feature 'a' has no shape (and no names to infer it from)",
    )
    inferred, _ = parse_feature("a", {"dtype": "float32", "names": ["p", "q"]})
    assert inferred is not None and inferred.shape == (2,)
    assert parse_feature("a", {"shape": [1]})[1] == "feature 'a' has no dtype"
    assert parse_feature("a", [1, 2])[1] == "feature 'a' is not an object"
    assert "invalid shape" in str(parse_feature("a", {"dtype": "float32", "shape": "x"})[1])


def test_video_details_from_shape_when_info_is_missing() -> None:
    feature, _ = parse_feature(
        "cam", {"dtype": "video", "shape": [3, 96, 128], "names": ["channel", "height", "width"]}
    )
    assert feature is not None
    details = video_details(feature, 15)
    assert (details["width"], details["height"], details["fps"]) == (128, 96, 15)


def test_frame_grid_is_exact_and_consistent() -> None:
    fps = fps_fraction(30)
    assert [frame_time_ns(i, fps) for i in range(4)] == [0, 33_333_333, 66_666_667, 100_000_000]
    assert duration_ns(393, fps) == 13_100_000_000
    ntsc = fps_fraction(29.97)
    assert ntsc == Fraction(2997, 100)
    indices = np.arange(0, 200_000, 7)
    np.testing.assert_array_equal(
        frame_times_ns(indices, ntsc), [frame_time_ns(int(i), ntsc) for i in indices]
    )
    for fps_value in (fps, ntsc, fps_fraction(10)):
        for i in (0, 1, 2, 29, 30, 31, 1234):
            t = frame_time_ns(i, fps_value)
            assert first_frame_at_or_after(t, fps_value) == i
            assert first_frame_at_or_after(t + 1, fps_value) == i + 1
            assert first_frame_at_or_after(t - 1, fps_value) == i
    assert first_frame_at_or_after(-5, fps) == 0
    with pytest.raises(ValueError):
        fps_fraction(0)


@pytest.mark.parametrize(
    ("stats", "outcome"),
    [
        ({"next.success": {"max": [True]}}, Outcome.SUCCESS),
        ({"next.success": {"max": [0.0]}}, Outcome.FAILURE),
        ({"next.success": {"max": False}}, Outcome.FAILURE),
        ({"next.done": {"max": [True]}, "next.reward": {"max": [1.0]}}, Outcome.SUCCESS),
        ({"next.done": {"max": [True]}, "next.reward": {"max": [0.0]}}, Outcome.FAILURE),
        ({"next.done": {"max": [False]}, "next.reward": {"max": [3.0]}}, Outcome.UNKNOWN),
        ({"next.reward": {"max": [1.0]}}, Outcome.UNKNOWN),
        ({"next.success": {"min": [0]}}, Outcome.UNKNOWN),
        ({}, Outcome.UNKNOWN),
    ],
)
def test_outcome_from_stats(stats: dict, outcome: Outcome) -> None:
    assert outcome_from_stats(stats) is outcome


def test_snap_to_grid() -> None:
    fps = fps_fraction(30)
    grid = frame_times_ns(np.arange(5), fps)
    np.testing.assert_array_equal(snap_to_grid(grid + np.array([0, -1, 1, 2, -2]), fps), grid)
    jittery = np.array([0, 20_000_000, 66_666_667])  # 20 ms is far from the grid: kept
    np.testing.assert_array_equal(snap_to_grid(jittery, fps), jittery)


def test_clip_bounds() -> None:
    fps = fps_fraction(10)
    assert clip_bounds(VideoRef("a.mp4"), fps) == (0, None, 0)
    start, end, offset = clip_bounds(VideoRef("a.mp4", 1.4, 2.1), fps)
    assert (start, end, offset) == (1_350_000_000, 2_050_000_000, -50_000_000)
    # a frame at pts 1.4 s gets episode time pts - start + offset == 0
    assert 1_400_000_000 - start + offset == 0
    assert clip_bounds(VideoRef("a.mp4", 0.0, 0.6), fps) == (0, 550_000_000, 0)
