"""Scanning: find every recording under the given paths and index new or changed ones.

A recording is re-indexed only when the size or mtime of one of its files changed (its
fingerprint). Vanished recordings are marked missing only after a second look confirms they
are gone; their rows and bookmarks stay. Nothing is ever written into the scanned folders.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.catalog.user_data import note_recordings
from robotrace_desktop.core.episode import EpisodeInfo, Outcome, Status, episode_id
from robotrace_desktop.errors import RecordingError, RobotraceError
from robotrace_desktop.readers.base import Reader
from robotrace_desktop.readers.permission import PERMISSION_DENIED, RECORDING_SUFFIXES, denied
from robotrace_desktop.readers.permission import REASON as DENIED
from robotrace_desktop.readers.registry import readers, sniff

log = logging.getLogger(__name__)

SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", ".cache"}


@dataclass(frozen=True, slots=True)
class Recording:
    path: Path
    reader: Reader


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


def fingerprint(recording: Recording) -> str:
    """Hash of (relative name, size, mtime_ns) of the files that make up the recording."""
    digest = hashlib.sha256()
    base = recording.path if recording.path.is_dir() else recording.path.parent
    for file in recording.reader.fingerprint_files(recording.path):
        try:
            stat = file.stat()
        except OSError:
            digest.update(f"{file}\0missing\n".encode("utf-8", "surrogateescape"))
            continue
        name = os.path.relpath(file, base)
        digest.update(
            f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode("utf-8", "surrogateescape")
        )
    return digest.hexdigest()[:32]


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
        pending = [*summary.changed, *_to_explain(catalog, _readable(catalog, unchanged_ids))]
        if pending:
            _explain(catalog, pending, summary, explain_progress, cancel)
    return summary


def _readable(catalog: Catalog, ids: Sequence[str]) -> list[str]:
    """The episodes among ``ids`` Explain can read — present on disk, from a recording that
    indexed cleanly (as ``findings.explainable_ids``; a run whose outcome failed counts) — in
    order."""
    if not ids:
        return []
    readable: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        marks = ", ".join("?" * len(chunk))
        rows = catalog.conn.execute(
            f"SELECT e.id FROM episodes e JOIN recordings r ON r.path = e.recording "
            f"WHERE e.id IN ({marks}) AND e.missing_since IS NULL AND r.status = 'ok'",
            chunk,
        )
        readable.update(r[0] for r in rows)
    return [e for e in ids if e in readable]


def _to_explain(catalog: Catalog, ids: list[str]) -> list[str]:
    """Unchanged episodes whose stored findings cannot be reused: never explained (a scan
    killed after indexing them) or explained under another reuse key (the catalog's fields,
    the thresholds or the analyzers changed) — the key ``explain EPISODE`` uses. Findings
    stored without a key count as current, as every explained episode did before keys."""
    if not ids:
        return []
    # imported here: a re-scan of an unchanged tree reaches this with nothing changed
    from robotrace_desktop.analysis.reuse import stale

    return stale(catalog, list(dict.fromkeys(ids)), keyless_is_fresh=True)


def _explain(
    catalog: Catalog,
    ids: list[str],
    summary: ScanSummary,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
) -> None:
    # imported here: the analyzers (and numpy-heavy causes) are not needed to index
    from robotrace_desktop.analysis.runner import explain_many

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
    path = str(recording.path)
    reader = recording.reader
    try:
        print_ = fingerprint(recording)
    except OSError as exc:
        print_ = None
        log.warning("cannot stat %s: %s", path, exc)
    state = catalog.recording_state(path)
    if (
        not force
        and state is not None
        and print_ is not None
        and state["fingerprint"] == print_
        and state["status"] == "ok"
    ):
        ids = catalog.episode_ids_of_recording(path)
        summary.unchanged += len(ids)
        unchanged_ids.extend(ids)
        return
    try:
        episodes = list(reader.index(recording.path))
        if not episodes:
            raise RecordingError(path, "no episodes found")
        error = None
    except RobotraceError as exc:
        episodes = [_failed_episode(recording, str(exc))]
        error = str(exc)
    except Exception as exc:  # a reader bug must not stop the scan or show a traceback
        log.exception("internal error indexing %s", path)
        message = f"{path}: could not be read ({type(exc).__name__}: {exc})"
        episodes = [_failed_episode(recording, message)]
        error = message
    with catalog.transaction():
        # read inside the write transaction: another scanner may have indexed it meanwhile
        before = set(catalog.episode_ids_of_recording(path))
        results = catalog.upsert_episodes(path, episodes)
        for info, result in zip(episodes, results, strict=True):
            if not error:  # a failed recording counts once, as an error
                setattr(summary, result, getattr(summary, result) + 1)
                if result == "unchanged":
                    unchanged_ids.append(info.id)  # re-read, same content: explained yet?
                elif info.status != Status.MISSING:
                    summary.changed.append(info.id)
        gone = before - {e.id for e in episodes}
        catalog.mark_missing(gone, f"{path}: episode no longer present in the recording")
        catalog.set_recording_state(path, reader.kind, print_, "error" if error else "ok", error)
    if error:
        summary.errors += 1
        summary.problems.append(error)
    else:  # files inside a readable recording that this user may not read, each named once
        denied_lines = {p for e in episodes for p in e.problems if p.startswith(DENIED)}
        summary.problems.extend(f"{path}: {p}" for p in sorted(denied_lines))


def _failed_episode(recording: Recording, message: str) -> EpisodeInfo:
    path = str(recording.path)
    return EpisodeInfo(
        id=episode_id(path),
        kind=recording.reader.kind,
        path=path,
        episode_index=None,
        name=recording.path.stem if recording.path.is_file() else recording.path.name,
        outcome=Outcome.UNKNOWN,
        status=Status.FAILED,
        problems=[message],
    )


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

    def open(self, path: Path, episode_index: int | None = None):  # type: ignore[override]
        raise RecordingError(path, "not a recording format RoboTrace can read")

    def fingerprint_files(self, path: Path) -> list[Path]:
        return [path]


_UNREADABLE = _Unreadable()
