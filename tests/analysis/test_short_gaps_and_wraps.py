"""Gaps judged against each stream's own rhythm, and angles in degrees: what a user would
notice. A steady 100 Hz stream missing a tenth of a second has a gap — a confident one when
the stream's own intervals never wander far (real recordings: a simulated arm's joint states,
a turtlesim pose); a jittery stream's ordinary long intervals do not; in a stream that
ordinarily stalls for tens of milliseconds, three streams falling silent together is confident
where one alone is not; a yaw in degrees crossing ±180° is not a spike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.analysis.causes import spike, timing
from robotrace_desktop.analysis.finding import Finding
from robotrace_desktop.episodes import resolve
from tests.analysis.fakes import context, make_data, ns, streams_of

T = np.arange(0, 10, 0.01)  # 100 Hz, 10 s


def _gaps(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.cause == "timestamp_gap"]


def _without(t: np.ndarray, start: float, length: float) -> np.ndarray:
    return t[(t < start) | (t >= start + length)]


def test_a_tenth_of_a_second_missing_from_a_steady_stream_is_a_gap() -> None:
    t = _without(T, 5.0, 0.12)
    data = make_data({"/joint_states": (ns(t), {"position/j1": np.sin(t)})})
    found = _gaps(timing.analyze(data, context()))
    assert [round(f.t_start_ns / 1e9, 2) for f in found] == [4.99]
    assert found[0].evidence["longest_gap_ns"] > ns(0.12)


def test_a_jittery_stream_s_ordinary_long_intervals_are_not_gaps() -> None:
    rng = np.random.default_rng(1)
    # 20 Hz with a slow callback now and then: intervals of 50 ms, 5 % of them 150-250 ms
    dt = np.where(rng.random(300) < 0.05, rng.uniform(0.15, 0.25, 300), 0.05)
    t = np.cumsum(dt)
    data = make_data({"/odom": (ns(t), {"x": np.cos(t)})}, details={"/odom": {"role": "state"}})
    assert _gaps(timing.analyze(data, context())) == []


@pytest.mark.parametrize(
    ("recording", "stream"),
    [
        ("rosbag2/iiwa7_gazebo_joint_torque_sqlite3", "/joint_states"),
        ("ros1/example.bag", "/turtle1/pose"),
    ],
)
def test_a_tenth_of_a_second_missing_from_one_steady_real_stream_is_a_confident_gap(
    shared_data: Path, recording: str, stream: str
) -> None:
    resolved = resolve(str(shared_data / recording), None)
    streams = streams_of(resolved.info, resolved.open())
    untouched = _gaps(timing.analyze(make_data(streams, base=resolved.info), context()))
    assert [f for f in untouched if f.confidence >= 0.5 or f.channels == [stream]] == []
    t_ns, channels = streams[stream]
    t0 = int(t_ns[0] + 0.4 * (t_ns[-1] - t_ns[0]))
    keep = (t_ns < t0) | (t_ns >= t0 + ns(0.11))
    streams[stream] = (t_ns[keep], {k: v[keep] for k, v in channels.items()})
    found = _gaps(timing.analyze(make_data(streams, base=resolved.info), context()))
    found = [f for f in found if f not in untouched]
    # one stream alone, 0.11 s: no corroboration, under the 0.25 s that is always confident —
    # but a dozen of the stream's own intervals, where its longest ordinary one is < 20 ms
    assert [f.channels[0] for f in found] == [stream]
    assert abs(found[0].t_start_ns - t0) <= ns(0.02)
    assert found[0].confidence >= 0.5
    assert found[0].evidence["streams_silent_together"] == 1


def _stalling(t_end: float, seed: int) -> np.ndarray:
    """100 Hz whose callback ordinarily runs late now and then: 2 % of intervals 25-35 ms."""
    rng = np.random.default_rng(seed)
    n = int(t_end / 0.01)
    dt = np.where(rng.random(n) < 0.02, rng.uniform(0.025, 0.035, n), 0.01)
    return np.cumsum(dt)


def test_streams_falling_silent_together_are_confident_one_alone_is_not() -> None:
    # one 0.15 s interval: under the confident 0.25 s, and only 4× the stream's own ordinary
    # stalls past its median: one stream alone could be a very late callback
    t = _without(_stalling(10.0, 3), 4.0, 0.14)
    alone = make_data(
        {
            "/joint_states": (ns(t), {"position/j1": np.sin(t)}),
            "/imu": (ns(T), {"accel.x": np.cos(T)}),
        },
        details={"/imu": {"role": "sensor"}},
    )
    found = _gaps(timing.analyze(alone, context()))
    assert len(found) == 1 and found[0].confidence < 0.5
    together = make_data(
        {
            "/joint_states": (ns(t), {"position/j1": np.sin(t)}),
            "/imu": (ns(t), {"accel.x": np.cos(t)}),
            "/action": (ns(t), {"j1": np.sin(t)}),
        },
        details={"/imu": {"role": "sensor"}, "/action": {"role": "action"}},
    )
    found = _gaps(timing.analyze(together, context()))
    assert {f.channels[0] for f in found} == {"/joint_states", "/imu", "/action"}
    assert max(f.confidence for f in found) >= 0.5
    assert all(f.evidence["streams_silent_together"] == 3 for f in found)


def test_a_yaw_in_degrees_crossing_180_is_not_a_spike_but_a_wild_reading_is() -> None:
    rng = np.random.default_rng(2)
    # a heading holding just under 180° (sensor noise 0.005°) that reads just over it, i.e.
    # -179.99°, for four samples: the same direction, written across the wrap
    yaw = 179.95 + rng.normal(0, 0.005, T.size)
    yaw[400:404] = 180.005
    yaw = (yaw + 180.0) % 360.0 - 180.0
    assert (yaw[400:404] < -179.9).all()
    data = make_data(
        {"/dvl/position": (ns(T), {"yaw": yaw})}, details={"/dvl/position": {"role": "state"}}
    )
    assert spike.analyze(data, context()) == []
    yaw = yaw.copy()
    yaw[600] = -1797.0
    data = make_data(
        {"/dvl/position": (ns(T), {"yaw": yaw})}, details={"/dvl/position": {"role": "state"}}
    )
    found = spike.analyze(data, context())
    assert [(f.t_start_ns, f.confidence >= 0.5) for f in found] == [(int(ns(T)[600]), True)]
