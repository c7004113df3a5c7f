"""NaN or Inf values in a signal.

A state or action channel that turns NaN/Inf part-way through a run is almost always a real
fault (a diverging controller, a division by zero in the policy, a driver publishing garbage)
and is reported with high confidence at its first bad sample. A channel that is NaN from its
very first sample is usually an unused field (a LeRobot feature the robot never fills, an
optional message field) and is only noted (low confidence, info).
"""

from __future__ import annotations

import numpy as np

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext, Signal
from robotrace_desktop.analysis.finding import Finding, channel_ref
from robotrace_desktop.core.timebase import NS_PER_S as NS

CAUSE = "nan_inf"
KEY_ROLES = frozenset({"state", "action", "command"})

thresholds.register(
    CAUSE,
    min_bad_samples=(1, "bad (NaN/Inf) samples a channel needs before it is reported"),
    min_valid_samples=(
        3,
        "a channel valid in fewer samples than this in the whole run is not going bad",
    ),
    startup_s=(0.0, "bad samples only within this many seconds of a stream's start are start-up"),
    confidence_mid_run=(0.9, "confidence when a state/action channel goes bad mid-run"),
    confidence_other=(0.65, "confidence when another (non state/action) channel goes bad mid-run"),
    confidence_from_start=(0.2, "confidence for channels bad from their first sample (unused)"),
)


def analyze(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    findings: list[Finding] = []
    for signal in data.signals():
        if signal.role == "noise":
            continue
        finding = _stream_finding(signal, ctx)
        if finding is not None:
            findings.append(finding)
    return findings


def _stream_finding(signal: Signal, ctx: ExplainContext) -> Finding | None:
    bad = ~np.isfinite(signal.values)
    counts = bad.sum(axis=0)
    min_bad = max(int(ctx.t(CAUSE, "min_bad_samples")), 1)
    flagged = np.flatnonzero(counts >= min_bad)
    if not len(flagged):
        return None
    t = signal.t_ns
    startup_end = t[0] + int(float(ctx.t(CAUSE, "startup_s")) * NS)
    cols = bad[:, flagged]
    # Bad from the first sample on (an unused field, start-up) does not count as "going bad":
    # only bad samples after the leading bad run (and after start-up) are mid-run.
    good = ~cols
    lead = np.where(good.any(axis=0), good.argmax(axis=0), len(t))
    rows = np.arange(len(t))[:, None]
    mid_bad = cols & (rows >= lead[None, :]) & (t[:, None] > startup_end)
    # valid for a sample or two and then never again (a GPS that loses its fix as the robot
    # submerges, a field filled once): that is how the field is used, not a channel going bad
    valid = good.sum(axis=0)
    mid_bad &= (valid >= int(ctx.t(CAUSE, "min_valid_samples")))[None, :]
    is_mid = mid_bad.any(axis=0)
    mid = flagged[is_mid]
    first_mid = mid_bad[:, is_mid].argmax(axis=0)
    last_bad_idx = len(t) - 1 - mid_bad[::-1, is_mid].argmax(axis=0)
    role_key = signal.role in KEY_ROLES
    kinds = _kinds(signal, flagged)
    if len(mid):
        first_idx = first_mid
        order = np.argsort(first_idx, kind="stable")
        start_i = int(first_idx[order[0]])
        t0 = int(t[start_i])
        names = [signal.channels[i] for i in mid[order]]
        n_bad = int(mid_bad.sum())
        confidence = float(ctx.t(CAUSE, "confidence_mid_run" if role_key else "confidence_other"))
        if n_bad <= 2 and role_key:
            confidence = min(confidence, 0.75)  # a single glitch: real, but less certain
        what = kinds.get(names[0], "NaN")
        shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        after = (t0 - t[0]) / NS
        return Finding(
            cause=CAUSE,
            title=f"{what} values in {signal.stream}",
            explanation=(
                f"{shown} turned {what} at {t0 / NS:.2f} s ({after:.2f} s into the stream, "
                f"{n_bad} bad samples in {len(names)} channel{'s' if len(names) > 1 else ''})."
            ),
            confidence=confidence,
            severity="high" if role_key else "medium",
            t_start_ns=t0,
            t_end_ns=int(t[int(last_bad_idx.max())]),
            channels=[channel_ref(signal.stream, c) for c in names],
            evidence={
                "first_bad_ns": {
                    signal.channels[i]: int(t[j]) for i, j in zip(mid, first_idx, strict=True)
                },
                "bad_samples": {signal.channels[i]: int(counts[i]) for i in mid},
                "samples": len(t),
                "kind": {c: kinds.get(c, "NaN") for c in names},
                "last_good_value": _last_good(signal, bad, mid, first_idx),
                "min_bad_samples": min_bad,
            },
            next_step=(
                f"Look at {names[0]} just before {t0 / NS:.2f} s: a diverging controller, a "
                "division by zero in the policy or a driver publishing invalid values."
            ),
        )
    names = [signal.channels[i] for i in flagged]
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return Finding(
        cause=CAUSE,
        title=f"Unfilled channels in {signal.stream}",
        explanation=(
            f"{shown} {'is' if len(names) == 1 else 'are'} NaN/Inf from the first sample: "
            "probably unused fields, not a fault."
        ),
        confidence=float(ctx.t(CAUSE, "confidence_from_start")),
        severity="info",
        t_start_ns=int(t[0]),
        channels=[channel_ref(signal.stream, c) for c in names],
        evidence={
            "bad_samples": {signal.channels[i]: int(counts[i]) for i in flagged},
            "samples": len(t),
        },
        next_step="Check whether these fields are meant to be filled; otherwise ignore them.",
    )


def _kinds(signal: Signal, cols: np.ndarray) -> dict[str, str]:
    """Channel name -> "NaN", "Inf" or "NaN/Inf" for the bad columns."""
    out: dict[str, str] = {}
    for col in cols:
        column = signal.values[:, col]
        nan, inf = bool(np.isnan(column).any()), bool(np.isinf(column).any())
        out[signal.channels[col]] = "NaN/Inf" if nan and inf else "Inf" if inf else "NaN"
    return out


def _last_good(
    signal: Signal, bad: np.ndarray, cols: np.ndarray, first_idx: np.ndarray
) -> dict[str, float | None]:
    """Each channel's last finite value before it went bad (what it was doing)."""
    out: dict[str, float | None] = {}
    for col, idx in zip(cols, first_idx, strict=True):
        good = np.flatnonzero(~bad[:idx, col])
        out[signal.channels[col]] = float(signal.values[good[-1], col]) if len(good) else None
    return out
