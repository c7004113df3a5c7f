"""One episode of any supported recording → one self-contained native bundle.

Where: ``<dest>/<slug>-<id>/`` with ``dest`` defaulting to ``<library>/imported`` — never in or
next to the source recording (a destination inside a recording folder is refused). The id is
derived from the source episode's id, so importing the same episode again lands on the same
folder and the same catalog id: it is **refused** (status ``exists``, nothing written) unless
``replace=True``, which swaps the new bundle in atomically.

How: inside a ``bundle.BundleWriter`` (a hidden temporary sibling, the manifest written last,
then renamed into place), so a reader never sees half a bundle. Every stream the viewer lists is
carried over (signals → parquet, events → JSON lines, cameras → copied or losslessly re-encoded, see
``streams`` and ``video_copy``); a stream that cannot be read is skipped with a problem
sentence, never an exception. The manifest keeps the episode's name, source, robot,
reproducibility fields, task, outcome (as ``success``), status, start time, duration and
metadata, plus ``metadata.imported_from`` ({path, kind, episode_index, episode_id}) and
``metadata.import_problems`` (the source's problems and the conversion's).
"""

from __future__ import annotations

import errno
import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robotrace_desktop import paths
from robotrace_desktop.bundle.manifest import (
    BundleManifest,
    EventEntry,
    SignalEntry,
    VideoEntry,
)
from robotrace_desktop.bundle.writer import BundleWriter, check_replaceable
from robotrace_desktop.core.episode import (
    SOURCES,
    EpisodeInfo,
    EpisodeSource,
    Outcome,
    Status,
    StreamKind,
)
from robotrace_desktop.core.jsonsafe import to_jsonable
from robotrace_desktop.errors import ConfigurationError, RobotraceError

log = logging.getLogger(__name__)

IMPORT_FOLDER = "imported"
# Write failures that no other stream would escape: stop the import (→ StorageError).
_FATAL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
_MAX_SLUG = 60


@dataclass(slots=True)
class ImportResult:
    """One imported episode. ``status``: "imported", "replaced" or "exists" (refused: an
    earlier import is there and ``replace`` was not asked for)."""

    source: EpisodeInfo
    folder: Path
    episode_id: str
    status: str
    problems: list[str] = field(default_factory=list)
    info: EpisodeInfo | None = None  # the bundle as the bundle reader indexes it

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "bundle": str(self.folder),
            "id": self.episode_id,
            "name": self.source.name,
            "source": imported_from(self.source),
            "problems": list(self.problems),
        }


def default_import_root() -> Path:
    """``<library>/imported``: where imports go unless a destination is given."""
    return paths.library_dir() / IMPORT_FOLDER


def imported_id(source_id: str) -> str:
    """The bundle's episode id: new (not the source's), stable for the same source episode."""
    key = f"robotrace-import\0{source_id}"
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def slug(text: str) -> str:
    """A folder-name-safe form of an episode name (letters, digits, ``._+-``)."""
    return _UNSAFE.sub("_", text.strip()).strip("._-")[:_MAX_SLUG].rstrip("._-") or "episode"


def bundle_folder(source: EpisodeInfo, dest_root: Path) -> Path:
    return dest_root / f"{slug(source.name)}-{imported_id(source.id)}"


def imported_from(source: EpisodeInfo) -> dict[str, Any]:
    return {
        "path": source.path,
        "kind": source.kind,
        "episode_index": source.episode_index,
        "episode_id": source.id,
    }


def check_destination(source: EpisodeInfo, dest_root: Path) -> None:
    """Refuse a destination inside the source recording (a dataset or bag folder)."""
    recording = Path(source.path).expanduser().resolve()
    root = dest_root.expanduser().resolve()
    if recording.is_dir() and (root == recording or root.is_relative_to(recording)):
        raise ConfigurationError(
            f"{dest_root}: is inside the recording {recording}; imports are never written into "
            "a recording — choose another --dest"
        )


def import_episode(
    info: EpisodeInfo,
    open_source: Callable[[], EpisodeSource],
    dest_root: Path | None = None,
    *,
    replace: bool = False,
) -> ImportResult:
    """Import one episode. ``info``: the episode as the user sees it (catalog overrides
    applied); ``open_source()`` opens it (e.g. ``ResolvedEpisode.open``). Raises
    RecordingError when the recording cannot be opened, StorageError when the bundle cannot be
    written, ConfigurationError for a destination that is a recording or not a bundle."""
    root = Path(dest_root) if dest_root is not None else default_import_root()
    check_destination(info, root)
    folder = bundle_folder(info, root)
    new_id = imported_id(info.id)
    check_replaceable(folder)
    existed = folder.exists()
    if existed and not replace:
        return ImportResult(info, folder, new_id, "exists", [], _index(folder))
    with open_source() as source:
        problems = _write_atomically(source, info, folder, new_id)
    status = "replaced" if existed else "imported"
    return ImportResult(info, folder, new_id, status, problems, _index(folder))


