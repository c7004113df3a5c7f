"""Slow drifts of a joint away from its command, injected into real G1 episodes: one that starts
slowly and accelerates (exponential) is dated where it starts, not seconds later where it
became steep; a finger joint that drifts is found like any other joint; a joint that keeps
following its command while it drifts is found even where the command swings back and the two
ends of the stretch meet; a command that walks away from fingers closed on an object (the joint
stays put) is not a drift."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.analysis.causes import drift
from robotrace_desktop.analysis.data import EpisodeData
from robotrace_desktop.analysis.finding import Finding
from robotrace_desktop.episodes import resolve
from tests.analysis.fakes import context, make_data, ns
from tests.analysis.faults import Fault, FaultySource, MemorySource
from tests.analysis.test_command_faults import _edit

NS = 1_000_000_000
ONSET_S = 2.0
GROW_S = 6.0


def _drifted(shared_data: Path, episode: int, joint: str, time_constant: float) -> EpisodeData:
    """Episode ``episode`` of the G1 with ``joint`` drifting from ``ONSET_S`` by a quarter of
    its commanded range over ``GROW_S`` s: exponentially (e^(t/τ) − 1, scaled) with a time
    constant, or along a straight ramp (``time_constant`` 0)."""
    resolved = resolve(f"{shared_data / 'lerobot' / 'g1_pick_bottle_v21'}#{episode}", None)
    g1 = MemorySource.load(resolved.info, resolved.open())
    state = g1.signals["observation.state"]
    command = g1.signals["action"].channel(joint)
    span = float(np.percentile(command, 99) - np.percentile(command, 1))
    since = np.clip((state.t_ns - int(ONSET_S * NS)) / NS, 0.0, GROW_S)
    if time_constant > 0:
        shape = np.expm1(since / time_constant) / np.expm1(GROW_S / time_constant)
    else:
        shape = since / GROW_S
    fault = Fault("drift", int(ONSET_S * NS), "observation.state", joint, labelled=False)
    fault.edits["observation.state"] = _edit(joint, 0.25 * span * shape)
    faulty = FaultySource(g1, fault)
    return EpisodeData(faulty.info, faulty)


def _confident(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.confidence >= 0.5]


@pytest.mark.parametrize(
    ("episode", "joint"),
    [(35, "kRightWristYaw"), (35, "kRightElbow"), (10, "kRightShoulderRoll"), (10, "kRightElbow")],
)
def test_an_accelerating_drift_is_dated_where_it_starts(
    shared_data: Path, episode: int, joint: str
) -> None:
    found = _confident(drift.analyze(_drifted(shared_data, episode, joint, 2.0), context()))
    assert [f.channels[0] for f in found] == [f"observation.state/{joint}"]
    assert abs(found[0].t_start_ns / NS - ONSET_S) <= 0.5, found[0].explanation


@pytest.mark.parametrize("joint", ["kRightHandRing", "kRightHandThumbBend"])
def test_a_finger_joint_drifting_from_its_command_is_a_drift(shared_data: Path, joint: str) -> None:
    found = _confident(drift.analyze(_drifted(shared_data, 35, joint, 0.0), context()))
    assert [f.channels[0] for f in found] == [f"observation.state/{joint}"]
    assert abs(found[0].t_start_ns / NS - ONSET_S) <= 0.5


@pytest.mark.parametrize("joint", ["kRightShoulderRoll", "kRightShoulderYaw"])
def test_a_drift_while_the_command_swings_back_is_still_a_drift(
    shared_data: Path, joint: str
) -> None:
    """In episode 5 these joints' commands turn back late in the drift, so the joint ends near
    where that stretch began although it moved all along (the command's way plus the drift):
    a joint that travelled is not one held still by an object."""
    found = _confident(drift.analyze(_drifted(shared_data, 5, joint, 0.0), context()))
    assert [f.channels[0] for f in found] == [f"observation.state/{joint}"]
    assert abs(found[0].t_start_ns / NS - ONSET_S) <= 0.5, found[0].explanation


def test_a_command_closing_on_fingers_held_by_an_object_is_not_a_drift() -> None:
    """The hand's command closes steadily for 5 s; the fingers follow until they meet the
    object at 3 s and stay there: the residual grows like a ramp, but the joint did not move."""
    rng = np.random.default_rng(2)
    t = np.arange(0, 12, 1 / 30)
    command = np.clip((t - 1.0) / 5.0, 0.0, 1.0) * 1.2  # closing 1 → 6 s
    measured = np.minimum(command, 0.48) + rng.normal(0, 0.002, t.size)  # blocked at 3 s
    data = make_data(
        {
            "action": (ns(t), {"kRightHandIndex": command}),
            "observation.state": (ns(t), {"kRightHandIndex": measured}),
        },
        details={"action": {"role": "action"}, "observation.state": {"role": "state"}},
    )
    assert _confident(drift.analyze(data, context())) == []
