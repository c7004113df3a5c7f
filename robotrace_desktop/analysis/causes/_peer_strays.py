"""How far the robot's ordinary episodes stray beyond each other: the null distribution a range
excursion is weighed against when the run logged a failure just after it, calibrated leave one
episode out.

"Does an ordinary run of this robot go this far beyond the others on a single channel?" is a
question about whole episodes. Asked channel by channel and multiplied by the number of
channels (Bonferroni), it treats a humanoid's 26 correlated joints as 26 independent chances;
asked of the peers' own episodes, it is answered as it is. Each peer's stray beyond the range
of all the other peers (as a fraction of that range) on its one unusual channel — none when it
leaves the range on many channels, a different set-up the detector never blames — is one draw
of "how unusual an ordinary episode looks"; the episode explained is exchangeable with them,
so the share of peers that stray at least as far is a conformal p-value (1/(N+1) at best).
"""

from __future__ import annotations

import warnings

import numpy as np


def leave_one_out(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(peers × channels) how far each peer goes beyond the range of all the OTHER peers, as a
    fraction of that range (0 inside it; NaN where the peer lacks the channel, fewer than two
    other peers have it or their range is empty)."""
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    if lo.ndim != 2 or lo.shape[0] < 3:
        return np.full(lo.shape, np.nan)
    ok = np.isfinite(lo) & np.isfinite(hi)
    low = np.where(ok, lo, np.inf)
    high = np.where(ok, -hi, np.inf)  # negated: the largest high is the smallest here
    rest_lo = _without_self(low)
    rest_hi = -_without_self(high)
    span = rest_hi - rest_lo
    with np.errstate(invalid="ignore", divide="ignore"):
        beyond = np.maximum(np.maximum(hi - rest_hi, rest_lo - lo), 0.0)
        stray = beyond / span
    usable = ok & (ok.sum(axis=0) >= 3) & np.isfinite(span) & (span > 1e-12)
    return np.where(usable, stray, np.nan)


def _without_self(values: np.ndarray) -> np.ndarray:
    """Per cell: the column's minimum over the OTHER rows (the smallest, or the second smallest
    for the row that holds the smallest)."""
    order = np.argsort(values, axis=0, kind="stable")
    cols = np.arange(values.shape[1])
    first = values[order[0], cols]
    second = values[order[1], cols]
    rest = np.broadcast_to(first, values.shape).copy()
    rest[order[0], cols] = second
    return rest


def typical_strays(strays: np.ndarray) -> np.ndarray:
    """Per channel: the most an ordinary episode strays beyond the rest, ignoring the single
    most unusual one when there are five or more (one odd run must not hide every excursion)."""
    finite = np.isfinite(strays)
    if strays.shape[0] == 0:
        return np.zeros(strays.shape[1])
    ordered = np.sort(np.where(finite, strays, -np.inf), axis=0)
    counts = finite.sum(axis=0)
    top = ordered[-1]
    second = ordered[-2] if strays.shape[0] >= 2 else top
    return np.where(counts >= 5, second, np.where(counts > 0, top, 0.0))


class Envelope:
    """The peers' envelope of one stream's tested channels and what an ordinary episode does
    with it: per channel the margin an excursion must pass (``allowed``, a fraction of the
    range), and per peer how far it strays on its one unusual channel (``singles``).

    The detector reports an excursion confidently only when the episode leaves the envelope on
    fewer than ``many`` channels (more is a different set-up); the same rule applied to each
    peer makes the peers' strays the null distribution of exactly that decision."""

    def __init__(
        self, lo: np.ndarray, hi: np.ndarray, min_excess: float, over_normal: float, many: int
    ) -> None:
        self.lo = np.asarray(lo, dtype=np.float64)
        self.hi = np.asarray(hi, dtype=np.float64)
        self.many = many
        strays = leave_one_out(self.lo, self.hi)
        self.allowed = np.maximum(min_excess, over_normal * typical_strays(strays))
        finite = np.isfinite(strays)
        usable = finite.any(axis=1)
        beyond = (np.where(finite, strays, 0.0) > self.allowed).sum(axis=1)
        largest = np.max(np.where(finite, strays, -np.inf), axis=1, initial=-np.inf)
        single = np.where(beyond < many, largest, -np.inf)
        self.singles = single[usable]

    def channels_beyond(self, lo: np.ndarray, hi: np.ndarray) -> int:
        """How many channels an episode's own (min, max) take beyond the peers' envelope by
        more than their margins (the peers' count, so the two are compared alike)."""
        ok = np.isfinite(self.lo) & np.isfinite(self.hi)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a channel no peer has
            env_lo = np.nanmin(np.where(ok, self.lo, np.nan), axis=0)
            env_hi = np.nanmax(np.where(ok, self.hi, np.nan), axis=0)
            span = env_hi - env_lo
            beyond = np.maximum(np.maximum(hi - env_hi, env_lo - lo), 0.0) / span
        usable = np.isfinite(beyond) & (span > 1e-12)
        return int(np.count_nonzero(usable & (beyond > self.allowed)))


def p_value(excess: float, strays: np.ndarray) -> float:
    """Conformal p-value of an episode straying ``excess`` beyond the others, given the peers'
    own strays (``Envelope.singles``): the share of the N+1 episodes (the peers and this one)
    that stray at least as far."""
    return float((1 + np.count_nonzero(strays >= excess)) / (strays.size + 1))
