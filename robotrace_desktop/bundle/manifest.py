"""The bundle manifest: its model, JSON form, validation, reading and writing.

``robotrace_episode.json`` describes one episode: the reproducibility fields, the outcome and
the streams (videos, signal tables, event logs) with their paths. The reader and every writer
share this module, so a manifest a writer accepts is exactly one the reader opens: the same
schema, the same path confinement (``confine``). See ``docs/bundle-format.md``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from robotrace_desktop.bundle.confine import check_relative_path, resolve_in_bundle
from robotrace_desktop.bundle.errors import ManifestError, PathEscapeError
from robotrace_desktop.core.fields import (
    RECORDING_KEYS,
    Fields,
    parse_fields,
    problem_lines,
)
from robotrace_desktop.errors import (
    CorruptRecordingError,
    RecordingError,
    UnsupportedFormatError,
)

MANIFEST_NAME = "robotrace_episode.json"
FORMAT_NAME = "robotrace-episode"
FORMAT_VERSION = 1
SIGNAL_FORMATS = ("parquet", "npz", "feather")
SIGNAL_ROLES = ("sensor", "action")
DEFAULT_TIME_COLUMN = "t_ns"
_ID_RE = re.compile(r"^[0-9a-f]{8,64}$")


@dataclass(frozen=True, slots=True)
class VideoEntry:
    """One camera. ``t0_ns``: episode time of the video's first frame (its presentation time
    zero). ``timestamps``: optional .npy of int64 episode-relative times, one per frame, which
    then replaces the container's own timing."""

    camera: str
    path: str
    t0_ns: int = 0
    timestamps: str | None = None


@dataclass(frozen=True, slots=True)
class SignalEntry:
    """One signal stream (or, for an npz entry without a name, every stream in the file)."""

    name: str | None
    path: str
    format: str
    time_column: str = DEFAULT_TIME_COLUMN
    role: str | None = None  # "sensor" / "action"
    channels: tuple[str, ...] | None = None  # overrides the derived channel names


@dataclass(frozen=True, slots=True)
class EventEntry:
    name: str
    path: str


