"""Calibrated confidence for range excursions: how often would a clean episode of this robot
stray this far beyond the others, on any of the channels it could stray on?

The robot's own episodes answer it, leave one out (split conformal): each other episode gets a
score — how far it goes beyond all the rest, as a fraction of their range, on its most unusual
channel — and an excursion's p-value is the share of those scores at least as large. Taking
the maximum over channels inside the score counts every channel an ordinary run could have
strayed on, without a Bonferroni factor that makes a robot with many joints never confident.

A handful of episodes cannot show a 1-in-100 event, so beyond the largest score the tail is
extrapolated: an exponential fall-off fitted to the largest scores (peaks over a threshold).
The confidence maps that p-value so that 0.5 means the same on every robot: about one clean
episode in ``false_alarm_rate`` crosses it. The tail is a model, so ``joint_limits`` also asks
that a confident excursion go twice as far as any other episode ever strayed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Range = tuple[float, float]


def loo_excess(ranges: Sequence[Range]) -> np.ndarray:
    """How far each episode strays beyond all the others, as a fraction of the others'
    range (vectorised: the others' extremes are the overall ones unless the episode left out
    holds them)."""
    if len(ranges) < 2:
        return np.zeros(len(ranges))
    lo = np.array([r[0] for r in ranges], dtype=np.float64)
    hi = np.array([r[1] for r in ranges], dtype=np.float64)
    lo_order = np.argsort(lo, kind="stable")
    hi_order = np.argsort(-hi, kind="stable")
    rest_lo = np.full(len(lo), lo[lo_order[0]])
    rest_lo[lo_order[0]] = lo[lo_order[1]]
    rest_hi = np.full(len(hi), hi[hi_order[0]])
    rest_hi[hi_order[0]] = hi[hi_order[1]]
    span = rest_hi - rest_lo
    beyond = np.maximum(np.maximum(hi - rest_hi, rest_lo - lo), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(span > 1e-12, beyond / span, 0.0)


class ExcursionScores:
    """The other episodes' leave-one-out scores for one stream's tested channels.

    ``per_channel`` holds, for every tested channel, each other episode's (min, max) — in
    the same episode order when every channel has one per episode (then an episode's score is
    its largest excess over its channels). When the lists differ in length the episodes cannot
    be lined up: each channel is scored on its own and the p-value multiplied by the number of
    channels (conservative)."""

    def __init__(self, per_channel: dict[str, Sequence[Range]]) -> None:
        lengths = {len(r) for r in per_channel.values()}
        self.channels = max(1, len(per_channel))
        self.aligned = len(lengths) == 1
        self.per_channel = {c: loo_excess(r) for c, r in per_channel.items()}
        self.episodes = next(iter(lengths)) if self.aligned else 0
        if self.aligned and self.per_channel:
            self.scores = np.max(np.column_stack(list(self.per_channel.values())), axis=1)
        else:
            self.scores = np.zeros(0)

    def largest(self, channel: str) -> float:
        """The most any other episode strays beyond the rest (on any channel when aligned)."""
        own = self.scores if self.aligned else self.per_channel.get(channel, np.zeros(0))
        return float(np.max(own)) if len(own) else 0.0

    def p_value(self, channel: str, excess: float, floor_scale: float) -> float:
        """Chance that a clean episode strays at least ``excess`` on one of the channels."""
        if self.aligned:
            return tail_p(self.scores, excess, floor_scale)
        own = self.per_channel.get(channel, np.zeros(0))
        return min(1.0, self.channels * tail_p(own, excess, floor_scale))


def tail_p(scores: np.ndarray, excess: float, floor_scale: float) -> float:
    """Conformal p-value of ``excess`` among ``scores`` (1 + beaten)/(n + 1); beyond every
    score, an exponential tail fitted to the largest ones (peaks over a threshold: the k
    largest, k ≈ a tenth of them and at least 3, over the next one; its scale at least
    ``floor_scale``), never above the conformal bound. The largest scores alone say how
    heavy the tail is: the many episodes that stray by a hair would make it look light."""
    n = len(scores)
    if n == 0:
        return 1.0
    empirical = (1 + int(np.sum(scores >= excess))) / (n + 1)
    if empirical > 1 / (n + 1):
        return empirical
    ordered = np.sort(scores)[::-1]
    k = min(max(3, math.ceil(0.1 * n)), n - 1)
    if k < 1:
        return empirical
    threshold = float(ordered[k])
    scale = max(float(np.mean(ordered[:k] - threshold)), floor_scale)
    return min(empirical, (k + 1) / (n + 1) * math.exp(-(excess - threshold) / scale))


def confidence(p_value: float, rate: float) -> float:
    """0.5 where a clean episode does this with probability ``rate``; +0.15 for each ten
    times rarer, −0.15 for each ten times more common; within [0.2, 0.9]."""
    p = max(p_value, 1e-12)
    return float(np.clip(0.5 + 0.15 * math.log10(rate / p), 0.2, 0.9))
