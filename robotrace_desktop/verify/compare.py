"""From per-episode numbers to the two views a release engineer needs: one summary row per
metric (baseline, candidate, delta, interval, better or worse) and one diff per episode pair,
scored so the worst regressions come first."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from robotrace_desktop.core.links import EpisodeLink
from robotrace_desktop.verify import stats
from robotrace_desktop.verify.gate import GateConfig, outcome_counts
from robotrace_desktop.verify.matching import Pair
from robotrace_desktop.verify.model import EpisodeMetrics, MetricComparison, PairDiff, RerollResult

#: regression score weights: a person reads the pairs worst first
SEVERITY_WEIGHT = {"critical": 5.0, "high": 3.0, "medium": 1.0, "low": 0.25, "info": 0.0}
OUTCOME_FLIP = 10.0
POLICY_ERROR = 8.0
MUST_LOOK_SEVERITIES = ("critical", "high")


@dataclass(frozen=True, slots=True)
class _Numeric:
    metric: str
    label: str
    unit: str
    higher_is_better: bool | None  # None: informational, never "better"/"worse"
    value: Callable[[EpisodeMetrics], float | None]


NUMERIC = (
    _Numeric("duration_s", "Duration", "s", None, lambda m: m.duration_s),
    _Numeric(
        "time_to_goal_s", "Time to goal (successful runs)", "s", False, lambda m: m.time_to_goal_s
    ),
    _Numeric("reward", "Total reward", "", True, lambda m: m.reward),
    _Numeric("jerk", "Action jerk (RMS)", "1/s³", False, lambda m: m.jerk),
    _Numeric(
        "tracking_error",
        "Tracking error (mean |measured − commanded|)",
        "",
        False,
        lambda m: m.tracking_error,
    ),
)


def compare_metrics(
    baseline: Sequence[EpisodeMetrics],
    candidate: Sequence[EpisodeMetrics],
    rerolls: Sequence[RerollResult],
    gate: GateConfig,
) -> list[MetricComparison]:
    rows: list[MetricComparison] = []
    confidence = gate.confidence
    if candidate:
        rows.append(_success_row(baseline, candidate, confidence))
        for numeric in NUMERIC:
            row = _numeric_row(numeric, baseline, candidate, confidence)
            if row is not None:
                rows.append(row)
        rows.extend(_cause_rows(baseline, candidate, confidence))
    rows.extend(_reroll_rows(rerolls, confidence))
    return rows


def _success_row(
    baseline: Sequence[EpisodeMetrics], candidate: Sequence[EpisodeMetrics], confidence: float
) -> MetricComparison:
    k_b, n_b = outcome_counts(baseline)
    k_c, n_c = outcome_counts(candidate)
    row = MetricComparison(
        "success_rate",
        "Success rate",
        "%",
        True,
        k_b / n_b if n_b else None,
        k_c / n_c if n_c else None,
        n_b,
        n_c,
    )
    if n_b and n_c:
        row.baseline_interval = stats.wilson_interval(k_b, n_b, confidence)
        row.candidate_interval = stats.wilson_interval(k_c, n_c, confidence)
        _compare_proportions(row, k_b, n_b, k_c, n_c, confidence)
    return row


def _compare_proportions(
    row: MetricComparison, k_b: int, n_b: int, k_c: int, n_c: int, confidence: float
) -> None:
    row.delta = k_c / n_c - k_b / n_b
    row.delta_low, row.delta_high = stats.proportion_diff_interval(k_b, n_b, k_c, n_c, confidence)
    _, row.p_value = stats.two_proportion_test(k_b, n_b, k_c, n_c)
    row.better = _verdict(row.delta, row.p_value, confidence, row.higher_is_better)


def _compare_means(
    row: MetricComparison,
    baseline: Sequence[float],
    candidate: Sequence[float],
    confidence: float,
    judged: bool = True,
) -> None:
    """Delta, interval and p of the means; ``better`` only when ``judged``."""
    diff = stats.mean_difference(baseline, candidate, confidence)
    if diff is None:
        return
    row.delta, row.delta_low, row.delta_high, row.p_value = (
        diff.delta,
        diff.low,
        diff.high,
        diff.p_value,
    )
    if judged:
        row.better = _verdict(diff.delta, diff.p_value, confidence, row.higher_is_better)


def _numeric_row(
    numeric: _Numeric,
    baseline: Sequence[EpisodeMetrics],
    candidate: Sequence[EpisodeMetrics],
    confidence: float,
) -> MetricComparison | None:
    b = _values(baseline, numeric.value)
    c = _values(candidate, numeric.value)
    if not b and not c:
        return None
    row = MetricComparison(
        numeric.metric,
        numeric.label,
        numeric.unit,
        bool(numeric.higher_is_better),
        _mean(b),
        _mean(c),
        len(b),
        len(c),
    )
    _compare_means(row, b, c, confidence, judged=numeric.higher_is_better is not None)
    return row


def _cause_rows(
    baseline: Sequence[EpisodeMetrics],
    candidate: Sequence[EpisodeMetrics],
    confidence: float,
) -> list[MetricComparison]:
    causes = sorted({c for m in [*baseline, *candidate] for c in m.causes})
    rows = []
    n_b, n_c = len(baseline), len(candidate)
    for cause in causes:
        k_b = sum(cause in m.causes for m in baseline)
        k_c = sum(cause in m.causes for m in candidate)
        row = MetricComparison(
            f"cause:{cause}",
            f"Rate of {cause_label(cause)}",
            "%",
            False,
            k_b / n_b if n_b else None,
            k_c / n_c if n_c else None,
            n_b,
            n_c,
        )
        if n_b and n_c:
            _compare_proportions(row, k_b, n_b, k_c, n_c, confidence)
        rows.append(row)
    return rows


def cause_label(cause: str) -> str:
    """``action_saturation`` → ``action saturation`` (finding titles name channels; a rate
    is per cause)."""
    return cause.replace("_", " ")


def _reroll_rows(rerolls: Sequence[RerollResult], confidence: float) -> list[MetricComparison]:
    done = [r for r in rerolls if r.error is None and r.steps > 0]
    if not rerolls:
        return []
    rows = []
    n = len(done)
    specs = (
        (
            "reroll_action_error",
            "Re-roll: action error (baseline std)",
            "",
            lambda r: 0.0,
            lambda r: r.mean_error_z,
        ),
        ("reroll_l2", "Re-roll: action L2 distance", "", lambda r: 0.0, lambda r: r.mean_l2),
        (
            "reroll_ood_share",
            "Re-roll: steps out of distribution",
            "%",
            lambda r: r.recorded_ood_share,
            lambda r: r.ood_share,
        ),
        (
            "reroll_jerk",
            "Re-roll: action jerk (RMS)",
            "1/s³",
            lambda r: r.recorded_jerk,
            lambda r: r.jerk,
        ),
    )
    for metric, label, unit, recorded, replayed in specs:
        b = [v for r in done if (v := recorded(r)) is not None and math.isfinite(v)]
        c = [v for r in done if (v := replayed(r)) is not None and math.isfinite(v)]
        if not c:
            continue
        row = MetricComparison(metric, label, unit, False, _mean(b), _mean(c), len(b), len(c))
        if metric in ("reroll_action_error", "reroll_l2"):
            # the recorded actions' error against themselves is 0 by definition: no test
            # against 0, the gate's bound judges it
            row.delta = row.candidate
        else:
            _compare_means(row, b, c, confidence)
        rows.append(row)
    failed = len(rerolls) - n
    rows.append(
        MetricComparison(
            "reroll_policy_errors",
            "Re-roll: episodes where the policy failed",
            "",
            False,
            0.0,
            float(failed),
            len(rerolls),
            len(rerolls),
            float(failed),
            better=False if failed else None,
        )
    )
    return rows


def _verdict(
    delta: float, p: float | None, confidence: float, higher_is_better: bool
) -> bool | None:
    if p is None or p >= 1.0 - confidence or delta == 0:
        return None
    return (delta > 0) == higher_is_better


def _values(
    metrics: Sequence[EpisodeMetrics], get: Callable[[EpisodeMetrics], float | None]
) -> list[float]:
    return [v for m in metrics if (v := get(m)) is not None and math.isfinite(v)]


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


# ---------------------------------------------------------------- per pair


def pair_diffs(
    pairs: Sequence[Pair],
    metrics: Mapping[str, EpisodeMetrics],
    rerolls: Mapping[str, RerollResult],
    names: Mapping[str, str],
    gate: GateConfig,
) -> list[PairDiff]:
    """One PairDiff per baseline episode that has a counterpart, worst regression first."""
    out: list[PairDiff] = []
    for pair in pairs:
        reroll = rerolls.get(pair.baseline_id)
        if pair.candidate_id is None and reroll is None:
            continue
        out.append(_pair_diff(pair, metrics, reroll, names, gate))
    out.sort(key=lambda d: (-d.regression, d.baseline_name, d.baseline_id))
    return out


def _pair_diff(
    pair: Pair,
    metrics: Mapping[str, EpisodeMetrics],
    reroll: RerollResult | None,
    names: Mapping[str, str],
    gate: GateConfig,
) -> PairDiff:
    diff = PairDiff(
        baseline_id=pair.baseline_id,
        candidate_id=pair.candidate_id,
        replay_id=reroll.replay_id if reroll else None,
        matched_on=list(pair.matched_on),
        baseline_name=names.get(pair.baseline_id, pair.baseline_id),
        candidate_name=names.get(pair.candidate_id or "", "")
        or (names.get(reroll.replay_id or "", "") if reroll else ""),
    )
    notes: list[str] = []
    score = 0.0
    must_look = False
    moment: tuple[str, int | None] | None = None
    base = metrics.get(pair.baseline_id)
    cand = metrics.get(pair.candidate_id) if pair.candidate_id else None
    if base is not None and cand is not None:
        diff.diffs["outcome"] = f"{base.outcome} → {cand.outcome}"
        if base.outcome == "success" and cand.outcome == "failure":
            score += OUTCOME_FLIP
            must_look = True
            notes.append("success → failure")
            moment = (cand.episode_id, cand.failure_time_ns or cand.first_finding_ns)
        elif base.outcome == "failure" and cand.outcome == "success":
            notes.append("failure → success")
        for numeric in NUMERIC:
            b, c = numeric.value(base), numeric.value(cand)
            if b is not None and c is not None and math.isfinite(b) and math.isfinite(c):
                diff.diffs[numeric.metric] = c - b
        new = sorted(set(cand.causes) - set(base.causes))
        diff.new_causes = new
        for cause in new:
            severity = cand.causes[cause]
            score += SEVERITY_WEIGHT.get(severity, 0.0)
            if severity in MUST_LOOK_SEVERITIES:
                must_look = True
            when = cand.cause_times.get(cause)
            notes.append(f"new {cause}" + (f" at {when / 1e9:.2f} s" if when is not None else ""))
            if moment is None or moment[1] is None:
                moment = (cand.episode_id, when)
        duration = diff.diffs.get("duration_s")
        if duration is not None and base.duration_s > 0 and duration > 0:
            score += min(1.0, duration / base.duration_s)  # slower: a mild regression
    if reroll is not None:
        score, must_look, moment = _reroll_part(reroll, diff, notes, score, must_look, moment, gate)
    diff.regression = round(max(0.0, score), 4)
    diff.regressed = must_look
    diff.summary = "; ".join(notes) if notes else "no regression"
    if moment is not None:
        episode, t_ns = moment
        diff.moment_ns = t_ns
        diff.link = EpisodeLink(episode, t_ns).url()
    elif diff.candidate_id or diff.replay_id:
        diff.link = EpisodeLink(diff.candidate_id or diff.replay_id or "", None).url()
    return diff


def _reroll_part(
    reroll: RerollResult,
    diff: PairDiff,
    notes: list[str],
    score: float,
    must_look: bool,
    moment: tuple[str, int | None] | None,
    gate: GateConfig,
) -> tuple[float, bool, tuple[str, int | None] | None]:
    rule = gate.reroll
    target = reroll.replay_id
    if reroll.error is not None:
        notes.append(f"policy failed: {reroll.error}")
        return score + POLICY_ERROR, True, moment
    diff.diffs["reroll_mean_error_z"] = reroll.mean_error_z
    diff.diffs["reroll_ood_share"] = reroll.ood_share
    diff.diffs["reroll_first_divergence_s"] = (
        None if reroll.first_divergence_ns is None else reroll.first_divergence_ns / 1e9
    )
    ood = reroll.ood_share or 0.0
    error = reroll.mean_error_z or 0.0
    score += 5.0 * ood + min(3.0, error / max(rule.max_mean_action_error, 1e-9))
    if ood > rule.max_ood_share or error > rule.max_mean_action_error:
        must_look = True
        notes.append(
            f"re-roll {ood:.0%} out of distribution, error {error:.2g} std"
            + (
                f", diverges at {reroll.first_divergence_ns / 1e9:.2f} s"
                if reroll.first_divergence_ns is not None
                else ""
            )
        )
    if target is not None and (moment is None or moment[1] is None):
        moment = (target, reroll.first_divergence_ns)
    return score, must_look, moment
