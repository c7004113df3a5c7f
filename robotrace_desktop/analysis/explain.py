"""Running every analyzer on one episode and ranking what they found."""

from __future__ import annotations

import logging
from pathlib import Path

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext
from robotrace_desktop.analysis.finding import Finding
from robotrace_desktop.analysis.ranking import rank
from robotrace_desktop.analysis.registry import analyzers
from robotrace_desktop.core.episode import EpisodeInfo, EpisodeSource

log = logging.getLogger(__name__)


def explain(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    """Ranked findings. A failing analyzer is logged and skipped; the others still report."""
    findings: list[Finding] = []
    for name, analyze in analyzers():
        try:
            findings.extend(analyze(data, ctx))
        except Exception:  # one broken analyzer must not hide the others' findings
            log.exception("analyzer %s failed on %s", name, data.info.id)
    return rank(findings)


def explain_source(
    info: EpisodeInfo,
    source: EpisodeSource,
    *,
    offsets: dict[str, int] | None = None,
    thresholds_path: Path | None = None,
    context: ExplainContext | None = None,
) -> list[Finding]:
    """Convenience: explain an opened episode with the thresholds file (or defaults)."""
    analyzers()  # import the cause modules so their thresholds are registered
    ctx = context or ExplainContext(thresholds=thresholds.load(thresholds_path))
    return explain(EpisodeData(info, source, offsets), ctx)
