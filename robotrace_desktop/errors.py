"""Typed errors: every failure a user can cause or meet is a RobotraceError with a message
that names the file or field and the reason, so the CLI and the catalog can show it as-is."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class RobotraceError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigurationError(RobotraceError):
    """Missing files, bad paths or settings."""


class ValidationError(RobotraceError):
    """A value of the wrong type or out of range (seed not an int, unknown source...)."""


class UsageError(ValidationError):
    """A command line that cannot mean what it says (an end before the start, an output
    extension no format writes): the CLI exits 2, as argparse does for its own usage errors."""


class StorageError(RobotraceError):
    """The catalog or library could not be written (disk full, permissions, locked)."""


class RecordingError(RobotraceError):
    """A recording could not be read. The message always starts with the file's path."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class UnsupportedFormatError(RecordingError):
    """No reader understands this file, or its encoding is one we do not decode."""


class CorruptRecordingError(RecordingError):
    """The file is truncated, empty or inconsistent."""


class EpisodeNotFoundError(RobotraceError):
    """An EPISODE argument matched no catalog row and no readable path."""


class StreamNotFoundError(RobotraceError):
    """A stream or camera name that the episode does not have."""


class FrameIndexError(IndexError):
    """A frame index outside the video: the caller's mistake, not bad data, so the reader
    guards let it through as the IndexError FrameSource.frame always raised."""


# -- turning library exceptions into RecordingError at the reader boundary ------------------------

#: Exceptions that mean a bug in this program or a caller's mistake (a frame index out of
#: range), not bad data: never disguised as a corrupt file.
PROGRAMMING_ERRORS: tuple[type[BaseException], ...] = (
    NameError,
    ImportError,
    SyntaxError,
    FrameIndexError,
)


def as_recording_error(path: str | Path, action: str, exc: Exception) -> RecordingError:
    """The CorruptRecordingError for a library exception met while reading ``path``.

    The reason keeps the exception type and text (``cannot read messages: CorruptError:
    database disk image is malformed``) so a real bug stays recognisable in the message."""
    if isinstance(exc, RecordingError):
        return exc
    if isinstance(exc, MemoryError):
        reason = "a length or count field asks for more memory than the file can hold"
    else:
        text = str(exc).strip() or "(no message)"
        if len(text) > 300:
            text = text[:300] + "…"
        reason = f"{type(exc).__name__}: {text}"
    error = CorruptRecordingError(path, f"{action}: {reason}" if action else reason)
    error.__cause__ = exc
    return error


@contextmanager
def recording_errors(path: str | Path, action: str = "") -> Iterator[None]:
    """Re-raise anything bad data can make a library throw as CorruptRecordingError(path, …).

    RobotraceErrors pass through unchanged, and so do PROGRAMMING_ERRORS (and BaseExceptions
    such as KeyboardInterrupt)."""
    try:
        yield
    except RobotraceError:
        raise
    except PROGRAMMING_ERRORS:
        raise
    except Exception as exc:
        raise as_recording_error(path, action, exc) from exc


def _guard_path(obj: object) -> str:
    """The file an EpisodeSource / FrameSource reads, for error messages."""
    info = getattr(obj, "info", None)
    if info is not None and getattr(info, "path", None):
        return str(info.path)
    for attr in ("path", "_path", "origin"):
        value = getattr(obj, attr, None)
        if value:
            return str(value)
    return str(getattr(obj, "name", type(obj).__name__))


def reader_guard(action: str, each: Callable[[Any], Any] | None = None) -> Callable[[F], F]:
    """Decorate ``Reader.index`` / ``Reader.open`` (``self, path, ...``): errors name ``path``.
    Generator results (index) are guarded while they are consumed; ``each`` (if given) is
    applied to every item (readers.sanity.check_episode)."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(self: object, path: Any, *args: Any, **kwargs: Any) -> Any:
            with recording_errors(path, action):
                result = func(self, path, *args, **kwargs)
            if isinstance(result, Iterator):
                return _guarded_iter(path, action, result, each)
            return result

        return wrapper  # type: ignore[return-value]

    return decorate


def source_guard(action: str) -> Callable[[F], F]:
    """Decorate EpisodeSource / FrameSource read methods: errors name the source's file."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(self: object, *args: Any, **kwargs: Any) -> Any:
            what = action
            if args and isinstance(args[0], str | int):
                what = (
                    f"{action} {args[0]!r}" if isinstance(args[0], str) else f"{action} {args[0]}"
                )
            with recording_errors(_guard_path(self), what):
                return func(self, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _guarded_iter(
    path: Any, action: str, items: Iterator[Any], each: Callable[[Any], Any] | None
) -> Iterator[Any]:
    with recording_errors(path, action):
        for item in items:
            yield item if each is None else each(item)
