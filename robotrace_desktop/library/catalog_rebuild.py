"""``catalog rebuild``: a new catalog from the journal, with every known recording scanned
into it again (and, on request, explained once it is installed).

The catalog builds, checks and installs the new file (``catalog.recovery.rebuild``); reading
the recordings back into it is a scan, which lives above the catalog — so the scan is handed
down from here, and Explain runs on the installed file, by path, as the workers open it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from robotrace_desktop.catalog import recovery
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.library.scanner import ScanSummary, scan


@dataclass(slots=True)
class Rebuilt:
    """What a rebuild did: the file replaced, and what the scan of the known recordings found
    (None: no known recording was there to scan)."""

    replaced: recovery.Replaced
    summary: ScanSummary | None = None


def rebuild_catalog(catalog: Path, *, explain: bool = False) -> Rebuilt:
    """Rebuild ``catalog`` from its journal and the recordings it knew; with ``explain``, the
    rescanned episodes are explained on the installed catalog."""
    summaries: list[ScanSummary] = []

    def reindex(rebuilt: Catalog, paths: list[Path]) -> None:
        summaries.append(scan(rebuilt, paths))

    replaced = recovery.rebuild(catalog, reindex)
    done = Rebuilt(replaced, summaries[-1] if summaries else None)
    if explain and replaced.scanned:
        with Catalog(catalog) as installed:
            done.summary = scan(installed, replaced.scanned, explain=True)
    return done
