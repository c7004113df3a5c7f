"""One signal stream the SDK will store, and the rules for its time column — what the argument
checks (``sdk.inputs``) and the table readers (``sdk.table_input``) share, in a module of its
own so neither imports the other back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robotrace_desktop.core.timebase import NS_PER_S as NS
from robotrace_desktop.errors import ConfigurationError, RecordingError, ValidationError

TIME_CANDIDATES = ("t_ns", "timestamp", "time", "t")

#: returns the stream's data with int64 ns times: a SignalData, or a pyarrow Table whose
#: first column is ``t_ns``
Loader = Callable[[], Any]


@dataclass(slots=True)
class SignalInput:
    """One signal stream to store.

    ``source`` is a file that can be stored as it is (``format`` / ``time_column`` describe it);
    None means the stream must be converted: ``load()`` gives its data. ``shift_ns`` is
    subtracted from every time (absolute epoch times made episode-relative); a shifted stream
    is always converted. ``owned`` marks a temporary file of the SDK's own (a recorder's
    stream), moved into the bundle instead of copied."""

    name: str
    role: str
    origin: str  # the user's file (or "sensors['x']") — what messages name
    load: Loader
    source: Path | None = None
    format: str = "parquet"
    time_column: str = "t_ns"
    t_start_ns: int | None = None
    t_end_ns: int | None = None
    shift_ns: int = 0
    owned: bool = False

    @property
    def stored_as_is(self) -> bool:
        return self.source is not None and self.shift_ns == 0


# ---------------------------------------------------------------- time checks


def times_to_ns(values: np.ndarray, origin: str, column: str) -> np.ndarray:
    """int64 ns from an integer (ns) or float (seconds) time array; checks order and NaN."""
    t = np.asarray(values)
    if t.ndim != 1:
        raise ConfigurationError(f"{origin}: time column {column!r} must be 1-D, got {t.shape}")
    if t.dtype.kind in "iu":
        t_ns = t.astype(np.int64)
    elif t.dtype.kind == "f":
        if not np.all(np.isfinite(t)):
            raise ValidationError(f"{origin}: time column {column!r} has NaN or infinite values")
        t_ns = np.round(t.astype(np.float64) * NS).astype(np.int64)
    elif t.dtype.kind == "M":
        t_ns = t.astype("datetime64[ns]").astype(np.int64)
    else:
        raise ConfigurationError(
            f"{origin}: time column {column!r} has type {t.dtype}; expected integer "
            "nanoseconds or float seconds"
        )
    check_monotonic(t_ns, origin, column)
    return t_ns


def check_monotonic(t_ns: np.ndarray, origin: str, column: str) -> None:
    if len(t_ns) > 1:
        back = np.flatnonzero(np.diff(t_ns) < 0)
        if len(back):
            i = int(back[0])
            raise ValidationError(
                f"{origin}: time column {column!r} is not monotonic: row {i + 1} "
                f"(t={int(t_ns[i + 1])}) comes before row {i} (t={int(t_ns[i])})"
            )


def pick_time_column(names: Sequence[str], origin: str) -> str:
    for candidate in TIME_CANDIDATES:
        if candidate in names:
            return candidate
    raise ConfigurationError(
        f"{origin}: no time column (looked for {', '.join(TIME_CANDIDATES)}; "
        f"found: {', '.join(names) or 'nothing'})"
    )


def time_span(t_ns: np.ndarray) -> tuple[int | None, int | None]:
    return (int(t_ns[0]), int(t_ns[-1])) if len(t_ns) else (None, None)


def load_error(origin: str, exc: Exception) -> ConfigurationError:
    """A library error while reading an input, as a ConfigurationError naming the file."""
    if isinstance(exc, RecordingError):
        return ConfigurationError(str(exc))
    return ConfigurationError(f"{origin}: cannot read ({type(exc).__name__}: {exc})")
