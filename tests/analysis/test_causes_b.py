"""Cause analyzers batch B (saturation, joint limits, effort, tracking, gripper, baseline
divergence) and the history/baseline context: synthetic faults at known times, the demo's root
cause, and no confident false alarm on the real LeRobot / iiwa recordings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.analysis.causes import (
    action_saturation,
    divergence,
    effort,
    gripper,
    joint_limits,
    tracking,
)
from robotrace_desktop.analysis.data import EpisodeData
from robotrace_desktop.analysis.explain import explain_source
from robotrace_desktop.analysis.ranking import rank
from robotrace_desktop.catalog.peers import nearest_successful
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.episodes import resolve
from robotrace_desktop.library.peer_history import baseline_for, history_for
from robotrace_desktop.library.scanner import scan
from tests.analysis.fakes import context, make_data, ns
from tests.demo_cache import demo_catalog, demo_copy

NS = 1_000_000_000
MODULES = (action_saturation, joint_limits, effort, tracking, gripper, divergence)
T = np.arange(0, 12, 0.01)  # 100 Hz, 12 s


def _ctx(history=None, baseline=None, **overrides):
    ctx = context(**overrides)
    ctx.history = history
    ctx.baseline = baseline
    return ctx


def _causes(findings, at_least: float = 0.5) -> list[str]:
    return [f.cause for f in findings if f.confidence >= at_least]


# --------------------------------------------------------------- action saturation


def test_action_clipped_at_declared_bound_is_found_at_its_start() -> None:
    cmd = np.clip(1.5 * np.sin(T), -2, 1.0)  # pinned at 1.0 from asin(1/1.5) ≈ 0.73 s
    data = make_data(
        {"/action": (ns(T), {"joint_position/j1": cmd, "gripper": (T > 5).astype(float)})},
        metadata={"action_bounds": {"joint_position/j1": [-1.0, 1.0]}},
    )
    found = action_saturation.analyze(data, _ctx())
    assert [f.cause for f in found] == ["action_saturation"]
    top = found[0]
    assert top.confidence >= 0.75
    assert top.channels == ["/action/joint_position/j1"]
    assert top.evidence["limit_source"] == "declared" and top.evidence["limit"] == 1.0
    assert abs(top.t_start_ns / NS - np.arcsin(1 / 1.5)) < 0.05


def test_gripper_and_hand_commands_are_never_saturation() -> None:
    hand = np.clip(np.sin(T) * 3, 0, 1)  # [0, 1], mostly at 0 or 1
    data = make_data(
        {"/action": (ns(T), {"gripper": (T > 5).astype(float), "kLeftHandPinky": hand})},
        metadata={"action_bounds": {"gripper": [0, 1], "kLeftHandPinky": [0, 1]}},
        status="failed",
    )
    assert action_saturation.analyze(data, _ctx()) == []


def test_history_limit_pinned_on_failed_run_but_planned_hold_is_not() -> None:
    smooth = 0.5 * (1 - np.cos(np.clip(T, 0, 3) * np.pi / 3))  # min-jerk-like: arrives at rest
    cut = np.minimum(np.sin(T), 0.6)  # runs into 0.6 at speed
    history = {("/action", "a"): (-1.0, 1.0), ("/action", "b"): (-1.0, 0.6)}
    data = make_data(
        {"/action": (ns(T), {"a": smooth, "b": cut})},
        status="failed",
        outcome="failure",
    )
    found = action_saturation.analyze(data, _ctx(lambda s, c, ok: history.get((s, c))))
    assert [f.channels for f in found] == [["/action/b"]]
    assert found[0].confidence >= 0.5 and found[0].evidence["limit_source"] == "history"
    # the clipped shape (flat, reached at speed) is evidence whatever the outcome
    clean = make_data({"/action": (ns(T), {"b": cut})})
    same = action_saturation.analyze(clean, _ctx(lambda s, c, ok: history.get((s, c))))
    assert same and same[0].confidence >= 0.5


def test_waypoint_hold_is_not_clipping_but_a_flat_top_inside_the_range_is() -> None:
    # a min-jerk move that rests at 0.35 — the value other runs also reach — then moves on
    u = np.clip((T - 2) / 3, 0, 1)
    v = np.clip((T - 7) / 3, 0, 1)
    ease = lambda x: x**3 * (10 - 15 * x + 6 * x**2)  # noqa: E731
    hold = 0.35 * ease(u) - 0.75 * ease(v)  # rests at 0.35 from 5 s to 7 s
    inside = np.clip(np.sin(T), -0.5, 0.5) * 0.6  # flat at 0.3, inside the range reached (0.6)
    inside[T > 10] = 0.6 * np.sin(T[T > 10])
    history = {("/action", "hold"): (-0.4, 0.35), ("/action", "inside"): (-0.3, 0.6)}
    data = make_data(
        {"/action": (ns(T), {"hold": hold, "inside": inside})}, status="failed", outcome="failure"
    )
    found = action_saturation.analyze(data, _ctx(lambda s, c, ok: history.get((s, c))))
    # the planned hold is not clipping; the flat tops cut into the sine (the command goes
    # beyond them later) are, wherever they sit in the range
    assert [f.channels for f in found if f.confidence >= 0.3] == [["/action/inside"]]


def test_clipped_command_is_reported_from_where_it_goes_flat() -> None:
    # a swing between 0 and 0.9 cut off at 0.8 (the historical extreme) while still rising
    cmd = np.minimum(0.45 + 0.45 * np.sin(T * 2 * np.pi / 8), 0.8)
    history = {("/action", "j"): (0.0, 0.8)}
    data = make_data({"/action": (ns(T), {"j": cmd})}, status="failed", outcome="failure")
    found = action_saturation.analyze(data, _ctx(lambda s, c, ok: history.get((s, c))))
    assert [f.cause for f in found] == ["action_saturation"] and found[0].confidence >= 0.5
    expected = np.arcsin(0.35 / 0.45) * 8 / (2 * np.pi)  # ≈ 1.13 s: where it goes flat
    assert abs(found[0].t_start_ns / NS - expected) < 0.02


# --------------------------------------------------------------- joint limits


def test_declared_joint_limit_breach_time_and_evidence() -> None:
    pos = 0.5 * np.sin(T)
    pos[T >= 6.0] = 1.3  # beyond upper 1.2 (+ tolerance)
    limits = {"j1": {"lower": -1.2, "upper": 1.2}, "j2": {"lower": -1, "upper": 1}}
    data = make_data(
        {"/joint_states": (ns(T), {"position/j1": pos, "position/j2": 0.9 * np.sin(T)})},
        metadata={"joint_limits": limits},
    )
    found = joint_limits.analyze(data, _ctx())
    assert len(found) == 1
    f = found[0]
    assert f.cause == "joint_limit_breach" and f.confidence >= 0.75
    assert f.t_start_ns == ns(6.0)
    assert f.evidence["joint"] == "j1" and f.evidence["limit"] == 1.2
    assert f.evidence["peak"] == pytest.approx(1.3)


def test_joint_beyond_successful_range_by_margin() -> None:
    pos = np.sin(T)  # ±1; successful runs stayed in ±0.5 → margin 0.25 → alarm above 0.75
    history = {("/joint_states", "position/j1"): (-0.5, 0.5)}
    seen_ok = []

    def hist(stream: str, channel: str, ok: bool):
        seen_ok.append(ok)
        return history.get((stream, channel)) if ok else None

    data = make_data({"/joint_states": (ns(T), {"position/j1": pos})})
    found = joint_limits.analyze(data, _ctx(hist))
    assert seen_ok[0] is True
    assert len(found) == 1 and found[0].confidence >= 0.5
    assert abs(found[0].t_start_ns / NS - np.arcsin(0.75)) < 0.02
    # inside the margin: nothing
    small = make_data({"/joint_states": (ns(T), {"position/j1": 0.7 * np.sin(T)})})
    assert joint_limits.analyze(small, _ctx(hist)) == []


def _hist_pm_half(stream: str, channel: str, ok: bool):
    return (-0.5, 0.5) if ok else None


def test_history_breach_starts_at_its_first_sample_beyond_the_margin_not_at_zero() -> None:
    pos = 0.3 * np.sin(T)
    pos[T >= 7.0] = 0.5 + 0.45  # pushed 45 % of the range beyond the others' upper 0.5
    data = make_data({"/joint_states": (ns(T), {"position/j1": pos})}, status="failed")
    found = joint_limits.analyze(data, _ctx(_hist_pm_half))
    assert len(found) == 1
    assert found[0].confidence >= 0.7 and found[0].severity == "high"
    assert found[0].t_start_ns == ns(7.0)
    assert found[0].evidence["excess_fraction"] == pytest.approx(0.45)


def test_history_breach_from_the_first_sample_or_barely_past_the_margin_is_not_confident() -> None:
    # outside the others' range from t = 0: a different set-up, not something this run did
    offset = make_data({"/joint_states": (ns(T), {"position/j1": 0.9 + 0.05 * np.sin(T)})})
    found = joint_limits.analyze(offset, _ctx(_hist_pm_half))
    assert len(found) == 1 and found[0].t_start_ns == 0 and found[0].confidence < 0.5
    assert found[0].evidence["from_episode_start"] is True
    # 28 % of the range beyond it for a while: past the 25 % margin but ordinary variation
    pos = 0.3 * np.sin(T)
    pos[(T >= 7.0) & (T < 8.0)] = 0.78
    marginal = make_data({"/joint_states": (ns(T), {"position/j1": pos})})
    found = joint_limits.analyze(marginal, _ctx(_hist_pm_half))
    assert len(found) == 1 and found[0].confidence < 0.5
    # well beyond, but only for 0.1 s: not a sustained excursion
    pos[(T >= 7.0) & (T < 8.0)] = 0.3
    pos[(T >= 7.0) & (T < 7.1)] = 1.0
    blip = make_data({"/joint_states": (ns(T), {"position/j1": pos})})
    assert joint_limits.analyze(blip, _ctx(_hist_pm_half)) == []


# --------------------------------------------------------------- effort


def _efforts(spike_at: float | None = None) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    tau = 8 * np.cos(T / 2) + rng.normal(0, 0.05, T.size)  # gravity-like trend + noise
    if spike_at is not None:
        tau[(spike_at <= T) & (spike_at + 0.1 > T)] += 15
    return {"effort/j1": tau, "effort/j2": np.zeros(T.size), "position/j1": np.sin(T)}


def test_effort_spike_found_at_its_time_not_on_the_trend() -> None:
    clean = make_data({"/joint_states": (ns(T), _efforts())})
    assert effort.analyze(clean, _ctx()) == []
    data = make_data({"/joint_states": (ns(T), _efforts(spike_at=7.2))})
    found = effort.analyze(data, _ctx())
    assert [f.cause for f in found] == ["effort_spike"]
    assert found[0].confidence >= 0.5
    assert abs(found[0].t_start_ns / NS - 7.2) < 0.02
    assert found[0].channels == ["/joint_states/effort/j1"]


def test_effort_pinned_at_declared_limit_and_torque_commands_ignored() -> None:
    tau = np.clip(60 * np.sin(T / 2), -40, 40)  # pinned at the URDF's 40 N·m
    data = make_data(
        {
            "/joint_states": (ns(T), {"effort/j1": tau}),
            "/effort_controller/commands": (ns(T), {"data[0]": 500 * np.sign(np.sin(T))}),
        },
        metadata={"joint_limits": {"j1": {"lower": -3, "upper": 3, "effort": 40.0}}},
    )
    found = effort.analyze(data, _ctx())
    assert [f.cause for f in found] == ["effort_saturation"]
    assert found[0].evidence["limit_source"] == "declared"
    assert abs(found[0].t_start_ns / NS - 2 * np.arcsin(40 / 60)) < 0.03


def test_grip_force_step_at_a_gripper_command_and_a_load_plateau_are_not_spikes() -> None:
    rng = np.random.default_rng(3)
    cmd = ((T >= 4) & (T < 9)).astype(float)
    grip = -25 * np.clip((T - 4.15) / 0.05, 0, 1) * (T < 9) + rng.normal(0, 0.05, T.size)
    payload = 2 * np.cos(T / 3) + 12 * (T >= 6.5) + rng.normal(0, 0.05, T.size)  # lift: holds
    streams = {
        "/action": (ns(T), {"gripper": cmd}),
        "/joint_states": (ns(T), {"effort/gripper": grip, "effort/j2": payload}),
    }
    assert effort.analyze(make_data(streams, status="failed"), _ctx()) == []
    # the same joint with a short, large bump on top of the plateau is still a spike
    bumped = payload + 40 * ((T >= 8.0) & (T < 8.4))
    streams["/joint_states"] = (ns(T), {"effort/gripper": grip, "effort/j2": bumped})
    found = effort.analyze(make_data(streams, status="failed"), _ctx())
    assert [(f.cause, f.channels) for f in found] == [("effort_spike", ["/joint_states/effort/j2"])]
    assert abs(found[0].t_start_ns / NS - 8.0) < 0.1  # the trend blocks blur a 0.4 s bump


# --------------------------------------------------------------- tracking


def _tracking_data(freeze_at: float | None, lag: float = 0.1, effort: np.ndarray | None = None):
    cmd = np.sin(T)
    meas = np.sin(T - lag) + 0.05  # settles with a lag and a steady offset: not a fault
    if freeze_at is not None:
        meas[freeze_at <= T] = meas[np.searchsorted(T, freeze_at)]
    return make_data(
        {
            "/action": (ns(T[::3]), {"joint_position/j1": cmd[::3]}),
            "/joint_states": (
                ns(T),
                {"position/j1": meas, "effort/j1": np.zeros(T.size) if effort is None else effort},
            ),
            "/effort_controller/commands": (ns(T), {"data[0]": 30 * np.sin(T)}),
        }
    )


def test_tracking_lag_and_offset_are_not_faults_but_a_frozen_joint_is_a_stalled_sensor() -> None:
    assert tracking.analyze(_tracking_data(None), _ctx()) == []
    found = tracking.analyze(_tracking_data(6.0), _ctx())
    # the joint repeats one value exactly from 6.0 s while its command moves, and nothing
    # pushes: its reading stopped updating (a stall) and the tracking error follows from it
    assert [f.cause for f in found] == ["tracking_error", "sensor_stall"]
    assert all(f.confidence >= 0.5 for f in found)
    assert all(abs(f.t_start_ns / NS - 6.0) < 0.02 for f in found)
    assert found[0].evidence["frozen"] is True
    assert found[1].channels == ["/joint_states/position/j1", "/action/joint_position/j1"]
    assert [f.cause for f in rank(found)] == ["sensor_stall", "tracking_error"]


def test_frozen_joint_with_its_effort_rising_is_not_called_a_stalled_sensor() -> None:
    # the effort leaves its band once the joint holds: it is pushed against something (a hard
    # stop's story), so no stall is claimed — the tracking error stays
    rng = np.random.default_rng(1)
    effort = 0.5 * np.cos(T) + rng.normal(0, 0.02, T.size) + 6.0 * np.clip(T - 6.0, 0, 1)
    found = tracking.analyze(_tracking_data(6.0, effort=effort), _ctx())
    assert [f.cause for f in found] == ["tracking_error"]
    assert found[0].evidence["frozen"] is True and found[0].evidence["effort_rise"] > 0


def test_tracking_divergence_is_dated_from_where_the_error_started_growing() -> None:
    cmd = np.sin(T)
    meas = np.sin(T - 0.1) + 0.05
    late = T >= 6.0
    meas[late] = np.sin(6.0 - 0.1) + 0.05 + 0.002 * np.sin(40 * T[late])  # stops, still jitters
    data = make_data(
        {
            "/action": (ns(T[::3]), {"joint_position/j1": cmd[::3]}),
            "/joint_states": (ns(T), {"position/j1": meas}),
        }
    )
    found = tracking.analyze(data, _ctx())
    assert [f.cause for f in found] == ["tracking_error"] and "frozen" not in found[0].evidence
    # the error passes 35 % of the range only ~0.7 s later; the finding starts at the stop
    assert abs(found[0].t_start_ns / NS - 6.0) < 0.3


def _weak_joint(onset: float, gain: float):
    """A joint following sin(t) with its settling lag and encoder noise, that from ``onset``
    moves only ``gain`` of its own motion (a slipping transmission, a weak gain)."""
    rng = np.random.default_rng(3)
    cmd = np.sin(T)
    meas = np.sin(T - 0.1) + rng.normal(0, 0.003, T.size)
    late = onset <= T
    start = meas[np.argmax(late)]
    meas[late] = start + gain * (meas[late] - start)
    return make_data(
        {
            "/action": (ns(T[::3]), {"joint_position/j1": cmd[::3]}),
            "/joint_states": (ns(T), {"position/j1": meas}),
        }
    )


def test_weak_gain_joint_is_dated_where_its_error_left_its_band_not_at_the_last_crossing() -> None:
    # from 4.0 s the command dips and comes back to where the joint weakened (5.4 s: the error
    # falls back to nothing) before running away; the error passes the bound only at ~6.4 s
    # and was last calm at ~5.7 s — the divergence began at 4.0 s
    found = tracking.analyze(_weak_joint(4.0, 0.2), _ctx())
    assert [f.cause for f in found] == ["tracking_error"]
    assert abs(found[0].t_start_ns / NS - 4.0) < 0.3


def test_weak_joint_under_the_bound_but_far_beyond_its_ordinary_error_is_found() -> None:
    # two thirds of its motion: the error stays under 35 % of the range, but for over 2 s it
    # is more than a hundred times the error the joint ordinarily keeps
    found = tracking.analyze(_weak_joint(4.0, 0.65), _ctx())
    assert [f.cause for f in found] == ["tracking_error"] and found[0].confidence >= 0.5
    assert found[0].evidence["peak_error"] < found[0].evidence["bound"]
    assert abs(found[0].t_start_ns / NS - 4.0) < 0.5
    assert "ordinary error" in found[0].explanation
    # following to within the usual lag and noise all along is no fault
    assert tracking.analyze(_weak_joint(20.0, 1.0), _ctx()) == []


def test_whole_stream_frozen_is_a_stall_not_a_joint_that_stopped_following() -> None:
    cmd1, cmd2 = np.sin(T), np.cos(T)
    m1, m2 = np.sin(T - 0.1), np.cos(T - 0.1)
    frozen = T >= 6.0
    m1[frozen], m2[frozen] = m1[np.argmax(frozen)], m2[np.argmax(frozen)]
    data = make_data(
        {
            "/action": (ns(T), {"joint_position/j1": cmd1, "joint_position/j2": cmd2}),
            "/joint_states": (ns(T), {"position/j1": m1, "position/j2": m2}),
        }
    )
    found = tracking.analyze(data, _ctx())
    assert all("frozen" not in f.evidence for f in found)


# --------------------------------------------------------------- gripper


def _grasp(width_closed: float, grip_force: float, *, failed: bool):
    rng = np.random.default_rng(1)
    cmd = ((T >= 4) & (T < 9)).astype(float)
    width = np.where(cmd > 0, width_closed, 0.08) + rng.normal(0, 1e-4, T.size)
    force = np.where(cmd > 0, grip_force, 0.0) + rng.normal(0, 0.03, T.size)
    kwargs = {"status": "failed", "outcome": "failure"} if failed else {"outcome": "success"}
    return make_data(
        {
            "/action": (ns(T), {"gripper": cmd}),
            "/joint_states": (ns(T), {"position/gripper": width, "effort/gripper": force}),
        },
        **kwargs,
    )


def test_empty_close_is_found_at_the_command_and_a_real_grasp_is_not() -> None:
    found = gripper.analyze(_grasp(0.0, 0.0, failed=True), _ctx())
    assert [f.cause for f in found] == ["gripper_empty_close"]
    assert found[0].confidence >= 0.85
    assert found[0].t_start_ns == ns(4.0)
    assert gripper.analyze(_grasp(0.03, 12.0, failed=False), _ctx()) == []


def test_continuous_hand_commands_without_effort_are_no_empty_close() -> None:
    # a G1-style teleoperated hand: finger command and measured position in [0, 1], no effort
    hand = 0.45 + 0.05 * np.sin(T) + 0.4 * ((T > 4) & (T < 9)) * np.clip(T - 4, 0, 1)
    data = make_data(
        {
            "action": (ns(T), {"kLeftHandPinky": hand}),
            "observation.state": (ns(T), {"kLeftHandPinky": hand[::-1]}),
        },
        status="failed",
        outcome="failure",
    )
    history = lambda s, c, ok: (0.38, 0.9)  # noqa: E731
    assert _causes(gripper.analyze(data, _ctx(history)), 0.3) == []


def test_jaws_at_the_width_seen_in_other_runs_is_a_grasp_not_an_empty_close() -> None:
    # closes on a 4 cm object: 0.04 is the smallest width other (successful) runs reached, and a
    # grip force is measured — a failed run alone does not make it an empty close
    data = _grasp(0.04, -25.0, failed=True)
    history = lambda s, c, ok: (0.04, 0.08) if "position" in c else None  # noqa: E731
    assert gripper.analyze(data, _ctx(history)) == []
    # without an effort channel, jaws that stop at 4 cm of 8 cm did not meet either
    data = make_data(
        {
            "/action": (ns(T), {"gripper": ((T >= 4) & (T < 9)).astype(float)}),
            "/joint_states": (
                ns(T),
                {"position/gripper": np.where((T >= 4) & (T < 9), 0.04, 0.08)},
            ),
        },
        status="failed",
    )
    assert gripper.analyze(data, _ctx(history)) == []


def test_demo_root_cause_is_the_early_gripper_close(tmp_path: Path) -> None:
    bundle = demo_copy(tmp_path / "demo", seed=7)
    resolved = resolve(str(bundle), None)
    ranked = explain_source(resolved.info, resolved.open())
    top = ranked[0]
    assert top.cause == "gripper_empty_close"
    assert abs(top.t_start_ns / NS - 3.9) <= 0.5
    # the planned holds of the demo's arm command are not saturation
    assert "action_saturation" not in _causes(ranked)


# --------------------------------------------------------------- divergence


def test_divergence_from_baseline_first_departure() -> None:
    base_pos = np.sin(T)
    here = np.sin(T * 1.02)  # slightly faster: not a departure
    here[T >= 7.0] = here[T >= 7.0] + 2.5  # departs at 7 s, by more than the range
    baseline = make_data({"/joint_states": (ns(T), {"position/j1": base_pos})}, id="base")
    data = make_data(
        {"/joint_states": (ns(T), {"position/j1": here})}, status="failed", outcome="failure"
    )
    found = divergence.analyze(data, _ctx(baseline=lambda: baseline))
    assert [f.cause for f in found] == ["baseline_divergence"]
    assert abs(found[0].t_start_ns / NS - 7.0) <= 0.3
    assert found[0].confidence >= 0.5 and found[0].evidence["baseline_id"] == "base"
    same = make_data({"/joint_states": (ns(T), {"position/j1": np.sin(T * 1.02)})})
    assert divergence.analyze(same, _ctx(baseline=lambda: baseline)) == []
    assert divergence.analyze(data, _ctx(baseline=lambda: None)) == []


# --------------------------------------------------------------- real recordings


@pytest.fixture(scope="module")
def real_catalog(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Catalog:
    data = shared_data
    catalog = Catalog(tmp_path_factory.mktemp("cat") / "catalog.sqlite")
    scan(
        catalog,
        [
            data / "lerobot" / "g1_pick_bottle_v21",
            data / "rosbag2/iiwa7_gazebo_joint_torque_sqlite3",
        ],
    )
    return catalog


@pytest.mark.parametrize("episode", ["lerobot#1", "lerobot#2", "lerobot#4", "lerobot#5", "iiwa"])
def test_no_confident_false_alarm_on_real_episodes(
    shared_data: Path, real_catalog: Catalog, episode: str
) -> None:
    path = {
        "lerobot": shared_data / "lerobot" / "g1_pick_bottle_v21",
        "iiwa": shared_data / "rosbag2" / "iiwa7_gazebo_joint_torque_sqlite3",
    }[episode.split("#")[0]]
    index = episode.split("#")[1] if "#" in episode else None
    resolved = resolve(f"{path}#{index}" if index else str(path), real_catalog)
    assert resolved.in_catalog
    info = real_catalog.get(resolved.info.id)
    data = EpisodeData(info, resolved.open())
    for ctx in (_ctx(), _ctx(history_for(real_catalog, info), baseline_for(real_catalog, info))):
        for module in MODULES:
            alarms = [f for f in module.analyze(data, ctx) if f.confidence >= 0.5]
            assert alarms == [], [f.explanation for f in alarms]


def test_lerobot_history_comes_from_episode_stats(real_catalog: Catalog, shared_data: Path) -> None:
    path = shared_data / "lerobot" / "g1_pick_bottle_v21"
    info = real_catalog.get(resolve(f"{path}#1", real_catalog).info.id)
    history = history_for(real_catalog, info, max_episodes=100)
    lo, hi = history("observation.state", "kLeftShoulderPitch", False)
    # episode 0's stats alone span -0.7725..-0.7029; the range over 99 others is wider
    assert lo <= -0.7725 and hi >= -0.7029
    # exactly the min/max over the other 99 episodes' lines of meta/episodes_stats.jsonl
    info_json = json.loads((path / "meta" / "info.json").read_text())
    k = info_json["features"]["observation.state"]["names"][0].index("kLeftShoulderPitch")
    stats_text = (path / "meta" / "episodes_stats.jsonl").read_text()
    lines = [json.loads(line) for line in stats_text.splitlines() if line]
    others = [r["stats"]["observation.state"] for r in lines if r["episode_index"] != 1]
    assert len(others) == 99
    assert lo == pytest.approx(min(s["min"][k] for s in others))
    assert hi == pytest.approx(max(s["max"][k] for s in others))
    assert history("observation.state", "kLeftShoulderPitch", True) is None  # outcome unknown
    assert history("observation.state", "no_such_joint", False) is None


# --------------------------------------------------------------- history / baseline context


def test_history_and_baseline_over_a_catalog_of_demo_bundles(tmp_path: Path) -> None:
    catalog, episodes = demo_catalog(tmp_path)
    assert sorted(episodes) == ["seed1", "seed2", "seed3"]
    catalog.set_overrides([episodes["seed2"].id], {"outcome": "success"})
    me = catalog.get(episodes["seed1"].id)

    def effort_range(name: str) -> tuple[float, float]:
        source = resolve(episodes[name].id, catalog).open()
        column = source.read_signal("/joint_states").values[:, 16]  # effort/joint_1
        return float(np.min(column)), float(np.max(column))

    history = history_for(catalog, me)
    lo2, hi2 = effort_range("seed2")
    lo3, hi3 = effort_range("seed3")
    assert history("/joint_states", "effort/joint_1", False) == (min(lo2, lo3), max(hi2, hi3))
    assert history("/joint_states", "effort/joint_1", True) == (lo2, hi2)
    assert history("/joint_states", "no/such", False) is None

    assert nearest_successful(catalog, me).id == episodes["seed2"].id
    base = baseline_for(catalog, me)()
    assert base is not None and base.info.id == episodes["seed2"].id
    assert base.signal("/joint_states") is not None
    # the successful episode itself has no other successful one to compare with
    assert baseline_for(catalog, catalog.get(episodes["seed2"].id))() is None
