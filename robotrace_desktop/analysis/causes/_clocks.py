"""Every clock a recording carries is timing evidence: compare them row by row.

A reader places a stream's rows on the timeline by ONE clock and keeps the others
(``Signal.times``): ROS topics have the recorder's receive time and the publisher's header
stamp, LeRobot rows have ``frame_index`` (the timeline) and the recorded ``timestamp`` column.
Looking at the timeline alone misses what happens on the other clocks — a LeRobot dataset whose
rows are timed by ``frame_index`` shows no hole when frames were dropped, only its ``timestamp``
column does.

Where two clocks of the same rows disagree — one steps far beyond its own normal interval (or
backwards) while the other keeps its normal pace — one of them jumped, or (for LeRobot, whose
``frame_index`` is a row counter, not a clock) rows are missing. Each clock is judged against its
own median interval, so a 1 kHz and a 10 Hz stream are treated alike; a clock that is not
periodic (bursty receive times) cannot vouch for the other and is not compared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robotrace_desktop.analysis.causes._series import median as median_of
from robotrace_desktop.analysis.data import Signal
from robotrace_desktop.core.timebase import NS_PER_S as NS

#: the name of the clock a stream's timeline uses when the reader does not say
TIMELINE = "timeline"
#: an interval within ±this share of the clock's median interval is at its normal pace
NORMAL_PACE = 0.5


@dataclass(frozen=True, slots=True)
class ClockStep:
    """One row where ``clock`` stepped abnormally while ``reference`` kept its pace."""

    stream: str
    clock: str
    reference: str
    #: timeline time of the last row before the step
    t_ns: int
    step_ns: int  # the interval on the stepping clock (negative: it went backwards)
    normal_ns: float  # that clock's median interval
    row: int
    #: rows of the two clocks interleave: one of them stepped back, which one is not certain
    interleaved: bool = False


@dataclass(frozen=True, slots=True)
class _Clock:
    name: str
    dt: np.ndarray
    median: float
    periodic: bool
    #: the longest interval this clock ordinarily has (98th percentile): its own jitter's reach
    ordinary: float

    def at_pace(self) -> np.ndarray:
        """Rows where this clock kept its normal pace. A periodic clock: within ±50 % of its
        median interval. A jittery one (receive times of a loaded recorder): forward, and no
        longer than its ordinary intervals — it had no hole there, though it cannot say more."""
        if self.periodic:
            return np.abs(self.dt - self.median) <= NORMAL_PACE * self.median
        return (self.dt > 0) & (self.dt <= self.ordinary)


def _clock(name: str, t: np.ndarray, regular_fraction: float) -> _Clock | None:
    dt = np.diff(t)
    positive = dt[dt > 0]
    if len(positive) < 2:
        return None
    median = median_of(positive)
    periodic = float(np.mean(np.abs(dt - median) <= NORMAL_PACE * median)) >= regular_fraction
    return _Clock(name, dt, median, periodic, float(np.percentile(positive, 98)))


def clocks_of(signal: Signal, timeline: str) -> dict[str, np.ndarray]:
    """The stream's clocks, row-aligned: its timeline plus every other clock that differs."""
    found = {timeline: signal.t_ns}
    for name, t in signal.times.items():
        if name == timeline or len(t) != len(signal.t_ns) or np.array_equal(t, signal.t_ns):
            continue
        found[name] = np.asarray(t, dtype=np.int64)
    return found


def clock_steps(
    signal: Signal,
    timeline: str,
    *,
    gap_factor: float,
    min_gap_s: float,
    min_backward_s: float,
    regular_fraction: float,
    over_ordinary: float,
) -> list[ClockStep]:
    """Rows where one clock of ``signal`` jumps (forward beyond ``gap_factor`` × its median
    interval and ``min_gap_s``, or backwards by ``min_backward_s`` and 5 × its median) while
    another clock of the same rows advances at its normal pace.

    Jittery clocks count too, judged against their own reach: a forward step must also pass
    ``over_ordinary`` × the longest ordinary interval of the stepping clock and of the clock
    that vouches for it, so a burst of receive times that only looks like a hole against a
    steady header clock is not a jump.

    Each clock is read in the order of the reference clock: a reader sorts rows by the clock it
    places them with, so a clock that stepped back interleaves its rows with the earlier ones;
    in the other clock's order the step is one row, dated where the jump happened."""
    clocks = clocks_of(signal, timeline)
    if len(clocks) < 2:
        return []
    steps: list[ClockStep] = []
    for ref_name, ref_t in clocks.items():
        order = np.argsort(ref_t, kind="stable")
        reference = _clock(ref_name, ref_t[order], regular_fraction)
        if reference is None:
            continue
        at_pace = reference.at_pace()
        for name, t in clocks.items():
            if name == ref_name:
                continue
            clock = _clock(name, t[order], regular_fraction)
            if clock is None:
                continue
            limit = max(gap_factor * clock.median, min_gap_s * NS)
            if not (clock.periodic and reference.periodic):
                # a jittery clock (or a jittery witness) only shows a step beyond its reach
                reach = max(clock.ordinary, reference.ordinary, clock.median, reference.median)
                limit = max(limit, over_ordinary * reach)
            forward = clock.dt > limit
            backward = clock.dt < -max(min_backward_s * NS, 5.0 * clock.median)
            # backwards needs no pace: rows the reader interleaved come at twice the rate,
            # and a clock running back while the reference runs forward already disagrees
            for i in np.flatnonzero((forward & at_pace) | backward):
                row = int(order[i])
                steps.append(
                    ClockStep(
                        stream=signal.stream,
                        clock=name,
                        reference=ref_name,
                        t_ns=int(signal.t_ns[row]),
                        step_ns=int(clock.dt[i]),
                        normal_ns=clock.median,
                        row=row,
                    )
                )
    return _unique(steps)


def _unique(steps: list[ClockStep]) -> list[ClockStep]:
    """One step per (clock, row): several reference clocks may vouch for the same one."""
    seen: set[tuple[str, int]] = set()
    kept = []
    for step in steps:
        if (step.clock, step.row) not in seen:
            seen.add((step.clock, step.row))
            kept.append(step)
    return kept


def collapse_interleaves(steps: list[ClockStep]) -> list[ClockStep]:
    """A clock that stepped back makes the reader interleave the rows after the step with the
    rows before it (it sorts by its own clock): read in that order, the other clock zig-zags
    forward and back for the length of the overlap. Such a burst is ONE backward jump, which
    happened where the overlap ends (the last row stamped before the step)."""
    out: list[ClockStep] = []
    by_series: dict[tuple[str, str], list[ClockStep]] = {}
    for step in steps:
        by_series.setdefault((step.stream, step.clock), []).append(step)
    for series in by_series.values():
        series.sort(key=lambda s: s.t_ns)
        burst: list[ClockStep] = []
        for step in series:
            reach = 1.5 * max((abs(s.step_ns) for s in burst), default=0)
            if burst and step.t_ns - burst[-1].t_ns > reach:
                out += _one_burst(burst)
                burst = []
            burst.append(step)
        out += _one_burst(burst)
    return sorted(out, key=lambda s: s.t_ns)


def _one_burst(burst: list[ClockStep]) -> list[ClockStep]:
    if len(burst) < 2 or all(s.step_ns > 0 for s in burst):
        return burst  # forward steps (dropped rows) are each where they are
    last = burst[-1]
    size = max(abs(s.step_ns) for s in burst)
    return [
        ClockStep(
            last.stream,
            last.clock,
            last.reference,
            last.t_ns,
            -size,
            last.normal_ns,
            last.row,
            interleaved=True,
        )
    ]