@dataclass(slots=True)
class BundleManifest:
    name: str
    id: str | None = None
    source: str | None = None
    robot: str | None = None
    policy_version: str | None = None
    env_version: str | None = None
    git_sha: str | None = None
    seed: int | None = None
    task: str | None = None
    success: bool | None = None
    status: str = "ready"
    start_time_ns: int | None = None
    duration_ns: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    videos: list[VideoEntry] = field(default_factory=list)
    signals: list[SignalEntry] = field(default_factory=list)
    events: list[EventEntry] = field(default_factory=list)
    format_version: int = FORMAT_VERSION
    #: field values a reader ignored (``core/fields.py`` problem lines); never written
    problems: list[str] = field(default_factory=list, compare=False)

    def validate(self) -> None:
        """Check the whole manifest; raises ManifestError. Writers call this before writing."""
        from_dict(to_dict(self))

    def to_json(self) -> str:
        return json.dumps(to_dict(self), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


# ---------------------------------------------------------------- schema


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ManifestError(f"{key!r} must be a string or null, got {value!r}")
    return value


def _opt_int(data: Mapping[str, Any], key: str, *, minimum: int | None = None) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ManifestError(f"{key!r} must be an integer or null, got {value!r}")
    if minimum is not None and value < minimum:
        raise ManifestError(f"{key!r} must be >= {minimum}, got {value}")
    return value


def _list_of_dicts(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = data.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ManifestError(f"{key!r} must be a list of objects")
    return value


def _video(data: Mapping[str, Any], i: int) -> VideoEntry:
    camera = _opt_str(data, "camera")
    if not camera:
        raise ManifestError(f"videos[{i}] needs a 'camera' name")
    timestamps = _opt_str(data, "timestamps")
    return VideoEntry(
        camera=camera,
        path=check_relative_path(data.get("path"), f"videos[{i}].path"),
        t0_ns=_opt_int(data, "t0_ns") or 0,
        timestamps=None
        if timestamps is None
        else check_relative_path(timestamps, f"videos[{i}].timestamps"),
    )


def _signal(data: Mapping[str, Any], i: int) -> SignalEntry:
    fmt = _opt_str(data, "format")
    path = check_relative_path(data.get("path"), f"signals[{i}].path")
    if fmt is None:
        fmt = PurePosixPath(path).suffix.lstrip(".").lower()
    if fmt not in SIGNAL_FORMATS:
        raise ManifestError(f"signals[{i}].format must be one of {SIGNAL_FORMATS}, got {fmt!r}")
    name = _opt_str(data, "name")
    if name is None and fmt != "npz":
        raise ManifestError(f"signals[{i}] needs a 'name' (only npz entries may omit it)")
    role = _opt_str(data, "kind")
    if role is not None and role not in SIGNAL_ROLES:
        raise ManifestError(f"signals[{i}].kind must be one of {SIGNAL_ROLES}, got {role!r}")
    channels = data.get("channels")
    if channels is not None and (
        not isinstance(channels, list) or not all(isinstance(c, str) and c for c in channels)
    ):
        raise ManifestError(f"signals[{i}].channels must be a list of non-empty strings")
    return SignalEntry(
        name=name,
        path=path,
        format=fmt,
        time_column=_opt_str(data, "time_column") or DEFAULT_TIME_COLUMN,
        role=role,
        channels=None if channels is None else tuple(channels),
    )


def _event(data: Mapping[str, Any], i: int) -> EventEntry:
    name = _opt_str(data, "name")
    if not name:
        raise ManifestError(f"events[{i}] needs a 'name'")
    return EventEntry(name=name, path=check_relative_path(data.get("path"), f"events[{i}].path"))


def _fields(data: Mapping[str, Any], *, strict: bool, origin: str) -> tuple[Fields, list[str]]:
    """The descriptive fields by ``core/fields.py``'s rules. Reading (not ``strict``), a bad
    value is left out and listed as a problem, as every reader does; writing (``strict``), it
    is a ManifestError, and so is a value a reader would have to convert (a seed written as
    text), so what RoboTrace writes is always in the canonical type."""
    parsed, problems = parse_fields(data, origin=origin, keys=(*RECORDING_KEYS, "status"))
    if not strict:
        return parsed, problem_lines(problems)
    if problems:
        raise ManifestError(problems[0].message)
    canonical = {**parsed.given(), "success": parsed.success}
    canonical.pop("outcome", None)  # written as "success"
    for key in (*RECORDING_KEYS, "status"):
        written, value = data.get(key), canonical.get(key)
        if written is not None and value is not None and type(written) is not type(value):
            raise ManifestError(f"{key} must be written as {value!r}, got {written!r}")
    return parsed, []


def from_dict(data: object, *, strict: bool = True, origin: str = MANIFEST_NAME) -> BundleManifest:
    """Validate a decoded manifest. Raises ManifestError (PathEscapeError for bad paths).
    ``strict=False`` (reading): bad descriptive fields become ``problems`` instead."""
    if not isinstance(data, dict):
        raise ManifestError("the manifest must be a JSON object")
    if data.get("format") != FORMAT_NAME:
        raise ManifestError(f"'format' must be {FORMAT_NAME!r}, got {data.get('format')!r}")
    version = _opt_int(data, "format_version", minimum=1)
    if version is None:
        raise ManifestError("'format_version' is required")
    if version > FORMAT_VERSION:
        raise ManifestError(
            f"format_version {version} is newer than this RoboTrace reads ({FORMAT_VERSION})"
        )
    ident = _opt_str(data, "id")
    ident = None if ident is None else ident.strip().lower()
    if ident is not None and not _ID_RE.match(ident):
        ident = None  # not a usable stable id: the reader falls back to the path-based one
    fields, problems = _fields(data, strict=strict, origin=origin)
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ManifestError("'metadata' must be an object")
    manifest = BundleManifest(
        name=_opt_str(data, "name") or "",
        id=ident,
        source=fields.source,
        robot=fields.robot,
        policy_version=fields.policy_version,
        env_version=fields.env_version,
        git_sha=fields.git_sha,
        seed=fields.seed,
        task=fields.task,
        success=fields.success,
        status=fields.status or "ready",
        start_time_ns=_opt_int(data, "start_time_ns", minimum=0),
        duration_ns=_opt_int(data, "duration_ns", minimum=0),
        metadata=dict(metadata),
        videos=[_video(v, i) for i, v in enumerate(_list_of_dicts(data, "videos"))],
        signals=[_signal(s, i) for i, s in enumerate(_list_of_dicts(data, "signals"))],
        events=[_event(e, i) for i, e in enumerate(_list_of_dicts(data, "events"))],
        format_version=version,
        problems=problems,
    )
    names = [v.camera for v in manifest.videos]
    names += [s.name for s in manifest.signals if s.name is not None]
    names += [e.name for e in manifest.events]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ManifestError(f"stream names must be unique; repeated: {', '.join(duplicates)}")
    return manifest


def to_dict(manifest: BundleManifest) -> dict[str, Any]:
    """The JSON form (keys in documentation order, None values of optional entry keys left out)."""
    data: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": manifest.format_version,
    }
    if manifest.id is not None:
        data["id"] = manifest.id
    data.update(
        name=manifest.name,
        source=manifest.source,
        robot=manifest.robot,
        policy_version=manifest.policy_version,
        env_version=manifest.env_version,
        git_sha=manifest.git_sha,
        seed=manifest.seed,
        task=manifest.task,
        success=manifest.success,
        status=manifest.status,
        start_time_ns=manifest.start_time_ns,
    )
    if manifest.duration_ns is not None:
        data["duration_ns"] = manifest.duration_ns
    data["metadata"] = manifest.metadata
    data["videos"] = [
        {"camera": v.camera, "path": v.path, "t0_ns": v.t0_ns}
        | ({"timestamps": v.timestamps} if v.timestamps else {})
        for v in manifest.videos
    ]
    signals = []
    for s in manifest.signals:
        entry: dict[str, Any] = {} if s.name is None else {"name": s.name}
        entry.update(path=s.path, format=s.format, time_column=s.time_column)
        if s.role is not None:
            entry["kind"] = s.role
        if s.channels is not None:
            entry["channels"] = list(s.channels)
        signals.append(entry)
    data["signals"] = signals
    data["events"] = [{"name": e.name, "path": e.path} for e in manifest.events]
    return data


# ---------------------------------------------------------------- files


def read_manifest(folder: Path) -> BundleManifest:
    """Load and validate ``folder/robotrace_episode.json``; RecordingError names the manifest."""
    path = folder / MANIFEST_NAME
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorruptRecordingError(path, f"cannot read manifest: {exc.strerror or exc}") from exc
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptRecordingError(path, f"manifest is not valid JSON: {exc}") from exc
    try:
        manifest = from_dict(data, strict=False, origin=str(path))
        for rel in referenced_paths(manifest):
            resolve_in_bundle(folder, rel)
    except PathEscapeError as exc:
        raise RecordingError(path, f"rejected manifest: {exc}") from exc
    except ManifestError as exc:
        if "newer than" in str(exc):
            raise UnsupportedFormatError(path, str(exc)) from exc
        raise CorruptRecordingError(path, f"invalid manifest: {exc}") from exc
    return manifest


def referenced_paths(manifest: BundleManifest) -> list[str]:
    paths = [v.path for v in manifest.videos]
    paths += [v.timestamps for v in manifest.videos if v.timestamps]
    paths += [s.path for s in manifest.signals]
    paths += [e.path for e in manifest.events]
    return paths


def write_manifest(folder: Path, manifest: BundleManifest) -> Path:
    """Validate and write the manifest atomically (temp file + rename)."""
    manifest.validate()
    folder.mkdir(parents=True, exist_ok=True)
    for rel in referenced_paths(manifest):
        resolve_in_bundle(folder, rel)
    path = folder / MANIFEST_NAME
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(manifest.to_json(), encoding="utf-8")
    os.replace(tmp, path)
    return path
