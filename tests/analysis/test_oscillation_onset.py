"""A growing oscillation — its amplitude rising from nothing over a few seconds, the way an
unstable loop starts — is dated where it leaves the channel's own baseline in its band, not
where it reaches half its final amplitude; an abrupt one keeps its onset; a 10 Hz stream (a
wheeled base's odometry) is searched too; a joint's velocity oscillating on its own (its
estimate ringing) is found, a velocity that only follows its vibrating position is left to
the position."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.analysis.causes import oscillation
from robotrace_desktop.episodes import resolve
from tests.analysis.fakes import context, make_data, ns, streams_of

NS = 1_000_000_000
G1 = "lerobot/g1_pick_bottle_v21#1"
IIWA = "rosbag2/iiwa7_gazebo_joint_torque_sqlite3"
TURTLES = "ros1/example.bag"


def _onsets(data: object) -> list[float]:
    found = oscillation.analyze(data, context())
    return [f.t_start_ns / NS for f in found if f.confidence >= 0.5]


@pytest.mark.parametrize(
    ("recording", "stream", "channel", "t0"),
    [
        (G1, "observation.state", "kRightElbow", 4.0),
        (IIWA, "/joint_states", "position/joint_a4", 10.5),
        (TURTLES, "/turtle1/pose", "x", 6.0),
    ],
)
def test_a_growing_oscillation_in_a_real_recording_is_dated_where_it_began(
    shared_data: Path, recording: str, stream: str, channel: str, t0: float
) -> None:
    resolved = resolve(str(shared_data / recording), None)
    streams = streams_of(resolved.info, resolved.open())
    t_ns, channels = streams[stream]
    column = channels[channel]
    rel = (t_ns - t_ns[0]) / NS - t0
    span = float(np.percentile(column, 99) - np.percentile(column, 1))
    # the amplitude grows linearly from zero for 3 s, then holds for 1 s
    envelope = np.clip(rel / 3.0, 0.0, 1.0) * (rel >= 0) * (rel < 4.0)
    channels[channel] = column + 0.06 * span * envelope * np.sin(2 * np.pi * 7.0 * rel)
    onsets = _onsets(make_data(streams, base=resolved.info))
    assert len(onsets) == 1 and abs(onsets[0] - (float(t_ns[0]) / NS + t0)) <= 0.5, onsets


def test_an_abrupt_oscillation_keeps_its_onset() -> None:
    t = np.arange(0, 12, 0.01)
    rng = np.random.default_rng(3)
    motion = 0.8 * np.sin(2 * np.pi * 0.2 * t) + rng.normal(0, 0.001, t.size)
    on = (t >= 6.0) & (t < 8.5)
    position = motion + 0.04 * np.sin(2 * np.pi * 8.0 * (t - 6.0)) * on
    onsets = _onsets(make_data({"/joint_states": (ns(t), {"position/j1": position})}))
    assert len(onsets) == 1 and abs(onsets[0] - 6.0) <= 0.15


def test_an_oscillation_on_a_10_hz_odometry_is_found() -> None:
    t = np.arange(0, 15, 0.1)  # 10 Hz, as a wheeled base's odometry publishes
    rng = np.random.default_rng(4)
    speed = 0.5 + 0.2 * np.sin(2 * np.pi * 0.1 * t) + rng.normal(0, 0.003, t.size)
    on = (t >= 7.0) & (t < 11.0)
    twist = {
        "twist.linear.x": speed + 0.08 * np.sin(2 * np.pi * 3.5 * (t - 7.0)) * on,
        "twist.angular.z": 0.1 * np.sin(2 * np.pi * 0.07 * t) + rng.normal(0, 0.003, t.size),
    }
    onsets = _onsets(make_data({"/odom": (ns(t), twist)}))
    assert len(onsets) == 1 and abs(onsets[0] - 7.0) <= 0.5, onsets


def _iiwa_with(
    shared_data: Path, joint: str, amplitude: float, *, position: bool, t0: float
) -> tuple[object, int]:
    """The real iiwa recording with a 9 Hz line of ``amplitude`` for 2.5 s on ``joint``'s
    velocity — and, with ``position``, the position that velocity integrates to (the joint
    really vibrating)."""
    resolved = resolve(str(shared_data / IIWA), None)
    streams = streams_of(resolved.info, resolved.open())
    t_ns, channels = streams["/joint_states"]
    rel = (t_ns - t_ns[0]) / NS - t0
    on = (rel >= 0) & (rel < 2.5)
    w = 2 * np.pi * 9.0
    line = amplitude * np.sin(w * rel) * on
    channels[f"velocity/{joint}"] = channels[f"velocity/{joint}"] + line
    if position:
        moved = amplitude / w * (1 - np.cos(w * rel)) * on
        channels[f"position/{joint}"] = channels[f"position/{joint}"] + moved
    return make_data(streams, base=resolved.info), int(t_ns[0] + t0 * NS)


def test_a_velocity_oscillating_alone_is_found_one_following_its_position_is_the_position_s(
    shared_data: Path,
) -> None:
    data, onset = _iiwa_with(shared_data, "joint_a3", 0.15, position=False, t0=6.0)
    found = [f for f in oscillation.analyze(data, context()) if f.confidence >= 0.5]
    assert [f.channels for f in found] == [["/joint_states/velocity/joint_a3"]]
    assert abs(found[0].t_start_ns - onset) <= NS // 2
    # the joint really vibrating, its position swinging ±0.02 rad: the position tells it
    data, onset = _iiwa_with(shared_data, "joint_a3", 1.0, position=True, t0=6.0)
    found = [f for f in oscillation.analyze(data, context()) if f.confidence >= 0.5]
    assert found and found[0].channels[0] == "/joint_states/position/joint_a3"
    assert all(c != "/joint_states/velocity/joint_a3" for f in found for c in f.channels[:1])


def test_a_stream_too_short_to_average_down_is_left_alone() -> None:
    """A burst of samples a microsecond apart (an SDK log timed in ns counters, a replay at
    full speed) asks for blocks of thousands of samples: fewer samples than one block is
    nothing to look at — not an analyzer failure that hides in the log."""
    t = np.arange(2_000, dtype=np.int64) * 1_000  # 2,000 samples 1 µs apart
    position = np.sin(np.arange(2_000) / 10.0)
    data = make_data({"/joint_states": (t, {"position/j1": position})})
    assert oscillation.analyze(data, context()) == []
