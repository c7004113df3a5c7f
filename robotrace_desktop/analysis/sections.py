"""The Explain table's sections: why a 100 % finding may sit below a 90 % one.

Ranking is causal first (``ranking.rank``): the anomaly that started before the failure leads,
what happened after it, the symptoms that show *how* the run failed ("GraspError raised") and
last what the recording says of its outcome ("Run failed") follow, however certain they are.
Shown as one list, confidence would seem to disagree with rank; shown in sections, each section
is in confidence order and its heading says what its findings are.
"""

from __future__ import annotations

from collections.abc import Sequence

from robotrace_desktop.analysis.finding import Finding
from robotrace_desktop.analysis.ranking import AFTER_FAILURE_SLACK_NS, SYMPTOMS, failure_time_ns
from robotrace_desktop.core.finding import CONFIDENT, RECORDED_OUTCOME

LIKELY = "Likely cause"
AFTER = "Seen after the failure"
SYMPTOM = "Symptoms — how the failure showed"
RECORDED = "What the recording says"
UNLIKELY = f"Less likely (under {CONFIDENT:.0%})"


def section_of(finding: Finding, failure_ns: int | None) -> str:
    if finding.confidence < CONFIDENT:
        return UNLIKELY
    if finding.cause == RECORDED_OUTCOME:
        return RECORDED
    if finding.cause in SYMPTOMS:
        return SYMPTOM
    start = finding.t_start_ns
    if failure_ns is not None and start is not None and start > failure_ns + AFTER_FAILURE_SLACK_NS:
        return AFTER
    return LIKELY


def finding_sections(findings: Sequence[Finding]) -> list[tuple[str, list[Finding]]]:
    """Findings in rank order, cut into consecutive runs of the same section."""
    failure = failure_time_ns(findings)
    ordered = sorted(findings, key=lambda f: f.rank if f.rank else 10**9)
    sections: list[tuple[str, list[Finding]]] = []
    for finding in ordered:
        name = section_of(finding, failure)
        if sections and sections[-1][0] == name:
            sections[-1][1].append(finding)
        else:
            sections.append((name, [finding]))
    return sections
