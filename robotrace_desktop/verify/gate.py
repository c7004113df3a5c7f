"""The deploy gate: thresholds from a TOML file with documented defaults, applied to a run.

Each rule becomes one ``GateCheck`` (a JUnit test case, a row in the report); the verdict is
"pass" only when every check passed, "fail" when any failed, and "inconclusive" when none failed
but one could not be evaluated (no data for it) — unless ``allow_inconclusive`` says to treat
those as passed. A gate never passes what it did not check. Statistical rules fail on
*evidence* of a regression at the configured confidence, so a small, noisy sample does not
block a release on chance alone — unless ``require_non_inferiority`` asks for evidence of the
opposite.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from robotrace_desktop.core.finding import SEVERITIES
from robotrace_desktop.errors import ConfigurationError
from robotrace_desktop.verify import stats
from robotrace_desktop.verify.model import (
    EpisodeMetrics,
    GateCheck,
    MetricComparison,
    PairDiff,
    RerollResult,
    Verdict,
)

DEFAULT_TEXT = """\
# RoboTrace verify gate. Every key is optional: a missing key keeps the default shown here.
# Rates and shares are fractions (0.02 = 2 points).

# Confidence level of every statistical test below.
confidence = 0.95
# A check the data cannot answer (no episode with a known outcome, no re-roll step, no action
# stream to measure jerk on) is "inconclusive", and so is the verdict when no check failed:
# verify exits 3, not 0. true: count inconclusive checks as passed (same as
# --allow-inconclusive).
allow_inconclusive = false

[success_rate]
# Fail when the data show, at `confidence`, that the candidate's success rate is lower than the
# baseline's by more than this (one-sided test against the margin).
max_drop = 0.02
# true: fail unless the data show the drop is at most max_drop (non-inferiority; needs many
# episodes per side to pass).
require_non_inferiority = false

[findings]
# A cause with a confident finding of one of these severities in a candidate episode, but in no
# baseline episode, fails the gate.
block_new = ["critical"]
# Fail when the share of episodes with a cause of these severities rises by more than
# max_rate_increase, significantly at `confidence`.
rate_severities = ["critical", "high"]
max_rate_increase = 0.05

[smoothness]
# Fail when the candidate's mean action jerk (RMS third derivative of the actions) is higher
# than the baseline's by more than this share of the baseline's, significantly at `confidence`
# (0.25 = 25 % rougher). Applies to recorded candidate episodes and to re-rolls (candidate
# actions vs the recorded ones).
max_jerk_increase = 0.25

[pairs]
# Fail when more than this share of the episode pairs regressed ("must look": success →
# failure, a new critical/high finding, a policy error, a re-roll out of distribution or off
# by more than the limits below).
max_regressed_share = 0.10

