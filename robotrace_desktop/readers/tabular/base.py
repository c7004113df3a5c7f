"""The table types every signal-table format implements, and the channel naming rule they
share (see the package docstring for the layout rules)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


def channel_names(field_name: str, width: int | None, names: Sequence[str] | None) -> list[str]:
    """Channels of one column/field: scalar → its name; K-vector → ``f[i]`` or ``f/<name>``."""
    if width is None:
        return [field_name]
    if names is not None and len(names) == width:
        return [f"{field_name}/{n}" for n in names]
    return [f"{field_name}[{i}]" for i in range(width)]


@dataclass(frozen=True, slots=True)
class TableSummary:
    channels: tuple[str, ...]
    count: int
    t_start_ns: int | None
    t_end_ns: int | None
    details: dict[str, Any] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


class SignalTable(ABC):
    """One signal stream stored in a file; reads by time range."""

    path: Path

    @abstractmethod
    def summary(self) -> TableSummary: ...

    @abstractmethod
    def read(self, start_ns: int | None, stop_ns: int | None) -> tuple[np.ndarray, np.ndarray]:
        """(t_ns int64 (N,), values float64 (N, C)) for start_ns <= t < stop_ns, sorted."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


def select_range(
    t: np.ndarray, values: np.ndarray, start_ns: int | None, stop_ns: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Rows with start_ns <= t < stop_ns, sorted by time (stable)."""
    keep = np.ones(len(t), dtype=bool)
    if start_ns is not None:
        keep &= t >= start_ns
    if stop_ns is not None:
        keep &= t < stop_ns
    t, values = t[keep], values[keep]
    if len(t) > 1 and np.any(np.diff(t) < 0):
        order = np.argsort(t, kind="stable")
        t, values = t[order], values[order]
    return t, values
