"""A live reading that keeps publishing a few stale values is a stall: refreshed only every k-th
sample (sample-and-hold) or flickering between two old readings, injected into real recordings,
is found and dated where it began; untouched recordings, a quantised joint resting or creeping
by single steps, an odometry estimate holding one part while the rest moves, a robot parked
while another drives and a speed echoing its command at the command's rate are not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.analysis.causes import level_stall
from robotrace_desktop.analysis.explain import explain
from robotrace_desktop.analysis.finding import Finding
from robotrace_desktop.episodes import resolve
from tests.analysis.fakes import context, make_data, ns, streams_of

NS = 1_000_000_000
IIWA = "rosbag2/iiwa7_gazebo_joint_torque_sqlite3"
HUSKY = "ros1/husky_localization/test1.bag"
TURTLES = "ros1/example.bag"
G1 = "lerobot/g1_pick_bottle_v21#1"


def _real(shared_data: Path, relative: str) -> tuple[object, dict]:
    resolved = resolve(str(shared_data / relative), None)
    return resolved.info, streams_of(resolved.info, resolved.open())


def _stalls(findings: list[Finding], t0: float) -> list[Finding]:
    return [
        f
        for f in findings
        if f.cause == "sensor_stall"
        and f.confidence >= 0.5
        and f.t_start_ns is not None
        and abs(f.t_start_ns / NS - t0) <= 0.5
    ]


def _sample_and_hold(column: np.ndarray, rows: np.ndarray, every: int) -> np.ndarray:
    out = column.copy()
    for a in rows[::every]:
        out[a : min(a + every, rows[-1] + 1)] = column[a]
    return out


def _flicker(column: np.ndarray, rows: np.ndarray) -> np.ndarray:
    out = column.copy()
    a = rows[0]
    out[rows] = np.where((rows - a) % 2 == 0, column[a - 1], column[a - 2])
    return out


@pytest.mark.parametrize(
    ("recording", "stream", "channel", "style", "t0", "first"),
    [
        (HUSKY, "/imu/data", "linear_acceleration.z", "hold", 20.0, True),
        (HUSKY, "/imu/data", "angular_velocity.y", "flicker", 40.0, True),
        # a joint whose own command keeps moving: the tracking error tells the same story and
        # may rank first; the stall is still found, confident, at its onset
        (G1, "observation.state", "kRightElbow", "hold", 4.0, False),
        (G1, "observation.state", "kLeftElbow", "flicker", 6.0, False),
    ],
)
def test_a_republished_reading_in_a_real_recording_is_found_at_its_onset(
    shared_data: Path,
    recording: str,
    stream: str,
    channel: str,
    style: str,
    t0: float,
    first: bool,
) -> None:
    info, streams = _real(shared_data, recording)
    t_ns, channels = streams[stream]
    t = (t_ns - t_ns[0]) / NS
    rows = np.flatnonzero((t >= t0) & (t < t0 + 3.0))
    rate = 1.0 / float(np.median(np.diff(t)))
    column = channels[channel]
    channels[channel] = (
        _sample_and_hold(column, rows, max(4, round(0.4 * rate)))
        if style == "hold"
        else _flicker(column, rows)
    )
    data = make_data(streams, base=info)
    onset = float(t[rows[0]])
    ranked = explain(data, context())
    found = _stalls(ranked[:1] if first else ranked, onset)
    assert found, [(f.cause, f.t_start_ns, f.confidence) for f in ranked[:3]]
    assert found[0].channels == [f"{stream}/{channel}"]


@pytest.mark.parametrize("recording", [G1, IIWA, TURTLES, HUSKY])
def test_untouched_real_recordings_have_no_level_stall(shared_data: Path, recording: str) -> None:
    info, streams = _real(shared_data, recording)
    data = make_data(streams, base=info)
    assert [f for f in level_stall.analyze(data, context()) if f.confidence >= 0.5] == []


T = np.arange(0, 12, 1 / 30)  # 30 Hz


def _arm(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {f"position/j{k}": np.sin(0.6 * T + k) + rng.normal(0, 1e-3, T.size) for k in range(3)}


def test_a_quantised_joint_resting_or_creeping_by_single_steps_is_not_a_stall() -> None:
    rng = np.random.default_rng(4)
    joints = _arm(rng)
    step = 1.2e-5  # an encoder's resolution
    rest = (T >= 5.0) & (T < 7.5)
    creep = joints["position/j0"][np.flatnonzero(rest)[0]] + step * np.floor(
        (T - 5.0) * 2.0 + rng.uniform(0, 1, T.size)
    )  # a few counts over the rest, one step at a time, dithering between neighbours
    joints["position/j0"] = np.where(rest, creep, joints["position/j0"])
    data = make_data({"/joint_states": (ns(T), joints)})
    assert level_stall.analyze(data, context()) == []


def test_an_estimate_counts_only_when_its_whole_message_goes_stale() -> None:
    rng = np.random.default_rng(5)
    odom = {
        "pose.position.x": np.cumsum(np.full(T.size, 0.01)) + rng.normal(0, 1e-4, T.size),
        "pose.position.y": np.sin(0.3 * T) + rng.normal(0, 1e-4, T.size),
        "twist.linear.x": 0.3 + 0.1 * np.sin(T) + rng.normal(0, 1e-3, T.size),
    }
    rows = np.flatnonzero((T >= 5.0) & (T < 8.0))
    one = dict(odom, **{"pose.position.y": _flicker(odom["pose.position.y"], rows)})
    whole = {k: _sample_and_hold(v, rows, 10) for k, v in odom.items()}
    joints = _arm(rng)
    types = {"/odom": "nav_msgs/msg/Odometry"}
    for parts, expected in ((one, 0), (whole, 1)):
        streams = {"/odom": (ns(T), parts), "/joint_states": (ns(T), joints)}
        found = level_stall.analyze(make_data(streams, message_types=types), context())
        assert len(found) == expected
    assert abs(found[0].t_start_ns / NS - 5.0) <= 0.2


def _two_turtles(driven: bool) -> object:
    """Two turtles at 60 Hz for 12 s: the first parks (its pose held exactly) from 5 s to 9 s
    while the second keeps driving; ``driven``: the first turtle's own command keeps changing
    while it is parked (else it sends nothing from a second before — turtlesim drives on for a
    second after the last command — until it moves again)."""
    t = np.arange(0, 12, 1 / 60)
    parked = (t >= 5.0) & (t < 9.0)
    x, y = 5.0 + np.sin(0.4 * t) + 0.1 * t, 5.0 + np.cos(0.3 * t)
    for column in (x, y):
        column[parked] = column[np.flatnonzero(parked)[0] - 1]
    sent = (t < 4.0) | (t >= 9.0) | driven
    cmd_t = t[sent]
    # teleop keys: forward, and while driven back and forth every half second
    keys = driven & (cmd_t >= 4.0) & (cmd_t < 9.0) & (np.floor(2 * cmd_t) % 2 == 1)
    return make_data(
        {
            "/turtle1/pose": (ns(t), {"x": x, "y": y}),
            "/turtle2/pose": (ns(t), {"x": 3.0 + np.sin(0.5 * t), "y": 2.0 + 0.2 * t}),
            "/turtle1/cmd_vel": (ns(cmd_t), {"linear.x": np.where(keys, -2.0, 2.0)}),
        },
        details={"/turtle1/cmd_vel": {"role": "command"}},
    )


def test_a_turtle_parked_while_another_drives_is_not_a_stall_unless_told_to_move() -> None:
    """In a recording of two robots the other one driving says nothing about this one resting:
    a pose held while its own command is silent is a parked turtle; held while its own command
    keeps changing, it is a stall."""
    parked = _two_turtles(driven=False)
    assert [f for f in level_stall.analyze(parked, context()) if f.confidence >= 0.5] == []
    told = _two_turtles(driven=True)
    assert _stalls(level_stall.analyze(told, context()), 5.0)


def _echo(echoes: bool) -> object:
    """A turtle driving for 12 s with its pose at 60 Hz and its velocity commanded at 10 Hz:
    the pose's speed is smooth until 6 s, then (``echoes``) the simulator reports the last
    commanded speed, float32, six pose samples per command — or (not ``echoes``) the speed
    reading goes stale: its own old readings refreshed every sixth sample."""
    t = np.arange(0, 12, 1 / 60)
    cmd_t = np.arange(0, 12, 0.1)
    command = 1.0 + 0.5 * np.sin(0.6 * cmd_t)
    speed = 1.0 + 0.5 * np.sin(0.6 * t) + 0.001 * np.cos(7.0 * t)
    late = np.flatnonzero(t >= 6.0)
    if echoes:
        held = command[np.searchsorted(cmd_t, t[late], side="right") - 1]
        speed[late] = held.astype(np.float32)
    else:
        speed[late] = _sample_and_hold(speed, late, 6)[late]
    x, y = 2.0 + 0.5 * t, 3.0 + np.sin(0.4 * t)
    return make_data(
        {
            "/turtle1/pose": (ns(t), {"x": x, "y": y, "linear_velocity": speed}),
            "/turtle1/cmd_vel": (ns(cmd_t), {"linear.x": command}),
        },
        details={"/turtle1/cmd_vel": {"role": "command"}},
    )


def test_a_speed_that_echoes_its_command_is_not_stale() -> None:
    """Stepping at the command's rate because it reports the command (every value it holds is
    one the command sent) is not a stall; its own old readings refreshed every sixth sample
    while the command moves on is."""
    assert [f for f in level_stall.analyze(_echo(True), context()) if f.confidence >= 0.5] == []
    assert _stalls(level_stall.analyze(_echo(False), context()), 6.0)
