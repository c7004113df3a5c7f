"""Pairing episodes, the gate file and its rules, and how pairs are scored."""

from __future__ import annotations

from pathlib import Path

import pytest

from robotrace_desktop.core.episode import EpisodeInfo
from robotrace_desktop.errors import ConfigurationError
from robotrace_desktop.verify.compare import compare_metrics, pair_diffs
from robotrace_desktop.verify.gate import DEFAULT_TEXT, GateConfig, evaluate, load_gate
from robotrace_desktop.verify.matching import Pair, match_pairs
from robotrace_desktop.verify.model import EpisodeMetrics, RerollResult


def info(
    id_: str, *, env: str | None = "sim-1", task: str | None = "pick", seed: int | None
) -> EpisodeInfo:
    return EpisodeInfo(
        id=id_,
        kind="bundle",
        path=f"/x/{id_}",
        episode_index=None,
        name=id_,
        env_version=env,
        task=task,
        seed=seed,
    )


def test_pairs_match_on_env_task_seed_then_looser_keys() -> None:
    baseline = [
        info("b0", seed=0),
        info("b1", seed=1),
        info("b2", env=None, seed=2),
        info("b3", seed=3),
        info("b4", seed=None),
    ]
    candidate = [
        info("c1", seed=1),
        info("c0", seed=0),
        info("c2", seed=2),
        info("c3", env="sim-2", task="place", seed=3),
    ]
    pairs = {p.baseline_id: p for p in match_pairs(baseline, candidate)}
    assert pairs["b0"] == Pair("b0", "c0", ("env_version", "task", "seed"))
    assert pairs["b1"] == Pair("b1", "c1", ("env_version", "task", "seed"))
    assert pairs["b2"] == Pair("b2", "c2", ("task", "seed"))  # baseline has no env_version
    assert pairs["b3"] == Pair("b3", "c3", ("seed",))  # different env and task: seed only
    assert pairs["b4"] == Pair("b4", None)  # no seed: nothing to match on


def test_each_candidate_is_used_once() -> None:
    baseline = [info("b0", seed=0), info("b0bis", seed=0)]
    candidate = [info("c0", seed=0)]
    assert [p.candidate_id for p in match_pairs(baseline, candidate)] == ["c0", None]


def test_default_gate_file_is_the_built_in_default(tmp_path: Path) -> None:
    path = tmp_path / "gate.toml"
    path.write_text(DEFAULT_TEXT)
    assert load_gate(path) == GateConfig()
    assert load_gate(None) == GateConfig()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("confidence = 2\n", "confidence = 2 must be between"),
        ("[success_rate]\nmax_drp = 0.1\n", "unknown key(s) ['max_drp'] in [success_rate]"),
        ("[findings]\nblock_new = ['fatal']\n", "findings.block_new must be a list of severities"),
        ("[reroll]\nmax_ood_share = 'x'\n", "reroll.max_ood_share must be a number"),
        ("[reroll\n", "not valid TOML"),
        ("colour = 1\n", "unknown key(s) ['colour']"),
    ],
)
def test_bad_gate_files_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "gate.toml"
    path.write_text(text)
    with pytest.raises(ConfigurationError) as caught:
        load_gate(path)
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_missing_gate_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_gate(tmp_path / "nope.toml")


def metrics(
    n: int, successes: int, prefix: str, causes: dict[str, str] | None = None, with_cause: int = 0
) -> list[EpisodeMetrics]:
    out = []
    for i in range(n):
        m = EpisodeMetrics(f"{prefix}{i}", "success" if i < successes else "failure", 10.0)
        if i < with_cause and causes:
            m.causes = dict(causes)
            m.cause_times = {c: 2_000_000_000 for c in causes}
        out.append(m)
    return out


