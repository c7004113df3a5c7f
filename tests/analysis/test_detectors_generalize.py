"""Detectors that judge a channel by its own run and by the robot's other episodes, on real
recordings (issue 13): a range excursion calibrated leave one out, a stuck channel told from a
robot at rest, a clock stepping back on a single periodic stream, and the fields drivers leave
unset. Faults are injected by hand at known times into windows of the real bags in
``../shared/data`` (robots of the tuning fold; the held-out check is ``test_heldout_eval``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.analysis.data import EpisodeData
from robotrace_desktop.analysis.finding import Finding
from robotrace_desktop.analysis.peer_explain import explain_with_peers
from robotrace_desktop.core.episode import SignalChunk
from robotrace_desktop.episodes import resolve
from robotrace_desktop.library.explain_runner import explain_resolved
from tests.analysis.faults import Fault, FaultySource
from tests.analysis.heldout import signals as sig
from tests.analysis.heldout.robots import Base, load_robots
from tests.analysis.heldout.scoring import RobotData, default_thresholds

NS = 1_000_000_000
ODOM = "/husky_velocity_controller/odom"


@pytest.fixture(scope="module")
def robots(shared_data: Path) -> dict[str, RobotData]:
    names = ("Husky", "iiwa", "Baxter", "turtlesim")
    return {n: RobotData(r) for n, r in load_robots(shared_data, names).items()}


def _explain(robot: RobotData, base: Base, fault: Fault | None) -> list[Finding]:
    source = base.source if fault is None else FaultySource(base.source, fault)
    target = EpisodeData(source.info, source)
    return explain_with_peers(target, robot.peers(base), default_thresholds())


def _confident(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.confidence >= 0.5]


def _moving_window(robot: RobotData, channel: str) -> Base:
    """A Husky window where the odometry moves a lot along ``channel``."""
    return max(
        robot.robot.bases,
        key=lambda b: float(np.ptp(b.source.signals[ODOM].channel(channel))),
    )


def test_an_excursion_beyond_every_other_episode_is_found_and_counted(
    robots: dict[str, RobotData],
) -> None:
    husky = robots["Husky"]
    base = _moving_window(husky, "pose.pose.position.x")
    lo, hi = husky.peer_range(base)(ODOM, "pose.pose.position.x") or (0.0, 0.0)
    chunk = base.source.signals[ODOM]
    t = (chunk.t_ns - 4 * NS) / NS
    weight = np.clip(t / 0.3, 0.0, 1.0) * np.clip((1.8 - t) / 0.3, 0.0, 1.0)
    col = chunk.channel("pose.pose.position.x")
    delta = weight * (hi + 0.3 * (hi - lo) - col)
    onset = int(chunk.t_ns[np.argmax(col + delta > hi)])
    fault = Fault("range_excursion", onset, ODOM, "pose.pose.position.x")
    fault.edits[ODOM] = lambda c: sig.add_to_channel(c, "pose.pose.position.x", delta)

    top = _explain(husky, base, fault)[0]
    assert top.cause == "range_excursion" and top.confidence >= 0.5
    assert abs(top.t_start_ns - onset) <= NS // 10
    assert top.channels == [f"{ODOM}/pose.pose.position.x"]
    others = len(husky.robot.bases) - 1
    assert f"range of {others} other episode(s)" in top.explanation
    assert "beyond its limit" not in top.title.lower()  # no URDF: not called a limit


def test_one_other_episode_cannot_make_an_excursion_confident(
    robots: dict[str, RobotData],
) -> None:
    husky = robots["Husky"]
    base = husky.robot.bases[3]
    lonely = RobotData(husky.robot)
    lonely.peers = lambda b: [husky.data[husky.robot.bases[4].name]]  # type: ignore[method-assign]
    excursions = [f for f in _explain(lonely, base, None) if f.cause == "range_excursion"]
    assert all(f.confidence < 0.5 for f in excursions)
    assert all("too few to be sure" in f.explanation for f in excursions)


def _stall(chunk: SignalChunk, channels: list[str], t0: int, length: int) -> Fault:
    def edit(c: SignalChunk) -> SignalChunk:
        values = c.values.copy()
        span = (c.t_ns >= t0) & (c.t_ns < t0 + length)
        idx = [c.channels.index(x) for x in channels]
        values[np.ix_(span, idx)] = values[int(np.argmax(span)), idx]
        return sig.with_values(c, values)

    first = int(chunk.t_ns[chunk.t_ns >= t0][0])
    return Fault("sensor_stall", first, chunk.stream, channels[0], {chunk.stream: edit})


def test_one_stuck_joint_is_a_stall_at_the_sample_it_froze(robots: dict[str, RobotData]) -> None:
    iiwa = robots["iiwa"]
    base = iiwa.robot.bases[1]
    chunk = base.source.signals["/joint_states"]
    fault = _stall(chunk, ["position/joint_a2"], int(3.4 * NS), int(3.5 * NS))
    top = _explain(iiwa, base, fault)[0]
    assert top.cause == "sensor_stall" and top.confidence >= 0.5
    assert top.t_start_ns == fault.t0_ns
    assert top.channels == ["/joint_states/position/joint_a2"]
    assert _confident(_explain(iiwa, base, None)) == []


def test_odometry_holding_while_the_robot_is_at_rest_is_not_a_stall(shared_data: Path) -> None:
    """The Husky bag has the robot parked from 235.6 s: odometry repeats its pose exactly for
    10 s, as an estimate of a still robot does, and the GPS fix holds too. Only a raw sensor's
    noise, a moving command or a live sibling channel would make that a stall."""
    bag = resolve(str(shared_data / "ros1/husky_localization/test1.bag"), None)
    findings = explain_resolved(bag, None)
    with bag.open() as source:
        odom = source.read_signal(ODOM)
    x = np.asarray(odom.values)[:, list(odom.channels).index("pose.pose.position.x")]
    parked = (np.asarray(odom.t_ns) >= 236 * NS) & (np.asarray(odom.t_ns) <= 245 * NS)
    assert np.ptp(x[parked]) == 0.0  # the recording really holds still there
    assert [f for f in _confident(findings) if f.cause == "sensor_stall"] == []


def test_a_record_clock_stepping_back_on_one_stream_is_a_clock_jump(
    robots: dict[str, RobotData],
) -> None:
    """iiwa window 0 has one periodic stream (/joint_states, stamped by header sim time):
    the recorder's clock stepping back interleaves its rows; the header clock dates it."""
    iiwa = robots["iiwa"]
    base = iiwa.robot.bases[0]
    t0, size = int(3.8 * NS), int(-0.8 * NS)

    def shifted(c: SignalChunk) -> SignalChunk:
        times = dict(c.times)
        ref = times.get("record", c.t_ns)
        after = ref >= t0
        if "record" in times:
            times["record"] = np.where(after, ref + size, ref)
        t = np.where(after, c.t_ns + size, c.t_ns)
        order = np.argsort(t, kind="stable")
        times = {k: v[order] for k, v in times.items()}
        return SignalChunk(c.stream, c.channels, t[order], c.values[order], times)

    fault = Fault("clock_jump", t0)
    fault.edits = {name: shifted for name in base.source.signals}
    top = _explain(iiwa, base, fault)[0]
    assert top.cause == "clock_jump" and top.confidence >= 0.5
    assert abs(top.t_start_ns - t0) <= NS // 10
    assert "back" in top.explanation


