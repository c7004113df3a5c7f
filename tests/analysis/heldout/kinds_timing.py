"""Faults in how a recording is timed, and in its values and logs.

- a gap removes every stream's samples, camera frames and log lines over an interval — in a
  LeRobot dataset the rows are timed by ``frame_index``, so later rows close up on the timeline
  and only the recorded ``timestamp`` clock keeps the hole;
- a clock jump moves one clock: a header-stamped stream's, the recorder's (every stream), or
  LeRobot's ``timestamp`` column; rows are re-sorted by the clock the reader places them with,
  as the reader does;
- NaN/Inf in a sensor, a battery brownout (only where a battery is recorded) and a logged
  exception.
"""

from __future__ import annotations

import numpy as np

from robotrace_desktop.core.episode import LogEvent, SignalChunk
from tests.analysis.faults import Fault, MemorySource
from tests.analysis.heldout import signals as sig
from tests.analysis.heldout.signals import NS, PeerRange


def _frame_timed(src: MemorySource) -> bool:
    """LeRobot rows are timed by frame_index: a missing row closes up on the timeline."""
    return src.info.kind == "lerobot"


def _main_chunk(src: MemorySource) -> SignalChunk | None:
    chunks = sig.streams_with_role(src, "state", "command", "other")
    return max(chunks, key=len) if chunks else None


def gap(src: MemorySource, rng: np.random.Generator, peers: PeerRange) -> Fault | None:
    main = _main_chunk(src)
    t0 = None if main is None else sig.pick_t0(rng, main, 2.0)
    if main is None or t0 is None:
        return None
    hi = t0 + int(rng.uniform(0.4, 1.5) * NS)
    closes_up = _frame_timed(src)

    def cut(t: np.ndarray) -> np.ndarray:
        return (t < t0) | (t >= hi)

    def edit(c: SignalChunk) -> SignalChunk:
        kept = sig.keep_rows(c, cut(c.t_ns))
        if not closes_up:
            return kept
        # frame_index counts the rows written: the k-th kept row is frame k on the timeline
        t = c.t_ns[: len(kept)]
        return SignalChunk(kept.stream, kept.channels, t, kept.values, dict(kept.times))

    def frames(t: np.ndarray) -> np.ndarray:
        kept = t[cut(t)]
        return t[: len(kept)] if closes_up else kept

    def events(evs: list[LogEvent]) -> list[LogEvent]:
        return [e for e in evs if not (t0 <= e.t_ns < hi)]

    fault = Fault(
        "gap", t0, detail=f"{'lerobot rows' if closes_up else 'all streams'} {(hi - t0) / NS:.2f} s"
    )
    fault.edits = {name: edit for name in src.signals}
    fault.frame_edits = {name: frames for name in src.frames}
    fault.event_edit = events
    return fault


def clock_jump(src: MemorySource, rng: np.random.Generator, peers: PeerRange) -> Fault | None:
    main = _main_chunk(src)
    t0 = None if main is None else sig.pick_t0(rng, main, 1.0)
    if main is None or t0 is None:
        return None
    forward = rng.random() < 0.5
    size = int((rng.uniform(0.5, 1.5) if forward else -rng.uniform(0.3, 1.0)) * NS)
    if _frame_timed(src):
        # the recorded timestamp column jumps; frame_index (the timeline) does not
        def column(c: SignalChunk) -> SignalChunk:
            times = dict(c.times)
            if "timestamp" in times:
                ts = times["timestamp"].copy()
                ts[c.t_ns >= t0] += size
                times["timestamp"] = ts
            return SignalChunk(c.stream, c.channels, c.t_ns, c.values, times)

        fault = Fault("clock_jump", t0, detail=f"timestamp column {size / NS:+.2f} s")
        fault.edits = {name: column for name in src.signals}
        return fault
    clock = str(src.info.stream(main.stream).details.get("clock", "record"))
    if clock == "header":  # one publisher's stamps jump
        fault = Fault("clock_jump", t0, main.stream, detail=f"header stamp {size / NS:+.2f} s")
        fault.edits = {main.stream: _shift_clock("header", t0, size, main_clock=True)}
        return fault
    # the recorder's clock jumps: every record-timed stream, camera and log line with it
    fault = Fault("clock_jump", t0, detail=f"record clock {size / NS:+.2f} s")
    for name in src.signals:
        timed = str(src.info.stream(name).details.get("clock", "record")) == "record"
        fault.edits[name] = _shift_clock("record", t0, size, main_clock=timed)
    fault.frame_edits = {name: (lambda t: np.where(t >= t0, t + size, t)) for name in src.frames}
    fault.event_edit = lambda evs: [
        LogEvent(e.t_ns + size, e.level, e.text, e.source) if e.t_ns >= t0 else e for e in evs
    ]
    return fault


