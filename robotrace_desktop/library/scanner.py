"""Scanning: find every recording under the given paths, index new or changed ones, and
(optionally) explain what changed.

A recording is re-indexed only when the size or mtime of one of its files changed (its
fingerprint, ``indexing``). Vanished recordings are marked missing only after a second look
confirms they are gone; their rows and bookmarks stay. Nothing is ever written into the
scanned folders. Scan-time Explain runs here, above both the catalog and Explain, because it
needs both: what the scan indexed, and the analyzers' runner.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from robotrace_desktop.catalog.browse import refresh_group_summaries
from robotrace_desktop.catalog.findings import explainable_among
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.catalog.user_data import note_recordings
from robotrace_desktop.core.episode import EpisodeInfo
from robotrace_desktop.errors import RecordingError
from robotrace_desktop.library.indexing import Recording, index_recording
from robotrace_desktop.readers.base import Reader
from robotrace_desktop.readers.permission import PERMISSION_DENIED, RECORDING_SUFFIXES, denied
from robotrace_desktop.readers.registry import readers, sniff

if TYPE_CHECKING:  # the rows the catalog hands back; the SQL itself stays in catalog/
    import sqlite3

log = logging.getLogger(__name__)

SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", ".cache"}


@dataclass(slots=True)
class ScanSummary:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: int = 0
    missing: int = 0
    recordings: int = 0
    cancelled: bool = False
    problems: list[str] = field(default_factory=list)  # one line per failed recording
    changed: list[str] = field(default_factory=list)  # ids of new/updated readable episodes
    explained: int = 0  # episodes Explain ran on after indexing
    explain_errors: list[str] = field(default_factory=list)  # "<id>: <reason>"

    @property
    def indexed(self) -> int:
        return self.new + self.updated + self.unchanged

    def to_dict(self) -> dict[str, object]:
        return {
            "recordings": self.recordings,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": self.errors,
            "missing": self.missing,
            "cancelled": self.cancelled,
            "problems": list(self.problems),
            "explained": self.explained,
            "explain_errors": list(self.explain_errors),
        }


#: progress(done, total, current path)
ProgressCallback = Callable[[int, int, str], None]


def discover(roots: Sequence[Path]) -> Iterator[Recording]:
    """Every recording under ``roots``; folder formats are not descended into."""
    folder_readers = [r for r in readers() if r.folder_format]
    all_readers = readers()

    seen_dirs: set[tuple[int, int]] = set()

    def walk(directory: Path) -> Iterator[Recording]:
        try:
            stat = directory.stat()
        except OSError as exc:
            log.warning("cannot read folder %s: %s", directory, exc)
            return
        key = (stat.st_dev, stat.st_ino)
        if key in seen_dirs:  # symlink loops
            return
        seen_dirs.add(key)
        reader = sniff(directory, folder_readers)
        if reader is not None:
            yield Recording(directory, reader)
            return
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except PermissionError:  # a row that says so, not a silent gap in the catalog
            yield Recording(directory, PERMISSION_DENIED)
            return
        except OSError as exc:
            log.warning("cannot list folder %s: %s", directory, exc)
            return
        subdirs: list[Path] = []
        for entry in entries:
            if entry.name.startswith(".") and entry.name in SKIP_DIRS | {".robotrace"}:
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if is_dir:
                if entry.name not in SKIP_DIRS:
                    subdirs.append(Path(entry.path))
                continue
            file_reader = sniff(Path(entry.path), all_readers) or _denied_recording(entry)
            if file_reader is not None:
                yield Recording(Path(entry.path), file_reader)
        for sub in subdirs:
            yield from walk(sub)

    for root in roots:
        root = _absolute(root)
        if root.is_dir():
            yield from walk(root)
        elif root.exists():
            # A file named explicitly is reported even when no reader claims it.
            yield Recording(root, sniff(root, all_readers) or _UNREADABLE)


def _denied_recording(entry: os.DirEntry[str]) -> Reader | None:
    """The permission-denied reader for an unreadable file that looks like a recording."""
    if Path(entry.name).suffix.lower() in RECORDING_SUFFIXES and denied(Path(entry.path)):
        return PERMISSION_DENIED
    return None


def scan(
    catalog: Catalog,
    roots: Sequence[Path],
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    force: bool = False,
    explain: bool = False,
    explain_progress: ProgressCallback | None = None,
) -> ScanSummary:
    """Index everything under ``roots`` into ``catalog``. Never raises for bad recordings.

    With ``explain``, the new and updated ready episodes are then explained (in parallel,
    findings stored); ``explain_progress(done, total, episode id)`` follows that stage. So are
    unchanged episodes Explain never finished on (a scan killed or cancelled after indexing
    them): the next scan resumes that stage too. An unchanged re-scan of explained episodes
    has nothing to explain and never starts the analyzers.
    """
    summary = ScanSummary()
    abs_roots = [_absolute(r) for r in roots]
    for root in abs_roots:
        if not root.exists():
            summary.errors += 1
            summary.problems.append(f"{root}: no such file or folder")
    # remembered in the journal: what `catalog rebuild` rescans when the catalog itself is lost
    note_recordings(catalog, [str(r) for r in abs_roots if r.exists()])
    recordings = list(discover([r for r in abs_roots if r.exists()]))
    summary.recordings = len(recordings)
    found_paths = {str(r.path) for r in recordings}
    unchanged_ids: list[str] = []
    for done, recording in enumerate(recordings):
        if cancel is not None and cancel.is_set():
            summary.cancelled = True
            break
        if progress is not None:
            progress(done, len(recordings), str(recording.path))
        _scan_one(catalog, recording, summary, force=force, unchanged_ids=unchanged_ids)
    if progress is not None and not summary.cancelled:
        progress(len(recordings), len(recordings), "")
    if not summary.cancelled:
        summary.missing = _mark_vanished(catalog, abs_roots, found_paths)
    if explain and not summary.cancelled:
        pending = [*summary.changed, *_to_explain(catalog, unchanged_ids)]
        if pending:
            _explain(catalog, pending, summary, explain_progress, cancel)
    if summary.new or summary.updated or summary.missing or summary.explained:
        refresh_group_summaries(catalog)  # the browser opens on them, not on a re-count
    return summary


def _to_explain(catalog: Catalog, ids: list[str]) -> list[str]:
    """Unchanged episodes Explain can read (present, from a recording that indexed cleanly)
    whose stored findings cannot be reused: never explained (a scan killed after indexing
    them) or explained under another reuse key (the catalog's fields, the thresholds or the
    analyzers changed) — the key ``explain EPISODE`` uses. Findings stored without a key count
    as current, as every explained episode did before keys."""
    ids = explainable_among(catalog, ids)
    if not ids:
        return []
    # imported here: a re-scan of an unchanged tree reaches this with nothing changed
    from robotrace_desktop.library.explain_reuse import stale

    return stale(catalog, list(dict.fromkeys(ids)), keyless_is_fresh=True)


def _explain(
    catalog: Catalog,
    ids: list[str],
    summary: ScanSummary,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
) -> None:
    # imported here: the analyzers (and numpy-heavy causes) are not needed to index
    from robotrace_desktop.library.explain_runner import explain_many

    try:
        run = explain_many(catalog.path, ids, progress=progress, cancel=cancel)
        run.explained = {e: f for e, f in run.explained.items() if e not in run.reused}
    except Exception as exc:  # the index is done and stored; Explain failing must not undo it
        log.exception("explain after scan failed")
        summary.explain_errors.append(f"explain: {exc}")
        return
    summary.explained = len(run.explained)
    summary.explain_errors.extend(f"{e}: {reason}" for e, reason in run.errors.items())


def _scan_one(
    catalog: Catalog,
    recording: Recording,
    summary: ScanSummary,
    *,
    force: bool,
    unchanged_ids: list[str],
) -> None:
    """Index one recording and add what happened to ``summary``."""
    done = index_recording(catalog, recording, force=force)
    unchanged_ids.extend(done.unchanged_ids)
    if done.error:  # a failed recording counts once, as an error
        summary.errors += 1
        summary.problems.append(done.error)
        return
    summary.new += done.new
    summary.updated += done.updated
    summary.unchanged += done.unchanged
    summary.changed.extend(done.changed)
    summary.problems.extend(f"{done.path}: {p}" for p in done.denied)


def _mark_vanished(catalog: Catalog, roots: Sequence[Path], found: set[str]) -> int:
    """Recordings under a scanned root that were not found: confirm, then mark missing."""
    marked = 0
    for root in roots:
        for row in catalog.recordings_under(str(root)):
            path = row["path"]
            if path in found or row["status"] == "missing":
                continue
            if os.path.exists(path):  # still there: just not a recording any more / unreadable
                marked += _mark_superseded(catalog, row, found)
                continue
            with catalog.transaction():
                marked += catalog.mark_missing(
                    catalog.episode_ids_of_recording(path), f"{path}: file or folder is gone"
                )
                catalog.set_recording_state(path, row["kind"], None, "missing", "gone")
    return marked


def _mark_superseded(catalog: Catalog, row: sqlite3.Row, found: set[str]) -> int:
    """A row that a recording found now covers stops standing on its own: a lone ``.mcap``
    indexed (failed) while its bag was still being copied, once the folder has its
    metadata.yaml; or a folder once unreadable whose recordings are now indexed."""
    path = row["path"]
    cover = superseding_recording(path, found)
    if cover is None:
        return 0
    with catalog.transaction():
        marked = catalog.mark_missing(
            catalog.episode_ids_of_recording(path), f"{path}: superseded by {cover}"
        )
        catalog.set_recording_state(path, row["kind"], None, "missing", f"superseded by {cover}")
    return marked


def superseding_recording(path: str, found: set[str]) -> str | None:
    """The found recording around ``path`` (its folder became a bag), or inside it."""
    for parent in Path(path).parents:
        if str(parent) in found:
            return str(parent)
    prefix = path.rstrip("/") + "/"
    return next((f for f in sorted(found) if f.startswith(prefix)), None)


def _absolute(path: Path) -> Path:
    """Resolved absolute path: the same form readers use for episode ids."""
    return Path(path).expanduser().resolve()


class _Unreadable(Reader):
    """Stands for a path passed explicitly that no reader claims, so it gets an error row."""

    kind = "unknown"

    def sniff(self, path: Path) -> float | None:
        return None

    def index(self, path: Path) -> Iterator[EpisodeInfo]:
        if denied(path):
            raise RecordingError(path, "permission denied")
        if path.is_file() and path.stat().st_size == 0:
            raise RecordingError(path, "empty file (0 bytes)")
        raise RecordingError(path, "not a recording format RoboTrace can read")

    def open(self, path: Path, episode_index: int | None = None) -> NoReturn:
        raise RecordingError(path, "not a recording format RoboTrace can read")

    def fingerprint_files(self, path: Path) -> list[Path]:
        return [path]


_UNREADABLE = _Unreadable()
