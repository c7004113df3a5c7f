"""A live reading whose noise collapses is a stall even when its values are not exact repeats:
a dithered or sample-and-hold republish is found and dated; a joint resting while the robot
rests, an encoder with no visible noise and an odometry estimate holding are not."""

from __future__ import annotations

import numpy as np

from robotrace_desktop.analysis.causes import noise_stall
from tests.analysis.fakes import context, make_data, ns

T = np.arange(0, 12, 0.01)  # 100 Hz
NS = 1_000_000_000


def _imu(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {f"accel.{a}": 0.2 * np.sin(0.7 * T + i) + rng.normal(0, 0.02, T.size)
            for i, a in enumerate("xyz")}  # fmt: skip


def _streams(imu: dict[str, np.ndarray], rng: np.random.Generator) -> dict:
    joints = {"position/j1": np.sin(0.5 * T) + rng.normal(0, 1e-3, T.size)}
    return {"/imu/data": (ns(T), imu), "/joint_states": (ns(T), joints)}


def test_a_dithered_republish_is_a_stall_dated_where_the_noise_collapsed() -> None:
    rng = np.random.default_rng(1)
    imu = _imu(rng)
    held = (T >= 6.0) & (T < 9.0)
    imu["accel.z"] = imu["accel.z"].copy()
    imu["accel.z"][held] = imu["accel.z"][np.flatnonzero(held)[0] - 1] + rng.normal(
        0, 0.001, held.sum()
    )  # the last reading, re-sent with 5 % of the sensor's noise
    found = noise_stall.analyze(make_data(_streams(imu, rng)), context())
    assert [f.channels for f in found] == [["/imu/data/accel.z"]]
    assert abs(found[0].t_start_ns / NS - 6.0) <= 0.1 and found[0].confidence >= 0.5


def test_sample_and_hold_is_a_stall_but_an_estimate_holding_is_not() -> None:
    rng = np.random.default_rng(2)
    imu = _imu(rng)
    held = (T >= 5.0) & (T < 8.0)
    refresh = np.flatnonzero(held)[::70]  # a new reading every 0.7 s, held in between
    column = imu["accel.y"].copy()
    for a, b in zip(refresh, [*refresh[1:], np.flatnonzero(held)[-1] + 1], strict=True):
        column[a:b] = column[a]
    imu["accel.y"] = column
    found = noise_stall.analyze(make_data(_streams(imu, rng)), context())
    assert [f.channels for f in found] == [["/imu/data/accel.y"]]
    as_odometry = make_data(
        _streams(imu, rng), message_types={"/imu/data": "nav_msgs/msg/Odometry"}
    )
    assert noise_stall.analyze(as_odometry, context()) == []


def test_rest_and_a_noiseless_encoder_are_not_stalls() -> None:
    rng = np.random.default_rng(3)
    # everything rests from 6 s to 9 s: the IMU's motion stops, its noise goes on
    still = (T >= 6.0) & (T < 9.0)
    imu = {a: np.where(still, 0.0, 0.2 * np.sin(0.7 * T)) + rng.normal(0, 0.02, T.size)
           for a in "xyz"}  # fmt: skip
    # a fine encoder: smooth when moving, float-rounding wobble when resting — no noise to lose
    resting = np.sin(0.5 * 6.0) + rng.normal(0, 1e-7, T.size)
    joints = {"position/j1": np.where(still, resting, np.sin(0.5 * T))}
    data = make_data({"/imu/data": (ns(T), imu), "/joint_states": (ns(T), joints)})
    assert noise_stall.analyze(data, context()) == []
