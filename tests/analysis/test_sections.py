"""Rank and confidence agree in the Explain table: ranking orders by confidence within its causal
tiers, and the table's sections (likely cause / after the failure / symptoms / less likely)
are each in confidence order."""

from __future__ import annotations

from robotrace_desktop.analysis.finding import Finding
from robotrace_desktop.analysis.ranking import rank
from robotrace_desktop.analysis.sections import (
    AFTER,
    LIKELY,
    RECORDED,
    SYMPTOM,
    UNLIKELY,
    finding_sections,
)

S = 1_000_000_000


def finding(cause: str, confidence: float, severity: str, t: float | None) -> Finding:
    start = None if t is None else round(t * S)
    return Finding(cause, cause, "", confidence, severity, t_start_ns=start)


def demo_like() -> list[Finding]:
    return [
        finding("outcome_failed", 1.0, "high", None),
        finding("raised_exception", 0.95, "critical", 7.5),
        finding("gripper_empty_close", 0.9, "critical", 3.9),
        # a lower-severity but more confident cause: confidence leads within the tier
        finding("tracking_error", 0.93, "medium", 3.0),
        finding("torque_spike", 0.8, "critical", 2.0),
        finding("sensor_stall", 0.85, "high", 10.0),  # long after the failure
        finding("timestamp_gap", 0.3, "low", 1.0),
    ]


def test_ranking_orders_by_confidence_within_the_causal_order() -> None:
    ranked = rank(demo_like())
    assert [f.cause for f in ranked] == [
        "tracking_error",
        "gripper_empty_close",
        "torque_spike",
        "sensor_stall",
        "raised_exception",  # names the error and when: before the bare recorded outcome
        "outcome_failed",
        "timestamp_gap",
    ]
    assert [f.rank for f in ranked] == list(range(1, 8))


def test_sections_are_in_rank_order_and_each_in_confidence_order() -> None:
    ranked = rank(demo_like())
    sections = finding_sections(list(reversed(ranked)))  # any input order: shown by rank
    assert [name for name, _ in sections] == [LIKELY, AFTER, SYMPTOM, RECORDED, UNLIKELY]
    shown = [f for _, members in sections for f in members]
    assert [f.rank for f in shown] == sorted(f.rank for f in shown)
    for _, members in sections:
        confidences = [f.confidence for f in members]
        assert confidences == sorted(confidences, reverse=True)
    assert [f.cause for f in sections[2][1]] == ["raised_exception"]
    assert [f.cause for f in sections[3][1]] == ["outcome_failed"]


def test_a_clipped_command_ranks_before_the_tracking_error_it_causes() -> None:
    clipped = finding("action_saturation", 0.6, "high", 1.9)
    clipped.channels = ["action/joint_3"]
    lagging = finding("tracking_error", 0.9, "medium", 2.0)
    lagging.channels = ["/joint_states/position/joint_3"]
    elsewhere = finding("tracking_error", 0.95, "medium", 2.0)
    elsewhere.channels = ["/joint_states/position/joint_5"]  # another joint: not explained
    ranked = rank([lagging, elsewhere, clipped])
    assert [(f.cause, f.channels[0].rsplit("/", 1)[-1]) for f in ranked] == [
        ("tracking_error", "joint_5"),
        ("action_saturation", "joint_3"),
        ("tracking_error", "joint_3"),
    ]
    assert clipped.confidence == 0.9  # corroborated by the error that followed it
    assert clipped.evidence["corroborated_by"] == "tracking_error"