def _shift_clock(clock: str, t0: int, size: int, *, main_clock: bool) -> sig.Edit:
    def edit(c: SignalChunk) -> SignalChunk:
        times = dict(c.times)
        ref = times.get(clock, c.t_ns)
        after = ref >= t0
        if clock in times:
            times[clock] = np.where(after, ref + size, ref)
        if not main_clock:
            return SignalChunk(c.stream, c.channels, c.t_ns, c.values, times)
        t = np.where(after, c.t_ns + size, c.t_ns)
        order = np.argsort(t, kind="stable")  # the reader sorts rows by the clock it uses
        times = {k: v[order] for k, v in times.items()}
        return SignalChunk(c.stream, c.channels, t[order], c.values[order], times)

    return edit


# ---------------------------------------------------------------- values and logs


def nan_inf(src: MemorySource, rng: np.random.Generator, peers: PeerRange) -> Fault | None:
    sensors = sig.streams_with_role(src, "state", "other")
    if not sensors:
        return None
    chunk: SignalChunk = sig.pick(rng, sensors)  # type: ignore[assignment]
    channels = sig.varying_channels(chunk, hands=True) or list(chunk.channels)
    channel = str(sig.pick(rng, channels))
    t0 = sig.pick_t0(rng, chunk, 0.5)
    if t0 is None:
        return None
    bad = np.nan if rng.random() < 0.7 else np.inf * (1 if rng.random() < 0.5 else -1)
    burst = int(rng.integers(1, 6)) if rng.random() < 0.5 else None  # a few samples or to the end
    i0 = int(np.searchsorted(chunk.t_ns, t0))

    def edit(c: SignalChunk) -> SignalChunk:
        values = c.values.copy()
        j = int(np.searchsorted(c.t_ns, t0))
        values[j : None if burst is None else j + burst, c.channels.index(channel)] = bad
        return sig.with_values(c, values)

    variant = f"{'to the end' if burst is None else f'{burst} samples'}"
    fault = Fault("nan_inf", int(chunk.t_ns[i0]), chunk.stream, channel, {chunk.stream: edit})
    fault.detail = variant
    return fault


def battery_brownout(src: MemorySource, rng: np.random.Generator, peers: PeerRange) -> Fault | None:
    for name, chunk in src.signals.items():
        info = src.info.stream(name)
        if not ((info.message_type or "").endswith("BatteryState") or "battery" in name.lower()):
            continue
        if "voltage" not in chunk.channels or len(chunk) < 20:
            continue
        t0 = sig.pick_t0(rng, chunk, 2.0)
        if t0 is None:
            return None
        volts = chunk.channel("voltage")
        level = float(np.nanmedian(volts))
        drop = rng.uniform(0.15, 0.3) * level
        hold = rng.uniform(2.0, 5.0)
        t = (chunk.t_ns - t0) / NS
        sag = np.clip(t / rng.uniform(0.2, 0.5), 0.0, 1.0) * np.clip((hold - t) / 0.5, 0.0, 1.0)
        edits = [lambda c, d=-drop * sag: sig.add_to_channel(c, "voltage", d)]
        if "current" in chunk.channels:
            cur = chunk.channel("current")
            surge = rng.uniform(1.0, 3.0) * float(np.nanpercentile(np.abs(cur), 90) + 0.5)
            load = surge * sag * float(np.sign(np.nanmedian(cur)) or 1.0)
            edits.append(lambda c, d=load: sig.add_to_channel(c, "current", d))
        return Fault("battery_brownout", t0, name, "voltage", {name: sig.chain(*edits)})
    return None


ERRORS = (
    ("RuntimeError: inverse kinematics failed to converge", "planner"),
    ("ControllerTimeout: no state update in 100 ms", "controller_manager"),
    ("ValueError: action contains values outside the action space", "policy"),
    ("CollisionDetected: contact force above safety threshold", "safety"),
)


def logged_error(src: MemorySource, rng: np.random.Generator, peers: PeerRange) -> Fault | None:
    duration = src.info.duration_ns
    if duration < 2 * NS:
        return None
    t0 = int(rng.uniform(0.15, 0.85) * duration)
    text, origin = ERRORS[int(rng.integers(0, len(ERRORS)))]
    fault = Fault("logged_error", t0, None, origin, failure_reason=text, detail=origin)
    fault.added_events.append(LogEvent(t0, "ERROR", text, origin))
    return fault
