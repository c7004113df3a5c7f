"""Time-axis ticks at round steps (1, 2, 5 × 10ⁿ s), so a timeline reads like a ruler.

Qt-free: the timeline strip draws what ``time_ticks`` returns and labels each tick with
``tick_label``, which prints just enough decimals for the step (0.25 s steps need two).
"""

from __future__ import annotations

import math


def nice_step(span_s: float, max_ticks: int) -> float:
    """The smallest 1/2/5 × 10ⁿ step that puts at most ``max_ticks`` ticks on ``span_s``."""
    if span_s <= 0 or max_ticks < 1:
        return 1.0
    raw = span_s / max_ticks
    magnitude = 10.0 ** math.floor(math.log10(raw))  # float: int ** int may be a float
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude


def time_ticks(t0_s: float, t1_s: float, max_ticks: int) -> tuple[float, list[float]]:
    """(step, tick times) of round times within ``[t0_s, t1_s]``."""
    step = nice_step(t1_s - t0_s, max_ticks)
    first = math.ceil(t0_s / step - 1e-9)
    last = math.floor(t1_s / step + 1e-9)
    return step, [round(k * step, 9) for k in range(first, last + 1)]


def tick_label(t_s: float, step: float) -> str:
    """ "12 s" on whole-second steps, "0.5 s" / "0.05 s" on finer ones (decimals from the step)."""
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    return f"{t_s:.{decimals}f} s"
