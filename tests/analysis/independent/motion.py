"""Motion faults written from the physics, each in a style a naive injector would not use.

- saturation: a hard clip at a bound inside the range, a soft (tanh) compression towards a
  bound, or a slew-rate limit on the command; the measured joint follows through a lag;
- hard stop: the joint pinned with a few mm/mrad of compliance (noise kept), velocity dying,
  effort / torque command / contact force ramping up; sometimes released after a while. Only
  where the recording can show it: a command running on, or an effort rising (Baxter's
  endpoint, whose wrench is not recorded, cannot carry one);
- oscillation: 3–15 Hz growing, decaying or steady, sometimes on two coupled joints, echoed in
  velocity and effort channels where they exist;
- sensor stall: frozen exactly, frozen with float32 quantization flicker, frozen with a tiny
  dither, or a sample-and-hold refreshed every 0.4–1.5 s; one channel or the whole message;
- spike: 1–5 samples, rectangular or triangular, random sign, sometimes a burst;
- drift: a linear or exponential offset growing between command and measured;
- range excursion: the command smoothly takes the joint 10–30 % beyond the range of the
  robot's other episodes, holds, and comes back; the joint follows.

Every builder returns None when the episode lacks what the fault needs.
"""

from __future__ import annotations

import numpy as np

from tests.analysis.faults import Fault, MemorySource
from tests.analysis.independent import physics as ph
from tests.analysis.independent.physics import NS, Pair, PeerRange

_TRIES = 10


