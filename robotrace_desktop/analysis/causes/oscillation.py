"""Oscillation: a sustained, regular vibration that appears in a measured channel mid-run.

Why it works: an unstable joint controller, a loose coupling or a resonance puts its energy in
ONE narrow band (a few Hz to a few tens of Hz) where a robot's ordinary motion has almost none
— a reach or a turn lasts a second or more, so its energy sits below ~2 Hz. Each measured
channel (joint positions, poses, efforts, wrenches, and sensors such as an IMU — which need
twice the margin, since terrain and motors shake them now and then; streams sampled at
≥ ~8 Hz: a 10 Hz odometry still shows a 2.5–4.5 Hz line) gets a sliding
spectrum (1 s Hann windows); each window's power in each bin is compared with the channel's
OWN median power in that bin over the episode. A candidate must then
- be a line, not broadband: most of the window's band power sits at that frequency;
- stand ``ratio`` × above the same line's largest level anywhere else in the episode (the
  episode's ordinary maximum, a broadband burst counting only with its line share), above
  the channel's noise floor (robust spread of sample-to-sample differences) and above a
  small share of its range — units never matter, every bound is a ratio to the channel;
- swing regularly: in a narrow band-pass around it (FFT, zero phase, so times do not shift)
  at least ``min_cycles`` cycles with steady half-periods over ≥ ``min_duration_s``.

What is ruled out: ordinary motion (below the band; a fast move is a broadband burst of a
cycle or two), a vibration present all along (it is the channel's normal spectrum) and noise
(not a line, not regular). The onset is refined with a one-period envelope of the narrow-band
signal: the first time it reaches half the oscillation's amplitude, then — a growing vibration
reaches that long after it began — the foot of its rise (the rise fitted with a line, followed
back to the channel's own baseline level in the band). Channels oscillating
together at one frequency (a joint's position and its effort) are one finding, more
confident. A velocity is searched only beside its joint's position, and its line kept only
where the position's rate of change lacks it: a joint really vibrating is the position's
finding, a velocity estimate ringing on its own is the velocity's. Fast streams are averaged
down first so the cost stays small.
"""

from __future__ import annotations

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.causes._series import (
    NS,
    ChannelHit,
    binary_like_columns,
    column_summary,
    failed_run,
    field_of,
    group_around,
    period_ns,
    runs,
    unwrapped_columns,
)
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext, Signal
from robotrace_desktop.analysis.finding import Finding, channel_ref
from robotrace_desktop.core.channels import split_channel

CAUSE = "oscillation"
thresholds.register(
    CAUSE,
    min_rate_hz=(8.0, "streams sampled slower than this are not searched"),
    band_low_hz=(2.5, "lowest oscillation frequency (ordinary motion sits below it)"),
    band_high_hz=(25.0, "highest oscillation frequency (capped at 0.45 × the sample rate)"),
    window_s=(1.0, "sliding spectrum window (s)"),
    ratio=(2.5, "amplitude ≥ this × the same line's largest ordinary level elsewhere"),
    noise_factor=(1.5, "amplitude ≥ this × the noise floor (MAD of sample differences)"),
    range_share=(0.01, "amplitude ≥ this share of the channel's p1..p99 range"),
    min_duration_s=(0.6, "shortest oscillation that counts (s)"),
    min_cycles=(4.0, "and at least this many cycles"),
    purity=(0.5, "share of the band's power at the oscillation's frequency (a line, not noise)"),
    regularity=(0.35, "half-periods' relative spread (MAD/median) must stay below this"),
    group_s=(0.5, "channels whose onsets are this close and frequencies alike are one finding"),
    sensor_bar=(2.0, "a sensor stream (IMU, estimates) needs this × the ratio to be confident"),
    sensor_pure=(
        0.95,
        "…unless its line holds this share of the band's power (less margin from 0.15 under)",
    ),
)

_MIN_SAMPLES = 64
_TRIES = 4  # candidates tried per channel
_FRAME_BUDGET = 2_000_000  # samples of sliding-window frames held at once


