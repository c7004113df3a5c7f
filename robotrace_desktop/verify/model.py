"""The results of a verify run, as plain dataclasses that round-trip through JSON.

Workers (processes or Ray tasks) return ``EpisodeMetrics`` and ``RerollResult`` as dicts; the
parent aggregates them into ``MetricComparison`` rows, ``PairDiff`` rows and gate checks, and
every output (terminal table, ``--json``, HTML, JUnit, the Regression panel) is rendered from one
``VerifyResult``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

#: one check's state and the gate's verdict alike: "inconclusive" = nothing failed, but a
#: (required) check could not be evaluated (no data for it)
Verdict = Literal["pass", "fail", "inconclusive"]


def _from_dict(cls: type, data: dict[str, Any]) -> Any:
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(slots=True)
class EpisodeMetrics:
    """What one episode contributes to the outcome comparison (computed by a worker)."""

    episode_id: str
    outcome: str  # "success" / "failure" / "unknown"
    duration_s: float
    time_to_goal_s: float | None = None  # successful episodes: metadata value or duration
    reward: float | None = None  # total reward (a reward stream's sum, or metadata "reward")
    jerk: float | None = None  # RMS third derivative of the actions, averaged over channels
    tracking_error: float | None = None  # mean |measured - commanded| over matched joints
    causes: dict[str, str] = field(default_factory=dict)  # confident finding cause -> severity
    cause_times: dict[str, int | None] = field(default_factory=dict)  # cause -> t_start_ns
    first_finding_ns: int | None = None  # t_start_ns of the top confident finding
    failure_time_ns: int | None = None  # ranked top finding's failure time, if any
    error: str | None = None  # why the episode could not be measured (it still counts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpisodeMetrics:
        return _from_dict(cls, data)


@dataclass(slots=True)
class RerollResult:
    """The candidate policy replayed on one baseline episode's recorded observations."""

    baseline_id: str
    policy: str  # the candidate name (policy_version of the replay episode)
    steps: int = 0  # steps the policy was called for
    action_stream: str | None = None  # the recorded action stream compared against
    mean_l2: float | None = None  # mean over steps of ||candidate - recorded||_2
    mean_error_z: float | None = None  # mean over steps of RMS((cand - rec) / baseline std)
    max_error_z: float | None = None
    per_joint_error: dict[str, float] = field(default_factory=dict)  # channel -> mean |error|
    ood_share: float | None = None  # share of steps with any channel |z| > 3 (baseline dist.)
    first_divergence_ns: int | None = None  # first step whose error_z exceeds the threshold
    recorded_ood_share: float | None = None  # the same share for the recorded actions
    jerk: float | None = None  # RMS jerk of the candidate's actions (see metrics.action_jerk)
    recorded_jerk: float | None = None
    replay_id: str | None = None  # the saved replay episode in the catalog
    replay_path: str | None = None
    error: str | None = None  # "ValueError: message (step 12, t=0.400 s)" when the policy raised
    problems: list[str] = field(default_factory=list)  # e.g. a camera whose video is missing

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RerollResult:
        return _from_dict(cls, data)


@dataclass(slots=True)
class MetricComparison:
    """One row of the summary table: baseline vs candidate for one metric."""

    metric: str  # "success_rate", "duration_s", "cause:action_saturation", "reroll_ood_share"…
    label: str  # what a person reads: "Success rate", "Rate of Action saturation"…
    unit: str  # "%", "s", "", "rad/s³"…
    higher_is_better: bool
    baseline: float | None
    candidate: float | None
    n_baseline: int = 0
    n_candidate: int = 0
    delta: float | None = None  # candidate - baseline
    delta_low: float | None = None  # confidence interval of the delta
    delta_high: float | None = None
    p_value: float | None = None  # two-sided test of "no difference"
    better: bool | None = None  # None: no significant difference, or nothing to compare
    baseline_interval: tuple[float, float] | None = None  # e.g. Wilson CI of a success rate
    candidate_interval: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricComparison:
        obj = _from_dict(cls, data)
        for name in ("baseline_interval", "candidate_interval"):
            value = getattr(obj, name)
            if value is not None:
                setattr(obj, name, (float(value[0]), float(value[1])))
        return obj


