"""Saturation without a flat top, and a joint blocked by an obstacle that gives way, injected into
real recordings: a command rate-limited into a constant-slope ramp, a command squashed by a
tanh against a bound it never reaches (dated at the first time it squeezed), and a joint held
by a compliant stop while its command (or its torque) runs on. Each must be the top finding,
dated where it began — not where its symptom (a settled joint, a grown tracking error) finally
shows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.analysis.causes import action_saturation
from robotrace_desktop.analysis.data import EpisodeData
from robotrace_desktop.analysis.explain import explain_source
from robotrace_desktop.analysis.finding import Finding
from robotrace_desktop.analysis.peer_explain import explain_with_peers
from robotrace_desktop.core.episode import SignalChunk
from robotrace_desktop.episodes import resolve
from tests.analysis.fakes import context, make_data, ns
from tests.analysis.faults import Fault, FaultySource, MemorySource
from tests.analysis.heldout.robots import load_robots
from tests.analysis.heldout.scoring import RobotData, default_thresholds

NS = 1_000_000_000


@pytest.fixture(scope="module")
def g1(shared_data: Path) -> MemorySource:
    resolved = resolve(f"{shared_data / 'lerobot' / 'g1_pick_bottle_v21'}#35", None)
    return MemorySource.load(resolved.info, resolved.open())


def _add(channel: str, delta: np.ndarray, t_ref: np.ndarray | None = None, lag_ns: int = 0):
    """An edit adding ``delta`` to ``channel`` (given at ``t_ref`` + lag, interpolated, when the
    stream has its own clock: the joint follows its command a little later)."""

    def apply(chunk: SignalChunk) -> SignalChunk:
        values = np.array(chunk.values, dtype=np.float64, copy=True)
        d = delta if t_ref is None else np.interp(chunk.t_ns, t_ref + lag_ns, delta, 0.0, 0.0)
        values[:, list(chunk.channels).index(channel)] += d
        return SignalChunk(chunk.stream, chunk.channels, chunk.t_ns, values, chunk.times)

    return apply


def _top(src: MemorySource, fault: Fault) -> Finding:
    faulty = FaultySource(src, fault)
    found = explain_source(faulty.info, faulty)
    assert found, "nothing found"
    return found[0]


def _swing(command: np.ndarray, length: int) -> tuple[int, float]:
    """(first sample, sign) of the command's largest one-way swing over ``length`` samples."""
    best = (0.0, 0, 1.0)
    for i in range(30, command.size - length - 30, 3):
        seg = command[i : i + length]
        for sign in (1.0, -1.0):
            rise = float(np.max(sign * seg) - sign * seg[0])
            best = max(best, (rise, i, sign))
    return best[1], best[2]


def _rate_limit(t_ns: np.ndarray, command: np.ndarray, i0: int, i1: int, rate: float):
    """The command over samples i0..i1 (and until it catches up) passed through a slew-rate
    limit of ``rate`` per second; and the first sample the limit held back."""
    out = command.astype(np.float64, copy=True)
    first = None
    i = i0 + 1
    while i < out.size and (i < i1 or abs(command[i] - out[i - 1]) > 1e-12):
        allowed = rate * (t_ns[i] - t_ns[i - 1]) / NS
        want = command[i] - out[i - 1]
        if abs(want) > allowed:
            first = i if first is None else first
            out[i] = out[i - 1] + np.sign(want) * allowed
        elif i >= i1:
            break
        i += 1
    assert first is not None
    return out, first


