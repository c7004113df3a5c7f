"""Picks a reader for a path by sniffing. Third-party readers register through the
``robotrace_desktop.readers`` entry-point group."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cache
from importlib import import_module
from pathlib import Path

from robotrace_desktop.errors import PROGRAMMING_ERRORS, UnsupportedFormatError
from robotrace_desktop.readers.base import Reader

log = logging.getLogger(__name__)


#: the built-in readers by kind, in sniffing order: (module, class)
_BUILTIN = {
    "bundle": ("bundle.reader", "BundleReader"),
    "lerobot": ("lerobot.reader", "LeRobotReader"),
    "rosbag2": ("rosbag.reader", "Rosbag2Reader"),
    "rosbag1": ("rosbag.reader", "Rosbag1Reader"),
    "hdf5": ("hdf5.reader", "Hdf5Reader"),
}


@cache
def _builtin(kind: str) -> Reader:
    module, name = _BUILTIN[kind]
    reader: Reader = getattr(import_module(f"robotrace_desktop.readers.{module}"), name)()
    return reader


@cache
def readers() -> tuple[Reader, ...]:
    from importlib.metadata import entry_points  # ~10 ms: only when every reader is wanted

    found: list[Reader] = [_builtin(kind) for kind in _BUILTIN]
    for entry in entry_points(group="robotrace_desktop.readers"):
        try:
            found.append(entry.load()())
        except Exception as exc:  # a broken plugin must not stop the built-in formats
            log.warning("reader plugin %s failed to load: %s", entry.name, exc)
    return tuple(found)


def sniff(path: Path, candidates: Sequence[Reader] | None = None) -> Reader | None:
    """The most confident of ``candidates`` (default: every reader) for ``path``, or None."""
    best: tuple[float, Reader] | None = None
    for reader in readers() if candidates is None else candidates:
        try:
            confidence = reader.sniff(path)
        except OSError:
            confidence = None
        except PROGRAMMING_ERRORS:
            raise
        except Exception as exc:  # a sniff choking on damaged bytes must not stop the scan
            log.warning("%s: %s could not sniff it: %s: %s", path, reader.kind, type(exc), exc)
            confidence = None
        if confidence is not None and (best is None or confidence > best[0]):
            best = (confidence, reader)
    return None if best is None else best[1]


def reader_for(path: Path) -> Reader:
    reader = sniff(path)
    if reader is None:
        if path.is_file() and path.stat().st_size == 0:
            raise UnsupportedFormatError(path, "empty file (0 bytes)")
        raise UnsupportedFormatError(path, "not a recording format RoboTrace can read")
    return reader


def reader_by_kind(kind: str) -> Reader:
    """The reader of a catalog episode's kind. A built-in kind needs neither the other readers
    nor the plugins' entry points (the built-ins come first in ``readers()`` anyway)."""
    if kind in _BUILTIN:
        return _builtin(kind)
    for reader in readers():
        if reader.kind == kind:
            return reader
    raise UnsupportedFormatError(kind, "no reader for this kind")
