"""Range-excursion confidence calibrated on the robot's own episodes (issue 13): "≥ 0.5" must
mean about one clean episode in a hundred, whatever the number of joints or episodes.

Synthetic robots make the rate measurable: every episode's per-joint (min, max) drawn from the
same distribution (exchangeable, as clean episodes are), each episode judged against all the
others exactly as ``joint_limits`` judges a new one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.analysis.causes._calibration import (
    ExcursionScores,
    confidence,
    loo_excess,
    tail_p,
)
from robotrace_desktop.analysis.data import EpisodeData
from robotrace_desktop.analysis.peer_explain import explain_with_peers
from tests.analysis.faults import Fault, FaultySource
from tests.analysis.heldout import signals as sig
from tests.analysis.heldout.robots import load_robots
from tests.analysis.heldout.scoring import RobotData, default_thresholds

MIN_EXCESS = 0.08  # joint_limits' default gate: a stray smaller than this is never reported
SCALE_MIN = 0.02


def _episode_confidence(lo: np.ndarray, hi: np.ndarray, e: int) -> float:
    """The highest confidence episode ``e`` gets on any joint, the others as its history."""
    others = np.arange(len(lo)) != e
    scores = ExcursionScores(
        {f"j{c}": list(zip(lo[others, c], hi[others, c], strict=True)) for c in range(lo.shape[1])}
    )
    best = 0.0
    for c in range(lo.shape[1]):
        rest_lo, rest_hi = lo[others, c].min(), hi[others, c].max()
        excess = max(hi[e, c] - rest_hi, rest_lo - lo[e, c], 0.0) / (rest_hi - rest_lo)
        if excess >= MIN_EXCESS:
            best = max(best, confidence(scores.p_value(f"j{c}", excess, SCALE_MIN), 0.01))
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_about_one_clean_episode_in_a_hundred_gets_a_confident_excursion(seed: int) -> None:
    """100 episodes of a 26-joint robot whose extremes have heavy (exponential) tails — the
    kind of spread where a fixed margin flags several episodes in a hundred."""
    rng = np.random.default_rng(seed)
    shape = (100, 26)
    lo = -1.0 - 0.1 * rng.exponential(1.0, shape)
    hi = 1.0 + 0.1 * rng.exponential(1.0, shape)
    confident = [e for e in range(len(lo)) if _episode_confidence(lo, hi, e) >= 0.5]
    assert len(confident) <= 2


def test_a_stray_clean_episodes_make_is_not_confident_but_far_beyond_them_is() -> None:
    """19 other episodes, most of which stray beyond the rest by up to a third of the range
    (as the G1's do): 15 % beyond is what they do; three times their largest stray is not."""
    normal = np.array([0.32, 0.30, 0.16, 0.14, 0.11, 0.1, 0.09, 0.05, 0.04, 0.03] + [0.0] * 9)
    assert confidence(tail_p(normal, 0.15, SCALE_MIN), 0.01) < 0.5
    assert confidence(tail_p(normal, 1.0, SCALE_MIN), 0.01) >= 0.5


def test_the_p_value_never_claims_more_than_the_episodes_show() -> None:
    """Inside the clean episodes' scores it is the conformal share (1 + beaten)/(n + 1);
    beyond them the extrapolated tail never exceeds 1/(n + 1)."""
    scores = np.array([0.0, 0.0, 0.05, 0.1, 0.2])
    assert tail_p(scores, 0.08, SCALE_MIN) == pytest.approx(3 / 6)
    assert tail_p(scores, 0.3, SCALE_MIN) <= 1 / 6
    assert tail_p(scores, 0.6, SCALE_MIN) < tail_p(scores, 0.3, SCALE_MIN)


def test_leave_one_out_excess_is_how_far_each_strays_beyond_the_rest() -> None:
    ranges = [(0.0, 1.0), (0.0, 1.2), (-0.5, 1.0)]
    excess = loo_excess(ranges)
    # the second goes 0.2 beyond the others' (-0.5, 1.0), a range of 1.5
    assert excess.tolist() == pytest.approx([0.0, 0.2 / 1.5, 0.5 / 1.2])


def test_channels_that_cannot_be_lined_up_are_judged_one_by_one() -> None:
    """Episodes missing a channel: the per-episode maximum cannot be formed, so each channel's
    own p-value is multiplied by the number of channels (never more confident)."""
    aligned = ExcursionScores({"a": [(0, 1)] * 9 + [(0, 1.1)], "b": [(0, 1)] * 10})
    ragged = ExcursionScores({"a": [(0, 1)] * 9 + [(0, 1.1)], "b": [(0, 1)] * 8})
    assert not ragged.aligned and aligned.aligned
    assert ragged.p_value("a", 0.05, SCALE_MIN) >= aligned.p_value("a", 0.05, SCALE_MIN)


def test_an_inf_reading_is_no_excursion(shared_data: Path) -> None:
    """A position turning Inf is a NaN/Inf fault (nan_inf names it), not a joint going
    infinitely far beyond every other episode."""
    husky = RobotData(load_robots(shared_data, ("Husky",))["Husky"])
    base = husky.robot.bases[3]
    odom = "/husky_velocity_controller/odom"
    chunk = base.source.signals[odom]
    t0 = int(chunk.t_ns[len(chunk.t_ns) // 2])
    delta = np.where(chunk.t_ns >= t0, np.inf, 0.0)
    fault = Fault("nan_inf", t0, odom, "pose.pose.position.x")
    fault.edits[odom] = lambda c: sig.add_to_channel(c, "pose.pose.position.x", delta)
    source = FaultySource(base.source, fault)
    findings = explain_with_peers(
        EpisodeData(source.info, source), husky.peers(base), default_thresholds()
    )
    assert findings[0].cause == "nan_inf"
    assert [f for f in findings if f.cause == "range_excursion"] == []