def test_a_rate_limited_command_is_saturation_from_the_first_sample_the_limit_held_back(
    g1: MemorySource,
) -> None:
    joint = "kRightElbow"
    action = g1.signals["action"]
    command = action.channel(joint)
    i0, _ = _swing(command, 60)
    speed = np.abs(np.diff(command[i0 : i0 + 60])) / (np.diff(action.t_ns[i0 : i0 + 60]) / NS)
    limited, first = _rate_limit(action.t_ns, command, i0, i0 + 60, 0.4 * float(speed.max()))
    delta = limited - command
    onset = int(action.t_ns[first])
    fault = Fault("saturation", onset, "action", joint, labelled=False)
    fault.edits["action"] = _add(joint, delta)
    # the joint executes the limited command, a controller's 0.1 s later
    fault.edits["observation.state"] = _add(joint, delta, action.t_ns, NS // 10)
    top = _top(g1, fault)
    assert top.cause == "action_saturation" and top.confidence >= 0.5
    assert top.evidence["limit_source"] == "rate_limited"
    assert top.channels[0] == f"action/{joint}"
    assert abs(top.t_start_ns - onset) <= 0.1 * NS


def test_a_command_squashed_smoothly_against_a_bound_is_saturation_where_the_squeeze_began(
    g1: MemorySource,
) -> None:
    joint = "kRightWristPitch"
    action = g1.signals["action"]
    command = action.channel(joint)
    i0, sign = _swing(command, 60)
    seg = sign * command[i0 : i0 + 60]
    rise = float(seg.max() - seg[0])
    knee, headroom = seg[0] + 0.4 * rise, 0.15 * rise  # tanh: never quite reaches knee+headroom
    squashed = np.where(seg > knee, knee + headroom * np.tanh((seg - knee) / headroom), seg)
    delta = np.zeros(command.size)
    delta[i0 : i0 + 60] = sign * (squashed - seg)
    onset = int(action.t_ns[i0 + int(np.argmax(seg > knee))])
    fault = Fault("saturation", onset, "action", joint, labelled=False)
    fault.edits["action"] = _add(joint, delta)
    fault.edits["observation.state"] = _add(joint, delta, action.t_ns, NS // 10)
    top = _top(g1, fault)
    assert top.cause == "action_saturation" and top.confidence >= 0.5
    assert top.evidence["limit_source"] == "soft_limit"
    assert top.channels == [f"action/{joint}"]
    assert abs(top.t_start_ns - onset) <= 0.5 * NS


def test_a_joint_held_by_an_obstacle_that_gives_way_is_a_hard_stop_dated_at_the_contact(
    g1: MemorySource,
) -> None:
    joint = "kRightShoulderRoll"
    state = g1.signals["observation.state"]
    measured = state.channel(joint)
    command = g1.signals["action"].channel(joint)  # same 30 Hz frames as the state
    # contact while the joint moves fast, with its command still having a long way to go
    ahead = np.abs(command[64:] - command[4:-60])
    came = np.abs(measured[4:] - measured[:-4])[: ahead.size]
    i0 = int(np.argmax(np.where(came >= np.percentile(came, 90), ahead, 0.0))) + 4
    held = (np.arange(measured.size) >= i0) & (state.t_ns < state.t_ns[i0] + 2 * NS)
    # the obstacle yields by a tenth of how far the command pushes on past the contact
    push = command - command[i0]
    direction = float(np.sign(measured[i0] - measured[i0 - 4]))
    give = 0.1 * np.maximum(direction * push, 0.0) * direction
    noise = np.random.default_rng(0).normal(0.0, 2e-4, measured.size)
    delta = np.where(held, measured[i0] + give + noise - measured, 0.0)
    onset = int(state.t_ns[i0])
    fault = Fault("hard_stop", onset, "observation.state", joint, labelled=False)
    fault.edits["observation.state"] = _add(joint, delta)
    top = _top(g1, fault)
    assert top.cause == "hard_stop" and top.confidence >= 0.5
    assert top.channels[:2] == [f"observation.state/{joint}", f"action/{joint}"]
    assert abs(top.t_start_ns - onset) <= 0.2 * NS


# ------------------------------------------------- a torque-driven arm (iiwa, ROS 2 bag)

STATES, TORQUES = "/joint_states", "/effort_controller/commands"


@pytest.fixture(scope="module")
def iiwa(shared_data: Path) -> RobotData:
    return RobotData(load_robots(shared_data, ("iiwa",))["iiwa"])


def test_a_torque_driven_joint_creeping_into_a_stop_is_dated_where_its_speed_collapsed(
    iiwa: RobotData,
) -> None:
    base = next(b for b in iiwa.robot.bases if TORQUES in b.source.signals)
    state = base.source.signals[STATES]
    t_ns = state.t_ns
    joint = "joint_a3"
    x = state.channel(f"position/{joint}")
    # the contact: well into the arm's first move, while this joint still swings fast
    speed = np.abs(np.gradient(x, t_ns / NS))
    i0 = int(np.argmax(np.where(t_ns > t_ns[0] + 1.5 * NS, speed, 0.0)))
    onset = int(t_ns[i0])
    after = np.clip((t_ns - onset) / (0.5 * NS), 0.0, 1.0) * (t_ns >= onset)
    direction = float(np.sign(x[i0] - x[i0 - 5]))
    span = float(np.percentile(x, 99) - np.percentile(x, 1))
    # pinned (the encoder still jitters), but yielding by 5 % of the joint's range as the push
    # builds over 0.5 s
    jitter = np.random.default_rng(1).normal(0.0, 1e-4 * span, x.size)
    pinned = x[i0] + direction * 0.05 * span * after + jitter
    delta = np.where(t_ns >= onset, pinned - x, 0.0)
    torques = base.source.signals[TORQUES]
    k = int(joint[-1]) - 1
    size = 1.5 * float(np.percentile(np.abs(torques.channel(f"data[{k}]")), 99))
    push = np.interp(torques.t_ns, t_ns, after) * direction * size
    fault = Fault("hard_stop", onset, STATES, f"position/{joint}", labelled=False)
    fault.edits[STATES] = _add(f"position/{joint}", delta)
    fault.edits[TORQUES] = _add(f"data[{k}]", push)
    source = FaultySource(base.source, fault)
    found = explain_with_peers(
        EpisodeData(source.info, source), iiwa.peers(base), default_thresholds()
    )
    assert found, "nothing found"
    top = found[0]
    assert top.cause == "hard_stop" and top.confidence >= 0.5
    assert top.channels[0] == f"{STATES}/position/{joint}"
    assert abs(top.t_start_ns - onset) <= 0.1 * NS


# --------------------------------------------------------------- what must stay quiet

T = np.arange(0, 12, 0.01)  # 100 Hz


def _saturation(data: EpisodeData) -> list[Finding]:
    from robotrace_desktop.analysis.causes import action_saturation

    found = action_saturation.analyze(data, context())
    return [f for f in found if f.confidence >= 0.5]


def test_waypoint_ramps_and_a_hold_of_the_whole_arm_are_not_saturation() -> None:
    rng = np.random.default_rng(7)
    # straight segments between waypoints: many slopes, each held exactly for a while
    knots = np.linspace(0, 12, 13)
    ramps = np.interp(T, knots, rng.uniform(-1.0, 1.0, knots.size))
    # every joint of the arm slows into a hold together (an operator pausing), then moves on
    pause = np.clip(np.abs(T - 6.0) - 0.8, 0.0, None)
    joints = (("a", 1.3, 0.2), ("b", 0.9, 1.1), ("c", 1.7, 2.0))

    def arm(paused: str) -> dict[str, np.ndarray]:
        return {
            f"joint_position/{name}": np.sin(freq * (pause if name in paused else T - 6.0) + phase)
            + 1e-5 * rng.standard_normal(T.size)
            for name, freq, phase in joints
        }

    data = make_data({"/action": (ns(T), {"joint_position/w": ramps, **arm("abc")})})
    assert _saturation(data) == []
    # the same stillness on one joint alone, the others moving on, is a squeezed command
    found = _saturation(make_data({"/action": (ns(T), arm("a"))}))
    assert [(f.channels, f.evidence["limit_source"]) for f in found] == [
        (["/action/joint_position/a"], "soft_limit")
    ]


def _halted(iiwa: RobotData, joint: str, unwind_s: float) -> tuple[Finding, int, str]:
    """A joint of the simulated arm stopped dead from its fastest swing for 2 s while its
    torque command pushes on (2.5 times anything moving the arm takes), then released; the
    push unwinds over ``unwind_s`` after it. The top finding, the stop, the torque's ref."""
    base = next(b for b in iiwa.robot.bases if TORQUES in b.source.signals)
    state = base.source.signals[STATES]
    t_ns = state.t_ns
    x = state.channel(f"position/{joint}")
    speed = np.abs(np.gradient(x, t_ns / NS))
    i0 = int(np.argmax(np.where(t_ns > t_ns[0] + 1.5 * NS, speed, 0.0)))
    onset = int(t_ns[i0])
    span = float(np.percentile(x, 99) - np.percentile(x, 1))
    # held within 0.1 % of the joint's range (no creep): a few thousandths of a radian
    jitter = np.random.default_rng(2).normal(0.0, 3e-4 * span, x.size)
    held = (t_ns >= onset) & (t_ns < onset + 2 * NS)  # then the obstacle is gone
    delta = np.where(held, x[i0] + jitter - x, 0.0)
    after = np.clip((t_ns - onset) / (0.5 * NS), 0.0, 1.0) * held
    released = (t_ns - onset - 2 * NS) / NS
    if unwind_s > 0:
        after = np.where(released >= 0, np.clip(1.0 - released / unwind_s, 0.0, 1.0), after)
    direction = float(np.sign(x[i0] - x[i0 - 5]))
    torques = base.source.signals[TORQUES]
    k = int(joint[-1]) - 1
    size = 2.5 * float(np.percentile(np.abs(torques.channel(f"data[{k}]")), 99))
    fault = Fault("hard_stop", onset, STATES, f"position/{joint}", labelled=False)
    fault.edits[STATES] = _add(f"position/{joint}", delta)
    fault.edits[TORQUES] = _add(
        f"data[{k}]", np.interp(torques.t_ns, t_ns, after) * direction * size
    )
    source = FaultySource(base.source, fault)
    found = explain_with_peers(
        EpisodeData(source.info, source), iiwa.peers(base), default_thresholds()
    )
    assert found, "nothing found"
    return found[0], onset, f"{TORQUES}/data[{k}]"


def test_a_simulated_joint_halted_dead_while_its_torque_rises_is_a_hard_stop(
    iiwa: RobotData,
) -> None:
    """A simulator's joint has no noise floor (it rests on exactly repeated values), so any
    give of a loaded joint — an encoder's jitter, a compliant contact — is many "noise floors"
    wide; stopped dead from speed, with its torque pushing on, it is still a hard stop."""
    top, onset, torque = _halted(iiwa, "joint_a4", 0.0)
    assert top.cause == "hard_stop" and top.confidence >= 0.5
    assert top.channels[:2] == [f"{STATES}/position/joint_a4", torque]
    assert abs(top.t_start_ns - onset) <= 0.1 * NS


def test_a_push_that_unwinds_slowly_after_the_release_is_still_a_hard_stop(
    iiwa: RobotData,
) -> None:
    """The controller's push stays high for seconds after the obstacle gives (an integrator
    unwinding): over the rest of the run that looks like the effort's ordinary band, but it
    is far beyond what the joint took before the stop."""
    top, onset, torque = _halted(iiwa, "joint_a4", 4.0)
    assert top.cause == "hard_stop" and top.confidence >= 0.5
    assert torque in top.channels
    assert abs(top.t_start_ns - onset) <= 0.1 * NS


def _stale(movers: list[str], t_s: float, confidence: float) -> Finding:
    return Finding(
        cause="sensor_stall",
        title="all live channels stopped at once",
        explanation="",
        confidence=confidence,
        severity="high",
        t_start_ns=int(t_s * NS),
        channels=[f"{STATES}/position/joint_a{k}" for k in range(1, 8)],
        evidence={"commands_moving": movers, "same_story_as": "hard_stop"},
    )


def test_a_stall_driven_only_by_a_pinned_joints_push_follows_the_hard_stop() -> None:
    """After a joint is pinned, the arm rests while the torque pushing that joint keeps
    changing: to the whole-message stall rule that looks like a driver republishing its last
    reading, but the only command still moving is the push on the joint pinned before. The
    hard stop is the cause and is ranked first (with the stall's confidence: rank and
    confidence agree); a stall with other commands moving too keeps its own place."""
    from robotrace_desktop.analysis.ranking import rank

    push = f"{TORQUES}/data[1]"
    stop = Finding(
        cause="hard_stop",
        title="Joint stopped dead while still driven",
        explanation="",
        confidence=0.73,
        severity="high",
        t_start_ns=int(2.76 * NS),
        channels=[f"{STATES}/position/joint_a2", push],
    )
    ordered = rank([_stale([push], 5.2, 0.88), stop])
    assert [f.cause for f in ordered] == ["hard_stop", "sensor_stall"]
    assert ordered[0].confidence == 0.88
    stop.confidence = 0.73
    other = rank([_stale([push, f"{TORQUES}/data[3]"], 5.2, 0.88), stop])
    assert [f.cause for f in other] == ["sensor_stall", "hard_stop"]


def test_a_soft_limit_is_dated_at_the_first_time_it_squeezed_the_command() -> None:
    """A velocity command squashed by a tanh against 0.75 twice: briefly at 3.5 s, then long
    enough to creep there at 7.2 s. The limit acted from the first time: the finding starts at
    that knee and says so, not four seconds later where the squeeze became obvious."""
    t = np.arange(0, 12, 0.1)
    request = 1.1 * np.exp(-0.5 * ((t - 4.0) / 0.5) ** 2) + 1.7 * np.exp(
        -0.5 * ((t - 8.0) / 0.6) ** 2
    )
    knee, bound = 0.6, 0.75
    excess = (request - knee) / (bound - knee)
    squeezed = np.where(request > knee, knee + (bound - knee) * np.tanh(excess), request)
    other = 0.8 * np.sin(0.9 * t) + 0.3 * np.sin(2.3 * t)
    data = make_data(
        {"/turtle2/cmd_vel": (ns(t), {"linear.x": other, "angular.z": squeezed})},
        details={"/turtle2/cmd_vel": {"role": "command"}},
    )
    found = [f for f in action_saturation.analyze(data, context()) if f.confidence >= 0.5]
    assert [f.channels for f in found] == [["/turtle2/cmd_vel/angular.z"]]
    assert abs(found[0].t_start_ns / NS - 3.5) <= 0.3
    assert "flattened at that level already" in found[0].explanation
