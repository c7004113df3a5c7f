"""Oscillation and sensor-spike analyzers: what a user would notice. A real recording with an
oscillation or a one-sample glitch injected gets the finding at the right time and on the right
channel; the untouched recording, ordinary motion, a vibration present all along, noise, a
wrapped heading, a quaternion sign flip and a step to a new level get none."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.analysis.causes import oscillation, spike
from robotrace_desktop.analysis.explain import explain
from robotrace_desktop.analysis.finding import Finding
from robotrace_desktop.episodes import resolve
from tests.analysis.fakes import context, make_data, ns, streams_of

NS = 1_000_000_000
T = np.arange(0, 12, 0.01)  # 100 Hz, 12 s


def _confident(findings: list[Finding], cause: str | None = None) -> list[Finding]:
    return [f for f in findings if f.confidence >= 0.5 and (cause is None or f.cause == cause)]


def _real(shared_data: Path, relative: str) -> tuple[object, dict]:
    resolved = resolve(str(shared_data / relative), None)
    return resolved.info, streams_of(resolved.info, resolved.open())


G1 = "lerobot/g1_pick_bottle_v21#1"
IIWA = "rosbag2/iiwa7_gazebo_joint_torque_sqlite3"
TURTLES = "ros1/example.bag"


# --------------------------------------------------------------- oscillation on real data


@pytest.mark.parametrize(
    ("recording", "stream", "channel"),
    [
        (G1, "observation.state", "kRightElbow"),
        (IIWA, "/joint_states", "position/joint_a4"),
        (TURTLES, "/turtle1/pose", "x"),
    ],
)
def test_oscillation_injected_in_a_real_recording_is_found_at_its_onset(
    shared_data: Path, recording: str, stream: str, channel: str
) -> None:
    info, streams = _real(shared_data, recording)
    t_ns, channels = streams[stream]
    column = channels[channel]
    t = (t_ns - t_ns[0]) / NS
    t0 = 0.45 * t[-1]
    span = float(np.percentile(column, 99) - np.percentile(column, 1))
    rel = t - t0
    envelope = np.clip(rel / 0.15, 0, 1) * (rel < 2.0)
    channels[channel] = column + 0.05 * span * envelope * np.sin(2 * np.pi * 7.0 * rel)
    data = make_data(streams, base=info)

    found = _confident(oscillation.analyze(data, context()))
    assert len(found) == 1, [f.explanation for f in found]
    top = found[0]
    assert top.cause == "oscillation"
    assert top.channels[0] == f"{stream}/{channel}"
    assert abs((top.t_start_ns - t_ns[0]) / NS - t0) <= 0.5
    assert top.evidence["frequency_hz"] == pytest.approx(7.0, rel=0.1)
    # and it leads the ranked explanation of the whole episode
    ranked = explain(data, context())
    assert ranked[0].cause == "oscillation"


@pytest.mark.parametrize("recording", [G1, IIWA, TURTLES])
def test_untouched_real_recordings_have_no_oscillation_and_no_spike(
    shared_data: Path, recording: str
) -> None:
    info, streams = _real(shared_data, recording)
    data = make_data(streams, base=info)
    ctx = context()
    assert _confident(oscillation.analyze(data, ctx)) == []
    assert _confident(spike.analyze(data, ctx)) == []


# --------------------------------------------------------------- oscillation, synthetic


def test_position_and_effort_oscillating_together_are_one_more_confident_finding() -> None:
    motion = 0.8 * np.sin(2 * np.pi * 0.2 * T)
    rng = np.random.default_rng(1)
    on = (T >= 5.0) & (T < 7.5)
    wave = np.sin(2 * np.pi * 8.0 * (T - 5.0)) * on
    position = motion + 0.04 * wave + rng.normal(0, 0.001, T.size)
    effort = 2.0 + 0.5 * np.cos(2 * np.pi * 8.0 * (T - 5.0)) * on + rng.normal(0, 0.02, T.size)
    alone = make_data({"/joint_states": (ns(T), {"position/j1": position})})
    both = make_data({"/joint_states": (ns(T), {"position/j1": position, "effort/j1": effort})})
    one = _confident(oscillation.analyze(alone, context()))
    two = _confident(oscillation.analyze(both, context()))
    assert len(one) == 1 and len(two) == 1
    assert sorted(two[0].channels) == ["/joint_states/effort/j1", "/joint_states/position/j1"]
    assert two[0].confidence > one[0].confidence
    assert abs(two[0].t_start_ns / NS - 5.0) <= 0.3


def test_motion_steady_vibration_and_noise_are_not_an_oscillation() -> None:
    rng = np.random.default_rng(2)
    slow = 1.5 * np.sin(2 * np.pi * 0.3 * T)  # large, slow
    reach = np.clip((T - 4.0) / 0.4, 0, 1)  # a fast reach, once
    hum = 0.05 * np.sin(2 * np.pi * 9.0 * T)  # vibration all along
    noise = rng.normal(0, 0.02, T.size)
    data = make_data(
        {
            "/joint_states": (
                ns(T),
                {
                    "position/slow": slow + rng.normal(0, 1e-3, T.size),
                    "position/reach": reach + rng.normal(0, 1e-3, T.size),
                    "position/hum": slow + hum,
                    "position/noise": noise,
                },
            )
        }
    )
    assert oscillation.analyze(data, context()) == []


# --------------------------------------------------------------- spikes on real data


@pytest.mark.parametrize(
    ("recording", "stream", "channel", "width"),
    [
        (G1, "observation.state", "kLeftElbow", 1),
        (IIWA, "/joint_states", "position/joint_a3", 2),
        (TURTLES, "/turtle2/pose", "theta", 1),
        (TURTLES, "/turtle1/pose", "linear_velocity", 3),  # holds a few levels
    ],
)
def test_spike_injected_in_a_real_recording_is_found_at_its_sample(
    shared_data: Path, recording: str, stream: str, channel: str, width: int
) -> None:
    info, streams = _real(shared_data, recording)
    t_ns, channels = streams[stream]
    column = channels[channel].copy()
    i0 = int(0.55 * column.size)
    span = float(np.percentile(column, 99) - np.percentile(column, 1))
    column[i0 : i0 + width] += 0.6 * span
    channels[channel] = column
    data = make_data(streams, base=info)

    found = _confident(spike.analyze(data, context()))
    assert len(found) == 1, [f.explanation for f in found]
    assert found[0].cause == "sensor_spike"
    assert found[0].channels == [f"{stream}/{channel}"]
    assert found[0].t_start_ns == int(t_ns[i0])
    assert found[0].evidence["width_samples"] == width


def test_step_to_a_new_level_in_a_real_recording_is_not_a_spike(shared_data: Path) -> None:
    info, streams = _real(shared_data, IIWA)
    channels = streams["/joint_states"][1]
    column = channels["position/joint_a3"].copy()
    span = float(np.ptp(column))
    column[int(0.55 * column.size) :] += 0.6 * span  # a new level that holds
    channels["position/joint_a3"] = column
    data = make_data(streams, base=info)
    assert _confident(spike.analyze(data, context())) == []


# --------------------------------------------------------------- spikes, synthetic


def test_effort_spike_on_a_small_channel_is_found_as_effort_spike() -> None:
    rng = np.random.default_rng(3)
    effort = 0.05 * np.sin(T) + rng.normal(0, 0.002, T.size)  # tiny efforts (N·m)
    effort[700] += 0.08
    data = make_data({"/joint_states": (ns(T), {"effort/j1": effort})})
    found = _confident(spike.analyze(data, context()))
    assert [f.cause for f in found] == ["effort_spike"]
    assert found[0].t_start_ns == int(ns(T)[700])


def test_wrapped_heading_quaternion_sign_flip_and_counters_are_not_spikes() -> None:
    heading = np.angle(np.exp(1j * (np.pi - 0.02 + 0.004 * np.sin(3 * T))))  # hugs ±π
    yaw = 0.3 * np.sin(0.5 * T)
    quat = np.column_stack([0 * T, 0 * T, np.sin(yaw / 2), np.cos(yaw / 2)])
    quat[600:602] *= -1  # the same rotation, written with the other sign for two samples
    data = make_data(
        {
            "/odom": (
                ns(T),
                {
                    "pose.orientation.x": quat[:, 0],
                    "pose.orientation.y": quat[:, 1],
                    "pose.orientation.z": quat[:, 2],
                    "pose.orientation.w": quat[:, 3],
                    "heading": heading,
                    "header.seq": np.arange(T.size, dtype=float),
                },
            )
        },
        details={"/odom": {"role": "state"}},
    )
    assert spike.analyze(data, context()) == []


def test_a_burst_of_bumps_is_not_an_isolated_spike() -> None:
    rng = np.random.default_rng(4)
    accel = rng.normal(0, 0.05, T.size)
    accel[500:508] += np.array([1.0, -2.0, 3.0, -2.5, 2.0, -1.5, 1.0, -0.5])  # a jolt
    data = make_data(
        {"/imu": (ns(T), {"linear_acceleration.x": accel})},
        details={"/imu": {"role": "sensor"}},
    )
    assert _confident(spike.analyze(data, context())) == []


def test_spike_explained_with_a_spike_time_not_the_logged_error() -> None:
    rng = np.random.default_rng(5)
    position = np.sin(0.4 * T) + rng.normal(0, 1e-3, T.size)
    position[420] += 0.9
    data = make_data(
        {"/joint_states": (ns(T), {"position/j1": position})},
        events=[(5.5, "ERROR", "controller aborted")],
        status="failed",
    )
    ranked = explain(data, context())
    assert ranked[0].cause == "sensor_spike"
    assert ranked[0].t_start_ns == int(ns(T)[420])


def test_oscillation_on_a_fast_stream_is_found_cheaply() -> None:
    t = np.arange(0, 40, 0.001)  # 1 kHz, 40 s
    rng = np.random.default_rng(6)
    on = (t >= 21.0) & (t < 23.0)
    channels = {
        f"position/j{i}": np.sin(0.3 * t + i) + rng.normal(0, 1e-3, t.size) for i in range(8)
    }
    channels["position/j3"] = channels["position/j3"] + 0.05 * np.sin(2 * np.pi * 12 * t) * on
    data = make_data({"/joint_states": (ns(t), channels)})
    found = _confident(oscillation.analyze(data, context()))
    assert [f.channels for f in found] == [["/joint_states/position/j3"]]
    assert abs(found[0].t_start_ns / NS - 21.0) <= 0.3
    assert found[0].evidence["frequency_hz"] == pytest.approx(12.0, rel=0.05)


def test_a_rare_tick_on_a_quantised_still_joint_is_jitter_but_a_wild_one_is_a_spike() -> None:
    rng = np.random.default_rng(7)
    ticks = 2048.0 + (rng.random(T.size) < 0.3)  # a servo at rest, flickering by one tick
    ticks[600] = 2050.0  # a tick it rarely visits: jitter
    data = make_data({"/joint_states": (ns(T), {"position/j1": ticks * 0.088})})
    assert _confident(spike.analyze(data, context())) == []
    ticks[900] = 2300.0  # a wild reading
    data = make_data({"/joint_states": (ns(T), {"position/j1": ticks * 0.088})})
    found = _confident(spike.analyze(data, context()))
    assert [f.t_start_ns for f in found] == [int(ns(T)[900])]


def test_an_off_level_reading_on_an_alternating_channel_is_a_spike_not_a_flagged_dropout() -> None:
    """A colour sensor alternating between two levels (and its sibling channel alternating
    with it, which is no validity flag): three readings that are none of its levels are a
    spike; the alternation itself is not."""
    levels = np.where(np.arange(T.size) % 3 == 0, 69.0, 179.0)
    sibling = np.where(np.arange(T.size) % 3 == 0, 86.0, 255.0)
    data = make_data({"/color_sensor": (ns(T), {"r": levels, "g": sibling})})
    assert _confident(spike.analyze(data, context())) == []
    glitched = levels.copy()
    glitched[700:703] -= 88.0
    data = make_data({"/color_sensor": (ns(T), {"r": glitched, "g": sibling})})
    found = _confident(spike.analyze(data, context()))
    assert [(f.channels, f.t_start_ns) for f in found] == [(["/color_sensor/r"], int(ns(T)[700]))]
    assert found[0].evidence["flagged_by"] is None


def test_an_imu_vibrating_mid_run_is_found_but_needs_twice_a_joint_s_margin() -> None:
    """A sensor beside the joints (an IMU on a wheeled base) is searched too; its ordinary
    bursts of vibration make a margin that is enough on a joint only a hint on it — while the
    line shares the band with the shaking around it. One pure line, nearly all the band's power
    at one frequency, is not what terrain does: a joint's margin is enough for it."""
    rng = np.random.default_rng(9)
    t = np.arange(0, 12, 0.01)
    base = rng.normal(0, 0.02, t.size)
    base += 0.05 * np.sin(2 * np.pi * 7.0 * t) * ((t > 2.0) & (t < 3.0))  # a bump, as on terrain
    on = (t >= 7.0) & (t < 9.5)
    rough = rng.normal(0, 0.08, t.size) * on  # broadband shaking while it vibrates

    def imu(amplitude: float, shaking: bool = False) -> object:
        accel = base + amplitude * np.sin(2 * np.pi * 7.0 * (t - 7.0)) * on
        return make_data(
            {"/imu/data": (ns(t), {"linear_acceleration.z": accel + (rough if shaking else 0)})},
            details={"/imu/data": {"message_type": "sensor_msgs/msg/Imu"}},
        )

    strong = _confident(oscillation.analyze(imu(0.6), context()))
    assert [f.channels for f in strong] == [["/imu/data/linear_acceleration.z"]]
    assert abs(strong[0].t_start_ns / NS - 7.0) <= 0.3
    # 3x the bump: confident on a joint; on the IMU only with the line alone in its band
    mild = oscillation.analyze(imu(0.15, shaking=True), context())
    assert mild and all(f.confidence < 0.5 for f in mild)
    assert mild[0].evidence["power_share_at_frequency"] < 0.85
    pure = _confident(oscillation.analyze(imu(0.15), context()))
    assert [f.channels for f in pure] == [["/imu/data/linear_acceleration.z"]]
    assert pure[0].evidence["power_share_at_frequency"] >= 0.9
