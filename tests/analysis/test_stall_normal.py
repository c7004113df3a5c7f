"""Stuck readings judged against what the channel normally does (issue 13), on the G1's real
LeRobot episodes: its encoders are quantized, so a joint at rest repeats its value for a few
samples — a repeat alone says nothing, a hold far longer than any other hold of the joint does.
Faults are injected by hand at known times (G1 is in the tuning fold).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.analysis.data import EpisodeData
from robotrace_desktop.analysis.finding import Finding
from robotrace_desktop.analysis.peer_explain import explain_with_peers
from robotrace_desktop.core.episode import SignalChunk
from tests.analysis.faults import Fault, FaultySource
from tests.analysis.heldout import signals as sig
from tests.analysis.heldout.robots import Base, load_robots
from tests.analysis.heldout.scoring import RobotData, default_thresholds

NS = 1_000_000_000
STATE, ACTION = "observation.state", "action"


@pytest.fixture(scope="module")
def g1(shared_data: Path) -> RobotData:
    return RobotData(load_robots(shared_data, ("G1",))["G1"])


def _explain(robot: RobotData, base: Base, fault: Fault | None) -> list[Finding]:
    source = base.source if fault is None else FaultySource(base.source, fault)
    return explain_with_peers(
        EpisodeData(source.info, source), robot.peers(base), default_thresholds()
    )


def _hold(chunk: SignalChunk, channel: str, t0: int, length: int, value: float | None) -> Fault:
    """``channel`` repeats one value over [t0, t0 + length): its value at t0, or ``value``."""

    def edit(c: SignalChunk) -> SignalChunk:
        values = c.values.copy()
        span = (c.t_ns >= t0) & (c.t_ns < t0 + length)
        k = c.channels.index(channel)
        values[span, k] = values[int(np.argmax(span)), k] if value is None else value
        return sig.with_values(c, values)

    first = int(chunk.t_ns[chunk.t_ns >= t0][0])
    return Fault("sensor_stall", first, chunk.stream, channel, {chunk.stream: edit})


def _seen(robot: RobotData, base: Base, channel: str) -> tuple[float, float]:
    """(min, max) of ``channel`` over the robot's other episodes."""
    seen = [robot.data[b.name].signal(STATE) for b in robot.robot.peers_of(base)]
    return (
        min(float(np.min(s.column(channel))) for s in seen if s is not None),
        max(float(np.max(s.column(channel))) for s in seen if s is not None),
    )


def _moving_joint(robot: RobotData, length: int) -> tuple[Base, str, int]:
    """An episode, arm joint and time where the joint and its command both move a lot, and
    the joint repeats its value elsewhere (a quantized reading, not a noisy one) and stays
    within the range of the other episodes (an ordinary run)."""
    for base in robot.robot.bases:
        state, action = base.source.signals[STATE], base.source.signals[ACTION]
        for channel in state.channels[:14]:  # arm joints (the hands are step-like)
            column = state.channel(channel)
            lo, hi = _seen(robot, base, channel)
            if np.mean(np.diff(column) == 0) < 0.1 or column.min() < lo or column.max() > hi:
                continue
            for t0 in np.arange(2, 8, 0.5) * NS:
                if sig.moving(state, channel, int(t0), int(t0) + length, 0.3) and sig.moving(
                    action, channel, int(t0), int(t0) + length, 0.3
                ):
                    return base, channel, int(t0)
    raise AssertionError("no moving joint in the G1 episodes")


def test_a_quantized_joint_stuck_while_its_command_moves_is_a_stall_not_tracking(
    g1: RobotData,
) -> None:
    """The issue's complaint: a joint frozen exactly was called a tracking error although the
    finding said itself the value stayed constant. With no effort rising against a block,
    the reading stopped: the stall is the cause, the tracking error follows from it."""
    length = 3 * NS
    base, channel, t0 = _moving_joint(g1, length)
    fault = _hold(base.source.signals[STATE], channel, t0, length, None)
    findings = _explain(g1, base, fault)
    top = findings[0]
    assert top.cause == "sensor_stall" and top.confidence >= 0.5
    # a quantized reading may already repeat the frozen value one sample before
    assert 0 <= fault.t0_ns - top.t_start_ns <= NS // 20
    assert top.channels == [f"{STATE}/{channel}"]
    assert top.evidence["quantized"] and not top.evidence["effort_rises"]
    assert "never holds nearly as long" in top.explanation
    assert all(f.cause != "tracking_error" or f.rank > top.rank for f in findings)


def test_a_short_quantized_hold_is_not_a_stall(g1: RobotData) -> None:
    """Held for only a little longer than the joint rests elsewhere: not outlasting its
    ordinary holds by far, the repeat is what a quantized encoder does."""
    base, channel, t0 = _moving_joint(g1, 3 * NS)
    fault = _hold(base.source.signals[STATE], channel, t0, int(0.4 * NS), None)
    stalls = [f for f in _explain(g1, base, fault) if f.cause == "sensor_stall"]
    assert [f for f in stalls if f.confidence >= 0.5] == []


