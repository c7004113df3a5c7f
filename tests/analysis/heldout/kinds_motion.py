"""Faults in what the robot does: its commands, joints, efforts and sensors.

- saturation clips a command at a bound *inside* its normal range, and the measured joint
  follows the clipped command (where a pair exists); the onset is the first clipped sample;
- a hard stop pins a moving joint (sensor noise kept) while the command runs on (the residual
  grows) and the effort or commanded torque rises;
- an oscillation of 6–10 Hz shows in a joint's position and in its effort where one exists;
- a stall repeats a moving sensor's values exactly (whole message, one channel, or an IMU);
- a spike is sized by the channel's own noise floor and range;
- a drift grows the command-vs-measured residual slowly (15–30 % of the joint's range over 6 s);
- a range excursion goes 10–20 % beyond anything the robot's other episodes reached.

Faults sized by a channel's span are put only on channels that really move (``sig.lively``).
"""

from __future__ import annotations

import numpy as np

from robotrace_desktop.core.channels import split_channel
from robotrace_desktop.core.episode import SignalChunk
from tests.analysis.faults import Fault, MemorySource
from tests.analysis.heldout import signals as sig
from tests.analysis.heldout.signals import NS, PeerRange

POSITION_FAMILIES = (None, "position", "pose")


def _positional(chunk: SignalChunk) -> list[str]:
    """Channels that are positions (a joint angle, a pose coordinate), not efforts/velocities."""
    found = []
    for name in sig.varying_channels(chunk):
        family, leaf = split_channel(name)
        low = name.lower()
        if family in ("effort", "velocity") or any(
            w in low for w in ("velocity", "wrench", "twist", "covariance", "orientation")
        ):
            continue
        if family in POSITION_FAMILIES or "position" in low or leaf in ("x", "y", "theta"):
            found.append(name)
    return found


# ---------------------------------------------------------------- saturation


def saturation(src: MemorySource, rng: np.random.Generator, peers: PeerRange) -> Fault | None:
    commands = sig.streams_with_role(src, "command")
    pairs = {cmd: meas for cmd, meas in sig.joint_pairs(src)}
    for _ in range(30):
        if not commands:
            return None
        chunk: SignalChunk = sig.pick(rng, commands)  # type: ignore[assignment]
        channels = [
            c for c in sig.varying_channels(chunk) if sig.lively(chunk, c, peers(chunk.stream, c))
        ]
        if not channels:
            continue
        channel = str(sig.pick(rng, channels))
        t0 = sig.pick_t0(rng, chunk, 2.0)
        if t0 is None:
            continue
        length = int(rng.uniform(1.5, 3.0) * NS)
        col = chunk.channel(channel)
        sign = 1.0 if rng.random() < 0.5 else -1.0
        window = (chunk.t_ns >= t0) & (chunk.t_ns < t0 + length)
        seg = sign * col[window]
        if len(seg) < 4 or not np.isfinite(seg).all():
            continue
        rise = float(seg.max() - seg[0])
        if rise < 0.15 * float(np.nanmax(col) - np.nanmin(col)):
            continue
        bound = float(seg[0] + rng.uniform(0.3, 0.6) * rise)  # a value the command really takes
        over = seg > bound
        delta = np.zeros(len(col))
        delta[window] = sign * (np.minimum(seg, bound) - seg)
        onset = int(chunk.t_ns[window][int(np.argmax(over))])
        fault = Fault("saturation", onset, chunk.stream, channel)
        fault.edits[chunk.stream] = lambda c, ch=channel, d=delta: sig.add_to_channel(c, ch, d)
        measured = pairs.get((chunk.stream, channel))
        if measured is not None:  # the joint follows its clipped command
            fault.edits[measured[0]] = sig.add_at_times(chunk.t_ns, delta, measured[1])
        return fault
    return None


# ---------------------------------------------------------------- hard stop


