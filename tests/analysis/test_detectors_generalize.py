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
