"""Every analyzer takes odd but possible streams without raising.

``explain`` logs a failing analyzer and goes on, so a crash shows up only as a traceback in
the log and a cause that silently never reports on such recordings (an oscillation analyzer
failed on every SDK recording timed in microseconds). Each case is something a reader can
hand over: samples a microsecond apart, one or two samples, repeated or backward times,
all-NaN or infinite values, a constant channel, huge values, a stream of commands only."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from robotrace_desktop.analysis.data import EpisodeData
from robotrace_desktop.analysis.registry import analyzers
from tests.analysis.fakes import context, make_data, ns

N = 400


def _pair(t: np.ndarray, position: np.ndarray, command: np.ndarray | None = None) -> EpisodeData:
    command = position if command is None else command
    return make_data(
        {
            "/joint_states": (t, {"position/j1": position, "effort/j1": np.cos(position)}),
            "/action": (t, {"joint_position/j1": command}),
        },
        events=[(0.0, "ERROR", "RuntimeError: boom")],
        status="failed",
    )


_WAVE = np.sin(np.arange(N) / 7.0)
CASES: dict[str, Callable[[], EpisodeData]] = {
    "microsecond apart": lambda: _pair(np.arange(N, dtype=np.int64) * 1_000, _WAVE),
    "nanosecond apart": lambda: _pair(np.arange(N, dtype=np.int64), _WAVE),
    "one sample": lambda: _pair(ns(np.array([1.0])), np.array([0.5])),
    "two samples": lambda: _pair(ns(np.array([1.0, 2.0])), np.array([0.5, 0.6])),
    "every time the same": lambda: _pair(np.full(N, 5 * 10**9, dtype=np.int64), _WAVE),
    "time running backwards": lambda: _pair(ns(np.arange(N)[::-1] / 100.0), _WAVE),
    "all NaN": lambda: _pair(ns(np.arange(N) / 100.0), np.full(N, np.nan)),
    "infinite": lambda: _pair(ns(np.arange(N) / 100.0), np.full(N, np.inf)),
    "constant": lambda: _pair(ns(np.arange(N) / 100.0), np.zeros(N)),
    "huge values": lambda: _pair(ns(np.arange(N) / 100.0), _WAVE * 1e300),
    "an hour between two samples": lambda: _pair(
        ns(np.concatenate((np.arange(N // 2) / 100.0, 3600 + np.arange(N // 2) / 100.0))), _WAVE
    ),
    "commands only": lambda: make_data(
        {"/action": (ns(np.arange(N) / 100.0), {"joint_position/j1": _WAVE})}
    ),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy on NaN/Inf/empty: expected here
@pytest.mark.parametrize("case", sorted(CASES))
def test_no_analyzer_raises_on_odd_streams(case: str) -> None:
    data = CASES[case]()
    failed = []
    for name, analyze in analyzers():
        try:
            analyze(data, context())
        except Exception as exc:  # the whole point: name every analyzer that raises
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    assert failed == []
