"""The Explain evaluation (issue 4's quality bar): inject each fault into real episodes (the
LeRobot G1 dataset, the iiwa bag) and generated ones (the demo bundle, with its own fault
removed, for several seeds) at a known time; the top-ranked cause must be the injected one and
start within ±0.5 s of it. Untouched real episodes (20 LeRobot episodes spread over the dataset,
the iiwa bag, the ROS 1 turtlesim bag) count false alarms (a specific cause with confidence
≥ 0.5). Targets: ≥ 95 % top-1, ≤ 5 % false alarms.

A fault whose analyzer module is not written yet is an expected failure (non-strict); a fault
whose analyzer exists must be found in every case. Everything is loaded and explained once per
session (``evaluation`` fixture); ``benchmarks/eval_explain.py`` prints the same figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.analysis.registry import CAUSE_MODULES, analyzers
from robotrace_desktop.core.episode import Outcome, Status
from tests.analysis.faults import (
    KINDS,
    MODULE,
    NS,
    Evaluation,
    FaultySource,
    evaluate,
    make_fault,
)

MIN_CASES = {"effort_spike": 3, "dropped_frames": 5, "gripper_empty_close": 3}


def _present() -> set[str]:
    return {name for name, _ in analyzers()}


@pytest.fixture(scope="module")
def evaluation(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Evaluation:
    return evaluate(shared_data, tmp_path_factory.mktemp("eval"))


def _misses(cases: list) -> str:
    lines = []
    for c in cases:
        if not c.hit:
            dt = "-" if c.time_error_s is None else f"{c.time_error_s:.2f} s"
            lines.append(f"{c.base.name}: {c.fault.describe()} -> {c.top_cause} (|dt| {dt})")
    return "\n".join(lines)


@pytest.mark.parametrize("kind", KINDS)
def test_injected_fault_is_ranked_first(
    kind: str, evaluation: Evaluation, request: pytest.FixtureRequest
) -> None:
    if MODULE[kind] not in _present():
        request.applymarker(
            pytest.mark.xfail(strict=False, reason=f"analysis/causes/{MODULE[kind]}.py missing")
        )
    cases = [c for c in evaluation.cases if c.fault.kind == kind]
    assert len(cases) >= MIN_CASES.get(kind, 8), f"too few {kind} cases: {len(cases)}"
    assert all(c.hit for c in cases), f"{kind} misses:\n{_misses(cases)}"


def test_top1_accuracy(evaluation: Evaluation, request: pytest.FixtureRequest) -> None:
    missing = [m for m in CAUSE_MODULES if m in MODULE.values() and m not in _present()]
    if missing:
        request.applymarker(
            pytest.mark.xfail(strict=False, reason=f"analyzers missing: {', '.join(missing)}")
        )
    assert len(evaluation.cases) >= 100
    assert evaluation.top1 >= 0.95, f"top-1 {evaluation.top1:.1%}:\n{_misses(evaluation.cases)}"


def test_false_alarm_rate(evaluation: Evaluation) -> None:
    assert len(evaluation.alarms) == 22  # 20 LeRobot episodes, the iiwa bag, example.bag
    flagged = {
        name: [f"{f.cause} {f.confidence:.2f} at {f.t_start_ns}" for f in found]
        for name, found in evaluation.alarms.items()
        if found
    }
    assert evaluation.false_alarm_rate <= 0.05, f"false alarms: {flagged}"


# ------------------------------------------------ the harness itself injects what it claims


def _case(evaluation: Evaluation, kind: str, base_prefix: str):
    return next(
        c for c in evaluation.cases if c.fault.kind == kind and c.base.name.startswith(base_prefix)
    )


def test_faulty_info_is_a_failed_run_logged_after_the_fault(evaluation: Evaluation) -> None:
    for case in evaluation.cases:
        source = FaultySource(case.base.source, case.fault)
        info = source.info
        assert info.status == Status.FAILED and info.outcome == Outcome.FAILURE
        assert info.metadata.get("failure_reason") or case.fault.kind == "gripper_empty_close"
        errors = [
            e.t_ns
            for s in info.streams
            if s.kind.value == "event" and s.name != "/robot_description"
            for e in source.read_events(s.name)
            if e.level in ("ERROR", "FATAL")
        ]
        if case.fault.kind == "raised_exception":
            assert errors == [case.fault.t0_ns]
        elif case.fault.kind != "gripper_empty_close":
            delay = [t - case.fault.t0_ns for t in errors]
            assert len(delay) == 1 and NS // 2 <= delay[0] <= 2 * NS, case.fault.describe()
            assert delay[0] < info.duration_ns


def test_nan_and_gap_and_jump_are_where_t0_says(evaluation: Evaluation) -> None:
    case = _case(evaluation, "nan_inf", "lerobot")
    chunk = FaultySource(case.base.source, case.fault).read_signal(case.fault.stream)
    col = chunk.channel(case.fault.channel)
    assert np.isfinite(col[chunk.t_ns < case.fault.t0_ns]).all()
    assert not np.isfinite(col[chunk.t_ns >= case.fault.t0_ns]).any()

    case = _case(evaluation, "timestamp_gap", "iiwa")
    before = case.base.source.read_signal("/joint_states").t_ns
    after = FaultySource(case.base.source, case.fault).read_signal("/joint_states").t_ns
    t0 = case.fault.t0_ns
    assert np.array_equal(after, before[(before < t0) | (before >= t0 + NS)])
    assert np.diff(after).max() >= NS * 0.98

    case = _case(evaluation, "clock_jump", "demo")
    original = case.base.source.read_signal(case.fault.stream).t_ns
    t = FaultySource(case.base.source, case.fault).read_signal(case.fault.stream).t_ns
    first_after = int(np.searchsorted(original, case.fault.t0_ns))
    assert np.flatnonzero(np.diff(t) < 0).tolist() == [first_after - 1]  # one backward step
    assert np.array_equal(t[:first_after], original[:first_after])


def test_saturated_action_is_pinned_and_the_robot_follows(evaluation: Evaluation) -> None:
    case = _case(evaluation, "action_saturation", "lerobot")
    source = FaultySource(case.base.source, case.fault)
    action = source.read_signal("action")
    col = action.channel(case.fault.channel)
    after = (action.t_ns >= case.fault.t0_ns) & (action.t_ns < case.fault.t0_ns + NS)
    assert np.ptp(col[after]) == 0 and col[after][0] >= np.nanmax(
        case.base.source.read_signal("action").channel(case.fault.channel)
    )
    state = source.read_signal("observation.state").channel(case.fault.channel)
    clean = case.base.source.read_signal("observation.state").channel(case.fault.channel)
    assert not np.allclose(state[after], clean[after])  # the joint followed its command


def test_joint_limit_breach_crosses_the_declared_urdf_limit(evaluation: Evaluation) -> None:
    case = _case(evaluation, "joint_limit_breach", "iiwa")
    info = case.base.source.info
    joint = case.fault.channel.split("/", 1)[1]
    upper = info.metadata["joint_limits"][joint]["upper"]
    chunk = FaultySource(case.base.source, case.fault).read_signal("/joint_states")
    col = chunk.channel(case.fault.channel)
    beyond = chunk.t_ns[col > upper]
    assert len(beyond) > 50 and 0 <= beyond[0] - case.fault.t0_ns <= NS // 5
    assert (case.base.source.read_signal("/joint_states").channel(case.fault.channel) < upper).all()


def test_clean_demo_has_no_fault_left_and_the_raw_demo_is_a_case(evaluation: Evaluation) -> None:
    raw = _case(evaluation, "gripper_empty_close", "demo-seed1")
    assert raw.fault.t0_ns == round(3.9 * NS)
    clean = _case(evaluation, "raised_exception", "demo-seed1-clean").base.source
    assert clean.info.outcome == Outcome.SUCCESS and "failure_reason" not in clean.info.metadata
    assert not [e for e in clean.events["/log"] if e.level in ("WARN", "ERROR")]
    grip = clean.read_signal("/action")
    closed = grip.t_ns[grip.channel("gripper") > 0.5]
    assert abs(int(closed[0]) - round(5.7 * NS)) < NS // 20


def test_make_fault_is_deterministic(evaluation: Evaluation) -> None:
    base = _case(evaluation, "tracking_error", "lerobot").base
    a = make_fault("tracking_error", base.source, 42)
    b = make_fault("tracking_error", base.source, 42)
    assert a is not None and b is not None
    assert (a.t0_ns, a.channel, a.added_events) == (b.t0_ns, b.channel, b.added_events)