def hard_stop(src: MemorySource, rng: np.random.Generator, peers: PeerRange) -> Fault | None:
    pairs = sig.joint_pairs(src)
    command_of = {meas: cmd for cmd, meas in pairs}
    candidates = []
    for chunk in sig.streams_with_role(src, "state"):
        for channel in _positional(chunk):
            if not sig.lively(chunk, channel, peers(chunk.stream, channel)):
                continue
            effort = sig.same_joint(chunk, channel, "effort")
            has_effort = effort is not None and np.ptp(chunk.channel(effort)) > 1e-6
            torque = command_of.get((chunk.stream, effort)) if effort else None
            position_cmd = command_of.get((chunk.stream, channel))
            if has_effort or torque or position_cmd:
                candidates.append((chunk, channel, effort if has_effort else None, torque))
    for _ in range(30):
        if not candidates:
            return None
        chunk, channel, effort, torque = candidates[int(rng.integers(0, len(candidates)))]
        t0 = sig.pick_t0(rng, chunk, 2.0)
        if t0 is None or not sig.moving(chunk, channel, t0, t0 + NS, 0.1):
            continue
        length = int(rng.uniform(1.5, 3.0) * NS)
        col = chunk.channel(channel)
        pinned = (chunk.t_ns >= t0) & (chunk.t_ns < t0 + length)
        i0 = int(np.argmax(pinned))
        noise = rng.normal(0.0, sig.noise_floor(col) * 0.5, int(pinned.sum()))
        delta = np.zeros(len(col))
        delta[pinned] = col[i0] + noise - col[pinned]
        push = float(np.sign(np.nanmean(-delta[pinned])) or 1.0)  # towards where it was going
        fault = Fault("hard_stop", int(chunk.t_ns[i0]), chunk.stream, channel)
        edits = [lambda c, ch=channel, d=delta: sig.add_to_channel(c, ch, d)]
        ramp = np.clip((chunk.t_ns - t0) / (0.5 * NS), 0.0, 1.0) * pinned
        if effort is not None:
            e = chunk.channel(effort)
            rise = push * rng.uniform(1.0, 2.0) * float(np.nanpercentile(np.abs(e), 99) + 1e-6)
            edits.append(lambda c, ch=effort, d=ramp * rise: sig.add_to_channel(c, ch, d))
        fault.edits[chunk.stream] = sig.chain(*edits)
        if torque is not None:  # the controller pushes harder against the stop
            tc = src.signals[torque[0]]
            size = float(np.nanpercentile(np.abs(tc.channel(torque[1])), 99) + 1e-6)
            fault.edits[torque[0]] = sig.add_at_times(
                chunk.t_ns, ramp * push * rng.uniform(1.0, 2.0) * size, torque[1]
            )
        return fault
    return None


# ---------------------------------------------------------------- oscillation


def oscillation(src: MemorySource, rng: np.random.Generator, peers: PeerRange) -> Fault | None:
    streams = [c for c in sig.streams_with_role(src, "state") if sig.rate_hz(c) >= 25.0]
    for _ in range(20):
        if not streams:
            return None
        chunk: SignalChunk = sig.pick(rng, streams)  # type: ignore[assignment]
        channels = [c for c in _positional(chunk) if sig.lively(chunk, c, peers(chunk.stream, c))]
        if not channels:
            continue
        channel = str(sig.pick(rng, channels))
        t0 = sig.pick_t0(rng, chunk, 2.0)
        if t0 is None:
            continue
        freq = rng.uniform(6.0, min(10.0, 0.4 * sig.rate_hz(chunk)))
        col = chunk.channel(channel)
        span = float(np.nanpercentile(col, 99) - np.nanpercentile(col, 1))
        amp = max(rng.uniform(0.03, 0.08) * span, 8.0 * sig.noise_floor(col))
        length = rng.uniform(1.5, 3.0)
        t = (chunk.t_ns - t0) / NS
        envelope = np.clip(t / 0.15, 0.0, 1.0) * (t < length)
        wave = envelope * np.sin(2 * np.pi * freq * t)
        edits = [lambda c, ch=channel, d=amp * wave: sig.add_to_channel(c, ch, d)]
        effort = sig.same_joint(chunk, channel, "effort") or _wrench_of(chunk, channel)
        if effort is not None and np.ptp(chunk.channel(effort)) > 1e-6:
            e = chunk.channel(effort)
            e_amp = rng.uniform(0.3, 0.6) * float(np.nanpercentile(e, 99) - np.nanpercentile(e, 1))
            e_wave = envelope * np.cos(2 * np.pi * freq * t)  # effort leads position by 90°
            edits.append(lambda c, ch=effort, d=e_amp * e_wave: sig.add_to_channel(c, ch, d))
        fault = Fault("oscillation", t0, chunk.stream, channel, {chunk.stream: sig.chain(*edits)})
        return fault
    return None


