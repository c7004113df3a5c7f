"""The recording itself says the run failed: failed status, success = false, or an environment
that ended the episode (LeRobot ``next.done``) without ever reporting ``next.success``.

This is a *symptom* (ranking.SYMPTOMS): it marks that — and, when the metadata says so, when —
the run failed, so the ranking can look for a specific cause before that time. A status that is
"failed" only because the recording could not be read is a data problem, not a robot failure,
and is not reported here.
"""

from __future__ import annotations

import numbers

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext
from robotrace_desktop.analysis.finding import Finding, channel_ref
from robotrace_desktop.core.episode import Outcome, Status
from robotrace_desktop.core.timebase import NS_PER_S as NS

CAUSE = "outcome_failed"

thresholds.register(
    CAUSE,
    confidence_explicit=(1.0, "confidence when the outcome says failure (success = false)"),
    confidence_status=(0.9, "confidence when only the status says failed"),
    confidence_done=(0.9, "confidence for done without success (LeRobot next.done/next.success)"),
)

DONE_STREAMS = ("next.done",)
SUCCESS_STREAMS = ("next.success",)


def analyze(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    info = data.info
    reasons: list[str] = []
    evidence: dict[str, object] = {}
    channels: list[str] = []
    confidence = 0.0
    reason_text = _text(info.metadata.get("failure_reason"))

    if info.outcome == Outcome.FAILURE:
        reasons.append("outcome is failure (success = false)")
        evidence["outcome"] = info.outcome.value
        confidence = max(confidence, float(ctx.t(CAUSE, "confidence_explicit")))
    if info.status == Status.FAILED and (_robot_failure_status(info.problems) or reason_text):
        reasons.append("status is failed")
        evidence["status"] = info.status.value
        confidence = max(confidence, float(ctx.t(CAUSE, "confidence_status")))
    done = _done_without_success(data)
    if done is not None:
        done_ns, stream = done
        reasons.append(f"{stream} became true at {done_ns / NS:.2f} s but next.success never did")
        evidence["done_time_ns"] = done_ns
        channels.append(channel_ref(stream))
        confidence = max(confidence, float(ctx.t(CAUSE, "confidence_done")))
    if not reasons:
        return []

    t_fail = metadata_failure_time_ns(info.metadata, info.start_time_ns, info.duration_ns)
    evidence["failure_time_ns"] = t_fail
    if reason_text:
        evidence["failure_reason"] = reason_text
    explanation = "The recording says the run failed: " + "; ".join(reasons)
    if reason_text:
        explanation += f". Reason given: {reason_text}"
    if t_fail is not None:
        explanation += f" (at {t_fail / NS:.2f} s)"
    return [
        Finding(
            cause=CAUSE,
            title="Run failed",
            explanation=explanation + ".",
            confidence=confidence,
            severity="high",
            t_start_ns=t_fail,
            channels=channels,
            evidence=evidence,
            next_step=(
                "Look at the findings ranked above this one for the cause, then replay the "
                "seconds before the failure"
                + (f" (around {t_fail / NS:.1f} s)." if t_fail is not None else ".")
            ),
        )
    ]


def _robot_failure_status(problems: list[str]) -> bool:
    """Readers set status failed (with a problem sentence) when a recording cannot be read; a
    failed status without any such problem came from the recording's own metadata."""
    return not problems


def _done_without_success(data: EpisodeData) -> tuple[int, str] | None:
    names = {s.name for s in data.info.streams}
    done_stream = next((s for s in DONE_STREAMS if s in names), None)
    if done_stream is None:
        return None
    done = data.signal(done_stream)
    if done is None or not len(done.t_ns):
        return None
    hit = np.flatnonzero(np.nan_to_num(done.values).max(axis=1) > 0.5)
    if not len(hit):
        return None  # never done: time limit or manual stop, outcome unknown
    for name in SUCCESS_STREAMS:
        if name in names:
            success = data.signal(name)
            if success is None or np.nan_to_num(success.values).max(initial=0.0) > 0.5:
                return None
    if not any(n in names for n in SUCCESS_STREAMS) and data.info.outcome != Outcome.FAILURE:
        return None  # without next.success the reader decides from the reward (outcome)
    return int(done.t_ns[hit[0]]), done_stream


def metadata_failure_time_ns(
    metadata: dict[str, object], start_time_ns: int | None, duration_ns: int
) -> int | None:
    """``failure_time_ns`` / ``failure_time_s`` from the metadata, as episode time. An absolute
    (epoch) value is converted with the episode's start time."""
    value: float | int | None = None
    raw_ns = metadata.get("failure_time_ns")
    raw_s = metadata.get("failure_time_s")
    if isinstance(raw_ns, numbers.Integral) and not isinstance(raw_ns, bool):
        value = int(raw_ns)  # exact: epoch nanoseconds do not fit a float
    elif _number(raw_ns):
        value = float(raw_ns)  # type: ignore[arg-type]
    elif _number(raw_s):
        value = float(raw_s) * NS  # type: ignore[arg-type]
    if value is None:
        return None
    if start_time_ns is not None and value >= start_time_ns and value > 10 * max(duration_ns, 1):
        value -= start_time_ns
    if value < 0 or (duration_ns > 0 and value > duration_ns + NS):
        return None  # not on this episode's clock
    return round(value)


def _number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value == value


def _text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None
