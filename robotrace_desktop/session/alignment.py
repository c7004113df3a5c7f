"""Which moments of two runs line up, and which run goes where: the rules behind
``ComparisonSession`` (testable and scriptable without a display; they moved here from
``ui/comparison_align.py`` so no widget owns them).

Convention: the comparison timeline is *baseline* episode time and candidate time = t − offset,
so aligning a candidate event at ``c`` with a baseline event at ``b`` means offset = b − c.
"""

from __future__ import annotations

from collections.abc import Sequence

from robotrace_desktop.core.episode import EpisodeInfo
from robotrace_desktop.core.finding import CONFIDENT, Finding
from robotrace_desktop.core.timebase import NS_PER_S as NS

ALIGN_LABELS = {
    "start": "Start",
    "first_finding": "First finding",
    "failure_time": "Failure time",
    "manual": "Manual",
}


def top_confident(findings: Sequence[Finding]) -> Finding | None:
    """The best-ranked finding at or above the confidence threshold."""
    return next((f for f in findings if f.confidence >= CONFIDENT), None)


def first_finding_ns(findings: Sequence[Finding]) -> int | None:
    """t_start of the top confident finding that is tied to a time."""
    found = next(
        (f for f in findings if f.confidence >= CONFIDENT and f.t_start_ns is not None), None
    )
    return None if found is None else int(found.t_start_ns)  # type: ignore[arg-type]


def failure_time_ns(findings: Sequence[Finding]) -> int | None:
    """The ranked top finding's estimated failure time (evidence ``failure_time_ns``)."""
    if not findings:
        return None
    value = findings[0].evidence.get("failure_time_ns")
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def alignment_offset(
    mode: str, baseline: Sequence[Finding], candidate: Sequence[Finding]
) -> tuple[int, str]:
    """(offset, note) for an alignment mode: candidate time = t − offset, so the candidate's
    event at ``c`` shows at the baseline's ``b`` when offset = b − c. Falls back to the start
    (offset 0) with a note naming the side that has no such event."""
    if mode in ("start", "manual"):
        return 0, ""
    pick = first_finding_ns if mode == "first_finding" else failure_time_ns
    what = "confident finding" if mode == "first_finding" else "failure time"
    b, c = pick(baseline), pick(candidate)
    missing = [side for side, t in (("baseline", b), ("candidate", c)) if t is None]
    if missing:
        return 0, f"The {' and the '.join(missing)} has no {what}: aligned at the start."
    assert b is not None and c is not None
    label = ALIGN_LABELS[mode].lower()
    return b - c, (
        f"Aligned on the {label}: baseline {b / NS:.3f} s ↔ candidate {c / NS:.3f} s "
        f"(candidate shifted {(b - c) / 1e6:+.0f} ms)."
    )


def replay_of(info: EpisodeInfo) -> str | None:
    """The baseline id a replay episode was re-rolled from (None: not a replay)."""
    if info.source != "replay":
        return None
    value = info.metadata.get("replay_of")
    return str(value) if value else None


def comparison_pair(first: EpisodeInfo, second: EpisodeInfo) -> tuple[EpisodeInfo, EpisodeInfo]:
    """(baseline, candidate): a replay always goes right of the episode it replays."""
    if replay_of(first) == second.id:
        return second, first
    return first, second


def event_ns(mode: str, findings: Sequence[Finding]) -> int | None:
    """The time an event alignment lines up in one run (None: start/manual or no event)."""
    if mode == "first_finding":
        return first_finding_ns(findings)
    if mode == "failure_time":
        return failure_time_ns(findings)
    return None


def short_name(name: str, limit: int = 28) -> str:
    """Elided in the middle: runs often differ only at the end ("… (seed 7)", "#12")."""
    if len(name) <= limit:
        return name
    tail = limit // 2
    return name[: limit - tail - 1] + "…" + name[-tail:]
