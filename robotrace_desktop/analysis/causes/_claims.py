"""What a held message says about itself: a message frozen bit for bit whose own velocity
fields hold a speed.

An estimate (odometry, a pose with its twist) that stands still because the robot stands still
reports zero velocity while its position holds. One that repeats, sample after sample, a speed
well away from zero while none of its positions change contradicts itself: those are stale
copies of one message, not a robot at rest — evidence for a stall even where no command stream
can say the robot was told to move.
"""

from __future__ import annotations

import numpy as np

from robotrace_desktop.analysis.causes._series import field_of
from robotrace_desktop.analysis.data import Signal

#: a held speed counts when it is at least this share of the channel's own 1-99 % range
SPEED_SHARE = 0.1


def is_speed(stream: str, channel: str) -> bool:
    """A velocity field: named so (``velocity/j``, ``linear_velocity``) or a twist's part."""
    return field_of(stream, channel) == "velocity" or "twist" in channel.lower()


def held_speeds(signal: Signal, row: int) -> list[str]:
    """The velocity channels whose value at ``row`` (the start of a freeze of the whole
    message) is a speed — well away from zero for that channel — with the channels that
    are positions in the same message (so a held position says it did not move)."""
    speeds = [k for k, c in enumerate(signal.channels) if is_speed(signal.stream, c)]
    if not speeds or len(speeds) == len(signal.channels):
        return []
    found = []
    for k in speeds:
        column = signal.values[:, k]
        finite = column[np.isfinite(column)]
        if finite.size < 10:
            continue
        lo, hi = np.percentile(finite, [1.0, 99.0])
        held = float(column[row])
        if hi > lo and np.isfinite(held) and abs(held) >= SPEED_SHARE * (hi - lo):
            found.append(f"{signal.channels[k]} = {held:.3g}")
    return found