def checks(
    baseline: list[EpisodeMetrics],
    candidate: list[EpisodeMetrics],
    rerolls: list[RerollResult] | None = None,
    gate: GateConfig | None = None,
) -> dict[str, bool]:
    return {
        c.name: c.passed for c in evaluate(gate or GateConfig(), baseline, candidate, rerolls or [])
    }


def test_success_drop_fails_only_with_evidence() -> None:
    base = metrics(400, 360, "b")
    assert checks(base, metrics(400, 358, "c"))["success_rate_drop"]
    assert not checks(base, metrics(400, 320, "c"))["success_rate_drop"]  # 10-point drop
    # 10 points on 20 runs each is within chance: the default gate does not block on it …
    assert checks(metrics(20, 18, "b"), metrics(20, 16, "c"))["success_rate_drop"]
    # … a non-inferiority gate does
    strict = GateConfig(success_rate=type(GateConfig().success_rate)(0.02, True))
    assert not checks(metrics(20, 18, "b"), metrics(20, 16, "c"), gate=strict)["success_rate_drop"]


def test_new_critical_cause_and_rising_rates_fail() -> None:
    base = metrics(100, 90, "b", {"tracking_error": "high"}, with_cause=5)
    same = metrics(100, 90, "c", {"tracking_error": "high"}, with_cause=6)
    result = checks(base, same)
    assert result["new_findings"] and result["finding_rate_increase"]
    critical = metrics(100, 90, "c", {"raised_exception": "critical"}, with_cause=1)
    assert not checks(base, critical)["new_findings"]
    saturating = metrics(100, 90, "c", {"action_saturation": "high"}, with_cause=100)
    result = checks(base, saturating)
    assert result["new_findings"]  # high is not blocked as "new" by default…
    assert not result["finding_rate_increase"]  # …but 0 % -> 100 % is


def test_reroll_checks() -> None:
    good = [
        RerollResult(f"b{i}", "cand", steps=100, mean_error_z=0.2, ood_share=0.01)
        for i in range(10)
    ]
    reroll_rules = ("policy_errors", "ood_share", "action_error")
    assert {k: checks([], [], good)[k] for k in reroll_rules} == dict.fromkeys(reroll_rules, True)
    wild = [
        RerollResult(f"b{i}", "cand", steps=100, mean_error_z=2.5, ood_share=0.4) for i in range(10)
    ]
    raising = [*good, RerollResult("bx", "cand", error="ValueError: boom (step 3, t=0.100 s)")]
    assert {k: checks([], [], wild)[k] for k in reroll_rules} == {
        "policy_errors": True,
        "ood_share": False,
        "action_error": False,
    }
    assert checks([], [], raising)["policy_errors"] is False


def test_summary_rows_and_worst_pair_first() -> None:
    base = metrics(200, 180, "b")
    cand = metrics(200, 150, "c", {"action_saturation": "high"}, with_cause=30)
    rows = {r.metric: r for r in compare_metrics(base, cand, [], GateConfig())}
    success = rows["success_rate"]
    assert (success.baseline, success.candidate) == (0.9, 0.75)
    assert success.delta == pytest.approx(-0.15) and success.better is False
    assert success.delta_low < -0.15 < success.delta_high < 0
    assert rows["cause:action_saturation"].candidate == 0.15
    assert rows["cause:action_saturation"].better is False
    assert rows["duration_s"].better is None  # informational
    pairs = [Pair(b.episode_id, c.episode_id, ("seed",)) for b, c in zip(base, cand, strict=True)]
    by_id = {m.episode_id: m for m in [*base, *cand]}
    diffs = pair_diffs(pairs, by_id, {}, {}, GateConfig())
    worst = diffs[0]
    # b150..b179 succeeded where c150..c179 failed; b0..b29 gained a cause
    assert worst.regressed and worst.summary.startswith("success → failure")
    assert worst.link is not None and worst.link.startswith("robotrace://episode/c")
    assert [d for d in diffs if d.regressed][-1].regression > 0
    assert diffs[-1].summary == "no regression" and diffs[-1].regression == 0
