"""Playback arithmetic: where the playhead goes on play, step, jump and loop. Qt-free, so the
rules (frame stepping per camera, J/K/L speeds, loop wrap) are tested without a display."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robotrace_desktop.core.timebase import NS_PER_S

SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass(slots=True)
class Playback:
    duration_ns: int
    t_ns: int = 0
    speed: float = 1.0  # negative: playing backwards (J)
    playing: bool = False
    loop: tuple[int, int] | None = None

    def clamp(self, t_ns: int) -> int:
        return int(min(max(t_ns, 0), max(self.duration_ns, 0)))

    def seek(self, t_ns: int) -> int:
        self.t_ns = self.clamp(t_ns)
        return self.t_ns

    def advance(self, wall_ns: int) -> int:
        """Move by ``wall_ns`` of real time at the current speed; wraps in a loop, stops at
        the ends otherwise."""
        if not self.playing:
            return self.t_ns
        target = self.t_ns + round(wall_ns * self.speed)
        lo, hi = self.loop if self.loop else (0, self.duration_ns)
        if self.loop and hi > lo:
            span = hi - lo
            if target >= hi or target < lo:
                target = lo + (target - lo) % span
        elif target >= hi or target <= lo:
            target = min(max(target, lo), hi)
            self.playing = False
        self.t_ns = self.clamp(target)
        return self.t_ns

    def step_frame(self, frame_times_ns: np.ndarray, direction: int) -> int:
        """To the start of the next (+1) or previous (-1) frame of one camera."""
        times = frame_times_ns
        if len(times) == 0:
            return self.t_ns
        current = int(np.searchsorted(times, self.t_ns, side="right")) - 1
        if direction > 0:
            index = min(current + 1, len(times) - 1)
        else:
            # on a frame's first instant: go to the previous frame; inside a frame: to its start
            on_start = current >= 0 and times[current] == self.t_ns
            index = max(current - 1 if on_start or current < 0 else current, 0)
        return self.seek(int(times[index]))

    def step_seconds(self, seconds: float) -> int:
        return self.seek(self.t_ns + round(seconds * NS_PER_S))

    def set_speed(self, speed: float) -> float:
        magnitude = min(max(abs(speed), SPEEDS[0]), SPEEDS[-1])
        self.speed = magnitude if speed >= 0 else -magnitude
        return self.speed

    def forward(self) -> None:
        """L: play forward; pressed again while playing forward, faster."""
        if self.playing and self.speed > 0:
            self.set_speed(_next_speed(self.speed))
        else:
            self.set_speed(1.0)
        self._start()

    def backward(self) -> None:
        """J: play backwards; pressed again while playing backwards, faster."""
        if self.playing and self.speed < 0:
            self.set_speed(-_next_speed(-self.speed))
        else:
            self.set_speed(-1.0)
        self._start()

    def toggle(self) -> bool:
        if self.playing:
            self.playing = False
        else:
            self.speed = abs(self.speed)
            self._start()
        return self.playing

    def _start(self) -> None:
        at_end = self.t_ns >= self.duration_ns and self.speed > 0 and not self.loop
        if at_end:
            self.t_ns = 0
        if self.loop and not (self.loop[0] <= self.t_ns < self.loop[1]):
            self.t_ns = self.loop[0]
        self.playing = self.duration_ns > 0

    def set_loop(self, start_ns: int, end_ns: int) -> None:
        start, end = sorted((self.clamp(start_ns), self.clamp(end_ns)))
        self.loop = (start, end) if end > start else None


def _next_speed(speed: float) -> float:
    for candidate in SPEEDS:
        if candidate > speed + 1e-9:
            return candidate
    return SPEEDS[-1]
