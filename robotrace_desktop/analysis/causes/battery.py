"""Battery brownout: supply voltage or charge sagging, or dropping sharply under load.

Candidates are found by name: ``sensor_msgs/BatteryState`` channels (voltage, percentage,
charge) and any channel or stream whose name says voltage/volt/vbat/battery. Percentages are
judged on an absolute scale (below 15 % — as a 0..1 fraction or 0..100); voltages and charge on
a relative one (below k × the median of the first seconds), because a 12 V and a 48 V pack sag
alike in proportion. A sharp step down (more than X % within Y s) that persists is reported even
above the sag threshold: that is a brownout under load, the moment motors or computers reset.
"""

from __future__ import annotations

import re

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext, Signal
from robotrace_desktop.analysis.finding import Finding, channel_ref
from robotrace_desktop.core.timebase import NS_PER_S as NS

CAUSE = "battery_brownout"

thresholds.register(
    CAUSE,
    min_percentage=(0.15, "state of charge below this fraction (15 %) is a sag"),
    sag_ratio=(0.85, "voltage/charge below this × its starting median is a sag"),
    baseline_s=(2.0, "seconds at the start whose median is the reference voltage"),
    drop_pct=(10.0, "a step down of more than this % of the reference…"),
    drop_window_s=(0.5, "…within this many seconds is a sharp drop"),
    min_span_s=(0.3, "a sag or drop must persist this long (seconds)"),
    smooth_samples=(5, "running-median width (samples) applied before testing"),
)

_VOLT_WORDS = re.compile(r"volt|vbat|vbus|battery|batt\b|bat_v")
_PERCENT_WORDS = re.compile(r"percent|\bsoc\b|state_of_charge")
_BATTERY_STREAM = re.compile(r"batter|\bbms\b|power")


