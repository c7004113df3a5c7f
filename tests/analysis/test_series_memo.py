"""``on_arrays``: the detectors share answers about the same arrays of one episode, and never
mistake another array (another column, a later array at a reused address) for one asked about."""

from __future__ import annotations

import numpy as np

from robotrace_desktop.analysis.causes._series import on_arrays


def test_answers_are_remembered_per_view_and_never_for_another_array() -> None:
    calls: list[float] = []

    @on_arrays
    def total(values: np.ndarray, scale: float = 1.0) -> float:
        calls.append(scale)
        return float(values.sum()) * scale

    table = np.arange(400.0).reshape(200, 2)
    first, second = table[:, 0], table[:, 1]
    assert total(first) == float(first.sum())
    assert total(table[:, 0]) == float(first.sum())  # a new view of the same column
    assert len(calls) == 1
    assert total(second) == float(second.sum())  # another column of the same table
    assert total(first, scale=2.0) == 2 * float(first.sum())  # other arguments count
    assert len(calls) == 3
    del second
    for i in range(50):  # arrays made and freed again and again: ids and addresses recur
        del table, first  # freed at once (no cycles): the next array may take its place
        table = np.full((200, 2), float(i))
        first = table[:, 0]
        assert total(first) == float(first.sum())


def test_small_arrays_are_keyed_by_value() -> None:
    calls: list[int] = []

    @on_arrays
    def size(lags: np.ndarray) -> int:
        calls.append(1)
        return int(lags.size)

    assert size(np.arange(0.0, 0.31, 0.05)) == 7
    assert size(np.arange(0.0, 0.3 + 1e-9, 0.05)) == 7  # the same grid, made anew
    assert len(calls) == 1
    assert size(np.arange(0.0, 0.31, 0.1)) == 4
    assert len(calls) == 2