def _index(folder: Path) -> EpisodeInfo | None:
    from robotrace_desktop.readers.bundle.source import index_bundle

    try:
        return next(index_bundle(folder))
    except RobotraceError as exc:  # an earlier, damaged bundle in the way
        log.warning("cannot index %s: %s", folder, exc)
        return None


def _write_atomically(
    source: EpisodeSource, info: EpisodeInfo, folder: Path, new_id: str
) -> list[str]:
    with BundleWriter(folder, what="bundle", replace=True) as bundle:
        manifest, _ = build_bundle(source, info, bundle.root, new_id)
        bundle.write_manifest(manifest)
    return list(manifest.metadata["import_problems"])


def build_bundle(
    source: EpisodeSource, info: EpisodeInfo, folder: Path, new_id: str
) -> tuple[BundleManifest, list[str]]:
    """Write every stream of ``source`` into ``folder``; returns the manifest (not yet
    written) and the conversion's problem sentences."""
    from robotrace_desktop.convert.streams import write_events, write_signal
    from robotrace_desktop.convert.video_copy import write_camera

    problems: list[str] = []
    videos: list[VideoEntry] = []
    signals: list[SignalEntry] = []
    events: list[EventEntry] = []
    stems: set[str] = set()
    seen: set[str] = set()
    for stream in source.info.streams:
        if stream.name in seen:
            problems.append(f"stream {stream.name!r} appears twice in the source; kept the first")
            continue
        seen.add(stream.name)
        stem = _unique_stem(stream.name, stems)
        try:
            if stream.kind == StreamKind.SIGNAL:
                entry, more = write_signal(source, stream, folder, f"signals/{stem}.parquet")
                signals.append(entry)
                problems += more
            elif stream.kind == StreamKind.EVENT:
                events.append(write_events(source, stream, folder, f"events/{stem}.jsonl"))
            elif stream.kind == StreamKind.VIDEO:
                camera = write_camera(source, stream.name, folder, stem)
                videos.append(camera.entry)
                problems += camera.problems
        except OSError as exc:
            if exc.errno in _FATAL_ERRNOS:
                raise  # the destination is full or read-only: every other stream would fail
            problems.append(f"{stream.kind.value} {stream.name!r} not imported: {exc}")
        except RobotraceError as exc:
            problems.append(f"{stream.kind.value} {stream.name!r} not imported: {exc}")
        except Exception as exc:  # a reader bug must not stop the other streams
            log.exception("importing stream %s of %s", stream.name, info.path)
            problems.append(
                f"{stream.kind.value} {stream.name!r} not imported: {type(exc).__name__}: {exc}"
            )
    return _manifest(info, source, new_id, problems, videos, signals, events), problems


def _manifest(
    info: EpisodeInfo,
    source: EpisodeSource,
    new_id: str,
    problems: list[str],
    videos: list[VideoEntry],
    signals: list[SignalEntry],
    events: list[EventEntry],
) -> BundleManifest:
    source_problems = list(dict.fromkeys([*info.problems, *source.info.problems]))
    seed = info.seed if isinstance(info.seed, int) and not isinstance(info.seed, bool) else None
    if info.seed is not None and seed is None:
        problems.append(f"seed {info.seed!r} is not an integer; left out")
    start = info.start_time_ns
    if start is not None and start < 0:
        problems.append(f"start time {start} ns is before 1970; left out")
        start = None
    metadata = to_jsonable(dict(info.metadata))
    metadata["imported_from"] = imported_from(info)
    metadata["import_problems"] = [*source_problems, *problems]
    return BundleManifest(
        name=info.name,
        id=new_id,
        source=info.source if info.source in SOURCES else None,
        robot=info.robot,
        policy_version=info.policy_version,
        env_version=info.env_version,
        git_sha=info.git_sha,
        seed=seed,
        task=info.task,
        success={Outcome.SUCCESS: True, Outcome.FAILURE: False}.get(info.outcome),
        status="failed" if info.status == Status.FAILED else "ready",
        start_time_ns=start,
        duration_ns=max(0, int(info.duration_ns)),
        metadata=metadata,
        videos=videos,
        signals=signals,
        events=events,
    )


def _unique_stem(name: str, taken: set[str]) -> str:
    """A file stem for a stream (``/joint_states`` → ``joint_states``), unique in the bundle
    whatever the case-sensitivity of the file system."""
    base = slug(name.replace("/", "_")) if name.strip("/") else "stream"
    stem, n = base, 2
    while stem.lower() in taken:
        stem, n = f"{base}_{n}", n + 1
    taken.add(stem.lower())
    return stem