def analyze(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    findings: list[Finding] = []
    for signal in data.signals():
        if signal.role in ("action", "command", "noise") or len(signal.t_ns) < 3:
            continue
        info = data.info.stream(signal.stream)
        battery_stream = (info.message_type or "").endswith("BatteryState") or bool(
            _BATTERY_STREAM.search(signal.stream.lower())
        )
        for i, channel in enumerate(signal.channels):
            kind = _kind(signal.stream, channel, battery_stream)
            if kind is None:
                continue
            finding = _check(signal, i, kind, ctx)
            if finding is not None:
                findings.append(finding)
    return findings


def _kind(stream: str, channel: str, battery_stream: bool) -> str | None:
    """ "percentage", "voltage" (also charge, judged relatively) or None."""
    name = channel.lower()
    leaf = name.rsplit("/", 1)[-1].rsplit(".", 1)[-1]
    if leaf.startswith(("cell_", "design_", "capacity", "temperature", "current")):
        return None  # per-cell arrays, constants, other quantities
    if _PERCENT_WORDS.search(name) and (battery_stream or "batt" in name):
        return "percentage"
    if battery_stream and leaf in ("voltage", "charge"):
        return "voltage"
    if _VOLT_WORDS.search(name) or (_VOLT_WORDS.search(stream.lower()) and leaf == "data"):
        return "voltage"
    return None


def _smooth(values: np.ndarray, width: int) -> np.ndarray:
    if width <= 1 or len(values) < width:
        return values
    padded = np.pad(values, (width // 2, width - 1 - width // 2), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    smoothed: np.ndarray = np.median(windows, axis=1)
    return smoothed


def _sustained(below: np.ndarray, t: np.ndarray, min_ns: int) -> int | None:
    """Index of the first sample starting a run of ``below`` lasting at least ``min_ns``."""
    padded = np.concatenate(([0], below.astype(np.int8), [0]))
    edges = np.diff(padded)
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    for a, b in zip(starts, ends, strict=True):
        if t[b] - t[a] >= min_ns or (b == len(t) - 1 and b > a):
            return int(a)
    return None


def _check(signal: Signal, col: int, kind: str, ctx: ExplainContext) -> Finding | None:
    t = signal.t_ns
    raw = signal.values[:, col]
    ok = np.isfinite(raw)
    if ok.sum() < 3:
        return None
    t, raw = t[ok], raw[ok]
    v = _smooth(raw, int(ctx.t(CAUSE, "smooth_samples")))
    min_ns = int(float(ctx.t(CAUSE, "min_span_s")) * NS)
    base_end = np.searchsorted(t, t[0] + int(float(ctx.t(CAUSE, "baseline_s")) * NS), "right")
    reference = float(np.median(v[: max(int(base_end), 1)]))
    channel = signal.channels[col]
    evidence: dict[str, object] = {"kind": kind, "reference": reference}
    if kind == "percentage":
        scale = 100.0 if np.nanmax(v) > 1.5 else 1.0
        limit = float(ctx.t(CAUSE, "min_percentage")) * scale
        evidence.update({"threshold": limit, "scale": "percent" if scale == 100 else "fraction"})
    else:
        if reference <= 0:
            return None  # not a supply voltage (a signed quantity or an unfilled field)
        limit = float(ctx.t(CAUSE, "sag_ratio")) * reference
        evidence.update({"threshold": limit, "sag_ratio": float(ctx.t(CAUSE, "sag_ratio"))})
    sag = _sustained(v < limit, t, min_ns)
    drop = _sharp_drop(t, v, reference if kind != "percentage" else max(reference, 1e-9), ctx)
    if sag is None and drop is None:
        return None
    unit = "%" if kind == "percentage" and evidence.get("scale") == "percent" else ""
    if sag == 0 and drop is None and float(np.ptp(raw)) == 0.0:
        return None  # one value the whole run, below the limit: a field the driver leaves unset
    if sag is not None:
        start = _sag_start(v, sag, reference, limit)
        low = float(np.min(v[sag:]))
        from_start = sag == 0
        confidence = (
            0.45  # low all along is a state to know, not the event that failed this run
            if from_start
            else 0.65 + 0.25 * float(np.clip((limit - low) / max(abs(limit) * 0.2, 1e-9), 0.0, 1.0))
        )
        what = (
            f"{channel} was {v[sag]:.3g}{unit} from the start, below {limit:.3g}{unit}"
            if from_start
            else f"{channel} sagged from {reference:.3g}{unit} to {low:.3g}{unit} starting at "
            f"{t[start] / NS:.2f} s (below {limit:.3g}{unit} from {t[sag] / NS:.2f} s)"
        )
        title = "Battery low" if from_start else "Battery voltage sagged"
        t0, t_cross = int(t[start]), int(t[sag])
        evidence.update({"lowest": low, "below_from_ns": t_cross})
    else:
        assert drop is not None
        i0, i1 = drop
        step = 100.0 * (v[i0] - v[i1]) / max(abs(reference), 1e-9)
        confidence = 0.7
        what = (
            f"{channel} dropped {step:.0f} % ({v[i0]:.3g}{unit} → {v[i1]:.3g}{unit}) in "
            f"{(t[i1] - t[i0]) / NS:.2f} s at {t[i0] / NS:.2f} s"
        )
        title = "Sharp battery voltage drop"
        t0 = int(t[i0])
        evidence.update({"drop_pct": step, "drop_from": float(v[i0]), "drop_to": float(v[i1])})
    evidence.update(
        {
            "drop_threshold_pct": float(ctx.t(CAUSE, "drop_pct")),
            "drop_window_s": float(ctx.t(CAUSE, "drop_window_s")),
            "min_span_s": min_ns / NS,
        }
    )
    return Finding(
        cause=CAUSE,
        title=title,
        explanation=what + ".",
        confidence=confidence,
        severity="high",
        t_start_ns=t0,
        channels=[channel_ref(signal.stream, channel)],
        evidence=evidence,
        next_step=(
            f"Check the battery charge and the power wiring; motors or computers may have "
            f"browned out around {t0 / NS:.1f} s — compare with the log there."
        ),
    )


def _sag_start(v: np.ndarray, cross: int, reference: float, limit: float) -> int:
    """Where the decline that ended below ``limit`` began: the last sample before the crossing
    still within a quarter of the way from the reference down to the limit."""
    level = reference - 0.25 * (reference - limit)
    above = np.flatnonzero(v[:cross] >= level)
    return int(above[-1]) if len(above) else cross


def _sharp_drop(
    t: np.ndarray, v: np.ndarray, reference: float, ctx: ExplainContext
) -> tuple[int, int] | None:
    """(before, after) sample indices of the first persistent step down > drop_pct within
    drop_window_s, or None."""
    window = int(float(ctx.t(CAUSE, "drop_window_s")) * NS)
    step = float(ctx.t(CAUSE, "drop_pct")) / 100.0 * abs(reference)
    back = np.searchsorted(t, t - window, "left")  # the sample one window earlier
    fell = (v[back] - v) > step
    if not fell.any():
        return None
    min_ns = int(float(ctx.t(CAUSE, "min_span_s")) * NS)
    for i in np.flatnonzero(fell)[:50]:
        level = v[back[i]] - step
        end = np.searchsorted(t, t[i] + min_ns, "right")
        if end > i and np.median(v[i:end]) < level + 0.5 * step:
            return int(back[i]), int(i)
    return None
