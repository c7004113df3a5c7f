"""The words shown when the catalog is damaged: what is wrong, that nothing was written, where
the user's own data is safe, and the exact commands that bring it back.

Why one place: every command (and the viewer) meets a damaged catalog through a different
path — opening it, a write refused, a read that hits a bad page — and each must say the same
actionable thing instead of "database disk image is malformed".
"""

from __future__ import annotations

from pathlib import Path

from robotrace_desktop import paths
from robotrace_desktop.catalog.backups import backups
from robotrace_desktop.catalog.journal import Journal


def damaged_message(catalog: Path, problem: str) -> str:
    option = "" if _is_default(catalog) else f" --catalog {catalog}"
    journal = Journal(catalog)
    kept = (
        f"Tags, bookmarks and notes are kept in {journal.path}."
        if journal.size()
        else "No journal of tags and bookmarks exists yet beside it."
    )
    found = backups(catalog)
    newest = f" (newest backup: {found[0]})" if found else " (no backup found)"
    return (
        f"the catalog {catalog} is damaged: {problem}. Nothing was written to it. {kept}\n"
        f"  to recover: robotrace-desktop{option} catalog restore{newest}\n"
        f"          or: robotrace-desktop{option} catalog rebuild   "
        "(rescans the recordings, re-applies the journal)\n"
        f"  details:    robotrace-desktop{option} catalog check"
    )


def _is_default(catalog: Path) -> bool:
    try:
        return catalog.resolve() == paths.catalog_path().resolve()
    except OSError:
        return False
