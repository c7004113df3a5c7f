"""Spikes that are not one square sample: ramped (triangular) spikes, spikes several samples
wide and bursts of spikes close together, injected into real recordings, are found once, on
their channel, dated at their first sample; so are spikes on a dexterous hand's finger joints.
A jolt that swings through the baseline (an IMU on a bump), a staircase of held values and a
finger's fast close-and-open on a slow, held hand sensor stay quiet. A command glitching
while it holds still is a command spike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.analysis.causes import spike, still_message
from robotrace_desktop.analysis.finding import Finding
from robotrace_desktop.episodes import resolve
from tests.analysis.fakes import context, make_data, ns, streams_of

NS = 1_000_000_000
G1 = "lerobot/g1_pick_bottle_v21#1"
IIWA = "rosbag2/iiwa7_gazebo_joint_torque_sqlite3"
TURTLES = "ros1/example.bag"


def _confident(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.confidence >= 0.5]


def _inject(shared_data: Path, recording: str, stream: str, channel: str, shape: list[tuple]):
    """The recording with ``shape`` — (offset from the first spike in samples, multiple of the
    channel's p1..p99 range) pairs — added from 55 % of the channel on; returns (data, t_ns,
    index of the first spike sample)."""
    resolved = resolve(str(shared_data / recording), None)
    streams = streams_of(resolved.info, resolved.open())
    t_ns, channels = streams[stream]
    column = channels[channel].copy()
    i0 = int(0.55 * column.size)
    span = float(np.percentile(column, 99) - np.percentile(column, 1))
    for offset, share in shape:
        column[i0 + offset] += share * span
    channels[channel] = column
    return make_data(streams, base=resolved.info), t_ns, i0


TRIANGLE = [(0, 0.2), (1, 0.4), (2, 0.6), (3, 0.4), (4, 0.2)]  # ramps up and down, 5 samples
WIDE = [(k, 0.6) for k in range(5)]  # 5 samples, square
BURST = [(0, 0.5), (1, 0.5), (8, 0.6), (9, 0.6), (10, 0.6), (17, -0.5), (18, -0.5)]


@pytest.mark.parametrize(
    ("recording", "stream", "channel", "shape", "spikes"),
    [
        (G1, "observation.state", "kLeftElbow", TRIANGLE, 1),
        (IIWA, "/joint_states", "position/joint_a3", TRIANGLE, 1),
        (G1, "observation.state", "kRightShoulderPitch", WIDE, 1),
        (TURTLES, "/turtle2/pose", "x", WIDE, 1),
        (G1, "observation.state", "kLeftElbow", BURST, 3),
        (IIWA, "/joint_states", "position/joint_a3", BURST, 3),
    ],
    ids=["g1-triangle", "iiwa-triangle", "g1-wide", "turtle-wide", "g1-burst", "iiwa-burst"],
)
def test_ramped_wide_and_burst_spikes_in_real_recordings_are_found_at_their_first_sample(
    shared_data: Path, recording: str, stream: str, channel: str, shape: list, spikes: int
) -> None:
    data, t_ns, i0 = _inject(shared_data, recording, stream, channel, shape)
    found = _confident(spike.analyze(data, context()))
    assert len(found) == 1, [f.explanation for f in found]  # a burst is reported once
    top = found[0]
    assert top.cause == "sensor_spike"
    assert top.channels == [f"{stream}/{channel}"]
    assert top.t_start_ns == int(t_ns[i0])
    assert top.evidence["spikes_in_burst"] == spikes
    if spikes > 1:
        assert f"burst of {spikes} spikes" in top.explanation


def test_a_jolt_swinging_through_the_baseline_is_not_a_spike() -> None:
    """An IMU rate on a bump: a ramped lobe one way, then straight through zero to a sharper
    lobe the other way — the largest thing in the window, but a motion, not a glitch."""
    rng = np.random.default_rng(7)
    t = np.arange(0, 15, 1 / 30)
    rate = rng.normal(0, 0.01, t.size)
    i = 300
    rate[i : i + 12] += [0.04, 0.13, 0.22, 0.23, 0.23, 0.08, -0.28, -0.51, -0.28, 0.0, 0.06, -0.02]
    data = make_data(
        {"/imu/data": (ns(t), {"angular_velocity.z": rate})},
        details={"/imu/data": {"message_type": "sensor_msgs/msg/Imu"}},
    )
    assert _confident(spike.analyze(data, context())) == []


def test_a_staircase_of_held_values_is_not_a_spike() -> None:
    """A velocity echoed back in held steps (a teleop key released: -4.6, then -3.0, -2.0 …
    back to 0): a jump that does not come back to where it left."""
    t = np.arange(0, 10, 1 / 60)
    velocity = np.zeros(t.size)
    levels = [-4.64, -3.01, -1.97, -1.29, -0.84, -0.55, -0.36, -0.23, -0.15, -0.1]
    for k, level in enumerate(levels):
        velocity[300 + 6 * k : 306 + 6 * k] = level
    velocity[306 + 6 * len(levels) :] = 0.0
    velocity += 0.02 * np.sin(0.5 * t)  # the channel moves a little elsewhere
    data = make_data(
        {"/turtle2/pose": (ns(t), {"angular_velocity": velocity})},
        details={"/turtle2/pose": {"role": "state"}},
    )
    assert _confident(spike.analyze(data, context())) == []


@pytest.mark.parametrize("joint", ["kRightHandPinky", "kRightHandIndex"])
def test_a_spike_on_a_finger_joint_of_a_dexterous_hand_is_found(
    shared_data: Path, joint: str
) -> None:
    """The G1's finger joints move continuously (they are not an open / close gripper): a wild
    reading on one is a spike like on any other joint."""
    data, t_ns, i0 = _inject(shared_data, G1, "observation.state", joint, [(0, 0.6)])
    found = _confident(spike.analyze(data, context()))
    assert [(f.channels, f.t_start_ns) for f in found] == [
        ([f"observation.state/{joint}"], int(t_ns[i0]))
    ]


def test_a_fast_close_and_open_of_a_held_finger_sensor_is_not_a_spike(shared_data: Path) -> None:
    """In G1 episode 55 a finger sensor that updates every 3-4 frames closes and reopens one
    reading deep (0.856, 0.849, 0.837, 0.846, 0.850): the running median cannot follow that
    V on the held staircase, but reading by reading it bends no more than the finger's other
    turns. Judged sample by sample (``reading_over`` 0) it would be a spike."""
    resolved = resolve(str(shared_data / "lerobot/g1_pick_bottle_v21#55"), None)
    data = make_data(streams_of(resolved.info, resolved.open()), base=resolved.info)
    assert _confident(spike.analyze(data, context())) == []
    by_sample = context(sensor_spike={"reading_over": 0.0})
    assert [f.channels for f in _confident(spike.analyze(data, by_sample))] == [
        ["observation.state/kLeftHandMiddle"]
    ]


def test_a_drop_to_the_zero_a_sensor_reads_before_it_comes_up_is_not_a_spike(
    shared_data: Path,
) -> None:
    """G1 episode 12's right thumb rotation reads exactly 0 for its first 26 frames (the hand
    not yet reporting) and again for 6 frames at 5.3 s: the sensor reporting nothing, not a
    wild reading."""
    resolved = resolve(str(shared_data / "lerobot/g1_pick_bottle_v21#12"), None)
    data = make_data(streams_of(resolved.info, resolved.open()), base=resolved.info)
    assert _confident(spike.analyze(data, context())) == []


@pytest.mark.parametrize("at", [0.5, 0.7, 0.8])
def test_a_glitch_of_a_command_holding_still_is_a_command_spike_not_a_stalled_sensor(
    shared_data: Path, at: float
) -> None:
    """The iiwa's effort commands are busy for its first 1.5 s and then hold still: a 3-sample
    jump across the command's whole range and straight back there is a command spike (judged
    against the still stretch around it — the busy start has departures of that size), and the
    joints holding still meanwhile are not a stalled sensor: one glitch is not the robot being
    told to move."""
    resolved = resolve(str(shared_data / IIWA), None)
    streams = streams_of(resolved.info, resolved.open())
    t_ns, channels = streams["/effort_controller/commands"]
    column = channels["data[2]"]
    i0 = int(at * column.size)
    column[i0 : i0 + 3] += np.percentile(column, 99) - np.percentile(column, 1)
    data = make_data(streams, base=resolved.info)
    found = _confident(spike.analyze(data, context()))
    assert [(f.title, f.t_start_ns) for f in found] == [("Command spike: data[2]", int(t_ns[i0]))]
    assert found[0].evidence["judged_on_still_s"] is not None
    assert still_message.analyze(data, context()) == []
    untouched = make_data(streams_of(resolved.info, resolved.open()), base=resolved.info)
    assert spike.analyze(untouched, context()) == []
