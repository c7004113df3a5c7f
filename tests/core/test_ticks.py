"""Round time ticks for the timeline ruler."""

from __future__ import annotations

import pytest

from robotrace_desktop.core.ticks import nice_step, tick_label, time_ticks


@pytest.mark.parametrize(
    ("span", "most", "step"),
    [(12.0, 10, 2.0), (119.5, 12, 10.0), (17.78, 8, 5.0), (0.9, 6, 0.2), (2.0, 8, 0.5)],
)
def test_steps_are_1_2_5_and_fit(span: float, most: int, step: float) -> None:
    assert nice_step(span, most) == pytest.approx(step)
    _, ticks = time_ticks(0.0, span, most)
    assert len(ticks) <= most + 1 and ticks[0] == 0.0 and ticks[-1] <= span


def test_labels_have_the_decimals_the_step_needs() -> None:
    step, ticks = time_ticks(0.0, 2.0, 8)
    assert [tick_label(t, step) for t in ticks] == ["0.0 s", "0.5 s", "1.0 s", "1.5 s", "2.0 s"]
    step, ticks = time_ticks(0.0, 119.5, 12)
    assert tick_label(ticks[-1], step) == "110 s"
    assert tick_label(0.05, 0.05) == "0.05 s"
    assert time_ticks(3.2, 7.9, 5)[1] == [4.0, 5.0, 6.0, 7.0]
