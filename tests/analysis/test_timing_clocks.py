"""Every clock is evidence (issue 13): LeRobot rows are placed by ``frame_index``, so frames
dropped from a recording leave no hole on the timeline — only the recorded ``timestamp``
column shows them. The timing analyzer compares every clock a stream carries (``Signal.times``)
and must find that hole in the real G1 (v2.1) and SO-101 (v3.0) episodes, and stay silent on
untouched real recordings of every robot.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes import timing
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext
from robotrace_desktop.analysis.registry import analyzers
from robotrace_desktop.core.episode import SignalChunk
from robotrace_desktop.episodes import resolve
from tests.analysis.faults import MemorySource

NS = 1_000_000_000
LEROBOT = ("lerobot/g1_pick_bottle_v21#3", "lerobot/so101_v30#2")


def _ctx() -> ExplainContext:
    analyzers()
    return ExplainContext(thresholds=thresholds.load(None))


def _load(shared_data: Path, rel: str) -> MemorySource:
    resolved = resolve(str(shared_data / rel), None)
    return MemorySource.load(resolved.info, resolved.open())


def _drop_rows(src: MemorySource, lo_s: float, hi_s: float) -> MemorySource:
    """Rows whose recorded timestamp falls in [lo, hi) are lost; frame_index still counts the
    rows written, so the k-th remaining row is frame k on the timeline."""
    signals = {}
    for name, chunk in src.signals.items():
        stamp = chunk.times["timestamp"]
        keep = (stamp < lo_s * NS) | (stamp >= hi_s * NS)
        times = {k: v[keep] for k, v in chunk.times.items()}
        signals[name] = SignalChunk(
            name, chunk.channels, chunk.t_ns[: keep.sum()], chunk.values[keep], times
        )
    return MemorySource(src.info, signals, src.events, {})


def _shift_stamps(src: MemorySource, at_s: float, by_s: float) -> MemorySource:
    signals = {}
    for name, chunk in src.signals.items():
        stamp = chunk.times["timestamp"].copy()
        stamp[chunk.t_ns >= at_s * NS] += int(by_s * NS)
        signals[name] = dataclasses.replace(chunk, times={**chunk.times, "timestamp": stamp})
    return MemorySource(src.info, signals, src.events, {})


def _timing(src: MemorySource) -> list:
    return timing.analyze(EpisodeData(src.info, src), _ctx())


@pytest.mark.parametrize("rel", LEROBOT)
def test_lerobot_streams_carry_the_recorded_timestamp_as_a_second_clock(
    shared_data: Path, rel: str
) -> None:
    src = _load(shared_data, rel)
    for name in ("observation.state", "action"):
        assert src.info.stream(name).details["clock"] == "frame_index"
        chunk = src.signals[name]
        assert len(chunk.times["timestamp"]) == len(chunk.t_ns)
        # untouched, both clocks agree to well under a frame
        assert np.abs(chunk.times["timestamp"] - chunk.t_ns).max() < NS // 1000


@pytest.mark.parametrize("rel", LEROBOT)
def test_rows_missing_behind_a_contiguous_frame_index_are_found(
    shared_data: Path, rel: str
) -> None:
    clean = _load(shared_data, rel)
    assert _timing(clean) == []
    faulty = _drop_rows(clean, 4.0, 4.6)
    assert np.diff(faulty.signals["action"].t_ns).max() < NS // 20  # no hole on the timeline
    findings = _timing(faulty)
    assert [f.cause for f in findings] == ["timestamp_gap"]
    found = findings[0]
    assert found.confidence >= 0.5
    assert abs(found.t_start_ns - 4.0 * NS) <= NS // 20
    assert found.evidence["clock"] == "timestamp"
    assert set(found.channels) == {"observation.state", "action"}  # one finding, both streams
    assert "timestamp" in found.explanation and "frame_index" in found.explanation


@pytest.mark.parametrize("by_s", [0.8, -0.5])
def test_a_jump_of_the_timestamp_column_is_a_clock_jump_or_a_gap(
    shared_data: Path, by_s: float
) -> None:
    clean = _load(shared_data, LEROBOT[0])
    findings = _timing(_shift_stamps(clean, 6.0, by_s))
    expected = "timestamp_gap" if by_s > 0 else "clock_jump"
    assert [f.cause for f in findings] == [expected]
    assert abs(findings[0].t_start_ns - 6.0 * NS) <= NS // 20
    assert findings[0].confidence >= 0.5


def test_untouched_lerobot_episodes_get_no_timing_finding(shared_data: Path) -> None:
    rels = [f"lerobot/g1_pick_bottle_v21#{i}" for i in range(0, 100, 10)]
    rels += [f"lerobot/so101_v30#{i}" for i in range(6)]
    rels += [f"lerobot/reachy2_v30_trimmed#{i}" for i in range(3)]
    found = {rel: [f.title for f in _timing(_load(shared_data, rel))] for rel in rels}
    assert {k: v for k, v in found.items() if v} == {}


@pytest.mark.parametrize(
    "rel",
    [
        "rosbag2/iiwa7_gazebo_joint_torque_sqlite3",  # header (sim) time vs record time
        "ros1/husky_localization/test1.bag",  # header-stamped IMU, odometry and GPS
        "ros1/baxter_endpoint/data.bag",
        "rosbag2/cougars_auv/SO_lastbag_mcap",
        "ros1/example.bag",
    ],
)
def test_untouched_bags_get_no_clock_disagreement(shared_data: Path, rel: str) -> None:
    findings = _timing(_load(shared_data, rel))
    assert [f.title for f in findings if "clock" in f.evidence] == []
    assert [f.title for f in findings if f.confidence >= 0.5] == []


def test_a_recorder_clock_stepping_back_is_found_on_the_timeline_alone(shared_data: Path) -> None:
    """turtlesim's topics carry record time only: after the recorder's clock steps back, the
    reader sorts the later rows in among the earlier ones; every periodic stream then holds
    twice its samples up to the step."""
    clean = _load(shared_data, "ros1/example.bag")
    assert [f for f in _timing(clean) if f.cause == "clock_jump"] == []
    step_at, back = 12 * NS, int(0.6 * NS)
    signals = {}
    for name, chunk in clean.signals.items():
        t = np.where(chunk.t_ns >= step_at, chunk.t_ns - back, chunk.t_ns)
        order = np.argsort(t, kind="stable")
        times = {k: np.where(v >= step_at, v - back, v)[order] for k, v in chunk.times.items()}
        signals[name] = SignalChunk(name, chunk.channels, t[order], chunk.values[order], times)
    jumps = [
        f
        for f in _timing(MemorySource(clean.info, signals, clean.events, {}))
        if f.cause == "clock_jump"
    ]
    assert len(jumps) == 1 and jumps[0].confidence >= 0.5
    assert abs(jumps[0].t_start_ns - step_at) <= NS // 5
    assert "/turtle1/pose" in jumps[0].channels and "/turtle2/pose" in jumps[0].channels
