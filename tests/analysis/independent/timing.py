"""Timing, data and log faults, written from how recorders actually fail.

- gap: 0.1–2 s (log-uniform) of every stream, camera frame and log line lost. A LeRobot
  dataset numbers the rows it kept, so the ``frame_index`` timeline closes up and only the
  ``timestamp`` column keeps the hole; a bag keeps the hole on every clock;
- clock jump: one stream's header clock jumps forward or back (a driver resyncing), the
  recorder's clock jumps forward (NTP step: every stream, every clock but the headers), or a
  LeRobot ``timestamp`` column jumps forward or back;
- NaN/Inf: bursts of 1–10 samples, NaN, +Inf, -Inf or mixed, on one channel or whole rows,
  sometimes repeated;
- logged error: ERROR or FATAL lines of many shapes (a Python traceback, a driver's hardware
  error, a watchdog e-stop), not only the word "exception";
- battery brownout: the pack's voltage sags 15–35 % in tens of milliseconds while the current
  surges, then recovers partly.
"""

from __future__ import annotations

import numpy as np

from robotrace_desktop.core.episode import LogEvent, SignalChunk
from tests.analysis.faults import Fault, MemorySource
from tests.analysis.independent import physics as ph
from tests.analysis.independent.physics import NS, PeerRange


def _is_lerobot(src: MemorySource) -> bool:
    return "codebase_version" in src.info.metadata


def _duration(src: MemorySource) -> int:
    return int(src.info.duration_ns)


# ---------------------------------------------------------------- gap


def gap(src: MemorySource, rng: np.random.Generator, _peers: PeerRange) -> Fault | None:
    streams = [c for c in src.signals.values() if len(c) >= 20]
    if not streams:
        return None
    length = int(np.exp(rng.uniform(np.log(0.1), np.log(2.0))) * NS)
    t0 = int(_duration(src) * rng.uniform(0.2, 0.75))
    t1 = t0 + length
    lerobot = _is_lerobot(src)
    edits = {}
    removed_main = 0
    for chunk in src.signals.values():
        lost = (chunk.t_ns >= t0) & (chunk.t_ns < t1)
        if not lost.any():
            continue
        keep = ~lost
        t_new = chunk.t_ns[keep]
        if lerobot and (chunk.t_ns >= t1).any():  # rows re-indexed: later rows move up
            shift = int(chunk.t_ns[chunk.t_ns >= t1][0] - chunk.t_ns[lost][0])
            t_new = np.where(t_new >= t1, t_new - shift, t_new)
        edits[chunk.stream] = ph.fixed(ph.keep_rows(chunk, keep, t_ns=t_new))
        removed_main = max(removed_main, int(lost.sum()))
    if removed_main < 2:
        return None
    frame_edits = {}
    for name, times in src.frames.items():
        lost = (times >= t0) & (times < t1)
        if lost.any():
            kept = times[~lost]
            if lerobot and (times >= t1).any():
                shift = int(times[times >= t1][0] - times[lost][0])
                kept = np.where(kept >= t1, kept - shift, kept)
            frame_edits[name] = lambda _old, kept=kept: kept

    def drop_events(events: list[LogEvent]) -> list[LogEvent]:
        return [e for e in events if not t0 <= e.t_ns < t1]

    size = "tiny" if length < NS // 5 else "short" if length < NS // 2 else "long"
    detail = f"{size}, {length / NS:.2f} s on {len(edits)} streams" + (
        " (rows re-indexed)" if lerobot else ""
    )
    return Fault(
        "gap", t0, edits=edits, frame_edits=frame_edits, event_edit=drop_events, detail=detail
    )


# ---------------------------------------------------------------- clock jump


def _shift_clock(
    chunk: SignalChunk, clock: str, t0: int, jump: int, move_timeline: bool
) -> SignalChunk:
    after = chunk.t_ns >= t0
    times = dict(chunk.times)
    times[clock] = np.where(after, chunk.times[clock] + jump, chunk.times[clock])
    t_ns = np.where(after, chunk.t_ns + jump, chunk.t_ns) if move_timeline else chunk.t_ns
    return SignalChunk(chunk.stream, chunk.channels, t_ns, chunk.values, times)


