"""A joint stopped dead from speed decelerates within a sample or two, so its velocity shows a
spike right at the stop: ranked, the stop is the cause and the spike its impact — while a
spike in the joint's *position* (which cannot jump at a stop) stays a sensor glitch."""

from __future__ import annotations

from robotrace_desktop.analysis.finding import Finding
from robotrace_desktop.analysis.ranking import rank

NS = 1_000_000_000


def _finding(cause: str, channel: str, t_s: float, confidence: float) -> Finding:
    return Finding(
        cause=cause,
        title=cause,
        explanation=cause,
        confidence=confidence,
        severity="high",
        t_start_ns=int(t_s * NS),
        t_end_ns=int(t_s * NS) + NS,
        channels=[channel],
        evidence={},
        next_step="",
    )


def _ranked(spike_channel: str, spike_s: float) -> list[str]:
    stop = _finding("hard_stop", "/joint_states/position/joint_a3", 1.87, 0.75)
    spike = _finding("sensor_spike", spike_channel, spike_s, 0.9)
    return [f.cause for f in rank([spike, stop])]


def test_a_velocity_spike_at_a_hard_stop_is_the_stops_impact() -> None:
    assert _ranked("/joint_states/velocity/joint_a3", 1.77) == ["hard_stop", "sensor_spike"]


def test_a_position_spike_or_a_spike_well_away_from_the_stop_stays_first() -> None:
    assert _ranked("/joint_states/position/joint_a3", 1.77)[0] == "sensor_spike"
    assert _ranked("/joint_states/velocity/joint_a3", 3.5)[0] == "sensor_spike"
    assert _ranked("/joint_states/velocity/joint_a5", 1.77)[0] == "sensor_spike"
