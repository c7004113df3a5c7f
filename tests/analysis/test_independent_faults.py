"""The independent (clean-room) fault set of issue 13 injects what it claims, on real data.

These tests check the injector, not Explain: its accuracy on this set is a benchmark
(``benchmarks/eval_explain_independent.py``), not a floor. On Reachy 2 (LeRobot v3.0, a
19-joint action/state vector paired by index) and the iiwa bag (JointState with header clock,
torque commands) every builder must make a plausible fault: the edit changes the targeted
channel at the onset and not before, the state follows a saturated command, a hard stop pins
the joint while the torque rises, a gap removes samples from every stream...
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.core.episode import SignalChunk
from tests.analysis.faults import FaultySource
from tests.analysis.heldout.robots import load_robots
from tests.analysis.heldout.scoring import Case, RobotData
from tests.analysis.independent import physics as ph
from tests.analysis.independent.cases import KINDS, build_cases

NS = 1_000_000_000
ROBOTS = ("Reachy 2", "iiwa")


@pytest.fixture(scope="module")
def robots(shared_data: Path) -> dict[str, RobotData]:
    return {n: RobotData(r) for n, r in load_robots(shared_data, ROBOTS).items()}


@pytest.fixture(scope="module")
def cases(robots: dict[str, RobotData]) -> list[Case]:
    return build_cases(robots, seed=0, per_cell=3)


def _of(cases: list[Case], kind: str) -> list[Case]:
    found = [c for c in cases if c.kind == kind]
    assert found, f"no {kind} case on {ROBOTS}"
    return found


def _clean_and_faulty(case: Case, stream: str) -> tuple[SignalChunk, SignalChunk]:
    return case.base.source.read_signal(stream), FaultySource(
        case.base.source, case.fault
    ).read_signal(stream)


def _changed(case: Case, stream: str | None = None, channel: str | None = None) -> np.ndarray:
    clean, faulty = _clean_and_faulty(case, stream or case.fault.stream)
    a, b = (
        clean.channel(channel or case.fault.channel),
        faulty.channel(channel or case.fault.channel),
    )
    return clean.t_ns[~((a == b) | (np.isnan(a) & np.isnan(b)))]


def test_every_kind_but_the_battery_is_built_on_these_robots(cases: list[Case]) -> None:
    assert {c.kind for c in cases} == set(KINDS) - {"battery_brownout"}
    for c in cases:
        assert 0 <= c.fault.t0_ns <= c.base.info.duration_ns, c.describe()


def test_motion_faults_change_their_channel_at_the_onset_not_before(cases: list[Case]) -> None:
    kinds = ("oscillation", "sensor_stall", "spike", "drift", "hard_stop", "nan_inf")
    for case in (c for c in cases if c.kind in kinds):
        changed = _changed(case)
        assert len(changed), case.describe()
        # first change within a sample or two of the onset (a stall's first repeat, a spike)
        assert abs(int(changed[0]) - case.fault.t0_ns) <= NS // 10, case.describe()


def test_the_measured_joint_follows_a_saturated_command(cases: list[Case]) -> None:
    followed = 0
    for case in _of(cases, "saturation"):
        clean, faulty = _clean_and_faulty(case, case.fault.stream)
        cut = clean.channel(case.fault.channel) - faulty.channel(case.fault.channel)
        assert np.abs(cut).max() > 0
        assert not np.any(
            np.abs(cut[clean.t_ns < case.fault.t0_ns])
            > 0.05 * ph.span(clean.channel(case.fault.channel))
        )
        meas = [e for e in case.fault.edits if e != case.fault.stream]
        for stream in meas:
            m_clean, m_faulty = _clean_and_faulty(case, stream)
            k = int(np.argmax(np.abs(cut)))
            moved = m_clean.values - m_faulty.values
            col = int(np.argmax(np.abs(moved).max(axis=0)))
            assert np.sign(moved[k, col]) == np.sign(cut[k])  # clipped down: the joint lower
            assert np.abs(moved[:, col]).max() >= 0.5 * np.abs(cut).max()
            followed += 1
    assert followed  # Reachy's action[i] drives observation.state[i]


def test_a_hard_stop_pins_the_joint_while_the_torque_command_rises(cases: list[Case]) -> None:
    torqued = 0
    for case in _of(cases, "hard_stop"):
        clean, faulty = _clean_and_faulty(case, case.fault.stream)
        t0 = case.fault.t0_ns
        sel = (clean.t_ns >= t0) & (clean.t_ns < t0 + NS // 2)
        x_clean, x_faulty = (
            clean.channel(case.fault.channel)[sel],
            faulty.channel(case.fault.channel)[sel],
        )
        assert np.ptp(x_faulty) < 0.5 * np.ptp(x_clean), case.describe()
        for stream in (s for s in case.fault.edits if "effort" in s):
            t_clean, t_faulty = _clean_and_faulty(case, stream)
            push = np.abs(t_faulty.values - t_clean.values).max(axis=1)
            assert np.all(push[t_clean.t_ns < t0] == 0)
            early = push[(t_clean.t_ns >= t0) & (t_clean.t_ns < t0 + NS // 20)]
            later = push[(t_clean.t_ns >= t0 + NS // 2) & (t_clean.t_ns < t0 + NS)]
            assert later.min() > early.max() > 0, case.describe()  # the torque ramps up
            torqued += 1
    assert torqued  # the iiwa's effort controller pushes against the stop


def test_stalls_freeze_or_hold_a_sensor_that_was_moving(cases: list[Case]) -> None:
    for case in _of(cases, "sensor_stall"):
        clean, faulty = _clean_and_faulty(case, case.fault.stream)
        t0 = case.fault.t0_ns
        sel = (clean.t_ns >= t0) & (clean.t_ns < t0 + NS)
        a, b = clean.channel(case.fault.channel)[sel], faulty.channel(case.fault.channel)[sel]
        if case.fault.detail.startswith("sample-hold"):
            assert len(np.unique(b)) <= 3 < len(np.unique(a)), case.describe()
        else:
            assert np.ptp(b) <= 0.05 * np.ptp(a), case.describe()


def test_oscillations_are_3_to_15_hz(cases: list[Case]) -> None:
    for case in _of(cases, "oscillation"):
        clean, faulty = _clean_and_faulty(case, case.fault.stream)
        d = faulty.channel(case.fault.channel) - clean.channel(case.fault.channel)
        fs = NS / ph.sample_period_ns(clean)
        spectrum = np.abs(np.fft.rfft(d))
        peak = np.fft.rfftfreq(len(d), 1 / fs)[int(np.argmax(spectrum))]
        assert 2.5 <= peak <= 15.5, case.describe()


def test_range_excursions_leave_the_peers_range_smoothly(
    cases: list[Case], robots: dict[str, RobotData]
) -> None:
    for case in _of(cases, "range_excursion"):
        lo, hi = robots[case.robot].peer_range(case.base)(
            case.fault.stream, case.fault.channel
        ) or (0.0, 0.0)
        clean, faulty = _clean_and_faulty(case, case.fault.stream)
        x = faulty.channel(case.fault.channel)
        assert np.any((x > hi + 0.05 * (hi - lo)) | (x < lo - 0.05 * (hi - lo))), case.describe()
        # smooth: no step larger than a fifth of the excursion
        assert np.abs(np.diff(x - clean.channel(case.fault.channel))).max() < 0.2 * max(
            abs(x.max() - hi), abs(lo - x.min()), hi - lo
        )


def test_a_gap_removes_samples_from_every_stream_and_every_clock_keeps_it(
    cases: list[Case],
) -> None:
    for case in _of(cases, "gap"):
        src = FaultySource(case.base.source, case.fault)
        lerobot = case.robot == "Reachy 2"
        length = float(case.fault.detail.split(",")[1].split(" s")[0])
        for stream in case.fault.edits:
            clean, faulty = case.base.source.read_signal(stream), src.read_signal(stream)
            assert len(faulty) < len(clean)
            if len(faulty) < 3:
                continue  # a sparse stream that had its few samples in the gap
            clock = faulty.times["timestamp"] if lerobot else faulty.t_ns
            period = ph.sample_period_ns(clean)
            assert np.diff(clock).max() >= length * NS - period, (stream, case.describe())
            if lerobot:  # rows re-indexed: the frame_index timeline has no hole
                assert np.diff(faulty.t_ns).max() <= period + 1


def test_clock_jumps_move_one_clock_by_the_jump(cases: list[Case]) -> None:
    for case in _of(cases, "clock_jump"):
        jump = float(case.fault.detail.rsplit(" ", 2)[-2]) * NS
        stream = next(iter(case.fault.edits))
        clean, faulty = _clean_and_faulty(case, stream)
        moved = [k for k in clean.times if not np.array_equal(clean.times[k], faulty.times[k])]
        assert len(moved) == 1, case.describe()
        shift = faulty.times[moved[0]] - clean.times[moved[0]]
        after = clean.t_ns >= case.fault.t0_ns
        assert np.all(shift[~after] == 0) and len(np.unique(shift[after])) == 1
        assert abs(shift[-1] - jump) <= 0.01 * NS, case.describe()


def test_logged_errors_are_error_lines_at_the_onset(cases: list[Case]) -> None:
    for case in _of(cases, "logged_error"):
        assert any(
            e.t_ns == case.fault.t0_ns and e.level in ("ERROR", "FATAL")
            for e in case.fault.added_events
        )