def _onset(t_ns: np.ndarray, mask: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return int(t_ns[idx[0]]) if len(idx) else None


def _inside(t_ns: np.ndarray, t: int | None, lo: float = 0.12, hi: float = 0.88) -> bool:
    if t is None:
        return False
    a, b = int(t_ns[0]), int(t_ns[-1])
    return a + lo * (b - a) <= t <= a + hi * (b - a)


_HAND = ("hand", "grip", "finger", "claw")


def _position_pairs(src: MemorySource, still: bool = False) -> list[Pair]:
    """Pairs of positions (not velocities, not torques)."""
    return [
        p
        for p in ph.pairs(src, still)
        if not any(w in p.meas_channel.lower() for w in ("velocity", "effort", "torque"))
    ]


# ---------------------------------------------------------------- saturation


def _first_run(
    t: np.ndarray, mask: np.ndarray, deviation: np.ndarray, visible: float
) -> int | None:
    """The onset of a clip: its first sample, provided the first clipped stretch lasts
    ≥ 0.15 s and cuts visibly (a one-sample brush with the bound is no flat top to date)."""
    idx = np.flatnonzero(mask)
    if not len(idx):
        return None
    j = k = int(idx[0])
    while k < len(mask) and mask[k]:
        k += 1
    if t[k - 1] - t[j] < 0.15 * NS or deviation[j:k].max() < visible:
        return None
    return int(t[j])


def _clip_bound(
    rng: np.random.Generator, t: np.ndarray, y: np.ndarray, size_: float
) -> float | None:
    """A bound the command first crosses in the middle of the run and stays over a while."""
    record = np.maximum.accumulate(y)
    a, b = int(t[0]), int(t[-1])
    ok = []
    for i in range(1, len(y) - 1):
        if not (a + 0.2 * (b - a) <= t[i] <= a + 0.75 * (b - a)) or y[i] <= record[i - 1]:
            continue
        above = y[i:] > y[i]
        if y[i:].max() - y[i] >= 0.15 * size_ and above.sum() * np.median(np.diff(t)) >= 0.3 * NS:
            ok.append(i)
    if not ok:
        return None
    return float(y[ok[int(rng.integers(0, len(ok)))]])


def _rate_limited(t: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    dt = np.diff(t).astype(float) / NS
    rate = np.abs(np.diff(y)) / np.maximum(dt, 1e-6)
    k = int(len(y) * rng.uniform(0.2, 0.6))
    before, after = rate[:k].max(), rate[k:].max() if k < len(rate) else 0.0
    if after < 1.6 * before:
        return None
    limit = before * rng.uniform(1.02, 1.15)
    out = y.copy()
    for i in range(1, len(y)):
        step = limit * dt[i - 1]
        out[i] = out[i - 1] + np.clip(y[i] - out[i - 1], -step, step)
    return out


def saturation(src: MemorySource, rng: np.random.Generator, _peers: PeerRange) -> Fault | None:
    pairs = ph.pairs(src)
    targets: list[tuple[str, str, Pair | None]] = [(p.cmd_stream, p.cmd_channel, p) for p in pairs]
    if not targets:
        targets = [(s, c, None) for s, c in ph.command_channels(src)]
    if not targets:
        return None
    for _ in range(_TRIES):
        stream, channel, pair = targets[int(rng.integers(0, len(targets)))]
        chunk = src.signals[stream]
        x, t = chunk.channel(channel), chunk.t_ns
        if not np.isfinite(x).all():
            continue
        size_, noise = ph.span(x), ph.noise_floor(x)
        sign = float(rng.choice([-1.0, 1.0]))
        y = sign * x
        style = str(rng.choice(["hard", "soft", "rate"], p=[0.4, 0.35, 0.25]))
        if style == "rate":
            limited = _rate_limited(t, y, rng)
            if limited is None:
                continue
            new_y = limited
        else:
            bound = _clip_bound(rng, t, y, size_)
            if bound is None:
                continue
            if style == "hard":
                new_y = np.minimum(y, bound)
            else:
                w = rng.uniform(0.05, 0.12) * size_
                knee = bound - w
                new_y = np.where(y > knee, knee + w * np.tanh((y - knee) / w), y)
        deviation = y - new_y if style != "rate" else np.abs(y - new_y)
        visible = max(0.02 * size_, 2 * noise) if style != "hard" else 0.0
        onset = _first_run(t, deviation > visible, deviation, 0.03 * size_)
        if not _inside(t, onset) or deviation.max() < 0.08 * size_:
            continue
        new = sign * new_y
        tau = rng.uniform(0.03, 0.15)
        if pair is not None:
            cmd, meas = ph.follow(src, pair, new, tau)
            edits = {pair.cmd_stream: ph.fixed(cmd), pair.meas_stream: ph.fixed(meas)}
        else:
            edits = {stream: ph.fixed(ph.with_column(chunk, channel, new))}
        detail = f"{style} {'upper' if sign > 0 else 'lower'}, lag {tau * 1000:.0f} ms"
        return Fault("saturation", onset, stream, channel, edits=edits, detail=detail)
    return None


# ---------------------------------------------------------------- hard stop


def _stop_weight(t: np.ndarray, t0: int, release: int | None, tau_s: float) -> np.ndarray:
    """1 while pinned, decaying back to 0 after a release."""
    w = (t >= t0).astype(float)
    if release is not None:
        after = t >= release
        w[after] = np.exp(-(t[after] - release) / NS / tau_s)
    return w


def _joint_family(channel: str, family: str) -> str | None:
    if channel.startswith("position/"):
        return family + "/" + channel.split("/", 1)[1]
    if channel.startswith("pose.position."):
        axis = channel.rsplit(".", 1)[1]
        return {"velocity": f"twist.linear.{axis}", "effort": f"wrench.force.{axis}"}[family]
    return None


def hard_stop(src: MemorySource, rng: np.random.Generator, _peers: PeerRange) -> Fault | None:
    targets: list[tuple[str, str, Pair | None]] = [
        (p.meas_stream, p.meas_channel, p)
        for p in _position_pairs(src)
        if not any(w in p.meas_channel.lower() for w in _HAND)  # a closed hand is a grasp
    ]
    targets += [
        (s, c, None)
        for s, c in ph.sensor_channels(src, ("state",))
        if c.startswith(("position/", "pose.position."))
    ]
    if not targets:
        return None
    for _ in range(_TRIES):
        stream, channel, pair = targets[int(rng.integers(0, len(targets)))]
        chunk = src.signals[stream]
        t, x = chunk.t_ns, chunk.channel(channel)
        t0 = ph.pick_time(rng, t, 0.2, 0.7)
        if not ph.moving_in(chunk, channel, t0, t0 + int(0.8 * NS), 0.05):
            continue
        if pair is not None:  # the command must run on well past the normal tracking error
            cmd = src.signals[pair.cmd_stream]
            ahead = ph.moving_in(cmd, pair.cmd_channel, t0, t0 + NS, 0.05)
            c = cmd.channel(pair.cmd_channel)
            sel = (cmd.t_ns >= t0) & (cmd.t_ns < t0 + NS)
            if not ahead or np.ptp(c[sel]) < 5 * ph.residual_spread(src, pair):
                continue
        i0 = int(np.searchsorted(t, t0))
        p0 = float(x[i0])
        comp = min(rng.uniform(0.002, 0.006), 0.05 * ph.span(x))
        release = None
        if rng.random() < 0.35:
            release = t0 + int(rng.uniform(1.5, 4.0) * NS)
        w = _stop_weight(t, t0, release, rng.uniform(0.1, 0.3))
        hf = x - ph.smooth(x)
        pinned = p0 + comp * np.tanh((x - p0) / max(3 * comp, 1e-9)) + hf
        new_x = x * (1 - w) + pinned * w
        values = chunk.values.copy()
        values[:, chunk.channels.index(channel)] = new_x
        direction = float(np.sign(x[min(i0 + 10, len(x) - 1)] - x[i0]) or 1.0)
        rise = rng.uniform(0.1, 0.5)
        ramp = (1 - np.exp(-np.maximum(t - t0, 0) / NS / rise)) * w
        companions = []
        vel = _joint_family(channel, "velocity")
        if vel in chunk.channels and ph.span(chunk.channel(vel)) > 0:
            k = chunk.channels.index(vel)
            measured_rate = np.gradient(new_x, t / NS)  # what a stopped joint's encoder says
            values[:, k] = values[:, k] * (1 - w) + measured_rate * w
            companions.append(vel)
        eff = _joint_family(channel, "effort")
        if eff in chunk.channels and ph.span(chunk.channel(eff)) > 0:
            k = chunk.channels.index(eff)
            peak = rng.uniform(0.4, 1.2) * ph.span(chunk.channel(eff))
            if channel.startswith("pose."):  # a contact force opposes the motion
                peak = -peak
            values[:, k] += direction * peak * ramp
            companions.append(eff)
        edits = {stream: ph.fixed(ph.with_values(chunk, values))}
        torque = _torque_command(src, stream, channel)
        if torque is not None:
            tstream, tchannel = torque
            tc = src.signals[tstream]
            col = tc.channel(tchannel)
            peak = rng.uniform(0.5, 1.5) * max(ph.span(col), 1e-3)
            push = np.where(tc.t_ns >= t0, np.interp(tc.t_ns, t, ramp), 0.0)
            edits[tstream] = ph.fixed(ph.with_column(tc, tchannel, col + direction * peak * push))
            companions.append(f"{tstream}/{tchannel}")
        if pair is None and not any("effort" in c or "force" in c for c in companions):
            continue  # no command, no effort: a still joint, not a stop anyone could prove
        detail = (
            f"{'released' if release else 'held'}, compliance {comp * 1000:.1f}e-3; "
            f"{', '.join(companions) or 'position only'}"
        )
        return Fault("hard_stop", t0, stream, channel, edits=edits, detail=detail)
    return None


def _torque_command(src: MemorySource, stream: str, channel: str) -> tuple[str, str] | None:
    """The torque command driving this joint (an effort controller's ``data[i]``)."""
    if not channel.startswith("position/"):
        return None
    joints = [c for c in src.signals[stream].channels if c.startswith("position/")]
    for name, chunk in src.signals.items():
        torque = "effort" in name and "command" in name
        if torque and len(chunk.channels) == len(joints) and len(chunk) >= 20:
            return name, chunk.channels[joints.index(channel)]
    return None


# ---------------------------------------------------------------- oscillation


def _envelope(rng: np.random.Generator, ts: np.ndarray, dur: float) -> tuple[np.ndarray, str]:
    style = str(rng.choice(["growing", "decaying", "steady"]))
    inside = (ts >= 0) & (ts < dur)
    if style == "growing":
        grow = rng.uniform(0.6, 2.0)
        env = np.minimum(0.25 * np.exp(np.log(4.0) * ts / grow), 1.0)
    elif style == "decaying":
        env = np.exp(-ts / rng.uniform(0.8, 2.5))
    else:
        env = np.minimum(ts / 0.1, 1.0)
    return np.where(inside, env, 0.0), style


def oscillation(src: MemorySource, rng: np.random.Generator, _peers: PeerRange) -> Fault | None:
    targets = [(p.meas_stream, p.meas_channel) for p in _position_pairs(src, still=True)]
    targets = targets or ph.sensor_channels(src) or ph.command_channels(src)
    if not targets:
        return None
    for _ in range(_TRIES):
        stream, channel = targets[int(rng.integers(0, len(targets)))]
        chunk = src.signals[stream]
        t = chunk.t_ns
        fs = NS / ph.sample_period_ns(chunk)
        top = min(15.0, 0.4 * fs)
        if top < 3.0:
            continue
        freq = rng.uniform(3.0, top)
        t0 = ph.pick_time(rng, t)
        dur = rng.uniform(1.5, 5.0)
        ts = (t - t0) / NS
        env, style = _envelope(rng, ts, dur)
        values = chunk.values.copy()
        moved = []
        others = [c for c in chunk.channels if c != channel and ph.usable(chunk, c, True)]
        coupled = [channel]
        if others and rng.random() < 0.4:
            coupled.append(others[int(rng.integers(0, len(others)))])
        for j, name in enumerate(coupled):
            x = chunk.channel(name)
            if not np.isfinite(x).all():
                continue
            amp = max(6 * ph.noise_floor(x), rng.uniform(0.03, 0.1) * ph.scale(x))
            amp *= 1.0 if j == 0 else rng.uniform(0.3, 0.8)
            phase = rng.uniform(0, 2 * np.pi)
            wave = amp * env * np.sin(2 * np.pi * freq * ts + phase)
            values[:, chunk.channels.index(name)] += wave
            moved.append(name)
            vel = _joint_family(name, "velocity")
            if vel in chunk.channels:
                dwave = amp * env * 2 * np.pi * freq * np.cos(2 * np.pi * freq * ts + phase)
                values[:, chunk.channels.index(vel)] += dwave
                moved.append(vel)
            eff = _joint_family(name, "effort")
            if eff in chunk.channels and ph.span(chunk.channel(eff)) > 0:
                e_amp = rng.uniform(0.1, 0.3) * ph.span(chunk.channel(eff))
                lagging = np.sin(2 * np.pi * freq * ts + phase - rng.uniform(0.3, 1.2))
                values[:, chunk.channels.index(eff)] += e_amp * env * lagging
                moved.append(eff)
        if channel not in moved:
            continue
        detail = f"{style}, {freq:.1f} Hz {dur:.1f} s on {', '.join(moved)}"
        edits = {stream: ph.fixed(ph.with_values(chunk, values))}
        return Fault("oscillation", t0, stream, channel, edits=edits, detail=detail)
    return None


# ---------------------------------------------------------------- sensor stall


def sensor_stall(src: MemorySource, rng: np.random.Generator, _peers: PeerRange) -> Fault | None:
    targets = ph.sensor_channels(src)
    if not targets:
        return None
    for _ in range(_TRIES):
        stream, channel = targets[int(rng.integers(0, len(targets)))]
        chunk = src.signals[stream]
        t = chunk.t_ns
        t0 = ph.pick_time(rng, t)
        end = int(t[-1]) + 1 if rng.random() < 0.4 else t0 + int(rng.uniform(1.5, 6.0) * NS)
        if not ph.moving_in(chunk, channel, t0, min(end, t0 + 2 * NS), 0.1):
            continue
        i0 = int(np.searchsorted(t, t0))
        if i0 < 1:
            continue
        window = (t >= t0) & (t < end)
        style = str(
            rng.choice(["exact", "quantized", "dither", "sample-hold"], p=[0.2, 0.25, 0.3, 0.25])
        )
        whole = rng.random() < 0.6
        cols = list(range(len(chunk.channels))) if whole else [chunk.channels.index(channel)]
        values = chunk.values.copy()
        held = values[i0 - 1, cols]
        n = int(window.sum())
        if style == "sample-hold":
            every = rng.uniform(0.4, 1.5) * NS
            refresh = i0 - 1 + np.zeros(n, dtype=int)
            idx = np.flatnonzero(window)
            last = i0 - 1
            for k, i in enumerate(idx):
                if t[i] - t[last] >= every:
                    last = i
                refresh[k] = last
            values[np.ix_(idx, cols)] = chunk.values[np.ix_(refresh, cols)]
        else:
            block = np.repeat(held[None, :], n, axis=0)
            if style == "quantized":
                lsb = np.spacing(np.abs(held).astype(np.float32)).astype(float)
                block += rng.integers(-2, 3, size=block.shape) * lsb
            elif style == "dither":
                sigma = np.array([ph.noise_floor(chunk.values[:, c]) for c in cols])
                sigma = np.where(sigma > 0, sigma, np.abs(held) * 1e-7 + 1e-9)
                block += rng.normal(0, 1, size=block.shape) * sigma * rng.uniform(0.02, 0.15)
            values[np.ix_(np.flatnonzero(window), cols)] = block
        onset = int(t[i0])
        scope = "whole message" if whole else "one channel"
        till = "end" if end > t[-1] else f"{(end - t0) / NS:.1f} s"
        detail = f"{style}/{'message' if whole else 'channel'}, {scope}, until {till}"
        edits = {stream: ph.fixed(ph.with_values(chunk, values))}
        return Fault("sensor_stall", onset, stream, channel, edits=edits, detail=detail)
    return None


# ---------------------------------------------------------------- spike


def spike(src: MemorySource, rng: np.random.Generator, _peers: PeerRange) -> Fault | None:
    targets = ph.sensor_channels(src, still=True)
    forces = [
        (s, c)
        for s, c in targets + ph.command_channels(src)
        if any(w in (s + c).lower() for w in ("effort", "torque", "force", "wrench", "current"))
    ]
    if forces and rng.random() < 0.5:
        targets = forces
    if not targets:
        return None
    for _ in range(_TRIES):
        stream, channel = targets[int(rng.integers(0, len(targets)))]
        chunk = src.signals[stream]
        x = chunk.channel(channel)
        if not np.isfinite(x).all():
            continue
        t = chunk.t_ns
        i0 = int(np.searchsorted(t, ph.pick_time(rng, t)))
        size = max(15 * ph.noise_floor(x), rng.uniform(0.3, 1.0) * ph.scale(x))
        starts = [i0]
        burst = rng.random() < 0.35
        if burst:
            period = ph.sample_period_ns(chunk)
            for _k in range(int(rng.integers(1, 4))):
                gap = int(rng.uniform(0.1, 0.6) * NS / period)
                starts.append(i0 + max(gap, 6))
        new = x.copy()
        shape = str(rng.choice(["rect", "triangle"]))
        widths = []
        for s in starts:
            width = int(rng.integers(1, 6))
            if s + width >= len(x):
                continue
            sign = float(rng.choice([-1.0, 1.0]))
            mag = size * (1.0 if s == i0 else rng.uniform(0.5, 1.0))
            prof = (
                np.ones(width)
                if shape == "rect"
                else 1 - np.abs(np.linspace(-1, 1, width + 2)[1:-1])
            )
            new[s : s + width] += sign * mag * prof
            widths.append(width)
        if not widths or new[i0] == x[i0]:
            continue
        wide = "narrow" if widths[0] <= 2 else "wide"
        detail = f"{'burst' if burst else 'single'}/{wide}, {shape}, widths {widths}"
        edits = {stream: ph.fixed(ph.with_column(chunk, channel, new))}
        return Fault("spike", int(t[i0]), stream, channel, edits=edits, detail=detail)
    return None


# ---------------------------------------------------------------- drift


def drift(src: MemorySource, rng: np.random.Generator, _peers: PeerRange) -> Fault | None:
    pairs = _position_pairs(src, still=True)
    if not pairs:
        return None
    for _ in range(_TRIES):
        pair = pairs[int(rng.integers(0, len(pairs)))]
        chunk = src.signals[pair.meas_stream]
        t, x = chunk.t_ns, chunk.channel(pair.meas_channel)
        size_ = ph.scale(x)
        t0 = ph.pick_time(rng, t, 0.15, 0.6)
        ramp_s = rng.uniform(3.0, 8.0)
        share = rng.uniform(0.1, 0.3) if ph.span(x) > 0 else rng.uniform(0.5, 2.0)
        total = float(rng.choice([-1.0, 1.0])) * share * size_
        u = np.clip((t - t0) / NS / ramp_s, 0.0, None)
        style = str(rng.choice(["linear", "exponential"]))
        if style == "linear":
            offset = total * np.minimum(u, 1.0)
        else:
            k = rng.uniform(2.0, 4.0)
            offset = total * np.minimum(np.expm1(k * u) / np.expm1(k), 1.0)
        # it must end well past the joint's normal tracking error
        if abs(offset[-1]) < max(0.08 * size_, 5 * ph.residual_spread(src, pair)):
            continue
        detail = f"{style}, {total:+.3g} over {ramp_s:.1f} s"
        edits = {pair.meas_stream: ph.fixed(ph.with_column(chunk, pair.meas_channel, x + offset))}
        return Fault("drift", t0, pair.meas_stream, pair.meas_channel, edits=edits, detail=detail)
    return None


# ---------------------------------------------------------------- range excursion

_NAV = ("odom", "dead_reckoning", "dr_global", "fix", "gps")


def range_excursion(src: MemorySource, rng: np.random.Generator, peers: PeerRange) -> Fault | None:
    targets: list[tuple[str, str, Pair | None]] = [
        (p.meas_stream, p.meas_channel, p) for p in _position_pairs(src)
    ]
    if not targets:
        targets = [
            (s, c, None)
            for s, c in ph.sensor_channels(src, ("state", "other"))
            if not any(w in s for w in _NAV)
            and ("position" in c or "pressure" in c or c in ("x", "y"))
            and "orientation" not in c
            and "velocity" not in c
        ]
    if not targets:
        return None
    for _ in range(_TRIES):
        stream, channel, pair = targets[int(rng.integers(0, len(targets)))]
        normal = peers(stream, channel)
        if normal is None or not normal[1] > normal[0]:
            continue
        lo, hi = normal
        if pair is not None:
            cnormal = peers(pair.cmd_stream, pair.cmd_channel)
            if cnormal is not None:
                lo, hi = min(lo, cnormal[0]), max(hi, cnormal[1])
        beyond = rng.uniform(0.1, 0.3)
        upper = bool(rng.random() < 0.5)
        target = hi + beyond * (hi - lo) if upper else lo - beyond * (hi - lo)
        src_stream, src_channel = (pair.cmd_stream, pair.cmd_channel) if pair else (stream, channel)
        chunk = src.signals[src_stream]
        t = chunk.t_ns
        x = chunk.channel(src_channel)
        rise, hold, fall = rng.uniform(0.4, 1.5), rng.uniform(0.4, 2.0), rng.uniform(0.4, 1.5)
        start = ph.pick_time(rng, t, 0.15, 0.65)
        ts = (t - start) / NS
        blend = ph.raised_cosine(ts, 0.0, rise, hold, fall)
        hf = x - ph.smooth(x)
        new = x * (1 - blend) + (target + hf) * blend
        if pair is not None:
            cmd, meas = ph.follow(src, pair, new, rng.uniform(0.05, 0.2))
            edits = {pair.cmd_stream: ph.fixed(cmd), pair.meas_stream: ph.fixed(meas)}
            crossings = [
                _onset(c.t_ns, (c.channel(ch) > hi) | (c.channel(ch) < lo))
                for c, ch in ((cmd, pair.cmd_channel), (meas, pair.meas_channel))
            ]
        else:
            edits = {stream: ph.fixed(ph.with_column(chunk, channel, new))}
            crossings = [_onset(t, (new > hi) | (new < lo))]
        found = [c for c in crossings if c is not None]
        # the clean run must stay inside the peers' range before the excursion
        if not found or not _inside(t, min(found), 0.08, 0.95):
            continue
        if min(found) < start:
            continue
        detail = (
            f"{'above' if upper else 'below'}, {beyond:.0%}, rise {rise:.1f} s hold {hold:.1f} s"
        )
        return Fault("range_excursion", min(found), stream, channel, edits=edits, detail=detail)
    return None
