"""Indexing one recording into the catalog: the one way a recording's rows get there.

A scan, the SDK (an episode it just wrote), ``import`` (through the scan) and verify's replays
all index through ``index_recording``, so every indexed recording carries its fingerprint
(the size and mtime of its files): a later scan skips it as unchanged instead of re-reading it.
A recording that cannot be read gets one error row saying why, except for callers that have
just written it themselves (``strict``): for them an unreadable result is their own failure.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.episode import EpisodeInfo, Outcome, Status, episode_id
from robotrace_desktop.errors import RecordingError, RobotraceError
from robotrace_desktop.readers.base import Reader
from robotrace_desktop.readers.permission import REASON as DENIED

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Recording:
    """A recording on disk and the reader that claims it."""

    path: Path
    reader: Reader


@dataclass(slots=True)
class Indexed:
    """What ``index_recording`` did to one recording's rows."""

    path: str
    #: the episodes as read (a failed recording: its one error row); empty when the
    #: fingerprint said unchanged and nothing was read
    episodes: list[EpisodeInfo] = field(default_factory=list)
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    #: new and updated episodes there to be read (what a scan hands to Explain)
    changed: list[str] = field(default_factory=list)
    #: episodes whose rows are as they were: the fingerprint matched (not re-read), or the
    #: recording was re-read and said the same
    unchanged_ids: list[str] = field(default_factory=list)
    #: why the recording could not be read (stored as its one error row), None when it was
    error: str | None = None
    #: files inside a readable recording that this user may not read, each named once
    denied: list[str] = field(default_factory=list)


def fingerprint(recording: Recording) -> str:
    """Hash of (relative name, size, mtime_ns) of the files that make up the recording."""
    digest = hashlib.sha256()
    base = recording.path if recording.path.is_dir() else recording.path.parent
    base_text = os.fspath(base)
    # the files of a 10,000-episode dataset: a string slice instead of os.path.relpath each
    # (which normalises both paths), where the slice is what relpath returns
    prefix = (
        base_text.rstrip(os.sep) + os.sep
        if os.path.isabs(base_text) and os.path.normpath(base_text) == base_text
        else None
    )
    for file in recording.reader.fingerprint_files(recording.path):
        text = os.fspath(file)
        try:
            stat = os.stat(text)
        except OSError:
            digest.update(f"{text}\0missing\n".encode("utf-8", "surrogateescape"))
            continue
        name = _relative(text, prefix) or os.path.relpath(file, base)
        digest.update(
            f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode("utf-8", "surrogateescape")
        )
    return digest.hexdigest()[:32]


def _relative(path: str, prefix: str | None) -> str | None:
    """``path`` below ``prefix`` (a normalised absolute folder and its separator) when it is
    plainly inside it — no empty, ``.`` or ``..`` part — else None (ask relpath)."""
    if prefix is None or not path.startswith(prefix):
        return None
    rest = path[len(prefix) :]
    if not rest or any(part in ("", ".", "..") for part in rest.split(os.sep)):
        return None
    return rest


def index_recording(
    catalog: Catalog, recording: Recording, *, force: bool = False, strict: bool = False
) -> Indexed:
    """Read ``recording`` with its reader and write its episodes, fingerprint and state in one
    transaction. Episodes the recording no longer holds are marked missing (rows and bookmarks
    stay). Unless ``force``, a recording whose fingerprint is unchanged and that indexed
    cleanly is not read again.

    ``strict``: raise what the reader (or reading the fingerprint) raised instead of storing
    an error row — for a caller that just wrote the recording and undoes the write if it
    cannot be read back. Never raises for a bad recording otherwise."""
    path = str(recording.path)
    try:
        stamp: str | None = fingerprint(recording)
    except OSError as exc:
        if strict:
            raise
        stamp = None
        log.warning("cannot stat %s: %s", path, exc)
    done = Indexed(path)
    state = catalog.recording_state(path)
    if (
        not force
        and state is not None
        and stamp is not None
        and state["fingerprint"] == stamp
        and state["status"] == "ok"
    ):
        done.unchanged_ids = catalog.episode_ids_of_recording(path)
        done.unchanged = len(done.unchanged_ids)
        return done
    episodes, done.error = _read(recording, strict)
    done.episodes = episodes
    with catalog.transaction():
        # read inside the write transaction: another scanner may have indexed it meanwhile
        before = set(catalog.episode_ids_of_recording(path))
        results = catalog.upsert_episodes(path, episodes)
        if not done.error:  # a failed recording counts once, as an error
            _count(done, episodes, results)
        gone = before - {e.id for e in episodes}
        catalog.mark_missing(gone, f"{path}: episode no longer present in the recording")
        state_text = "error" if done.error else "ok"
        catalog.set_recording_state(path, recording.reader.kind, stamp, state_text, done.error)
    if not done.error:
        done.denied = sorted({p for e in episodes for p in e.problems if p.startswith(DENIED)})
    return done


def _read(recording: Recording, strict: bool) -> tuple[list[EpisodeInfo], str | None]:
    """The recording's episodes, or its one error row and the reason it could not be read."""
    path = str(recording.path)
    try:
        episodes = list(recording.reader.index(recording.path))
        if not episodes:
            raise RecordingError(path, "no episodes found")
        return episodes, None
    except RobotraceError as exc:
        if strict:
            raise
        return [_failed_episode(recording, str(exc))], str(exc)
    except Exception as exc:  # a reader bug must not stop the scan or show a traceback
        if strict:
            raise
        log.exception("internal error indexing %s", path)
        message = f"{path}: could not be read ({type(exc).__name__}: {exc})"
        return [_failed_episode(recording, message)], message


def _count(done: Indexed, episodes: list[EpisodeInfo], results: list[str]) -> None:
    for info, result in zip(episodes, results, strict=True):
        setattr(done, result, getattr(done, result) + 1)
        if result == "unchanged":
            done.unchanged_ids.append(info.id)  # re-read, same content: explained yet?
        elif info.status != Status.MISSING:
            done.changed.append(info.id)


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
