"""Calibrated confidence for range excursions: how often would a clean episode of this robot
stray this far beyond the others, on any of the channels it could stray on?

The robot's own episodes answer it, leave one out (split conformal): each other episode gets a
score — how far it goes beyond all the rest, as a fraction of their range, on its most unusual
channel — and an excursion's p-value is the share of those scores at least as large. Taking
the maximum over channels inside the score counts every channel an ordinary run could have
strayed on, without a Bonferroni factor that makes a robot with many joints never confident.

A handful of episodes cannot show a 1-in-100 event, so beyond the largest score the tail is
extrapolated: the share of episodes that stray at all, times an exponential fall-off whose
scale is how far those that stray typically go. The confidence maps that p-value so that 0.5
means the same on every robot: about one clean episode in ``false_alarm_rate`` crosses it.
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

    def p_value(self, channel: str, excess: float, floor_scale: float) -> float:
        """Chance that a clean episode strays at least ``excess`` on one of the channels."""
        if self.aligned:
            return tail_p(self.scores, excess, floor_scale)
        own = self.per_channel.get(channel, np.zeros(0))
        return min(1.0, self.channels * tail_p(own, excess, floor_scale))


def tail_p(scores: np.ndarray, excess: float, floor_scale: float) -> float:
    """Conformal p-value of ``excess`` among ``scores`` (1 + beaten)/(n + 1); beyond every
    score, the exponential tail fitted to the scores that stray at all (its scale at least
    ``floor_scale``), never above the conformal bound."""
    n = len(scores)
    if n == 0:
        return 1.0
    empirical = (1 + int(np.sum(scores >= excess))) / (n + 1)
    if empirical > 1 / (n + 1):
        return empirical
    strayed = scores[scores > 0]
    share = (1 + len(strayed)) / (n + 1)
    scale = max(float(np.mean(strayed)) if len(strayed) else 0.0, floor_scale)
    return min(empirical, share * math.exp(-excess / scale))


def confidence(p_value: float, rate: float) -> float:
    """0.5 where a clean episode does this with probability ``rate``; +0.15 for each ten
    times rarer, −0.15 for each ten times more common; within [0.2, 0.9]."""
    p = max(p_value, 1e-12)
    return float(np.clip(0.5 + 0.15 * math.log10(rate / p), 0.2, 0.9))