def test_a_reading_the_sensor_flagged_invalid_is_reported_but_not_confident(
    shared_data: Path,
) -> None:
    """The underwater robot's DVL reports a lost beam as distance -1 with its ``valid`` flag
    dropped for that one message: the sensor said so itself, a dropout, not a hidden glitch."""
    bag = resolve(str(shared_data / "rosbag2/cougars_auv/SO_lastbag_mcap"), None)
    spikes = [
        f
        for f in explain_resolved(bag, None)
        if f.cause == "sensor_spike" and "beams[2].distance" in f.channels[0]
    ]
    assert len(spikes) == 1
    assert spikes[0].confidence < 0.5
    assert spikes[0].evidence["flagged_by"] == "beams[2].valid"
    assert "marked that reading invalid" in spikes[0].explanation


ENDPOINT = "/robot/limb/right/endpoint_state"


def test_one_pose_component_stuck_in_a_recording_without_commands_is_a_stall(
    robots: dict[str, RobotData],
) -> None:
    """Baxter's bag records only the end-point state: no command says the arm should move,
    but the other components keep changing while one repeats for 2 s, which none ever does."""
    baxter = robots["Baxter"]
    base = baxter.robot.bases[1]
    chunk = base.source.signals[ENDPOINT]
    fault = _stall(chunk, ["pose.orientation.w"], int(6.0 * NS), int(2.0 * NS))
    top = _explain(baxter, base, fault)[0]
    assert top.cause == "sensor_stall" and top.confidence >= 0.5
    assert top.t_start_ns == fault.t0_ns
    assert top.channels == [f"{ENDPOINT}/pose.orientation.w"]
    assert _confident(_explain(baxter, base, None)) == []


