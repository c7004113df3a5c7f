"""Playhead rules: the frame a step lands on, loop wrap, J/K/L speeds, the ends."""

from __future__ import annotations

import numpy as np

from robotrace_desktop.core.playback import Playback

MS = 1_000_000
FRAMES = np.array([0, 33 * MS, 66 * MS, 100 * MS, 133 * MS], dtype=np.int64)


def test_step_frame_forward_and_back_lands_on_frame_starts() -> None:
    p = Playback(duration_ns=200 * MS, t_ns=40 * MS)
    assert p.step_frame(FRAMES, +1) == 66 * MS
    assert p.step_frame(FRAMES, -1) == 33 * MS
    assert p.step_frame(FRAMES, -1) == 0
    assert p.step_frame(FRAMES, -1) == 0
    p.seek(50 * MS)  # inside frame 1: back goes to its start first
    assert p.step_frame(FRAMES, -1) == 33 * MS
    p.seek(190 * MS)
    assert p.step_frame(FRAMES, +1) == 133 * MS  # last frame stays


def test_play_stops_at_the_end_and_restarts_from_zero() -> None:
    p = Playback(duration_ns=1000 * MS)
    p.toggle()
    assert p.advance(600 * MS) == 600 * MS
    assert p.advance(600 * MS) == 1000 * MS and not p.playing
    p.toggle()
    assert p.t_ns == 0 and p.playing


def test_loop_wraps_inside_the_range() -> None:
    p = Playback(duration_ns=10_000 * MS, t_ns=0)
    p.set_loop(2000 * MS, 3000 * MS)
    p.toggle()
    assert p.t_ns == 2000 * MS
    assert p.advance(1500 * MS) == 2500 * MS
    assert p.playing


def test_jkl_speeds() -> None:
    p = Playback(duration_ns=10_000 * MS, t_ns=5000 * MS)
    p.forward()
    assert (p.playing, p.speed) == (True, 1.0)
    p.forward()
    p.forward()
    assert p.speed == 4.0
    p.backward()
    assert p.speed == -1.0
    assert p.advance(1000 * MS) == 4000 * MS
    p.set_speed(0.01)
    assert p.speed == 0.1
    p.set_speed(100)
    assert p.speed == 8.0
