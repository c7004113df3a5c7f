"""One Explain run for the viewer, off the UI thread: read the episode, run every analyzer
with the robot's history, store the findings.

A run reads the whole recording, so the viewer starts it on a worker thread; an SQLite
connection belongs to the thread that opened it, so the run opens its own catalog from the
path instead of borrowing the session's. Keeping this here (not in the panel) leaves the UI
with no catalog writes of its own: the panel starts the run and hands the result to
``EpisodeSession.set_findings``.
"""

from __future__ import annotations

from pathlib import Path

from robotrace_desktop.catalog.findings import store_findings
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.finding import Finding
from robotrace_desktop.episodes import ResolvedEpisode


def explain_and_store(catalog_path: Path | None, resolved: ResolvedEpisode) -> list[Finding]:
    """The ranked findings of ``resolved``; stored in the catalog when the episode is in it.
    Without a catalog (a file opened from disk with no library) Explain runs without history.
    Raises what the reader or the catalog raise; the caller shows it."""
    # imported here: the analyzers (numpy-heavy) load when the first run starts, not with the view
    from robotrace_desktop.library.explain_runner import explain_resolved

    if catalog_path is None:
        return explain_resolved(resolved, None)
    with Catalog(catalog_path) as catalog:
        findings = explain_resolved(resolved, catalog)
        if resolved.in_catalog:
            store_findings(catalog, resolved.info.id, findings)
    return findings
