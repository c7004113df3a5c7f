"""Hand-made findings for tests that line runs up by their findings (the comparison view and
its Qt-free session): the evidence times are chosen by the test, not by an analyzer."""

from __future__ import annotations

from robotrace_desktop.core.finding import Finding

S = 1_000_000_000


def finding(
    cause: str, t_s: float, *, confidence: float = 0.9, failure_s: float | None = None
) -> Finding:
    """A 0.3 s finding on /action/gripper at ``t_s`` (rank 1), with a failure time if given."""
    evidence = {} if failure_s is None else {"failure_time_ns": round(failure_s * S)}
    return Finding(
        cause,
        cause.replace("_", " ").capitalize(),
        "made up for the test",
        confidence,
        "high",
        round(t_s * S),
        round((t_s + 0.3) * S),
        ["/action/gripper"],
        evidence,
        rank=1,
    )