def test_a_heading_held_while_driving_straight_is_not_a_stall(
    robots: dict[str, RobotData],
) -> None:
    """turtlesim's pose is noiseless and its theta stays exactly put while the turtle is
    told to drive straight: with commands in the recording that could ask for it, a hold no
    other channel shows is not evidence of a stall."""
    turtles = robots["turtlesim"]
    for base in turtles.robot.bases:
        theta = base.source.signals["/turtle1/pose"].channel("theta")
        assert np.any(np.diff(theta) == 0)  # the recording does hold its heading
        stalls = [f for f in _explain(turtles, base, None) if f.cause == "sensor_stall"]
        assert [f for f in stalls if f.confidence >= 0.5] == []


def _imu_line(chunk: SignalChunk, channel: str, t0: int, amplitude: float) -> Fault:
    """A line growing over 0.5 s to ``amplitude`` at 8 Hz for 3 s: one frequency alone."""

    def edit(c: SignalChunk) -> SignalChunk:
        rel = (c.t_ns - t0) / NS
        envelope = np.clip(rel / 0.5, 0.0, 1.0) * (rel < 3.0)
        return sig.add_to_channel(c, channel, amplitude * envelope * np.sin(16 * np.pi * rel))

    first = int(chunk.t_ns[chunk.t_ns >= t0][0])
    return Fault("oscillation", first, chunk.stream, channel, {chunk.stream: edit})


def test_one_pure_line_on_a_real_imu_is_confident_its_ordinary_shaking_is_not(
    robots: dict[str, RobotData],
) -> None:
    """The Husky's IMU shakes at a few Hz now and then (terrain, motors): never confident
    there. A vibration a few times that shaking but in one frequency alone — an unstable loop,
    a resonance — needs only a joint's margin."""
    husky = robots["Husky"]
    for base in husky.robot.bases:
        found = _explain(husky, base, None)
        assert not [f for f in _confident(found) if f.cause == "oscillation"], base.name
    base = husky.robot.bases[6]
    chunk = base.source.signals["/imu/data"]
    channel = "linear_acceleration.y"
    column = chunk.channel(channel)
    spread = float(np.std(np.diff(column))) / np.sqrt(2.0)
    fault = _imu_line(chunk, channel, int(chunk.t_ns[0] + 8 * NS), 3.0 * spread)
    top = _explain(husky, base, fault)[0]
    assert top.cause == "oscillation" and top.confidence >= 0.5
    assert top.channels[0] == f"/imu/data/{channel}"
    assert abs(top.t_start_ns - fault.t0_ns) <= NS // 2
    assert top.evidence["power_share_at_frequency"] >= 0.9


def _drop(chunk: SignalChunk, t0: int, length_s: float) -> Fault:
    """``chunk``'s stream without its samples in [t0, t0 + length_s)."""
    end = t0 + int(length_s * NS)
    fault = Fault("gap", t0, chunk.stream)
    fault.edits[chunk.stream] = lambda c: sig.keep_rows(c, (c.t_ns < t0) | (c.t_ns >= end))
    return fault


def _gaps_on(found: list[Finding], stream: str) -> list[Finding]:
    return [f for f in found if f.cause == "timestamp_gap" and f.channels == [stream]]


def test_three_samples_missing_from_a_steady_real_imu_are_a_gap_one_from_odometry_is_not(
    robots: dict[str, RobotData],
) -> None:
    """The Husky's 30 Hz IMU never strays from its interval: three samples missing (a 0.13 s
    interval, 4× its usual) is a dropout. Its 10 Hz odometry wanders by a tenth of its
    interval: one sample missing there is nothing to report."""
    husky = robots["Husky"]
    base = husky.robot.bases[2]
    assert not _gaps_on(_explain(husky, base, None), "/imu/data")
    imu = base.source.signals["/imu/data"]
    t0 = int(imu.t_ns[imu.t_ns >= imu.t_ns[0] + 6 * NS][0]) + NS // 100
    found = _gaps_on(_explain(husky, base, _drop(imu, t0, 0.1)), "/imu/data")
    assert len(found) == 1 and found[0].confidence >= 0.5
    assert abs(found[0].t_start_ns - t0) <= NS // 20
    odom = base.source.signals[ODOM]
    t0 = int(odom.t_ns[odom.t_ns >= odom.t_ns[0] + 6 * NS][0]) + NS // 100
    assert not _gaps_on(_explain(husky, base, _drop(odom, t0, 0.1)), ODOM)


