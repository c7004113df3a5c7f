"""A minimal callback event: what a Qt-free model emits and a widget turns into a repaint.

Qt signals would tie the model to Qt; napari's ``EventEmitter`` is more than this needs. A
subscriber's error propagates (no logging-and-skipping): a test, or the Qt slot that called the
setter, sees it rather than a log line nobody reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Event(Generic[T]):
    """Subscribers called in connection order with one value."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._callbacks: list[Callable[[T], object]] = []

    def connect(self, callback: Callable[[T], object]) -> Callable[[T], object]:
        """Subscribe; returns ``callback`` so this works as a decorator."""
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[[T], object]) -> None:
        """Unsubscribe (no error when not subscribed: a closing widget may do it twice)."""
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, value: T) -> None:
        for callback in list(self._callbacks):
            callback(value)

    def __len__(self) -> int:
        return len(self._callbacks)