def _wrench_of(chunk: SignalChunk, channel: str) -> str | None:
    """Baxter-style end-point state: the force along the same axis as a pose coordinate."""
    axis = channel.rsplit(".", 1)[-1]
    name = f"wrench.force.{axis}"
    return name if "position" in channel and name in chunk.channels else None


# ---------------------------------------------------------------- sensor stall


def _is_imu(src: MemorySource, name: str) -> bool:
    info = src.info.stream(name)
    return "imu" in name.lower() or (info.message_type or "").endswith("Imu")


def sensor_stall(src: MemorySource, rng: np.random.Generator, peers: PeerRange) -> Fault | None:
    sensors = sig.streams_with_role(src, "state")
    sensors += [c for c in sig.streams_with_role(src, "other") if _is_imu(src, c.stream)]
    commands = sig.streams_with_role(src, "command")
    for _ in range(30):
        if not sensors:
            return None
        chunk: SignalChunk = sig.pick(rng, sensors)  # type: ignore[assignment]
        t0 = sig.pick_t0(rng, chunk, 2.5)
        if t0 is None:
            continue
        length = int(rng.uniform(2.0, 5.0) * NS)
        live = [
            c for c in sig.varying_channels(chunk) if sig.moving(chunk, c, t0, t0 + length, 0.05)
        ]
        if not live:
            continue
        whole = _is_imu(src, chunk.stream) or rng.random() < 0.5
        frozen = list(chunk.channels) if whole else [str(sig.pick(rng, live))]
        still = all(
            not any(sig.moving(c, ch, t0, t0 + length, 0.02) for ch in c.channels) for c in commands
        )
        variant = ("imu" if _is_imu(src, chunk.stream) else "stream" if whole else "channel") + (
            ", commands still" if still else ""
        )
        channel_name = "*" if whole else frozen[0]

        def edit(c: SignalChunk, t0: int = t0, n: int = length, cols: list = frozen) -> SignalChunk:
            values = c.values.copy()
            span = (c.t_ns >= t0) & (c.t_ns < t0 + n)
            if span.any():
                idx = [c.channels.index(x) for x in cols]
                first = int(np.argmax(span))
                values[np.ix_(span, idx)] = values[first, idx]
            return sig.with_values(c, values)

        first_t = int(chunk.t_ns[chunk.t_ns >= t0][0])
        fault = Fault("sensor_stall", first_t, chunk.stream, channel_name, {chunk.stream: edit})
        fault.detail = variant
        return fault
    return None


# ---------------------------------------------------------------- spike