[reroll]
# Mean share of re-rolled steps whose candidate action is out of the baseline's action
# distribution (any channel with |z| > ood_z).
max_ood_share = 0.05
# Mean per-step action error, in baseline standard deviations (RMS over channels).
max_mean_action_error = 1.0
# Episodes on which the candidate policy may raise.
max_policy_errors = 0
ood_z = 3.0
# A step diverges when its error exceeds this many standard deviations (3 steps in a row).
divergence_z = 1.0
"""


@dataclass(frozen=True, slots=True)
class SuccessRule:
    max_drop: float = 0.02
    require_non_inferiority: bool = False


@dataclass(frozen=True, slots=True)
class FindingsRule:
    block_new: tuple[str, ...] = ("critical",)
    rate_severities: tuple[str, ...] = ("critical", "high")
    max_rate_increase: float = 0.05


@dataclass(frozen=True, slots=True)
class SmoothnessRule:
    max_jerk_increase: float = 0.25


@dataclass(frozen=True, slots=True)
class PairsRule:
    max_regressed_share: float = 0.10


@dataclass(frozen=True, slots=True)
class RerollRule:
    max_ood_share: float = 0.05
    max_mean_action_error: float = 1.0
    max_policy_errors: int = 0
    ood_z: float = 3.0
    divergence_z: float = 1.0


@dataclass(frozen=True, slots=True)
class GateConfig:
    confidence: float = 0.95
    allow_inconclusive: bool = False
    success_rate: SuccessRule = field(default_factory=SuccessRule)
    findings: FindingsRule = field(default_factory=FindingsRule)
    smoothness: SmoothnessRule = field(default_factory=SmoothnessRule)
    pairs: PairsRule = field(default_factory=PairsRule)
    reroll: RerollRule = field(default_factory=RerollRule)


def write_default_gate(path: Path) -> Path:
    path = Path(path)
    if path.exists():
        raise ConfigurationError(f"{path} already exists; not overwriting it")
    path.write_text(DEFAULT_TEXT, encoding="utf-8")
    return path


def load_gate(path: Path | str | None) -> GateConfig:
    """The defaults, overridden by ``path``. Unknown keys and wrong types name the file/key."""
    if path is None:
        return GateConfig()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"gate file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"gate file {path}: cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"gate file {path}: not valid TOML ({exc})") from None
    sections = {
        "success_rate": SuccessRule,
        "findings": FindingsRule,
        "smoothness": SmoothnessRule,
        "pairs": PairsRule,
        "reroll": RerollRule,
    }
    unknown = set(data) - {"confidence", "allow_inconclusive", *sections}
    if unknown:
        raise ConfigurationError(f"gate file {path}: unknown key(s) {sorted(unknown)}")
    values: dict[str, Any] = {}
    if "confidence" in data:
        values["confidence"] = _number(path, "confidence", data["confidence"], 0.5, 0.9999)
    if "allow_inconclusive" in data:
        if not isinstance(data["allow_inconclusive"], bool):
            raise ConfigurationError(f"gate file {path}: allow_inconclusive must be true or false")
        values["allow_inconclusive"] = data["allow_inconclusive"]
    for name, rule in sections.items():
        section = data.get(name, {})
        if not isinstance(section, dict):
            raise ConfigurationError(f"gate file {path}: [{name}] must be a table")
        values[name] = _rule(path, name, rule, section)
    return GateConfig(**values)


def _rule(path: Path, section: str, rule: type, data: dict[str, Any]) -> Any:
    defaults = rule()
    known = {f.name for f in fields(rule)}
    unknown = set(data) - known
    if unknown:
        raise ConfigurationError(
            f"gate file {path}: unknown key(s) {sorted(unknown)} in [{section}]"
        )
    out: dict[str, Any] = {}
    for key, value in data.items():
        where = f"{section}.{key}"
        default = getattr(defaults, key)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigurationError(f"gate file {path}: {where} must be true or false")
            out[key] = value
        elif isinstance(default, tuple):
            if not isinstance(value, list) or any(v not in SEVERITIES for v in value):
                raise ConfigurationError(
                    f"gate file {path}: {where} must be a list of severities {list(SEVERITIES)}"
                )
            out[key] = tuple(value)
        elif (
            isinstance(default, int)
            and not isinstance(default, bool)
            and key.startswith("max_policy")
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigurationError(f"gate file {path}: {where} must be an integer ≥ 0")
            out[key] = value
        else:
            out[key] = _number(path, where, value, 0.0, None)
    return rule(**{**{f.name: getattr(defaults, f.name) for f in fields(rule)}, **out})


def _number(path: Path, where: str, value: Any, low: float, high: float | None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"gate file {path}: {where} must be a number, not {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"≥ {low}"
        raise ConfigurationError(f"gate file {path}: {where} = {value} must be {bound}")
    return float(value)


# ---------------------------------------------------------------- applying the gate


def evaluate(
    gate: GateConfig,
    baseline: Sequence[EpisodeMetrics],
    candidate: Sequence[EpisodeMetrics],
    rerolls: Sequence[RerollResult],
    metrics: Sequence[MetricComparison] = (),
    pairs: Sequence[PairDiff] = (),
) -> list[GateCheck]:
    """Every rule that applies to the run. ``metrics`` are the summary rows (the jerk rules
    read their significance test), ``pairs`` the per-pair diffs."""
    checks: list[GateCheck] = []
    rows = {m.metric: m for m in metrics}
    if candidate:
        checks.append(_success_check(gate, baseline, candidate))
        checks.append(_new_findings_check(gate, baseline, candidate))
        checks.append(_finding_rate_check(gate, baseline, candidate))
        checks.append(_jerk_check(gate, "jerk_increase", rows.get("jerk"), "candidate"))
    if rerolls:
        checks.extend(_reroll_checks(gate.reroll, rerolls))
        checks.append(_jerk_check(gate, "reroll_jerk_increase", rows.get("reroll_jerk"), "re-roll"))
    if candidate or rerolls:
        checks.append(_pairs_check(gate.pairs, pairs))
    return checks


def verdict_of(checks: Sequence[GateCheck], allow_inconclusive: bool) -> Verdict:
    """Fail on any failed check; inconclusive when a check could not be evaluated (unless
    allowed); pass only when every check was evaluated and passed."""
    if any(c.state == "fail" for c in checks):
        return "fail"
    if not allow_inconclusive and any(c.inconclusive for c in checks):
        return "inconclusive"
    return "pass"


def inconclusive(name: str, reason: str, threshold: float | None = None) -> GateCheck:
    """A rule the data cannot answer: never counted as passed (``passed`` False)."""
    return GateCheck(name, False, reason, None, threshold, inconclusive=True)


def _jerk_check(gate: GateConfig, name: str, row: MetricComparison | None, side: str) -> GateCheck:
    """Rougher actions are a regression a success rate does not show (a jittery policy wears
    the gearboxes first): fail on a significant increase beyond the allowed share."""
    limit = gate.smoothness.max_jerk_increase
    if row is None or row.baseline is None or row.candidate is None or row.p_value is None:
        return inconclusive(
            name,
            f"cannot compare action jerk: it needs an action stream with enough samples in at "
            f"least two episodes on each side ({row.n_baseline if row else 0} baseline, "
            f"{row.n_candidate if row else 0} {side})",
            limit,
        )
    increase = (row.candidate - row.baseline) / row.baseline if row.baseline > 0 else 0.0
    significant = row.p_value < 1.0 - gate.confidence
    text = (
        f"{side} action jerk {row.candidate:.3g} vs {row.baseline:.3g} "
        f"({increase:+.0%}, p={row.p_value:.3g})"
    )
    if increase > limit and significant:
        return GateCheck(
            name,
            False,
            f"{text}: rougher actions, more than {limit:.0%} higher at "
            f"{gate.confidence:.0%} confidence",
            increase,
            limit,
        )
    return GateCheck(
        name, True, f"{text}: no significant increase beyond {limit:.0%}", increase, limit
    )


def _pairs_check(rule: PairsRule, pairs: Sequence[PairDiff]) -> GateCheck:
    """A success rate within its margin can still hide many individual regressions: past a
    share of "must look" pairs the gate fails."""
    limit = rule.max_regressed_share
    if not pairs:
        return inconclusive(
            "regressed_pairs", "no episode pair to compare (no candidate episode matched)", limit
        )
    regressed = sum(p.regressed for p in pairs)
    share = regressed / len(pairs)
    text = f"{regressed} of {len(pairs)} pairs regressed ({share:.0%}); limit {limit:.0%}"
    return GateCheck("regressed_pairs", share <= limit, text, share, limit)


def outcome_counts(metrics: Sequence[EpisodeMetrics]) -> tuple[int, int]:
    """(successes, episodes with a known outcome)."""
    known = [m for m in metrics if m.outcome in ("success", "failure")]
    return sum(m.outcome == "success" for m in known), len(known)


def _success_check(
    gate: GateConfig, baseline: Sequence[EpisodeMetrics], candidate: Sequence[EpisodeMetrics]
) -> GateCheck:
    rule = gate.success_rate
    k_b, n_b = outcome_counts(baseline)
    k_c, n_c = outcome_counts(candidate)
    name = "success_rate_drop"
    if not n_b or not n_c:
        side = "baseline" if not n_b else "candidate"
        return inconclusive(
            name,
            f"no {side} episode has a known outcome (success/failure), so the success rates "
            f"cannot be compared; set outcomes with `tag --outcome`",
            rule.max_drop,
        )
    drop = k_b / n_b - k_c / n_c
    alpha = 1.0 - gate.confidence
    rates = (
        f"success rate {k_b / n_b:.1%} → {k_c / n_c:.1%} ({-drop * 100:+.1f} points, n={n_b}/{n_c})"
    )
    if rule.require_non_inferiority:
        # one-sided: lower bound of the (2·conf − 1) two-sided interval
        low, _ = stats.proportion_diff_interval(k_b, n_b, k_c, n_c, 2 * gate.confidence - 1)
        passed = low >= -rule.max_drop
        detail = (
            f"{rates}; the drop is at most {-low * 100:.1f} points at {gate.confidence:.0%} "
            f"confidence, {'within' if passed else 'not shown to be within'} "
            f"{rule.max_drop * 100:g} points"
        )
        return GateCheck(name, passed, detail, drop, rule.max_drop)
    p = stats.one_sided_p_drop(k_b, n_b, k_c, n_c, rule.max_drop)
    passed = p >= alpha
    if passed:
        detail = (
            f"{rates}: no evidence of a drop larger than {rule.max_drop * 100:g} points (p={p:.3g})"
        )
    else:
        detail = (
            f"{rates}: a drop larger than {rule.max_drop * 100:g} points at "
            f"{gate.confidence:.0%} confidence (p={p:.3g})"
        )
    return GateCheck(name, passed, detail, drop, rule.max_drop)


def _new_findings_check(
    gate: GateConfig, baseline: Sequence[EpisodeMetrics], candidate: Sequence[EpisodeMetrics]
) -> GateCheck:
    blocked = set(gate.findings.block_new)
    seen = {cause for m in baseline for cause in m.causes}
    new: dict[str, int] = {}
    for m in candidate:
        for cause, severity in m.causes.items():
            if severity in blocked and cause not in seen:
                new[cause] = new.get(cause, 0) + 1
    severities = "/".join(sorted(blocked, key=SEVERITIES.index)) or "no severity"
    if not new:
        return GateCheck("new_findings", True, f"no new {severities} finding", 0.0, 0.0)
    listed = ", ".join(f"{c} in {n} episode(s)" for c, n in sorted(new.items()))
    return GateCheck(
        "new_findings",
        False,
        f"new {severities} finding(s) not seen in the baseline: {listed}",
        float(sum(new.values())),
        0.0,
    )


def _finding_rate_check(
    gate: GateConfig, baseline: Sequence[EpisodeMetrics], candidate: Sequence[EpisodeMetrics]
) -> GateCheck:
    rule = gate.findings
    wanted = set(rule.rate_severities)
    causes = sorted(
        {c for m in [*baseline, *candidate] for c, sev in m.causes.items() if sev in wanted}
    )
    offenders: list[str] = []
    worst = 0.0
    alpha = 1.0 - gate.confidence
    n_b, n_c = len(baseline), len(candidate)
    for cause in causes:
        k_b = sum(cause in m.causes for m in baseline)
        k_c = sum(cause in m.causes for m in candidate)
        rise = k_c / n_c - k_b / n_b
        worst = max(worst, rise)
        # evidence that the rate rose by more than the margin: the "drop" test, sides swapped
        p = stats.one_sided_p_drop(k_c, n_c, k_b, n_b, rule.max_rate_increase)
        if rise > rule.max_rate_increase and p < alpha:
            offenders.append(f"{cause} {k_b / n_b:.1%} → {k_c / n_c:.1%} (p={p:.3g})")
    if offenders:
        detail = (
            f"finding rate up by more than {rule.max_rate_increase * 100:g} points: "
            + "; ".join(offenders)
        )
        return GateCheck("finding_rate_increase", False, detail, worst, rule.max_rate_increase)
    return GateCheck(
        "finding_rate_increase",
        True,
        f"no cause's rate rose significantly by more than {rule.max_rate_increase * 100:g} points",
        worst,
        rule.max_rate_increase,
    )


def _reroll_checks(rule: RerollRule, rerolls: Sequence[RerollResult]) -> list[GateCheck]:
    done = [r for r in rerolls if r.error is None and r.steps > 0]
    failed = [r for r in rerolls if r.error is not None]
    checks = [
        GateCheck(
            "policy_errors",
            len(failed) <= rule.max_policy_errors,
            f"the policy failed on {len(failed)} of {len(rerolls)} episode(s)"
            + (f", first: {failed[0].baseline_id}: {failed[0].error}" if failed else ""),
            float(len(failed)),
            float(rule.max_policy_errors),
        )
    ]
    if not done:
        reason = f"no re-roll produced a step ({len(rerolls)} tried)"
        checks.append(inconclusive("ood_share", reason, rule.max_ood_share))
        checks.append(inconclusive("action_error", reason, rule.max_mean_action_error))
        return checks
    ood = [r.ood_share for r in done if r.ood_share is not None]
    if ood:
        mean_ood = sum(ood) / len(ood)
        checks.append(
            GateCheck(
                "ood_share",
                mean_ood <= rule.max_ood_share,
                f"{mean_ood:.1%} of re-rolled steps out of the baseline's action distribution "
                f"(|z| > {rule.ood_z:g}); limit {rule.max_ood_share:.1%}",
                mean_ood,
                rule.max_ood_share,
            )
        )
    errors = [r.mean_error_z for r in done if r.mean_error_z is not None]
    if errors:
        mean_error = sum(errors) / len(errors)
        checks.append(
            GateCheck(
                "action_error",
                mean_error <= rule.max_mean_action_error,
                f"mean action error {mean_error:.3g} baseline std per step over {len(errors)} "
                f"episode(s); limit {rule.max_mean_action_error:g}",
                mean_error,
                rule.max_mean_action_error,
            )
        )
    return checks
