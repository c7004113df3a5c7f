"""Range excursions and the logged failure that follows one (issue 13). Range alone stays
cautious on a robot with many joints (its ordinary episodes now and then stray as far on one of
them); an ERROR logged within seconds after the excursion is evidence, weighed by how often the
robot's ordinary whole episodes stray as far on a single channel (counted over the peers, leave
one episode out) times the chance such a stray starts that close before an unrelated failure.
An ERROR long after, or with no anomaly before it, changes nothing. Faults are injected by hand
into real G1 episodes (tuning fold).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.analysis.causes._peer_strays import Envelope, leave_one_out, p_value
from robotrace_desktop.analysis.data import EpisodeData
from robotrace_desktop.analysis.finding import Finding
from robotrace_desktop.analysis.peer_explain import PeerRanges, explain_with_peers
from robotrace_desktop.analysis.ranking import rank
from robotrace_desktop.core.episode import LogEvent
from robotrace_desktop.library.peer_history import history_for
from tests.analysis.faults import Fault, FaultySource
from tests.analysis.heldout import signals as sig
from tests.analysis.heldout.robots import Base, load_robots
from tests.analysis.heldout.scoring import RobotData, default_thresholds
from tests.demo_cache import demo_catalog

NS = 1_000_000_000
STATE, ACTION = "observation.state", "action"
Limits = dict[str, dict[str, object]]


def test_a_peer_beyond_the_rest_on_many_channels_is_not_an_ordinary_single_stray() -> None:
    # eight peers on three channels: peer 0 goes below the rest on two channels (a different
    # set-up), peer 1 above on one (what a fault on one joint looks like), the others agree
    lo = np.zeros((8, 3))
    hi = np.ones((8, 3))
    lo[0, :2] = -0.5
    hi[1, 2] = 1.4
    strays = leave_one_out(lo, hi)
    assert strays[0] == pytest.approx([0.5, 0.5, 0.0])
    assert strays[1] == pytest.approx([0.0, 0.0, 0.4])
    envelope = Envelope(lo, hi, min_excess=0.08, over_normal=2.0, many=2)
    assert np.isneginf(envelope.singles).sum() == 1  # peer 0 is never a single stray
    assert sorted(envelope.singles[np.isfinite(envelope.singles)]) == pytest.approx([0] * 6 + [0.4])
    # straying 0.3 on one channel: one peer of eight did as much, 2 of the 9 episodes
    assert p_value(0.3, envelope.singles) == pytest.approx(2 / 9)
    assert p_value(0.5, envelope.singles) == pytest.approx(1 / 9)
    # 0.1 / 1.5 below on channel 0 is inside its margin; 0.2 / 1.4 above on channel 2 is not
    own_lo, own_hi = np.array([-0.6, 0.0, 0.0]), np.array([1.0, 1.0, 1.6])
    assert envelope.channels_beyond(own_lo, own_hi) == 1


@pytest.fixture(scope="module")
def g1(shared_data: Path) -> RobotData:
    return RobotData(load_robots(shared_data, ("G1",))["G1"])


def _base(robot: RobotData, name: str) -> Base:
    return next(b for b in robot.robot.bases if b.name == name)


def _excursion(robot: RobotData, base: Base, joint: str, excess: float) -> Fault:
    """The joint commanded ``excess`` (a fraction of the peers' range) above anything the
    other episodes reached from 4 s, rising over 1 s and back, the joint following."""
    lo, hi = robot.peer_range(base)(STATE, joint) or (0.0, 0.0)
    chunk = base.source.signals[STATE]
    t = (chunk.t_ns - 4 * NS) / NS
    weight = np.clip(t, 0.0, 1.0) * np.clip(2.5 - t, 0.0, 1.0)
    column = chunk.channel(joint)
    delta = np.where(weight > 0, weight * (hi + excess * (hi - lo) - column), 0.0)
    onset = int(chunk.t_ns[np.argmax(column + delta > hi)])
    fault = Fault("range_excursion", onset, STATE, joint, labelled=False)
    command = base.source.signals[ACTION]
    command_delta = np.interp(command.t_ns, chunk.t_ns, delta)
    fault.edits[STATE] = lambda c: sig.add_to_channel(c, joint, delta)
    fault.edits[ACTION] = lambda c: sig.add_to_channel(c, joint, command_delta)
    return fault


def _error_after(fault: Fault, seconds: float) -> Fault:
    fault.added_events.append(
        LogEvent(fault.t0_ns + int(seconds * NS), "ERROR", "monitor: aborting", "task_monitor")
    )
    return fault


@pytest.fixture(scope="module")
def limits() -> Limits:
    return default_thresholds()


def _run(robot: RobotData, base: Base, fault: Fault | None, limits: Limits) -> list[Finding]:
    source = base.source if fault is None else FaultySource(base.source, fault)
    return explain_with_peers(EpisodeData(source.info, source), robot.peers(base), limits)


def _excursions(findings: list[Finding], joint: str) -> list[Finding]:
    return [f for f in findings if f.cause == "range_excursion" and f.channels[0].endswith(joint)]


def test_range_alone_on_a_humanoid_stays_cautious(g1: RobotData, limits: Limits) -> None:
    # 20 % beyond all 19 other episodes on one joint: ordinary G1 episodes now and then stray
    # as far on one of their 26 joints, so the excursion is reported, not asserted
    base = _base(g1, "G1#40")
    fault = _excursion(g1, base, "kLeftElbow", 0.2)
    excursions = _excursions(_run(g1, base, fault, limits), "kLeftElbow")
    assert len(excursions) == 1 and excursions[0].confidence < 0.5
    assert abs(excursions[0].t_start_ns - fault.t0_ns) <= NS // 10
    assert "on one of its 26 channels" in excursions[0].explanation


def test_an_error_logged_just_after_an_excursion_makes_it_the_cause(
    g1: RobotData, limits: Limits
) -> None:
    base = _base(g1, "G1#40")
    fault = _error_after(_excursion(g1, base, "kLeftElbow", 0.2), 1.5)
    found = _run(g1, base, fault, limits)
    top = found[0]
    assert top.cause == "range_excursion" and top.confidence >= 0.5
    assert abs(top.t_start_ns - fault.t0_ns) <= NS // 10
    assert "logged a failure 1.5 s after it left the range" in top.explanation
    others = len(g1.robot.bases) - 1
    assert f"of {others + 1} episodes (the {others} others and this one)" in top.explanation
    assert top.evidence["p_value_before_failure"] < top.evidence["p_value_episode"]
    assert found[1].cause == "raised_exception"  # the error is what followed


def test_an_error_long_after_the_excursion_is_not_its_consequence(
    g1: RobotData, limits: Limits
) -> None:
    base = _base(g1, "G1#40")
    found = _run(g1, base, _error_after(_excursion(g1, base, "kLeftElbow", 0.2), 6.0), limits)
    assert found[0].cause == "raised_exception"
    assert all(f.confidence < 0.5 for f in _excursions(found, "kLeftElbow"))


def test_an_error_with_no_anomaly_before_it_stays_the_finding(
    g1: RobotData, limits: Limits
) -> None:
    for name in ("G1#40", "G1#75"):
        base = _base(g1, name)
        fault = Fault("logged_error", 5 * NS, labelled=False)
        _error_after(fault, 0.0)
        found = _run(g1, base, fault, limits)
        assert found[0].cause == "raised_exception"
        assert [f.cause for f in found if f.confidence >= 0.5] == ["raised_exception"]


def test_peer_rows_stay_aligned_across_channels(g1: RobotData) -> None:
    base = _base(g1, "G1#40")
    peers = g1.peers(base)
    ranges = PeerRanges(peers)
    lo, hi = ranges.per_episode(STATE, ["kLeftElbow", "no_such_joint"], False)
    assert lo.shape == (len(peers), 2) and np.isnan(lo[:, 1]).all()
    column = ranges.each(STATE, "kLeftElbow", False)
    assert list(zip(lo[:, 0], hi[:, 0], strict=True)) == column


def _pair(
    stuck: float, *, calibrated: bool = True, excursion_at: float = 6.9
) -> tuple[Finding, Finding]:
    excursion = Finding(
        "range_excursion",
        "Beyond the range of other episodes: j",
        "went below the range",
        0.2,
        "high",
        t_start_ns=round(excursion_at * NS),
        t_end_ns=round(7.9 * NS),
        channels=[f"{STATE}/j"],
        evidence={
            "lower": -0.5,
            "upper": 0.4,
            "from_episode_start": False,
            "calibrated": calibrated,
        },
    )
    stall = Finding(
        "sensor_stall",
        "stuck",
        "repeated exactly the same value",
        0.53,
        "high",
        t_start_ns=7 * NS,
        t_end_ns=round(7.8 * NS),
        channels=[f"{STATE}/j"],
        evidence={"stuck_values": {"j": stuck}, "same_story_as": "tracking_error"},
    )
    return excursion, stall


def test_a_reading_that_left_the_range_and_froze_there_is_the_excursion() -> None:
    excursion, stall = _pair(-0.63)
    ranked = rank([stall, excursion])
    assert ranked[0] is excursion and excursion.confidence == stall.confidence
    assert excursion.evidence["corroborated_by"] == "sensor_stall"
    assert "stayed exactly there" in excursion.explanation
    # frozen inside the range: a stuck sensor, whatever the joint did before
    excursion, stall = _pair(-0.2)
    assert rank([stall, excursion])[0] is stall and excursion.confidence == 0.2
    # an excursion the detector does not trust, or one that began after the freeze
    for excursion, stall in (_pair(-0.63, calibrated=False), _pair(-0.63, excursion_at=7.2)):
        assert rank([stall, excursion])[0] is stall and excursion.confidence == 0.2


def test_a_stall_that_gives_no_value_is_folded_only_inside_the_excursion() -> None:
    excursion, stall = _pair(-0.63)
    del stall.evidence["stuck_values"]  # a noise-floor stall says when, not at what value
    assert rank([stall, excursion])[0] is excursion
    excursion, stall = _pair(-0.63)
    del stall.evidence["stuck_values"]
    stall.t_end_ns = 12 * NS  # still frozen long after the channel came back into the range
    assert rank([stall, excursion])[0] is stall and excursion.confidence == 0.2


def test_a_whole_message_going_still_is_not_folded_into_one_joints_excursion() -> None:
    excursion, stall = _pair(-0.63)
    stall.channels = [f"{STATE}/j", f"{STATE}/k"]
    stall.evidence["stuck_values"] = {"j": -0.63, "k": 0.1}
    assert rank([stall, excursion])[0] is stall and excursion.confidence == 0.2


def test_the_catalog_history_gives_the_peers_rows_aligned_too(tmp_path: Path) -> None:
    catalog, episodes = demo_catalog(tmp_path)
    catalog.set_overrides([episodes["seed2"].id], {"outcome": "success"})
    history = history_for(catalog, catalog.get(episodes["seed1"].id))
    channels = ["effort/joint_1", "no/such", "position/joint_1"]
    lo, hi = history.per_episode("/joint_states", channels, False)
    assert lo.shape == (2, 3) and np.isnan(hi[:, 1]).all()
    for k in (0, 2):
        assert sorted(zip(lo[:, k], hi[:, k], strict=True)) == sorted(
            history.each("/joint_states", channels[k], False)
        )
    lo, hi = history.per_episode("/joint_states", channels, True)  # the successful peer only
    assert [(lo[0, 0], hi[0, 0])] == history.each("/joint_states", channels[0], True)