@dataclass(slots=True)
class PairDiff:
    """One baseline episode and its counterpart(s): a recorded candidate episode matched on
    env_version/task/seed, and/or the candidate policy's offline replay of it."""

    baseline_id: str
    candidate_id: str | None = None  # matched recorded candidate episode
    replay_id: str | None = None  # offline re-roll of the baseline episode
    matched_on: list[str] = field(default_factory=list)  # ["env_version", "task", "seed"]…
    baseline_name: str = ""
    candidate_name: str = ""
    diffs: dict[str, Any] = field(default_factory=dict)  # metric -> candidate - baseline, …
    new_causes: list[str] = field(default_factory=list)  # confident causes only in candidate
    regression: float = 0.0  # how much worse the candidate is here; sort key, 0 = not worse
    regressed: bool = False  # a regression a person must look at (a failing JUnit test case)
    summary: str = ""  # one line: "success → failure; new Action saturation at 3.20 s"
    moment_ns: int | None = None  # where to look (candidate/replay episode time)
    link: str | None = None  # robotrace:// deep link to that moment

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PairDiff:
        return _from_dict(cls, data)


@dataclass(slots=True)
class GateCheck:
    """One gate rule applied to the run.

    A rule that could not be evaluated (no episode with a known outcome, no re-roll step) is
    ``inconclusive`` with ``passed`` False: nothing reads an unchecked rule as a pass."""

    name: str  # "success_rate_drop", "new_critical_findings", "ood_share", "action_error"…
    passed: bool
    detail: str  # "success rate 81.0% → 70.5% (−10.5 points, p=0.0003) exceeds the 2-point…"
    value: float | None = None
    threshold: float | None = None
    inconclusive: bool = False  # the data could not answer the rule; ``detail`` says why

    @property
    def state(self) -> Verdict:
        if self.inconclusive:
            return "inconclusive"
        return "pass" if self.passed else "fail"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateCheck:
        return _from_dict(cls, data)


def check_order(check: GateCheck) -> int:
    """Sort key: failed first, then inconclusive, then passed (what to read first; a stable
    sort keeps the gate's order within each)."""
    return ("fail", "inconclusive", "pass").index(check.state)


@dataclass(slots=True)
class VerifyResult:
    verdict: Verdict
    baseline: str  # the selector as given: "v1.2", "selection:nightly"
    candidate: str  # selector, or the policy name when only a re-roll was asked for
    baseline_ids: list[str] = field(default_factory=list)
    candidate_ids: list[str] = field(default_factory=list)
    metrics: list[MetricComparison] = field(default_factory=list)
    pairs: list[PairDiff] = field(default_factory=list)  # worst regression first
    checks: list[GateCheck] = field(default_factory=list)
    episode_metrics: dict[str, EpisodeMetrics] = field(default_factory=dict)  # id -> metrics
    rerolls: list[RerollResult] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # episode id -> why it was skipped
    policy: str | None = None  # --policy spec
    gate_path: str | None = None
    cancelled: bool = False
    elapsed_s: float = 0.0

    def to_json_dict(self) -> dict[str, Any]:
        """The ``--json`` document: ``verdict``, ``metrics`` and ``pairs`` first."""
        return {
            "verdict": self.verdict,
            "metrics": [m.to_dict() for m in self.metrics],
            "pairs": [p.to_dict() for p in self.pairs],
            "checks": [c.to_dict() for c in self.checks],
            "baseline": self.baseline,
            "candidate": self.candidate,
            "policy": self.policy,
            "gate": self.gate_path,
            "baseline_ids": list(self.baseline_ids),
            "candidate_ids": list(self.candidate_ids),
            "rerolls": [r.to_dict() for r in self.rerolls],
            "episodes": {k: v.to_dict() for k, v in self.episode_metrics.items()},
            "errors": dict(self.errors),
            "cancelled": self.cancelled,
            "elapsed_s": round(self.elapsed_s, 3),
        }

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> VerifyResult:
        return cls(
            verdict=data["verdict"],
            baseline=data["baseline"],
            candidate=data["candidate"],
            baseline_ids=list(data.get("baseline_ids") or []),
            candidate_ids=list(data.get("candidate_ids") or []),
            metrics=[MetricComparison.from_dict(m) for m in data.get("metrics") or []],
            pairs=[PairDiff.from_dict(p) for p in data.get("pairs") or []],
            checks=[GateCheck.from_dict(c) for c in data.get("checks") or []],
            episode_metrics={
                k: EpisodeMetrics.from_dict(v) for k, v in (data.get("episodes") or {}).items()
            },
            rerolls=[RerollResult.from_dict(r) for r in data.get("rerolls") or []],
            errors=dict(data.get("errors") or {}),
            policy=data.get("policy"),
            gate_path=data.get("gate"),
            cancelled=bool(data.get("cancelled")),
            elapsed_s=float(data.get("elapsed_s") or 0.0),
        )

    @property
    def failed_checks(self) -> list[GateCheck]:
        return [c for c in self.checks if c.state == "fail"]

    @property
    def inconclusive_checks(self) -> list[GateCheck]:
        return [c for c in self.checks if c.inconclusive]
