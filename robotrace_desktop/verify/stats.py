"""The statistics behind a verdict: proportion intervals and tests, mean differences.

Deliberately stdlib-only (``statistics.NormalDist``): episodes come in hundreds or thousands, where
normal approximations are accurate, and Wilson / Newcombe intervals behave at rates near 0 or 1
(a candidate with 100 % success on 20 runs does not get a zero-width interval).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

_STANDARD = NormalDist()


def z_for(confidence: float) -> float:
    """Two-sided critical value: 1.96 for 0.95."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), not {confidence}")
    return _STANDARD.inv_cdf(0.5 + confidence / 2.0)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion; (0, 1) when there is no data."""
    if n <= 0:
        return (0.0, 1.0)
    z = z_for(confidence)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def proportion_diff_interval(
    k_base: int, n_base: int, k_cand: int, n_cand: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Newcombe's hybrid score interval for p_cand − p_base (method 10)."""
    lo_b, hi_b = wilson_interval(k_base, n_base, confidence)
    lo_c, hi_c = wilson_interval(k_cand, n_cand, confidence)
    p_b = k_base / n_base if n_base else 0.0
    p_c = k_cand / n_cand if n_cand else 0.0
    delta = p_c - p_b
    low = delta - math.sqrt((p_c - lo_c) ** 2 + (hi_b - p_b) ** 2)
    high = delta + math.sqrt((hi_c - p_c) ** 2 + (p_b - lo_b) ** 2)
    return (max(-1.0, low), min(1.0, high))


def two_proportion_test(k_base: int, n_base: int, k_cand: int, n_cand: int) -> tuple[float, float]:
    """Pooled two-proportion z-test of "same rate": (z of cand − base, two-sided p)."""
    if n_base <= 0 or n_cand <= 0:
        return (0.0, 1.0)
    pooled = (k_base + k_cand) / (n_base + n_cand)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_base + 1 / n_cand))
    delta = k_cand / n_cand - k_base / n_base
    if se == 0.0:
        return (0.0, 1.0) if delta == 0 else (math.copysign(math.inf, delta), 0.0)
    z = delta / se
    return (z, 2.0 * (1.0 - _STANDARD.cdf(abs(z))))


def one_sided_p_drop(k_base: int, n_base: int, k_cand: int, n_cand: int, margin: float) -> float:
    """p-value of "the candidate's rate is NOT lower by more than ``margin``" (unpooled z).

    Small p: strong evidence the drop exceeds the margin. Used by the gate so that a noisy
    small sample does not fail a release on a drop that is within chance.
    """
    if n_base <= 0 or n_cand <= 0:
        return 1.0
    p_b, p_c = k_base / n_base, k_cand / n_cand
    se = math.sqrt(p_b * (1 - p_b) / n_base + p_c * (1 - p_c) / n_cand)
    drop = p_b - p_c
    if se == 0.0:
        return 0.0 if drop > margin else 1.0
    return 1.0 - _STANDARD.cdf((drop - margin) / se)


@dataclass(frozen=True, slots=True)
class MeanDiff:
    baseline: float
    candidate: float
    delta: float
    low: float
    high: float
    p_value: float


def mean_difference(
    baseline: Sequence[float], candidate: Sequence[float], confidence: float = 0.95
) -> MeanDiff | None:
    """Welch-style difference of means with a normal-approximation interval; None without data.

    With a single value on a side the spread of the other side stands in for it (an honest
    wide interval rather than none).
    """
    b = [float(v) for v in baseline if v is not None and math.isfinite(v)]
    c = [float(v) for v in candidate if v is not None and math.isfinite(v)]
    if not b or not c:
        return None
    mb, mc = sum(b) / len(b), sum(c) / len(c)
    vb, vc = _variance(b), _variance(c)
    if vb is None:
        vb = vc or 0.0
    if vc is None:
        vc = vb
    se = math.sqrt(vb / len(b) + vc / len(c))
    delta = mc - mb
    if se == 0.0:
        p = 1.0 if delta == 0 else 0.0
        return MeanDiff(mb, mc, delta, delta, delta, p)
    z = z_for(confidence)
    p = 2.0 * (1.0 - _STANDARD.cdf(abs(delta) / se))
    return MeanDiff(mb, mc, delta, delta - z * se, delta + z * se, p)


def _variance(values: Sequence[float]) -> float | None:
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)