def _frozen_message(found: list[Finding]) -> list[Finding]:
    """The findings of a whole message held bit for bit (flatline's freeze)."""
    return [f for f in found if f.cause == "sensor_stall" and "frozen_spans" in f.evidence]


def test_odometry_frozen_while_its_own_twist_says_it_moves_is_a_stall(
    robots: dict[str, RobotData],
) -> None:
    """No command stream says the Husky was told to move, but a whole odometry message held
    bit for bit with its twist at a cruising speed contradicts itself: a stale message. The
    same hold with the twist at zero is a robot standing still as far as the message goes:
    only a hint."""
    husky = robots["Husky"]
    base = _moving_window(husky, "pose.pose.position.x")
    chunk = base.source.signals[ODOM]
    speed = np.abs(chunk.channel("twist.twist.linear.x"))
    hi = float(np.percentile(speed, 99))
    t0 = int(chunk.t_ns[np.argmax((chunk.t_ns > chunk.t_ns[0] + 4 * NS) & (speed > 0.5 * hi))])
    fault = _stall(chunk, list(chunk.channels), t0, 2 * NS)
    frozen = _frozen_message(_explain(husky, base, fault))
    assert len(frozen) == 1 and frozen[0].confidence >= 0.5
    assert abs(frozen[0].t_start_ns - t0) <= NS // 5
    assert "said it was moving" in frozen[0].explanation

    twists = [c for c in chunk.channels if "twist" in c]
    edit = fault.edits[ODOM]

    def at_rest(c: SignalChunk) -> SignalChunk:
        held = edit(c)
        values = held.values.copy()
        span = (c.t_ns >= t0) & (c.t_ns < t0 + 2 * NS)
        values[np.ix_(span, [c.channels.index(x) for x in twists])] = 0.0
        return sig.with_values(held, values)

    fault.edits[ODOM] = at_rest
    frozen = _frozen_message(_explain(husky, base, fault))
    assert len(frozen) == 1 and frozen[0].confidence < 0.5


def _sample_hold(t0: int, length: int, every: int, zero: list[str] | None = None) -> sig.Edit:
    """The stream's whole message held in [t0, t0 + length), refreshed every ``every``
    samples (with the ``zero`` channels at 0 inside: a robot that stopped)."""

    def edit(c: SignalChunk) -> SignalChunk:
        values = c.values.copy()
        rows = np.flatnonzero((c.t_ns >= t0) & (c.t_ns < t0 + length))
        for i in rows:
            values[i] = values[rows[0] + (i - rows[0]) // every * every]
        if zero:
            values[np.ix_(rows, [c.channels.index(x) for x in zero])] = 0.0
        return sig.with_values(c, values)

    return edit


def test_odometry_held_and_refreshed_while_reporting_a_speed_is_a_stale_message(
    robots: dict[str, RobotData],
) -> None:
    """Sample-and-hold on the Husky's odometry while it drives: three samples in four repeat
    the last one while the twist in them says the base moves — a stale message, dated where
    the holding began. Held the same way with the twist at zero it is a base at rest."""
    husky = robots["Husky"]
    base = _moving_window(husky, "pose.pose.position.x")
    chunk = base.source.signals[ODOM]
    t0 = int(chunk.t_ns[np.argmax(chunk.t_ns > chunk.t_ns[0] + 5 * NS)])
    fault = Fault("sensor_stall", t0, ODOM, None, {ODOM: _sample_hold(t0, 3 * NS, 4)})
    stale = [f for f in _explain(husky, base, fault) if "repeat_share_in_stall" in f.evidence]
    assert len(stale) == 1 and stale[0].cause == "sensor_stall"
    assert stale[0].confidence >= 0.5 and abs(stale[0].t_start_ns - t0) <= NS // 5
    twists = [c for c in chunk.channels if "twist" in c]
    fault.edits[ODOM] = _sample_hold(t0, 3 * NS, 4, zero=twists)
    assert not [f for f in _explain(husky, base, fault) if "repeat_share_in_stall" in f.evidence]