def spike(src: MemorySource, rng: np.random.Generator, peers: PeerRange) -> Fault | None:
    sensors = sig.streams_with_role(src, "state", "other")
    options = []
    for chunk in sensors:
        for channel in sig.varying_channels(chunk):
            if not sig.lively(chunk, channel, peers(chunk.stream, channel)):
                continue
            effort = split_channel(channel)[0] == "effort" or "wrench" in channel
            options.append((chunk, channel, effort))
    efforts = [o for o in options if o[2]]
    if efforts and rng.random() < 0.6:
        options = efforts
    for _ in range(20):
        if not options:
            return None
        chunk, channel, _effort = options[int(rng.integers(0, len(options)))]
        t0 = sig.pick_t0(rng, chunk, 0.5)
        if t0 is None:
            continue
        col = chunk.channel(channel)
        span = float(np.nanpercentile(col, 99) - np.nanpercentile(col, 1))
        noise = sig.noise_floor(col)
        size = max(rng.uniform(0.4, 1.0) * span, 15.0 * noise)
        if size <= 0:
            continue
        i0 = int(np.searchsorted(chunk.t_ns, t0))
        width = int(rng.integers(1, 4))
        delta = np.zeros(len(col))
        delta[i0 : i0 + width] = size * (1 if rng.random() < 0.5 else -1)
        onset = int(chunk.t_ns[i0])
        edit = lambda c, ch=channel, d=delta: sig.add_to_channel(c, ch, d)  # noqa: E731
        return Fault("spike", onset, chunk.stream, channel, {chunk.stream: edit})
    return None


# ---------------------------------------------------------------- drift


def drift(src: MemorySource, rng: np.random.Generator, peers: PeerRange) -> Fault | None:
    pairs = [
        ((cs, cc), (ms, mc))
        for (cs, cc), (ms, mc) in sig.joint_pairs(src)
        if split_channel(mc)[0] in POSITION_FAMILIES
        and sig.lively(src.signals[cs], cc, peers(cs, cc))
    ]
    for _ in range(20):
        if not pairs:
            return None
        (cs, cc), (ms, mc) = pairs[int(rng.integers(0, len(pairs)))]
        chunk = src.signals[ms]
        t0 = sig.pick_t0(rng, chunk, 3.0)
        if t0 is None:
            continue
        cmd = src.signals[cs].channel(cc)
        span = float(np.nanpercentile(cmd, 99) - np.nanpercentile(cmd, 1))
        if span <= 1e-6:
            continue
        size = rng.uniform(0.15, 0.3) * span * (1 if rng.random() < 0.5 else -1)
        grow = 6.0
        ramp = np.clip((chunk.t_ns - t0) / (grow * NS), 0.0, 1.0) * size
        edit = lambda c, ch=mc, d=ramp: sig.add_to_channel(c, ch, d)  # noqa: E731
        return Fault("drift", t0, ms, mc, {ms: edit})
    return None


# ---------------------------------------------------------------- range excursion


def range_excursion(src: MemorySource, rng: np.random.Generator, peers: PeerRange) -> Fault | None:
    pairs = {meas: cmd for cmd, meas in sig.joint_pairs(src)}
    options = []
    for chunk in sig.streams_with_role(src, "state"):
        for channel in _positional(chunk):
            seen = peers(chunk.stream, channel)
            if seen is not None and seen[1] - seen[0] > 1e-6:
                options.append((chunk, channel, seen))
    for _ in range(20):
        if not options:
            return None
        chunk, channel, (lo, hi) = options[int(rng.integers(0, len(options)))]
        t0 = sig.pick_t0(rng, chunk, 2.0)
        if t0 is None:
            continue
        up = rng.random() < 0.5
        beyond = rng.uniform(0.10, 0.20) * (hi - lo)
        target = hi + beyond if up else lo - beyond
        col = chunk.channel(channel)
        hold = rng.uniform(1.0, 2.0)
        t = (chunk.t_ns - t0) / NS
        weight = np.clip(t / 0.3, 0.0, 1.0) * np.clip((hold + 0.3 - t) / 0.3, 0.0, 1.0)
        delta = weight * (target - col)
        moved = col + delta
        outside = (moved > hi) if up else (moved < lo)
        if not outside.any():
            continue
        onset = int(chunk.t_ns[int(np.argmax(outside))])
        fault = Fault("range_excursion", onset, chunk.stream, channel)
        fault.edits[chunk.stream] = lambda c, ch=channel, d=delta: sig.add_to_channel(c, ch, d)
        command = pairs.get((chunk.stream, channel))
        if command is not None:  # commanded there: the policy led the joint out
            fault.edits[command[0]] = sig.add_at_times(chunk.t_ns, delta, command[1])
        return fault
    return None