def clock_jump(src: MemorySource, rng: np.random.Generator, _peers: PeerRange) -> Fault | None:
    t0 = int(_duration(src) * rng.uniform(0.2, 0.75))
    forward = bool(rng.random() < 0.6)
    jump = int((rng.uniform(0.2, 2.5) if forward else -rng.uniform(0.1, 1.5)) * NS)
    edits = {}
    if _is_lerobot(src):
        for chunk in src.signals.values():
            if "timestamp" in chunk.times and (chunk.t_ns >= t0).any():
                edits[chunk.stream] = ph.fixed(_shift_clock(chunk, "timestamp", t0, jump, False))
        detail = f"timestamp, column {jump / NS:+.2f} s"
        return Fault("clock_jump", t0, edits=edits, detail=detail) if edits else None
    headers = [
        c
        for c in src.signals.values()
        if len(c) >= 20
        and "header" in c.times
        and ph.timeline_clock(c) != "header"
        and np.median(np.diff(c.times["header"])) > 0
        and (c.t_ns >= t0).sum() >= 3
    ]
    if headers and rng.random() < 0.6:
        chunk = headers[int(rng.integers(0, len(headers)))]
        edits[chunk.stream] = ph.fixed(_shift_clock(chunk, "header", t0, jump, False))
        detail = f"header, clock of {chunk.stream} {jump / NS:+.2f} s"
        return Fault("clock_jump", t0, stream=chunk.stream, edits=edits, detail=detail)
    # the recorder's clock steps: every stream's record time; the timeline too when it is it
    moves_timeline = any(ph.timeline_clock(c) == "record" for c in src.signals.values())
    if moves_timeline and not forward:
        jump = -jump  # a backward step of the timeline clock would unsort every stream
    for chunk in src.signals.values():
        if "record" in chunk.times and (chunk.t_ns >= t0).any():
            on_timeline = ph.timeline_clock(chunk) == "record"
            edits[chunk.stream] = ph.fixed(_shift_clock(chunk, "record", t0, jump, on_timeline))
    if not edits:
        return None

    def shift_events(events: list[LogEvent]) -> list[LogEvent]:
        if not moves_timeline:
            return events
        return [
            e if e.t_ns < t0 else LogEvent(e.t_ns + jump, e.level, e.text, e.source) for e in events
        ]

    detail = f"recorder, clock {jump / NS:+.2f} s"
    return Fault("clock_jump", t0, edits=edits, event_edit=shift_events, detail=detail)


# ---------------------------------------------------------------- NaN / Inf


def nan_inf(src: MemorySource, rng: np.random.Generator, _peers: PeerRange) -> Fault | None:
    targets = ph.sensor_channels(src, still=True) + ph.command_channels(src, still=True)
    if not targets:
        return None
    stream, channel = targets[int(rng.integers(0, len(targets)))]
    chunk = src.signals[stream]
    t = chunk.t_ns
    i0 = int(np.searchsorted(t, ph.pick_time(rng, t)))
    whole = rng.random() < 0.3
    cols = list(range(len(chunk.channels))) if whole else [chunk.channels.index(channel)]
    kind = str(rng.choice(["nan", "+inf", "-inf", "mixed"]))
    pool = {
        "nan": [np.nan],
        "+inf": [np.inf],
        "-inf": [-np.inf],
        "mixed": [np.nan, np.inf, -np.inf],
    }
    values = chunk.values.copy()
    starts = [i0]
    period = ph.sample_period_ns(chunk)
    for _ in range(int(rng.integers(0, 3))):
        starts.append(i0 + max(2, int(rng.uniform(0.05, 1.0) * NS / period)))
    widths = []
    for s in starts:
        width = int(rng.integers(1, 11))
        rows = np.arange(s, min(s + width, len(t)))
        if not len(rows):
            continue
        bad = rng.choice(pool[kind], size=(len(rows), len(cols)))
        values[np.ix_(rows, cols)] = bad
        widths.append(len(rows))
    detail = f"{kind}, {'whole rows' if whole else 'one channel'}, bursts {widths}"
    edits = {stream: ph.fixed(ph.with_values(chunk, values))}
    return Fault("nan_inf", int(t[i0]), stream, channel, edits=edits, detail=detail)


