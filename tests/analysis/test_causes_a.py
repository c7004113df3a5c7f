"""Cause analyzers, batch A: outcome, exception, NaN/Inf, timing, sensor stall, battery.

Each fault is injected at a known time into a small synthetic episode (tests/analysis/fakes.py)
and must be found there, with its numbers; the real recordings must stay quiet (< 0.5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes import (
    battery,
    exception,
    flatline,
    nan_inf,
    outcome,
    timing,
)
from robotrace_desktop.analysis.data import EpisodeData
from robotrace_desktop.analysis.explain import explain_source
from robotrace_desktop.analysis.finding import Finding
from robotrace_desktop.episodes import resolve
from tests.analysis.fakes import NS, context, make_data, ns, streams_of
from tests.demo_cache import demo_copy

MODULES = (outcome, exception, nan_inf, timing, flatline, battery)
CAUSES = {
    "outcome_failed",
    "raised_exception",
    "nan_inf",
    "timestamp_gap",
    "clock_jump",
    "dropped_frames",
    "sensor_stall",
    "battery_brownout",
}
RNG = np.random.default_rng(3)


def run(module, data: EpisodeData, **overrides: dict) -> list[Finding]:
    return module.analyze(data, context(**overrides))


def arm(duration_s: float = 10.0, hz: float = 100.0, joints: int = 3) -> dict:
    """A moving arm: /joint_states (noisy positions + zero efforts) and /action (smooth)."""
    t = ns(np.arange(0, duration_s, 1 / hz))
    s = t / NS
    state = {f"position/j{i}": np.sin(s + i) + RNG.normal(0, 1e-3, len(s)) for i in range(joints)}
    state |= {f"effort/j{i}": np.zeros(len(s)) for i in range(joints)}
    action = {f"joint_position/j{i}": np.sin(s + i + 0.05) for i in range(joints)}
    return {"/joint_states": (t, state), "/action": (t.copy(), action)}


def confident(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.confidence >= 0.5]


# ---------------------------------------------------------------- thresholds


def test_every_cause_registers_documented_thresholds() -> None:
    for cause in CAUSES:
        assert cause in thresholds.DEFAULTS, cause
        for key, (_value, doc) in thresholds.DEFAULTS[cause].items():
            assert len(doc) > 10, f"{cause}.{key} needs a one-line documentation"
    text = thresholds.render_defaults()
    assert "[timestamp_gap]" in text and "min_gap_s = 0.08" in text


def test_a_user_threshold_changes_the_verdict() -> None:
    streams = arm()
    t, values = streams["/joint_states"]
    keep = (t < ns(5.0)) | (t >= ns(5.8))
    streams["/joint_states"] = (t[keep], {k: v[keep] for k, v in values.items()})
    assert run(timing, make_data(streams))
    assert not run(timing, make_data(streams), timestamp_gap={"min_gap_s": 1.0})


# ---------------------------------------------------------------- outcome


def test_failed_outcome_is_a_high_symptom_with_the_metadata_time() -> None:
    data = make_data(arm(), outcome="failure", metadata={"failure_time_s": 7.5})
    [finding] = run(outcome, data)
    assert finding.cause == "outcome_failed" and finding.severity == "high"
    assert finding.confidence == 1.0
    assert finding.t_start_ns == ns(7.5)
    assert "success = false" in finding.explanation


def test_failed_status_without_a_time_has_no_time() -> None:
    [finding] = run(outcome, make_data(arm(), status="failed"))
    assert 0.9 <= finding.confidence <= 1.0 and finding.t_start_ns is None


def test_absolute_failure_time_is_made_episode_relative() -> None:
    start = 1_700_000_000 * NS
    data = make_data(arm(), outcome="failure", start_time_ns=start,
                     metadata={"failure_time_ns": start + ns(4.25)})  # fmt: skip
    assert run(outcome, data)[0].t_start_ns == ns(4.25)


def test_a_recording_that_could_not_be_read_is_not_a_robot_failure() -> None:
    data = make_data(arm(), status="failed", problems=["data file episode_3.parquet is missing"])
    assert run(outcome, data) == []
    assert run(outcome, make_data(arm())) == []  # ready, outcome unknown


def test_lerobot_done_without_success() -> None:
    streams = arm()
    t = streams["/action"][0]
    done = (t >= ns(9.0)).astype(float)
    streams["next.done"] = (t, {"next.done": done})
    streams["next.success"] = (t, {"next.success": np.zeros(len(t))})
    [finding] = run(outcome, make_data(streams))
    assert finding.evidence["done_time_ns"] == ns(9.0)
    assert finding.confidence >= 0.9 and finding.channels == ["next.done"]
    streams["next.success"] = (t, {"next.success": done})
    assert run(outcome, make_data(streams)) == []


# ---------------------------------------------------------------- exception


def test_failure_reason_takes_the_first_error_time_and_merges_the_same_error() -> None:
    data = make_data(
        arm(),
        metadata={"failure_reason": "GraspError: object slipped"},
        events=[(1.0, "INFO", "start"), (7.5, "ERROR", "GraspError: cube not in gripper")],
        events_stream="/log",
    )
    [finding] = run(exception, data)
    assert finding.title == "GraspError raised"
    assert finding.severity == "critical" and finding.confidence >= 0.9
    assert finding.t_start_ns == ns(7.5)
    assert finding.evidence["exception_type"] == "GraspError"
    assert finding.evidence["message"] == "object slipped"


def test_failure_reason_without_errors_has_no_time() -> None:
    data = make_data(arm(), metadata={"failure_reason": "TimeoutError: no answer"})
    [finding] = run(exception, data)
    assert finding.t_start_ns is None and "TimeoutError" in finding.title


def test_traceback_in_nested_metadata() -> None:
    tb = (
        "Traceback (most recent call last):\n"
        '  File "policy.py", line 12, in step\n'
        "    q = plan(obs)\n"
        "ValueError: joint 3 out of range\n"
    )
    data = make_data(arm(), metadata={"run": {"log_tail": tb}})
    [finding] = run(exception, data)
    assert finding.evidence["exception_type"] == "ValueError"
    assert finding.evidence["message"] == "joint 3 out of range"
    assert finding.evidence["metadata_key"] == "run.log_tail"


def test_repeated_errors_collapse_at_the_first() -> None:
    events = [(3.0 + 0.1 * i, "ERROR", f"controller: tracking lost #{i}") for i in range(40)]
    events += [(2.0, "WARN", "slow loop"), (9.0, "INFO", "done")]
    [finding] = run(exception, make_data(arm(), events=events))
    assert finding.t_start_ns == ns(3.0) and finding.t_end_ns == ns(6.9)
    assert finding.severity == "high"  # ERROR, not FATAL
    assert finding.evidence["error_count"] == 40
    assert finding.evidence["first_texts"][0] == "controller: tracking lost #0"
    assert len(finding.evidence["first_texts"]) == 5
    assert "40 error lines" in finding.explanation


def test_fatal_is_critical_and_unrelated_reason_is_separate() -> None:
    data = make_data(
        arm(),
        metadata={"failure_reason": "E-stop pressed"},
        events=[(2.5, "fatal", "driver died")],
    )
    findings = run(exception, data)
    assert len(findings) == 2
    log = next(f for f in findings if "FATAL" in f.title)
    assert log.severity == "critical" and log.t_start_ns == ns(2.5)
    reason = next(f for f in findings if f is not log)
    assert reason.t_start_ns == ns(2.5)  # a reason without a time takes the first error's
    assert run(exception, make_data(arm(), events=[(1.0, "WARN", "slow")])) == []


# ---------------------------------------------------------------- NaN / Inf


def test_state_channel_going_nan_mid_run() -> None:
    streams = arm()
    t, values = streams["/joint_states"]
    values["position/j1"][t >= ns(4.0)] = np.nan
    [finding] = run(nan_inf, make_data(streams))
    assert finding.confidence >= 0.9 and finding.severity == "high"
    assert finding.t_start_ns == ns(4.0)
    assert finding.channels == ["/joint_states/position/j1"]
    assert finding.evidence["kind"] == {"position/j1": "NaN"}


def test_all_nan_unused_field_is_info_only() -> None:
    streams = arm()
    t, values = streams["/joint_states"]
    values["velocity/j0"] = np.full(len(t), np.nan)
    [finding] = run(nan_inf, make_data(streams))
    assert finding.confidence < 0.5 and finding.severity == "info"


def test_nan_at_start_then_inf_later_reports_the_later_fault() -> None:
    streams = arm()
    t, values = streams["/action"]
    values["joint_position/j2"][:3] = np.nan
    values["joint_position/j2"][t >= ns(6.0)] = np.inf
    [finding] = run(nan_inf, make_data(streams))
    assert finding.t_start_ns == ns(6.0) and finding.evidence["kind"] == {
        "joint_position/j2": "NaN/Inf"
    }
    assert finding.confidence >= 0.9


# ---------------------------------------------------------------- timing


def _cut(streams: dict, name: str, start_s: float, stop_s: float) -> None:
    t, values = streams[name]
    keep = (t < ns(start_s)) | (t >= ns(stop_s))
    streams[name] = (t[keep], {k: v[keep] for k, v in values.items()})


def test_gap_in_a_periodic_stream() -> None:
    streams = arm()
    _cut(streams, "/joint_states", 5.0, 5.8)
    [finding] = run(timing, make_data(streams))
    assert finding.cause == "timestamp_gap" and finding.confidence >= 0.5
    assert finding.t_start_ns == ns(4.99)
    assert finding.evidence["longest_gap_ns"] == ns(0.81)
    assert "0.81 s" in finding.explanation and "100 Hz" in finding.explanation


def test_jitter_and_irregular_streams_do_not_alarm() -> None:
    streams = arm()
    t, values = streams["/joint_states"]
    jittered = np.sort(t + ns(RNG.uniform(-0.003, 0.003, len(t))))
    streams["/joint_states"] = (jittered, values)
    # few samples, /tf_static, parameter events: no nominal rate
    streams["/tf_static"] = (ns([0.0, 9.0]), {"x": [0.0, 0.0]})
    streams["/parameter_events"] = (ns([0.1, 0.2, 0.25, 6.0]), {"stamp": [1.0, 2.0, 3.0, 4.0]})
    streams["/gripper/state"] = (ns(np.array([0.0, 1.0, 1.1, 8.0])), {"w": [0, 1, 1, 0]})
    assert run(timing, make_data(streams)) == []


def test_teleop_commands_sent_on_demand_are_not_dropouts() -> None:
    streams = arm()
    presses = np.concatenate([np.arange(a, a + 0.6, 0.03) for a in (0.5, 2.0, 3.5, 6.0, 8.0)])
    streams["/cmd_vel"] = (ns(presses), {"linear.x": np.ones(len(presses))})
    assert confident(run(timing, make_data(streams))) == []


def test_time_going_backwards() -> None:
    streams = arm()
    t, values = streams["/joint_states"]
    t = t.copy()
    t[600:] -= ns(0.3)  # the clock stepped back 0.3 s at 6 s (unsorted, as logged)
    streams["/joint_states"] = (t, values)
    [finding] = run(timing, make_data(streams))
    assert finding.cause == "clock_jump" and finding.confidence >= 0.5
    assert finding.t_start_ns == ns(5.99)
    assert finding.evidence["largest_backward_ns"] == ns(0.29)


def test_every_stream_jumping_together_is_one_clock_jump() -> None:
    streams = arm()
    frames = ns(np.arange(0, 10, 1 / 30))
    cameras = {"front": frames[(frames < ns(4.0)) | (frames >= ns(6.0))]}
    for name in list(streams):
        _cut(streams, name, 4.0, 6.0)
    findings = run(timing, make_data(streams, cameras=cameras, details={"front": {"fps": 30}}))
    assert [f.cause for f in findings] == ["clock_jump"]
    assert ns(3.96) <= findings[0].t_start_ns <= ns(3.99)  # the last sample before the jump
    assert findings[0].evidence["jumps"][0]["length_ns"] >= ns(2.0)
    assert set(findings[0].evidence["jumps"][0]["streams"]) == {"/joint_states", "/action", "front"}


def test_dropped_camera_frames() -> None:
    streams = arm()
    frames = ns(np.round(np.arange(0, 300) / 30, 6))
    keep = np.ones(len(frames), bool)
    keep[180:195] = False  # 15 frames lost from 6.0 s
    keep[[50, 120]] = False  # and two singles
    data = make_data(streams, cameras={"front": frames[keep]}, details={"front": {"fps": 30}})
    [finding] = run(timing, data)
    assert finding.cause == "dropped_frames" and finding.confidence >= 0.5
    assert finding.evidence["missing_frames"] == 17
    assert finding.evidence["expected_frames"] == 300
    assert finding.evidence["longest_gap_at_ns"] == frames[179]
    assert finding.evidence["longest_gap_ns"] == frames[195] - frames[179]
    assert "17 of 300 frames" in finding.explanation
    assert finding.severity == "medium"  # 5.7 % lost, longest hole 0.53 s
    keep[180:215] = False  # a 1.2 s hole: the policy was blind
    data = make_data(streams, cameras={"front": frames[keep]}, details={"front": {"fps": 30}})
    [finding] = run(timing, data)
    assert finding.evidence["missing_frames"] == 37 and finding.severity == "high"
    clean = make_data(streams, cameras={"front": frames}, details={"front": {"fps": 30}})
    assert run(timing, clean) == []


# ---------------------------------------------------------------- sensor stall


def test_sensor_stops_updating_while_commands_continue() -> None:
    streams = arm(duration_s=18.0)
    t, values = streams["/joint_states"]
    keep = t <= ns(12.4)
    streams["/joint_states"] = (t[keep], {k: v[keep] for k, v in values.items()})
    [finding] = run(flatline, make_data(streams))
    assert finding.cause == "sensor_stall" and finding.confidence >= 0.5
    assert finding.t_start_ns == ns(12.4)
    assert "stopped updating at 12.40 s, 5.6 s before the end" in finding.explanation
    assert "/action" in finding.explanation


def test_frozen_state_while_commands_move() -> None:
    streams = arm()
    t, values = streams["/joint_states"]
    frozen = (t >= ns(5.0)) & (t <= ns(7.0))
    for column in values.values():
        column[frozen] = column[np.flatnonzero(frozen)[0]]
    [finding] = run(flatline, make_data(streams))
    assert finding.t_start_ns == ns(5.0) and finding.t_end_ns == ns(7.0)
    assert finding.confidence >= 0.5
    assert finding.evidence["frozen_channels"] == 3  # the all-zero efforts are not counted
    assert any(c.startswith("/action/") for c in finding.evidence["commands_moving"])


def test_holding_still_under_still_commands_and_unused_channels_are_fine() -> None:
    streams = arm()
    for name in ("/joint_states", "/action"):
        t, values = streams[name]
        still = (t >= ns(4.0)) & (t <= ns(7.0))
        for column in values.values():
            column[still] = column[np.flatnonzero(still)[0]]
    assert run(flatline, make_data(streams)) == []  # efforts all zero: not a stall either


def test_freeze_without_commands_is_not_confident() -> None:
    streams = arm()
    del streams["/action"]
    t, values = streams["/joint_states"]
    for column in values.values():
        column[t >= ns(6.0)] = column[600]
    [finding] = run(flatline, make_data(streams))
    assert finding.confidence < 0.5


# ---------------------------------------------------------------- battery


def _battery(voltage: np.ndarray, t: np.ndarray, **extra: np.ndarray) -> dict:
    streams = arm()
    streams["/battery_state"] = (t, {"voltage": voltage, **extra})
    return streams


def test_voltage_sag_from_its_start() -> None:
    t = ns(np.arange(0, 10, 0.1))
    s = t / NS
    v = 24.0 + RNG.normal(0, 0.05, len(t)) - np.clip(s - 6.0, 0, None) * 2.0  # 6 s: sag to 16 V
    data = make_data(
        _battery(v, t), message_types={"/battery_state": "sensor_msgs/msg/BatteryState"}
    )
    [finding] = run(battery, data)
    assert finding.cause == "battery_brownout" and finding.confidence >= 0.5
    assert abs(finding.t_start_ns - ns(6.5)) <= ns(0.3)  # where it left its normal level
    assert finding.evidence["threshold"] == pytest.approx(0.85 * 24.0, abs=0.1)
    assert finding.channels == ["/battery_state/voltage"]


def test_percentage_below_15_percent_and_sharp_drop_on_a_vbat_channel() -> None:
    t = ns(np.arange(0, 10, 0.1))
    pct = np.linspace(40.0, 8.0, len(t))  # 0..100 scale, crosses 15 % at ~7.8 s
    streams = arm()
    streams["/battery"] = (t, {"percentage": pct})
    [finding] = run(battery, make_data(streams))
    assert finding.evidence["scale"] == "percent" and finding.evidence["threshold"] == 15.0
    crossing = t[np.flatnonzero(pct < 15.0)[0]]
    assert finding.evidence["below_from_ns"] == crossing

    v = np.full(len(t), 12.0)
    v[t >= ns(3.0)] = 10.6  # -12 % at once, above the 0.85 sag line: a brownout step
    streams = arm()
    streams["/motor/vbat"] = (t, {"data": v})
    [finding] = run(battery, make_data(streams))
    assert finding.title == "Sharp battery voltage drop"
    assert finding.t_start_ns in (ns(2.5), ns(2.6), ns(2.7), ns(2.8), ns(2.9))
    assert finding.evidence["drop_pct"] == pytest.approx(11.7, abs=0.1)


def test_steady_battery_and_unrelated_names_are_quiet() -> None:
    t = ns(np.arange(0, 10, 0.1))
    streams = _battery(24.0 + RNG.normal(0, 0.05, len(t)), t, percentage=np.full(len(t), 0.8))
    streams["/joint_states"][1]["position/revolute_joint"] = np.linspace(0, -30, 1000)
    assert run(battery, make_data(streams)) == []


# ---------------------------------------------------------------- real recordings


def _all(data: EpisodeData) -> list[Finding]:
    ctx = context()
    return [f for module in MODULES for f in module.analyze(data, ctx)]


@pytest.mark.parametrize(
    "episode",
    [
        "lerobot/g1_pick_bottle_v21#1",
        "lerobot/g1_pick_bottle_v21#2",
        "rosbag2/iiwa7_gazebo_joint_torque_sqlite3",
        "ros1/example.bag",
    ],
)
def test_clean_real_episodes_raise_no_confident_alarm(shared_data: Path, episode: str) -> None:
    source = resolve(str(shared_data / episode), None).open()
    data = EpisodeData(source.info, source)
    assert data.signals(), "the episode must have signals for this check to mean anything"
    findings = _all(data)
    assert confident(findings) == [], [f.explanation for f in confident(findings)]


def test_real_iiwa_with_a_stalled_joint_state(shared_data: Path) -> None:
    source = resolve(str(shared_data / "rosbag2/iiwa7_gazebo_joint_torque_sqlite3"), None).open()
    streams = streams_of(source.info, source)
    t, values = streams["/joint_states"]
    freeze = t >= ns(11.0)  # the broadcaster repeats its last message while the arm moves
    for column in values.values():
        column[freeze] = column[np.flatnonzero(freeze)[0]]
    data = make_data(streams, base=source.info)
    [finding] = confident(run(flatline, data))
    assert abs(finding.t_start_ns - ns(11.0)) < ns(0.02)
    assert "/effort_controller/commands" in finding.explanation
    assert finding.channels[0].startswith("/joint_states/position/joint_a")


def test_demo_outcome_and_exception(tmp_path: Path) -> None:
    folder = demo_copy(tmp_path / "demo")
    source = resolve(str(folder), None).open()
    findings = explain_source(source.info, source)
    mine = {f.cause: f for f in findings if f.cause in CAUSES}
    assert mine["outcome_failed"].confidence >= 0.9
    assert mine["raised_exception"].t_start_ns == ns(7.5)
    assert mine["raised_exception"].evidence["exception_type"] == "GraspError"
    quiet = {"nan_inf", "timestamp_gap", "clock_jump", "dropped_frames", "sensor_stall"}
    assert not [f for f in confident(findings) if f.cause in quiet | {"battery_brownout"}]