class Hit(ChannelHit):
    """One channel's oscillation: when, how fast, how large (``ratio``: over ``ordinary``)."""

    role: str
    onset_ns: int
    freq_hz: float
    amplitude: float
    ordinary: float
    ratio: float
    purity: float
    cycles: float
    noise: float
    peak: float  # the highest and lowest sample while it lasts
    trough: float


def analyze(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    hits: list[Hit] = []
    for signal in data.signals():
        # measured streams: joint states and poses, and the sensors beside them (an IMU, a
        # velocity estimate, a pressure) — where a vibration shows first
        if signal.role in ("state", "other"):
            hits += _signal_hits(ctx, signal)
    if not hits:
        return []
    return [_finding(data, ctx, group) for group in _groups(ctx, hits)]


# ---------------------------------------------------------------- per signal


def _signal_hits(ctx: ExplainContext, signal: Signal) -> list[Hit]:
    period = period_ns(signal.t_ns)
    if signal.t_ns.size < _MIN_SAMPLES or period <= 0:
        return []
    rate = NS / period
    if rate < ctx.t(CAUSE, "min_rate_hz"):
        return []
    keep, partners = _usable(signal)
    if not keep.size:
        return []
    values = _filled(unwrapped_columns(signal.values[:, keep]))
    # a fast stream is averaged down to ~4 samples per period of the highest frequency looked
    # for (block means: the averaging is the anti-alias filter) — the cost stays small
    q = max(1, int(rate // (4.0 * ctx.t(CAUSE, "band_high_hz"))))
    t_ns = signal.t_ns
    if q > 1:
        n_blocks = values.shape[0] // q
        values = values[: n_blocks * q].reshape(n_blocks, q, values.shape[1]).mean(axis=1)
        t_ns = t_ns[q // 2 : n_blocks * q : q]
        rate /= q
    f_lo = float(ctx.t(CAUSE, "band_low_hz"))
    f_hi = min(float(ctx.t(CAUSE, "band_high_hz")), 0.45 * rate)
    size = max(16, round(ctx.t(CAUSE, "window_s") * rate))
    size += size % 2  # even: the window's centre is size // 2 from either end
    if f_hi <= 1.5 * f_lo or t_ns.size < 3 * size:
        return []
    diffs = np.diff(values, axis=0)
    noise = 1.4826 * np.median(np.abs(diffs - np.median(diffs, axis=0)), axis=0)
    low, high = np.percentile(values[:: max(1, values.shape[0] // 5000)], [1.0, 99.0], axis=0)
    floors = np.maximum.reduce(
        [
            ctx.t(CAUSE, "noise_factor") * noise,
            ctx.t(CAUSE, "range_share") * (high - low),
            1e-9 * np.maximum(1.0, np.max(np.abs(values), axis=0)),
        ]
    )
    # a few channels at a time: (windows × channels × window) frames stay a few MB
    step = max(1, _FRAME_BUDGET // max(1, (t_ns.size // max(1, size // 8)) * size))
    parts = [
        _spectrogram(values[:, j : j + step], rate, size, f_lo, f_hi)
        for j in range(0, values.shape[1], step)
    ]
    power = np.concatenate([p[0] for p in parts], axis=1)
    total = np.concatenate([p[1] for p in parts], axis=1)
    freqs, centres = parts[0][2], parts[0][3]
    # each (window, bin) against the channel's median power in that bin (its normal spectrum
    # plus its white-noise floor), kept only where the window's band power is mostly that bin
    pure = power / np.maximum(total, 1e-300)[..., None]
    normal = np.median(power, axis=0) + (noise * noise * 18.0 / size)[:, None]
    # and only where the window's amplitude at that bin clears the channel's floor
    loud = power >= 1.5 * (floors * floors)[:, None]
    score = power / (normal + 1e-300) * ((pure >= ctx.t(CAUSE, "purity")) & loud)
    ratio = ctx.t(CAUSE, "ratio")
    # a bin clearing the bar in fewer windows than half the shortest oscillation spans is a
    # burst, not a sustained line: not a candidate
    hop = max(1, size // 8)
    strong = score >= ratio * ratio
    needed = max(2, int(np.ceil(0.5 * ctx.t(CAUSE, "min_duration_s") * rate / hop)))
    score *= strong.sum(axis=0, keepdims=True) >= needed
    hits = []
    for j in np.flatnonzero(score.max(axis=(0, 2)) >= ratio * ratio):
        spectra = (power[:, j], pure[:, j], score[:, j], freqs, centres)
        levels = (noise[j], floors[j], rate)
        hit = _channel_hit(ctx, signal, t_ns, int(keep[j]), values[:, j], spectra, levels)
        if hit is not None and int(keep[j]) in partners:
            hit = _velocity_alone(signal, hit, partners[int(keep[j])])
        if hit is not None:
            hits.append(hit)
    return hits


def _spectrogram(
    values: np.ndarray, rate: float, size: int, f_lo: float, f_hi: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Power of Hann-windowed sliding windows (hop ⅛ window), in amplitude² units of a sine:
    (windows, channels, band bins) summed with the neighbouring bins, the band's total power
    (windows, channels), the band bins' frequencies and the windows' centre rows."""
    hop = max(1, size // 8)
    frames = np.lib.stride_tricks.sliding_window_view(values, size, axis=0)[::hop]
    frames = frames - frames.mean(axis=-1, keepdims=True)
    taper = np.hanning(size)
    spectrum = np.fft.rfft(frames * taper, axis=-1)
    freqs = np.fft.rfftfreq(size, 1.0 / rate)
    band = (freqs >= f_lo) & (freqs <= f_hi)
    raw = np.abs(spectrum[..., band]) ** 2 * (2.0 / taper.sum()) ** 2
    # a sine falling between two bins spreads over both: sum each bin with its neighbours
    padded = np.pad(raw, ((0, 0), (0, 0), (1, 1)))
    power = padded[..., :-2] + padded[..., 1:-1] + padded[..., 2:]
    centres = np.arange(frames.shape[0]) * hop + size // 2
    return power, raw.sum(axis=-1), freqs[band], centres


def _usable(signal: Signal) -> tuple[np.ndarray, dict[int, int]]:
    """Columns worth searching: moving, not binary (a gripper, a flag). A velocity only beside
    its joint's position (``velocity/j`` with ``position/j``), returned with it: a bare velocity
    differentiates its position's noise, and a joint really vibrating shows in its position —
    a velocity line is kept only where the position's rate of change lacks it
    (``_velocity_alone``)."""
    summary = column_summary(signal.values)
    with np.errstate(invalid="ignore"):
        moving = (summary["finite"] >= _MIN_SAMPLES) & (summary["max"] > summary["min"])
    usable = moving & ~binary_like_columns(signal.channels, summary)
    positions = {}
    for k, channel in enumerate(signal.channels):
        family, joint = split_channel(channel)
        if family is not None and field_of(signal.stream, channel) == "position":
            positions[joint] = k
    partners: dict[int, int] = {}
    for k in np.flatnonzero(usable).tolist():
        channel = signal.channels[k]
        if field_of(signal.stream, channel) != "velocity":
            continue
        family, joint = split_channel(channel)
        partner = positions.get(joint) if family is not None else None
        if partner is None:
            usable[k] = False
        else:
            partners[int(k)] = partner
    return np.flatnonzero(usable), partners


def _velocity_alone(signal: Signal, hit: Hit, partner: int) -> Hit | None:
    """The velocity's line, unless its position's rate of change carries it too (at least half
    its amplitude in the same band and time): then the joint really moved so, and its position
    is the channel that tells it. A velocity oscillating alone is its estimate or its sensor."""
    t_ns = signal.t_ns
    lo = int(np.searchsorted(t_ns, hit["onset_ns"]))
    hi = int(np.searchsorted(t_ns, hit["end_ns"], "right"))
    freq = hit["freq_hz"]
    if hi - lo < 8:
        return None
    sample_rate = NS / max(1.0, float(np.median(np.diff(t_ns[lo:hi]))))
    pad = max(8, int(2 * sample_rate / freq))
    a, b = max(0, lo - pad), min(t_ns.size, hi + pad)
    times = (t_ns[a:b] - t_ns[a]) / NS
    if np.any(np.diff(times) <= 0):
        return None  # repeated times: no rate of change to compare with, say nothing
    position = _filled(unwrapped_columns(signal.values[a:b, [partner]]))[:, 0]
    rate = np.gradient(position, times)
    narrow = _bandpass(rate[:, None], sample_rate, 0.6 * freq, 1.6 * freq)[lo - a : hi - a, 0]
    moved = float(np.sqrt(2.0 * np.mean(narrow * narrow)))
    return None if not np.isfinite(moved) or moved >= 0.5 * hit["amplitude"] else hit


def _filled(values: np.ndarray) -> np.ndarray:
    """NaN/inf holes linearly bridged (nan_inf reports them; here they must not ring)."""
    out = values.copy()
    bad = ~np.isfinite(out)
    if not bad.any():
        return out
    idx = np.arange(out.shape[0])
    for j in np.flatnonzero(bad.any(axis=0)):
        good = ~bad[:, j]
        out[bad[:, j], j] = np.interp(idx[bad[:, j]], idx[good], out[good, j])
    return out


def _bandpass(values: np.ndarray, rate: float, f_lo: float, f_hi: float) -> np.ndarray:
    """Zero-phase FFT band-pass with raised-cosine edges; the ends are mirrored first so the
    wrap-around of the FFT does not invent a jump."""
    n = values.shape[0]
    pad = min(n - 1, max(8, int(rate / f_lo)))
    padded = np.concatenate(
        (2 * values[:1] - values[pad:0:-1], values, 2 * values[-1:] - values[-2 : -pad - 2 : -1])
    )
    m = padded.shape[0]
    freqs = np.fft.rfftfreq(m, 1.0 / rate)
    edge = 0.5 * f_lo
    rise = (freqs - (f_lo - edge)) / edge
    fall = ((f_hi + edge) - freqs) / edge
    gain = np.clip(np.minimum(rise, fall), 0.0, 1.0)
    gain = 0.5 - 0.5 * np.cos(np.pi * gain)
    spectrum = np.fft.rfft(padded - padded.mean(axis=0), axis=0)
    filtered = np.fft.irfft(spectrum * gain[:, None], n=m, axis=0)
    return filtered[pad : pad + n]


def _moving_mean(values: np.ndarray, w: int) -> np.ndarray:
    """Centred moving mean over ``w`` samples (shorter at the ends)."""
    n = values.size
    csum = np.concatenate(([0.0], np.cumsum(values)))
    lo = np.clip(np.arange(n) - w // 2, 0, n)
    hi = np.clip(lo + w, 0, n)
    means: np.ndarray = (csum[hi] - csum[lo]) / np.maximum(hi - lo, 1)
    return means


def _channel_hit(
    ctx: ExplainContext,
    signal: Signal,
    t_ns: np.ndarray,
    k: int,
    column: np.ndarray,
    spectra: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    levels: tuple[float, float, float],
) -> Hit | None:
    """The channel's strongest departure from its own normal spectrum that is an oscillation.
    The few strongest candidates are tried in turn (ordinary motion can hold the very strongest
    one)."""
    power, pure, score, freqs, centres = spectra
    noise, floor, rate = levels
    score = score.copy()
    ratio = ctx.t(CAUSE, "ratio")
    for _ in range(_TRIES):
        w_peak, f_peak = np.unravel_index(int(np.argmax(score)), score.shape)
        if score[w_peak, f_peak] < ratio * ratio:
            return None
        line = power[:, f_peak]
        # the windows around the strongest one holding at least half its amplitude
        starts, ends = runs(line >= 0.25 * line[w_peak])
        r = int(np.searchsorted(starts, w_peak, "right") - 1)
        a, b = int(starts[r]), int(ends[r])
        score[a:b, max(0, f_peak - 1) : f_peak + 2] = 0.0
        hit = _candidate(
            ctx,
            signal,
            t_ns,
            k,
            column,
            (line, pure[:, f_peak], freqs[f_peak]),
            (a, b),
            centres,
            floor,
            noise,
            rate,
        )
        if hit is not None:
            return hit
    return None


def _candidate(
    ctx: ExplainContext,
    signal: Signal,
    t_ns: np.ndarray,
    k: int,
    column: np.ndarray,
    peak_line: tuple[np.ndarray, np.ndarray, float],
    region: tuple[int, int],
    centres: np.ndarray,
    floor: float,
    noise: float,
    rate: float,
) -> Hit | None:
    line, line_pure, freq0 = peak_line
    a, b = region
    size = 2 * int(centres[0])
    hop = int(centres[1] - centres[0]) if centres.size > 1 else 1
    if (b - a) * hop / rate < 0.5 * ctx.t(CAUSE, "min_duration_s"):
        return None  # a burst: far too short to hold the cycles asked for
    if a == 0:
        return None  # there from the first window: it did not appear, the run began with it
    # ordinary level: the same line in windows that do not overlap the region (a broadband
    # burst — a fast move, a bump — counts only with the share of it that is a line)
    margin = max(1, size // hop)
    outside = np.ones(line.size, dtype=bool)
    outside[max(0, a - margin) : b + margin] = False
    if outside.sum() < margin:
        return None  # the "oscillation" is the whole episode: its normal state
    ordinary = float(np.sqrt(np.max(line[outside] * np.minimum(line_pure[outside], 1.0)) / 1.5))
    ratio = ctx.t(CAUSE, "ratio")
    bar = max(ordinary, floor / ratio, 1e-300)
    if np.sqrt(np.max(line[a:b]) / 1.5) < ratio * bar:
        return None  # not even the strongest window clears it
    amplitude = float(np.sqrt(_middle(line[a:b]) / 1.5))
    purity = _middle(line_pure[a:b])
    over = amplitude / bar
    if amplitude <= floor or purity < ctx.t(CAUSE, "purity") or over < ratio:
        return None
    lo_row = max(0, int(centres[a]) - size // 2)
    hi_row = min(column.size, int(centres[b - 1]) + size // 2)
    # the narrow band around it, filtered over the region and a window either side only
    seg_lo, seg_hi = max(0, lo_row - size), min(column.size, hi_row + size)
    narrow = np.zeros(column.size)
    segment = column[seg_lo:seg_hi, None]
    narrow[seg_lo:seg_hi] = _bandpass(segment, rate, 0.6 * freq0, 1.6 * freq0)[:, 0]
    freq, spread, cycles, first, last = _cycles(
        t_ns, narrow, amplitude / np.sqrt(2.0), lo_row, hi_row
    )
    if (
        freq is None
        or cycles < ctx.t(CAUSE, "min_cycles")
        or spread > ctx.t(CAUSE, "regularity")
        or (last - first) / NS < ctx.t(CAUSE, "min_duration_s")
        or freq < ctx.t(CAUSE, "band_low_hz")
    ):
        return None
    onset = _onset(t_ns, narrow, first, amplitude, rate, freq)
    onset = _rise_start(column, rate, freq, onset, lo_row - size, amplitude)
    stop = max(onset + 1, int(np.searchsorted(t_ns, last, "right")))
    return {
        "stream": signal.stream,
        "channel": signal.channels[k],
        "field": field_of(signal.stream, signal.channels[k]),
        "role": signal.role,
        "onset_ns": int(t_ns[onset]),
        "end_ns": int(last),
        "freq_hz": freq,
        "amplitude": amplitude,
        "ordinary": ordinary,
        "ratio": over,
        "purity": purity,
        "cycles": cycles,
        "noise": noise,
        "peak": float(np.max(column[onset:stop])),
        "trough": float(np.min(column[onset:stop])),
    }


def _middle(values: np.ndarray) -> float:
    """Median of a short array (one sort: no per-call overhead of np.median)."""
    ordered = np.sort(values)
    n = ordered.size
    return float(0.5 * (ordered[(n - 1) // 2] + ordered[n // 2]))


def _cycles(
    t_ns: np.ndarray, narrow: np.ndarray, level: float, lo: int, hi: int
) -> tuple[float | None, float, float, int, int]:
    """Frequency (Hz), relative spread (MAD/median) of the half-periods, number of cycles and
    the first and last swing's times, from the zero crossings (with hysteresis: swings beyond
    ± half the oscillation's RMS level) of the narrow-band signal in rows [lo, hi)."""
    none = (None, 1.0, 0.0, 0, 0)
    part = narrow[lo:hi]
    h = 0.5 * level
    state = np.where(part > h, 1, np.where(part < -h, -1, 0))
    nz = np.flatnonzero(state)
    if nz.size < 4:
        return none
    signs = state[nz]
    flips = nz[1:][signs[1:] != signs[:-1]]
    if flips.size < 3:
        return none
    times = t_ns[lo:hi][flips]
    halves = np.diff(times).astype(np.float64)
    median = float(np.median(halves))
    if median <= 0:
        return none
    # the longest stretch of regular swings (a gap of > 2 half-periods ends it)
    breaks = np.flatnonzero(halves > 2.0 * median)
    edges = np.concatenate(([0], breaks + 1, [flips.size]))
    best = int(np.argmax(np.diff(edges)))
    i, j = int(edges[best]), int(edges[best + 1])
    if j - i < 3:
        return none
    halves = np.diff(times[i:j]).astype(np.float64)
    median = float(np.median(halves))
    spread = float(np.median(np.abs(halves - median)) / median)
    # the mean rate over the stretch: a half-period of a few samples is quantised, its median
    # is not a frequency estimate
    freq = NS * (j - i - 1) / (2.0 * float(times[j - 1] - times[i]))
    return freq, spread, (j - i - 1) / 2.0, int(times[i]), int(times[j - 1])


def _onset(
    t_ns: np.ndarray, narrow: np.ndarray, first_ns: int, amplitude: float, rate: float, freq: float
) -> int:
    """Searching back from the first regular swing, the first sample where a one-period
    envelope of the narrow-band signal reaches half the oscillation's amplitude."""
    p = max(3, round(rate / freq))
    i = int(np.searchsorted(t_ns, first_ns))
    lo = max(0, i - 2 * p)
    rms = np.sqrt(np.maximum(_moving_mean(narrow[lo : i + p] ** 2, p), 0.0))
    reached = np.flatnonzero(rms * np.sqrt(2.0) >= 0.5 * amplitude)
    return lo + int(reached[0]) if reached.size else i


def _rise_start(
    column: np.ndarray, rate: float, freq: float, onset: int, before: int, amplitude: float
) -> int:
    """Where a growing oscillation began, from the narrow band's one-period envelope: its rise
    (from a fifth of the amplitude to nine tenths, back from where it is full) fitted with a
    straight line and followed back to the channel's own baseline level in that band (the
    envelope's median over the seconds before). A growing vibration crosses "half its
    amplitude" long after it started; the rise's foot does not depend on how slowly it grows,
    and an abrupt one's rise is a period long. Never before the envelope's last dip to the
    baseline."""
    p = max(3, round(rate / freq))
    lo = max(0, before - round(3.0 * rate))
    hi = min(column.size, onset + round(3.0 * rate))
    if before - lo < 4 * p or onset - lo < 4 * p:
        return onset
    narrow = _bandpass(column[lo:hi, None], rate, 0.6 * freq, 1.6 * freq)[:, 0]
    envelope = np.sqrt(2.0 * np.maximum(_moving_mean(narrow * narrow, p), 0.0))
    base = float(np.median(envelope[: before - lo]))
    full = np.flatnonzero(envelope[onset - lo :] >= 0.9 * amplitude)
    if not full.size or base >= 0.2 * amplitude:
        return onset
    top = onset - lo + int(full[0])
    foot = np.flatnonzero(envelope[:top] <= 0.2 * amplitude)
    if not foot.size or top - int(foot[-1]) < 3:
        return onset
    rise = np.arange(int(foot[-1]) + 1, top + 1)
    slope, offset = np.polyfit(rise.astype(np.float64), envelope[rise], 1)
    if slope <= 0:
        return onset
    start = int(np.floor((base - offset) / slope))
    dips = np.flatnonzero(envelope[: int(foot[-1]) + 1] <= base)
    floor = int(dips[-1]) if dips.size else 0
    return min(onset, lo + max(start, floor))


# ---------------------------------------------------------------- grouping and findings


def _groups(ctx: ExplainContext, hits: list[Hit]) -> list[list[Hit]]:
    """Channels oscillating together (onsets within ``group_s``, frequencies within 25 %)."""
    gap = ctx.t(CAUSE, "group_s") * NS
    return group_around(
        hits,
        lambda h: h["ratio"],
        lambda lead, hit: (
            abs(hit["onset_ns"] - lead["onset_ns"]) <= gap
            and abs(hit["freq_hz"] - lead["freq_hz"]) <= 0.25 * lead["freq_hz"]
        ),
    )


def _finding(data: EpisodeData, ctx: ExplainContext, group: list[Hit]) -> Finding:
    lead = group[0]
    refs = [channel_ref(h["stream"], h["channel"]) for h in group]
    fields = {h["field"] for h in group}
    # just over every bar, a few cycles: not yet confident; sustained or well above the
    # channel's ordinary level: confident
    # a sensor beside the joints (an IMU on a wheeled base, a velocity estimate) vibrates with
    # the terrain and the motors now and then: it needs twice the margin over its ordinary
    # level that a joint state needs to be confident on its own
    # — unless nearly all the band's power sits in its one line: the terrain and the motors
    # shake a sensor over a spread of frequencies, an unstable loop or a resonance rings at one
    bar = ctx.t(CAUSE, "ratio") * (1.0 if lead["role"] == "state" else _sensor_margin(ctx, lead))
    confidence = 0.45 + min(0.25, 0.05 * (lead["ratio"] - bar))
    confidence += min(0.05, 0.01 * (lead["cycles"] - ctx.t(CAUSE, "min_cycles")))
    if len(group) > 1:
        confidence += 0.05 + (0.05 if len(fields) > 1 else 0.0)
    confidence += 0.05 * _beyond_history(ctx, lead)
    if failed_run(data):
        confidence += 0.05
    onset = min(h["onset_ns"] for h in group if h["ratio"] >= 0.5 * lead["ratio"])
    extra = f" (with {len(group) - 1} more channel{'s' if len(group) > 2 else ''})"
    return Finding(
        cause=CAUSE,
        title=f"Oscillation at {lead['freq_hz']:.1f} Hz: {lead['channel']}",
        explanation=(
            f"{refs[0]} oscillated at {lead['freq_hz']:.1f} Hz with amplitude "
            f"{lead['amplitude']:.3g} ({lead['ratio']:.1f}× its largest ordinary level "
            f"elsewhere) for {(lead['end_ns'] - lead['onset_ns']) / NS:.2f} s"
            + (extra if len(group) > 1 else "")
        ),
        confidence=min(confidence, 0.95),
        severity="high",
        t_start_ns=int(onset),
        t_end_ns=int(max(h["end_ns"] for h in group)),
        channels=refs,
        evidence={
            "frequency_hz": round(lead["freq_hz"], 2),
            "amplitude": lead["amplitude"],
            "ordinary_amplitude": lead["ordinary"],
            "amplitude_over_ordinary": round(lead["ratio"], 2),
            "cycles": round(lead["cycles"], 1),
            "power_share_at_frequency": round(lead["purity"], 2),
            "noise_floor": lead["noise"],
            "channels_together": len(group),
        },
        next_step=(
            "Look at the controller gains and the mechanics of the joint (a loose coupling, a "
            "resonance) around the onset; compare with a run where it was steady."
        ),
    )


def _sensor_margin(ctx: ExplainContext, hit: Hit) -> float:
    """The sensor's extra margin: ``sensor_bar`` for a line sharing the band with other
    frequencies, falling to a joint's (1) as the line's share of the band's power rises from
    0.15 under ``sensor_pure`` to ``sensor_pure``."""
    pure = float(ctx.t(CAUSE, "sensor_pure"))
    share = float(np.clip((pure - hit["purity"]) / 0.15, 0.0, 1.0))
    return 1.0 + (float(ctx.t(CAUSE, "sensor_bar")) - 1.0) * share


def _beyond_history(ctx: ExplainContext, hit: Hit) -> float:
    """1 when the oscillation took the channel outside what the robot's other runs reached."""
    if ctx.history is None:
        return 0.0
    seen = ctx.history(hit["stream"], hit["channel"], False)
    if seen is None:
        return 0.0
    return 1.0 if hit["peak"] > seen[1] or hit["trough"] < seen[0] else 0.0
