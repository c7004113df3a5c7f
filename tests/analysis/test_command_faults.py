"""Command-vs-measured faults on a real recording (G1, LeRobot): a command clipped at a bound
nobody declared, a joint pinned by a hard stop while its command runs on, and a joint drifting
slowly away from its command — each found by Explain with its cause, onset and channel, and
none of them reported on the untouched episode."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.analysis.explain import explain_source
from robotrace_desktop.analysis.finding import Finding
from robotrace_desktop.core.episode import SignalChunk
from robotrace_desktop.episodes import resolve
from tests.analysis.fakes import context, make_data, ns
from tests.analysis.faults import Fault, FaultySource, MemorySource

NS = 1_000_000_000
CAUSES = frozenset({"action_saturation", "hard_stop", "tracking_drift"})
JOINT = "kRightShoulderRoll"


@pytest.fixture(scope="module")
def g1(shared_data: Path) -> MemorySource:
    resolved = resolve(f"{shared_data / 'lerobot' / 'g1_pick_bottle_v21'}#35", None)
    return MemorySource.load(resolved.info, resolved.open())


def _edit(channel: str, delta: np.ndarray) -> Callable[[SignalChunk], SignalChunk]:
    def apply(chunk: SignalChunk) -> SignalChunk:
        values = np.array(chunk.values, dtype=np.float64, copy=True)
        values[:, list(chunk.channels).index(channel)] += delta
        return SignalChunk(chunk.stream, chunk.channels, chunk.t_ns, values, chunk.times)

    return apply


def _explain(src: MemorySource, fault: Fault | None = None) -> list[Finding]:
    if fault is None:
        return explain_source(src.info, src)
    faulty = FaultySource(src, fault)
    return explain_source(faulty.info, faulty)


def test_untouched_recording_has_none_of_these_faults(g1: MemorySource) -> None:
    confident = [f for f in _explain(g1) if f.cause in CAUSES and f.confidence >= 0.5]
    assert confident == [], [f.explanation for f in confident]


def test_command_clipped_inside_its_range_is_the_top_finding_from_its_first_flat_sample(
    g1: MemorySource,
) -> None:
    action = g1.signals["action"]
    command = action.channel(JOINT)
    peak = int(np.argmax(command))  # the arm's highest swing, cut off on its way up
    bound = float(command[peak - 10])
    window = (np.arange(command.size) > peak - 10) & (np.arange(command.size) < peak + 30)
    delta = np.where(window, np.minimum(command, bound) - command, 0.0)
    onset = int(action.t_ns[np.flatnonzero(delta < 0)[0]])
    fault = Fault("saturation", onset, "action", JOINT, labelled=False)
    fault.edits["action"] = _edit(JOINT, delta)
    fault.edits["observation.state"] = _edit(JOINT, delta)  # the joint follows its command
    top = _explain(g1, fault)[0]
    assert top.cause == "action_saturation" and top.confidence >= 0.5
    # the clipped command first, then the joint that held at the bound with it
    assert top.channels == [f"action/{JOINT}", f"observation.state/{JOINT}"]
    assert top.evidence["state_follows"] is True
    assert abs(top.t_start_ns - onset) <= 0.05 * NS
    assert top.evidence["limit"] == pytest.approx(bound)


def test_joint_pinned_while_its_command_runs_on_is_a_hard_stop_dated_when_it_pins(
    g1: MemorySource,
) -> None:
    state = g1.signals["observation.state"]
    measured = state.channel(JOINT)
    # blocked while moving fast, at the moment its command still has the longest way to go
    command = g1.signals["action"].channel(JOINT)  # same 30 Hz frames as the state
    ahead = np.abs(command[64:] - command[4:-60])  # from sample i (i ≥ 4) on, 2 s later
    came = np.abs(measured[4:] - measured[:-4])[: ahead.size]  # over the 4 samples before i
    i0 = int(np.argmax(np.where(came >= np.percentile(came, 90), ahead, 0.0))) + 4
    pinned = (np.arange(measured.size) >= i0) & (state.t_ns < state.t_ns[i0] + 2 * NS)
    noise = np.random.default_rng(0).normal(0.0, 2e-4, int(pinned.sum()))
    delta = np.zeros(measured.size)
    delta[pinned] = measured[i0] + noise - measured[pinned]
    onset = int(state.t_ns[i0])
    fault = Fault("hard_stop", onset, "observation.state", JOINT, labelled=False)
    fault.edits["observation.state"] = _edit(JOINT, delta)
    top = _explain(g1, fault)[0]
    assert top.cause == "hard_stop" and top.confidence >= 0.5
    assert top.channels[:2] == [f"observation.state/{JOINT}", f"action/{JOINT}"]
    assert abs(top.t_start_ns - onset) <= 0.1 * NS


def test_slow_drift_away_from_the_command_is_dated_at_the_start_of_its_ramp(
    g1: MemorySource,
) -> None:
    joint = "kRightShoulderYaw"
    state = g1.signals["observation.state"]
    command = g1.signals["action"].channel(joint)
    span = float(np.percentile(command, 99) - np.percentile(command, 1))
    onset = int(2.0 * NS)
    ramp = np.clip((state.t_ns - onset) / (6.0 * NS), 0.0, 1.0) * 0.25 * span
    fault = Fault("drift", onset, "observation.state", joint, labelled=False)
    fault.edits["observation.state"] = _edit(joint, ramp)
    top = _explain(g1, fault)[0]
    assert top.cause == "tracking_drift" and top.confidence >= 0.5
    assert top.channels == [f"observation.state/{joint}", f"action/{joint}"]
    assert abs(top.t_start_ns - onset) <= 0.5 * NS


# --------------------------------------------------------------- what must stay quiet

T = np.arange(0, 12, 0.01)  # 100 Hz


def _analyze(data) -> list[Finding]:
    from robotrace_desktop.analysis.causes import action_saturation, drift, hard_stop

    ctx = context()
    found = []
    for module in (action_saturation, hard_stop, drift):
        found += module.analyze(data, ctx)
    return [f for f in found if f.confidence >= 0.5]


def test_step_and_quantised_commands_and_joints_stopping_on_command_are_not_faults() -> None:
    steps = np.round(np.sin(T) * 4) / 4  # a command that holds a few levels, jumping between
    ticks = np.round(np.sin(T) * 300) / 300  # a quantised encoder-like command
    stop = np.clip(T - 3.0, 0.0, 2.0)  # moves, then is told to stop at 5 s...
    data = make_data(
        {
            "/action": (ns(T), {"joint_position/a": steps, "joint_position/b": ticks}),
            "/cmd": (ns(T), {"joint_position/c": stop}),
            "/joint_states": (ns(T), {"position/c": stop + 1e-4 * np.sin(T * 37)}),
        }
    )
    assert _analyze(data) == []


def test_a_stalled_command_stream_and_a_sample_and_hold_command_are_not_clipping() -> None:
    swing = np.sin(T * 1.3)
    frozen = (T >= 4.0) & (T < 5.0)  # the whole message repeats (a dropped teleop link)
    stalled = {
        f"joint_position/{name}": np.where(frozen, np.interp(4.0, T, col), col)
        for name, col in (("a", swing), ("b", np.cos(T * 0.7)), ("c", 0.5 * np.sin(T * 2.1)))
    }
    held = np.repeat(np.sin(T[::10] * 1.3), 10)  # updated at 10 Hz, published at 100 Hz
    data = make_data({"/action": (ns(T), stalled), "/target": (ns(T), {"joint_position/d": held})})
    assert _analyze(data) == []
    # the same freeze on one channel alone, with the others moving on, is a clamp
    stalled["joint_position/b"] = np.cos(T * 0.7)
    stalled["joint_position/c"] = 0.5 * np.sin(T * 2.1)
    swing_top = np.minimum(swing, 0.6)
    stalled["joint_position/a"] = swing_top
    found = _analyze(make_data({"/action": (ns(T), stalled)}))
    assert [f.channels for f in found] == [["/action/joint_position/a"]]


def test_a_clamp_the_joint_obeys_is_named_with_the_joint_and_the_strongest_clip_wins() -> None:
    swing = np.sin(T * 1.1)
    rng = np.random.default_rng(3)
    # a noisy command clipped at 0.7 while it swings up (it moves freely elsewhere), with a
    # brief exact repeat earlier in the run that is not a clamp worth reporting first
    noisy = swing + 0.01 * rng.standard_normal(T.size)
    noisy[150:154] = noisy[150]
    clipped = np.minimum(noisy, 0.7)
    follows = clipped + 0.002 * rng.standard_normal(T.size)
    ignores = noisy + 0.002 * rng.standard_normal(T.size)
    for measured, obeyed in ((follows, True), (ignores, False)):
        data = make_data(
            {
                "/cmd": (ns(T), {"joint_position/a": clipped}),
                "/joint_states": (ns(T), {"position/a": measured}),
            }
        )
        found = [f for f in _analyze(data) if f.cause == "action_saturation"]
        assert len(found) == 1
        first_at_bound = T[np.argmax(clipped >= 0.7)]
        assert abs(found[0].t_start_ns / NS - first_at_bound) < 0.05
        assert found[0].evidence["state_follows"] is obeyed
        assert ("/joint_states/position/a" in found[0].channels) is obeyed


def test_a_joint_blocked_as_it_creeps_is_a_hard_stop_once_its_command_runs_far_on() -> None:
    rng = np.random.default_rng(5)
    command = 0.3 * np.sin(0.4 * T)
    lag = 10  # the joint trails its command by 0.1 s, as a controller does
    joint = np.concatenate((np.full(lag, command[0]), command[:-lag]))
    joint = joint + 0.002 * rng.standard_normal(T.size)
    block = (T >= 4.0) & (T < 7.0)  # at its turning point, barely moving, when blocked
    blocked = joint.copy()
    blocked[block] = joint[np.argmax(block)] + 0.002 * rng.standard_normal(int(block.sum()))
    for measured, fault in ((joint, False), (blocked, True)):
        data = make_data(
            {
                "/cmd": (ns(T), {"joint_position/a": command}),
                "/joint_states": (ns(T), {"position/a": measured}),
            }
        )
        found = [f for f in _analyze(data) if f.cause == "hard_stop"]
        assert bool(found) is fault
        if fault:
            assert found[0].evidence["command_travel"] >= 0.1
            assert abs(found[0].t_start_ns / NS - 4.0) <= 0.5


def test_a_clipped_quantised_command_is_confident_its_short_ordinary_holds_do_not_count() -> None:
    # a servo-like command on a 0.01 grid at 30 Hz: near every turning point it repeats one
    # tick for a few samples (its habit), but it sat at 0.5 for seconds only where clamped
    t = np.arange(0, 12, 1 / 30)
    ticks = np.round(np.sin(t * 1.3) / 0.01) * 0.01
    clipped = np.where((t > 4) & (t < 7), np.minimum(ticks, 0.5), ticks)
    assert _analyze(make_data({"/action": (ns(t), {"joint_position/a": ticks})})) == []
    found = _analyze(make_data({"/action": (ns(t), {"joint_position/a": clipped})}))
    assert [f.cause for f in found] == ["action_saturation"]
    assert found[0].confidence >= 0.5
    assert abs(found[0].t_start_ns / NS - t[np.argmax((t > 4) & (ticks >= 0.5))]) < 0.05


def test_a_stop_split_by_one_noisy_sample_is_judged_as_one_from_where_it_pinned() -> None:
    rng = np.random.default_rng(11)
    position = np.sin(T * 1.2) + 0.001 * rng.standard_normal(T.size)
    effort = 2.0 * np.cos(T * 1.2) + 0.05 * rng.standard_normal(T.size)
    pinned = (T >= 5.2) & (T < 7.7)  # struck while moving fast
    position[pinned] = position[np.argmax(pinned)] + 0.001 * rng.standard_normal(int(pinned.sum()))
    position[np.argmax(T >= 5.9)] += 0.05  # one sample of noise beyond the band
    # the motor pushes harder against the block, building up after the first 0.7 s
    effort += np.clip((T - 5.9) / 0.5, 0.0, 1.0) * pinned * 6.0
    data = make_data({"/joint_states": (ns(T), {"position/a": position, "effort/a": effort})})
    found = [f for f in _analyze(data) if f.cause == "hard_stop"]
    assert len(found) == 1 and "effort_rise" in found[0].evidence
    assert abs(found[0].t_start_ns / NS - 5.2) <= 0.05


def test_a_slow_joint_lagging_a_jittery_command_is_not_blocked() -> None:
    # a policy's command with per-step jitter, a joint following it through a first-order lag
    # (it smooths the jitter away): near its slow turning points the joint creeps within its
    # noise band for seconds while the jittery command creeps alike — following, not blocked
    t = np.arange(0, 13.3, 1 / 30)
    rng = np.random.default_rng(2)
    found = []
    for amplitude, freq in ((0.08, 0.15), (0.2, 0.12), (0.05, 0.3)):
        command = amplitude * np.sin(2 * np.pi * freq * t) + 0.003 * rng.standard_normal(t.size)
        joint = np.empty_like(command)
        joint[0] = command[0]
        alpha = 1.0 - np.exp(-1.0 / (30 * 0.1))
        for i in range(1, t.size):
            joint[i] = joint[i - 1] + alpha * (command[i - 1] - joint[i - 1])
        joint += 0.0005 * rng.standard_normal(t.size)
        data = make_data(
            {
                "/action": (ns(t), {"joint_position/a": command}),
                "/joint_states": (ns(t), {"position/a": joint}),
            }
        )
        found += _analyze(data)
    assert found == []