# ---------------------------------------------------------------- logged error

_ERRORS = (
    (
        "policy_server",
        'Traceback (most recent call last):\n  File "serve.py", line 88, in step\n'
        "RuntimeError: CUDA error: an illegal memory access was encountered",
    ),
    ("controller_manager", "Switch controller timed out; controller 'arm_controller' aborted"),
    ("dynamixel_driver", "motor 4 (elbow_flex): overload error, torque disabled"),
    ("hardware_interface", "failed to read joint states: Input/output error (errno 5)"),
    ("inference", "ValueError: expected 26 joint values, got 0"),
    ("camera_reader", "Exception in thread camera_reader: OSError: [Errno 19] No such device"),
    ("safety", "emergency stop: watchdog saw no command for 250 ms"),
    ("can_bus", "CAN frame error on bus can0: bus-off, node 3 not responding"),
)


def logged_error(src: MemorySource, rng: np.random.Generator, _peers: PeerRange) -> Fault | None:
    t0 = int(_duration(src) * rng.uniform(0.2, 0.8))
    source, text = _ERRORS[int(rng.integers(0, len(_ERRORS)))]
    level = "FATAL" if rng.random() < 0.25 else "ERROR"
    events = [LogEvent(t0, level, text, source)]
    if rng.random() < 0.3:  # some drivers repeat the line while they retry
        events += [
            LogEvent(t0 + int(k * rng.uniform(0.05, 0.3) * NS), level, text, source) for k in (1, 2)
        ]
    return Fault("logged_error", t0, added_events=events, detail=f"{level} from {source}")


# ---------------------------------------------------------------- battery brownout


def battery_brownout(
    src: MemorySource, rng: np.random.Generator, _peers: PeerRange
) -> Fault | None:
    packs = [
        s.name
        for s in src.info.streams
        if (s.message_type or "").replace("/msg/", "/") == "sensor_msgs/BatteryState"
        and s.name in src.signals
        and "voltage" in src.signals[s.name].channels
        and len(src.signals[s.name]) >= 20
    ]
    if not packs:
        return None
    chunk = src.signals[packs[int(rng.integers(0, len(packs)))]]
    t = chunk.t_ns
    t0 = ph.pick_time(rng, t)
    v = chunk.channel("voltage")
    level = float(np.nanmedian(v))
    if not level > 0:
        return None
    depth = rng.uniform(0.15, 0.35) * level
    fall, hold = rng.uniform(0.02, 0.2), rng.uniform(0.3, 2.0)
    keep = rng.uniform(0.0, 0.1)  # part of the sag left after recovery
    ts = (t - t0) / NS
    sag = np.where(ts < 0, 0.0, np.minimum(ts / fall, 1.0))
    back = ts > fall + hold
    sag[back] = keep + (1 - keep) * np.exp(-(ts[back] - fall - hold) / rng.uniform(0.3, 1.0))
    values = chunk.values.copy()
    values[:, chunk.channels.index("voltage")] = v - depth * sag
    if "current" in chunk.channels and ph.span(chunk.channel("current")) > 0:
        cur = chunk.channel("current")
        surge = rng.uniform(1.0, 3.0) * max(float(np.nanmax(np.abs(cur))), 1.0)
        values[:, chunk.channels.index("current")] = (
            cur + np.sign(np.nanmedian(cur) or 1.0) * surge * sag
        )
    speed = "fast" if fall < 0.08 else "slow"
    detail = f"{speed}, -{depth / level:.0%} in {fall * 1000:.0f} ms for {hold:.1f} s"
    edits = {chunk.stream: ph.fixed(ph.with_values(chunk, values))}
    return Fault("battery_brownout", t0, chunk.stream, "voltage", edits=edits, detail=detail)