def test_a_joint_held_beyond_every_other_episode_is_not_read_as_a_frozen_reading(
    g1: RobotData,
) -> None:
    """A frozen reading keeps its last real value; a joint that stays where none of the 19
    other episodes ever went was moved there: the hold is no confident stall."""
    base, channel, t0 = _moving_joint(g1, 3 * NS)
    low, top = _seen(g1, base, channel)
    fault = _hold(base.source.signals[STATE], channel, t0, 3 * NS, top + 0.5 * (top - low))
    stalls = [f for f in _explain(g1, base, fault) if f.cause == "sensor_stall"]
    assert stalls and all(f.confidence < 0.5 for f in stalls)
    assert "beyond the range of the robot's other episodes" in stalls[0].explanation


def test_untouched_g1_episodes_have_no_confident_stall(g1: RobotData) -> None:
    for base in g1.robot.bases:
        stalls = [f for f in _explain(g1, base, None) if f.cause == "sensor_stall"]
        assert [f for f in stalls if f.confidence >= 0.5] == [], base.name


ODOM = "/husky_velocity_controller/odom"


@pytest.fixture(scope="module")
def husky(shared_data: Path) -> RobotData:
    return RobotData(load_robots(shared_data, ("Husky",))["Husky"])


def _freeze_all(chunk: SignalChunk, t0: int, length: int) -> Fault:
    def edit(c: SignalChunk) -> SignalChunk:
        values = c.values.copy()
        span = (c.t_ns >= t0) & (c.t_ns < t0 + length)
        values[span] = values[int(np.argmax(span))]
        return sig.with_values(c, values)

    first = int(chunk.t_ns[chunk.t_ns >= t0][0])
    return Fault("sensor_stall", first, chunk.stream, "*", {chunk.stream: edit})


def test_odometry_frozen_while_its_own_velocity_says_it_drives_is_a_stall(
    husky: RobotData,
) -> None:
    """The Husky bag has no command stream. A whole odometry message repeating is what a
    parked robot's odometry does too — unless the repeated message itself says the robot
    was driving (a non-zero twist) while its pose did not move: a stale message."""
    base = max(
        husky.robot.bases,
        key=lambda b: float(np.ptp(b.source.signals[ODOM].channel("pose.pose.position.x"))),
    )
    chunk = base.source.signals[ODOM]
    speed = np.abs(chunk.channel("twist.twist.linear.x"))
    t0 = int(chunk.t_ns[np.argmax(speed > 0.5 * speed.max())])
    fault = _freeze_all(chunk, t0, 3 * NS)
    top = _explain(husky, base, fault)[0]
    assert top.cause == "sensor_stall" and top.confidence >= 0.5
    assert top.t_start_ns == fault.t0_ns
    assert "twist.twist.linear.x" in top.evidence["velocity_says_moving"]
    assert "own velocity says it was moving" in top.explanation


def test_odometry_frozen_at_rest_is_not_a_confident_stall(husky: RobotData) -> None:
    """The same freeze while the twist reads zero (the robot standing): nothing tells it
    from a parked robot, so it stays unconfident."""
    for base in husky.robot.bases:
        chunk = base.source.signals[ODOM]
        speed = np.abs(chunk.channel("twist.twist.linear.x"))
        turn = np.abs(chunk.channel("twist.twist.angular.z"))
        still = np.flatnonzero((speed < 1e-6) & (turn < 1e-6) & (chunk.t_ns > NS))
        if len(still):
            fault = _freeze_all(chunk, int(chunk.t_ns[still[0]]), 3 * NS)
            stalls = [f for f in _explain(husky, base, fault) if f.cause == "sensor_stall"]
            assert [f for f in stalls if f.confidence >= 0.5] == [], base.name
            return
    raise AssertionError("no Husky window where the robot stands")


@pytest.fixture(scope="module")
def iiwa(shared_data: Path) -> RobotData:
    return RobotData(load_robots(shared_data, ("iiwa",))["iiwa"])


@pytest.mark.parametrize("field", ["position", "velocity"])
def test_a_joint_whose_position_and_velocity_stop_agreeing_is_a_stall(
    iiwa: RobotData, field: str
) -> None:
    """The iiwa bag has no command paired with its joints and a simulator's joints do hold
    exactly at rest — but /joint_states carries each joint's velocity with its position, and
    they agree all run (the sim's clock runs at half the recorder's; the fitted scale says
    so). One of them held while the other says the joint moves is a reading that stopped."""
    base = iiwa.robot.bases[1]
    chunk = base.source.signals["/joint_states"]
    velocity = np.abs(chunk.channel("velocity/joint_a1"))
    t0 = int(chunk.t_ns[int(np.argmax(velocity > 0.5 * velocity.max()))])
    fault = _hold(chunk, f"{field}/joint_a1", t0, 2 * NS, None)
    top = _explain(iiwa, base, fault)[0]
    assert top.cause == "sensor_stall" and top.confidence >= 0.5
    assert abs(top.t_start_ns - fault.t0_ns) <= NS // 20
    assert top.evidence["kinematics_disagree"]
    assert "disagree" in top.explanation
    untouched = [f for f in _explain(iiwa, base, None) if f.cause == "sensor_stall"]
    assert [f for f in untouched if f.confidence >= 0.5] == []
