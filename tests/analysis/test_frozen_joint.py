"""A joint reading frozen bit for bit while its command moves, on a real recording (G1,
LeRobot): its sensor stopped updating — a stall, ranked ahead of the tracking error it causes.
The same joint held with its sensor's own noise is a joint that really stopped (blocked), which
is not reported as a stall."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.analysis.explain import explain_source
from robotrace_desktop.analysis.finding import Finding
from robotrace_desktop.core.episode import SignalChunk
from robotrace_desktop.episodes import resolve
from tests.analysis.faults import Fault, FaultySource, MemorySource

NS = 1_000_000_000
JOINT = "kRightShoulderRoll"


@pytest.fixture(scope="module")
def g1(shared_data: Path) -> MemorySource:
    resolved = resolve(f"{shared_data / 'lerobot' / 'g1_pick_bottle_v21'}#35", None)
    return MemorySource.load(resolved.info, resolved.open())


def _held(g1: MemorySource, noise: float) -> tuple[list[Finding], int]:
    """The joint held for 2 s from where its command has the longest way still to go, with
    Gaussian noise of ``noise`` (0: the exact same value repeated); (findings, onset)."""
    state = g1.signals["observation.state"]
    measured = state.channel(JOINT)
    command = g1.signals["action"].channel(JOINT)  # same 30 Hz frames as the state
    i0 = int(np.argmax(np.abs(command[60:] - command[:-60])[: measured.size - 60]))
    held = (np.arange(measured.size) >= i0) & (state.t_ns < state.t_ns[i0] + 2 * NS)
    values = np.array(state.values, dtype=np.float64, copy=True)
    k = list(state.channels).index(JOINT)
    jitter = np.random.default_rng(0).normal(0.0, noise, int(held.sum())) if noise else 0.0
    values[held, k] = measured[i0] + jitter
    return _explain_with_state(g1, values, i0, JOINT)


def _explain_with_state(
    g1: MemorySource, values: np.ndarray, i0: int, joint: str
) -> tuple[list[Finding], int]:
    """Explain the episode with ``observation.state`` replaced by ``values`` (a held ``joint``
    from sample ``i0``); (findings, onset)."""
    state = g1.signals["observation.state"]

    def edit(chunk: SignalChunk) -> SignalChunk:
        at = np.searchsorted(state.t_ns, chunk.t_ns)
        return SignalChunk(chunk.stream, chunk.channels, chunk.t_ns, values[at], chunk.times)

    onset = int(state.t_ns[i0])
    fault = Fault("held", onset, "observation.state", joint, labelled=False)
    fault.edits["observation.state"] = edit
    faulty = FaultySource(g1, fault)
    return explain_source(faulty.info, faulty), onset


def test_joint_repeating_one_value_while_its_command_moves_is_a_stalled_sensor_first(
    g1: MemorySource,
) -> None:
    findings, onset = _held(g1, 0.0)
    top = findings[0]
    assert top.cause == "sensor_stall" and top.confidence >= 0.5
    assert top.channels[:2] == [f"observation.state/{JOINT}", f"action/{JOINT}"]
    assert abs(top.t_start_ns - onset) <= 0.1 * NS
    assert top.evidence["repeated_exactly"] is True
    # the tracking error it causes is still shown, after it
    causes = [f.cause for f in findings]
    assert "tracking_error" in causes and causes.index("tracking_error") > 0


def test_joint_held_with_its_sensor_noise_is_not_called_a_stalled_sensor(
    g1: MemorySource,
) -> None:
    findings, _ = _held(g1, 2e-4)  # a blocked joint still reads its encoder's noise
    assert findings[0].cause != "sensor_stall"
    stalls = [f for f in findings if f.cause == "sensor_stall" and f.confidence >= 0.5]
    assert stalls == [], [f.explanation for f in stalls]


def test_joint_repeating_its_value_to_float32_precision_is_a_stalled_sensor(
    shared_data: Path,
) -> None:
    """A value republished through a float32 re-encoding wobbles by a float32 step or two: no
    sensor resolves that, so it is the same value repeated — even on a joint that moves little
    in the run (its range says nothing about the precision its values are written with)."""
    resolved = resolve(f"{shared_data / 'lerobot' / 'g1_pick_bottle_v21'}#10", None)
    g1 = MemorySource.load(resolved.info, resolved.open())
    joint = "kLeftWristPitch"  # a range of ~0.02 rad around ~0.56 rad in this episode
    state = g1.signals["observation.state"]
    k = list(state.channels).index(joint)
    i0 = int(np.searchsorted(state.t_ns, state.t_ns[0] + int(4.5 * NS)))
    values = np.array(state.values, dtype=np.float64, copy=True)
    held = np.float32(values[i0, k])
    steps = np.random.default_rng(0).integers(-2, 3, values.shape[0] - i0)
    values[i0:, k] = held + steps * np.spacing(held)  # ± two float32 steps of the value
    findings, onset = _explain_with_state(g1, values, i0, joint)
    stalls = [f for f in findings if f.cause == "sensor_stall" and f.confidence >= 0.5]
    assert stalls, [(f.cause, f.explanation) for f in findings]
    assert stalls[0].channels[0] == f"observation.state/{joint}"
    assert abs(stalls[0].t_start_ns - onset) <= 0.1 * NS
