"""A whole message republished with a dither of noise — every joint of a real G1 arm stopping at
the same sample while its commands keep moving — is one confident sensor stall at its onset,
ranked before the hard stop of one joint it would otherwise look like; the same recording
untouched, and a robot told to hold still, are not stalls."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from robotrace_desktop.analysis.explain import explain
from robotrace_desktop.episodes import resolve
from tests.analysis.fakes import context, make_data, ns, streams_of

NS = 1_000_000_000
G1 = "lerobot/g1_pick_bottle_v21#1"


def _g1(shared_data: Path) -> tuple[object, dict]:
    resolved = resolve(str(shared_data / G1), None)
    return resolved.info, streams_of(resolved.info, resolved.open())


def _stall_at(findings: list, t0: float) -> bool:
    return any(
        f.cause == "sensor_stall" and f.confidence >= 0.5 and abs(f.t_start_ns / NS - t0) <= 0.5
        for f in findings
    )


def test_a_dithered_republish_of_a_whole_real_message_is_a_stall_not_a_hard_stop(
    shared_data: Path,
) -> None:
    info, streams = _g1(shared_data)
    t_ns, channels = streams["observation.state"]
    t = (t_ns - t_ns[0]) / NS
    rows = np.flatnonzero((t >= 4.0) & (t < 7.0))
    rng = np.random.default_rng(6)
    for name, column in channels.items():
        held = column.copy()
        scale = 1e-3 * float(np.percentile(column, 99) - np.percentile(column, 1))
        held[rows] = column[rows[0]] + rng.normal(0.0, scale, rows.size)  # last reading, dithered
        channels[name] = held
    ranked = explain(make_data(streams, base=info), context())
    causes = [f.cause for f in ranked]
    assert _stall_at(ranked, float(t[rows[0]])), [(f.cause, f.t_start_ns) for f in ranked[:4]]
    # the message went stale: told before any joint's "hard stop" it explains
    assert "hard_stop" not in causes or causes.index("sensor_stall") < causes.index("hard_stop")


def test_the_untouched_recording_and_a_robot_told_to_hold_still_are_not_stalls(
    shared_data: Path,
) -> None:
    info, streams = _g1(shared_data)
    assert not [
        f
        for f in explain(make_data(streams, base=info), context())
        if f.cause == "sensor_stall" and f.confidence >= 0.5
    ]
    t = np.arange(0, 12, 1 / 30)
    still = (t >= 5.0) & (t < 8.0)
    rng = np.random.default_rng(7)
    joints, commands = {}, {}
    for k in range(4):
        motion = np.sin(0.7 * t + k)
        held = np.where(still, np.sin(0.7 * 5.0 + k), motion)  # told to stop, and stopped
        commands[f"j{k}"] = held
        joints[f"j{k}"] = held + rng.normal(0, 1e-4, t.size)
    data = make_data({"observation.state": (ns(t), joints), "action": (ns(t), commands)})
    assert not [f for f in explain(data, context()) if f.cause == "sensor_stall"]
