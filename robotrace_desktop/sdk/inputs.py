"""The data arguments of ``log_episode`` — ``video``, ``sensors``, ``actions`` — checked and
described before anything is written.

Every input is opened and its time column read here, so a missing file, an unreadable format,
a file without a time column (ConfigurationError) or a time column that runs backwards
(ValidationError) stops the call before the library is touched. The result is a list of
``SignalInput`` / ``VideoInput`` that ``store`` stores.

Time columns. Tables (parquet, feather, a flat npz, HDF5 groups, in-memory dicts) use the first
of ``t_ns``, ``timestamp``, ``time``, ``t`` that exists: an integer column is nanoseconds, a
float column is seconds (converted to int64 ns), an Arrow ``timestamp`` column is converted to
ns. The npz ``<stream>/_t_ns`` layout keeps its own rule (int64 ns). Times are episode-relative;
when every stream's first time looks like an absolute epoch time (after 1973), all streams are
shifted so the earliest sample is t = 0 and that instant becomes ``start_time_ns``.

Stored as-is (copied, hard-linked or referenced): parquet/feather with an integer or timestamp
time column, npz files. Converted to parquet: float-seconds time columns, epoch-shifted
streams, HDF5 (the bundle has no HDF5 signal format) and in-memory dicts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from robotrace_desktop.bundle.tables import SignalData
from robotrace_desktop.errors import ConfigurationError, ValidationError
from robotrace_desktop.sdk.signal_input import (
    SignalInput,
    pick_time_column,
    time_span,
    times_to_ns,
)

if TYPE_CHECKING:
    from robotrace_desktop.sdk.video_input import VideoInput

#: a first sample later than this (1973-03-03) is an absolute epoch time, not episode time
EPOCH_THRESHOLD_NS = 10**17
ROLES = ("sensor", "action")
_SUFFIXES = {
    ".npz": "npz",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".feather": "feather",
    ".arrow": "feather",
    ".ipc": "feather",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".hdf": "hdf5",
    ".he5": "hdf5",
}
_MAGIC = ((b"PAR1", "parquet"), (b"ARROW1", "feather"), (b"PK\x03\x04", "npz"))
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


@dataclass(slots=True)
class Inputs:
    """Everything a bundle will hold, validated; ``warnings`` go into Episode.warnings."""

    videos: list[VideoInput] = field(default_factory=list)
    signals: list[SignalInput] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    start_time_ns: int | None = None  # from absolute epoch times, when the data had them


# ---------------------------------------------------------------- argument shapes


def signal_inputs(value: object, role: str, argument: str) -> list[SignalInput]:
    """``sensors=`` / ``actions=``: a path, a list of paths, ``{stream: path}`` or an in-memory
    ``{stream: {"t_ns": array, field: array, ...}}``."""
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        return file_streams(Path(value), role, argument)
    if isinstance(value, Mapping):
        out: list[SignalInput] = []
        for name, item in value.items():
            if not isinstance(name, str) or not name:
                raise ValidationError(f"{argument}: stream names must be non-empty strings")
            where = f"{argument}[{name!r}]"
            if isinstance(item, Mapping):
                out.append(memory_stream(name, item, role, where))
            elif isinstance(item, (str, os.PathLike)):
                streams = file_streams(Path(item), role, where)
                if len(streams) != 1:
                    raise ValidationError(
                        f"{where}: {item} holds {len(streams)} streams; pass it without a name"
                    )
                if streams[0].format == "npz" and streams[0].name != name:
                    streams[0].source = None  # the npz member prefix is the stream's name
                streams[0].name = name
                out += streams
            else:
                raise ValidationError(
                    f"{where} must be a file path or a dict of arrays, got {type(item).__name__}"
                )
        return out
    if isinstance(value, (list, tuple)):
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, (str, os.PathLike)):
                raise ValidationError(
                    f"{argument}[{i}] must be a file path, got {type(item).__name__}"
                )
            out += file_streams(Path(item), role, argument)
        return out
    raise ValidationError(
        f"{argument} must be a path, a list of paths or a dict, got {type(value).__name__}"
    )


def file_format(path: Path, argument: str) -> str:
    if not path.exists():
        raise ConfigurationError(f"{argument}: {path}: file not found")
    if not path.is_file():
        raise ConfigurationError(f"{argument}: {path}: not a file")
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is not None:
        return fmt
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise ConfigurationError(f"{argument}: {path}: cannot read ({exc.strerror})") from exc
    if head.startswith(_HDF5_MAGIC):
        return "hdf5"
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    raise ConfigurationError(
        f"{argument}: {path}: not a supported signal file (npz, parquet, feather or HDF5)"
    )


def file_streams(path: Path, role: str, argument: str) -> list[SignalInput]:
    path = path.expanduser().absolute()
    fmt = file_format(path, argument)
    if fmt in ("parquet", "feather"):
        from robotrace_desktop.sdk.table_input import arrow_stream

        return [arrow_stream(path, fmt, role)]
    if fmt == "npz":
        from robotrace_desktop.sdk.table_input import npz_streams

        return npz_streams(path, role)
    from robotrace_desktop.sdk.table_input import hdf5_streams

    return hdf5_streams(path, role)


def memory_stream(name: str, columns: Mapping[Any, Any], role: str, where: str) -> SignalInput:
    """``{"t_ns": array, field: array}`` (the time key as for tables)."""
    keys = [k for k in columns if isinstance(k, str)]
    if len(keys) != len(columns):
        raise ValidationError(f"{where}: column names must be strings")
    time_key = pick_time_column(keys, where)
    t_ns = times_to_ns(np.asarray(columns[time_key]), where, time_key)
    fields: dict[str, np.ndarray] = {}
    for key in keys:
        if key == time_key:
            continue
        arr = np.asarray(columns[key])
        if arr.dtype.kind not in "biuf" or arr.ndim not in (1, 2) or arr.shape[0] != len(t_ns):
            raise ValidationError(
                f"{where}: column {key!r} must be numeric with shape ({len(t_ns)},) or "
                f"({len(t_ns)}, K); got {arr.dtype} {arr.shape}"
            )
        if key.startswith("_") or "/" in key:
            raise ValidationError(f"{where}: column {key!r} may not start with '_' or hold '/'")
        fields[key] = arr
    data = SignalData(t_ns, fields)
    start, end = time_span(t_ns)
    return SignalInput(name, role, where, lambda: data, t_start_ns=start, t_end_ns=end)


# ---------------------------------------------------------------- checks over all inputs


def check_unique_names(inputs: Inputs) -> None:
    seen: dict[str, str] = {}
    for camera in inputs.videos:
        seen[camera.camera] = f"video {camera.path}"
    for signal in inputs.signals:
        if signal.name in seen:
            raise ValidationError(
                f"stream name {signal.name!r} is used twice: by {seen[signal.name]} and by "
                f"{signal.origin}; pass {{name: path}} to rename one"
            )
        seen[signal.name] = signal.origin


def apply_epoch_shift(inputs: Inputs) -> None:
    """Absolute epoch times in every stream → episode-relative (see the module docstring)."""
    timed = [s for s in inputs.signals if s.t_start_ns is not None]
    absolute = [s for s in timed if int(s.t_start_ns or 0) >= EPOCH_THRESHOLD_NS]
    if not absolute:
        return
    if len(absolute) != len(timed):
        relative = next(s for s in timed if s not in absolute)
        raise ValidationError(
            f"{absolute[0].origin} has absolute (epoch) times but {relative.origin} has "
            "episode-relative times; use one kind of clock for every stream"
        )
    base = min(int(s.t_start_ns or 0) for s in absolute)
    for signal in absolute:
        signal.shift_ns = base
        signal.t_start_ns = int(signal.t_start_ns or 0) - base
        signal.t_end_ns = None if signal.t_end_ns is None else signal.t_end_ns - base
    inputs.start_time_ns = base
    inputs.warnings.append(
        "signal times look like absolute epoch times; they were stored relative to the first "
        f"sample (start_time_ns={base})"
    )
