"""A gate never passes what it did not check, and does not pass what a person would call a
regression: a check the data cannot answer is "inconclusive" on every surface (terminal, exit
code, HTML, JUnit, JSON); rougher actions and many regressed pairs fail by default."""

from __future__ import annotations

import json
import random
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from robotrace_desktop.cli import main
from robotrace_desktop.verify.compare import compare_metrics, pair_diffs
from robotrace_desktop.verify.gate import (
    DEFAULT_TEXT,
    GateConfig,
    evaluate,
    load_gate,
    verdict_of,
    write_default_gate,
)
from robotrace_desktop.verify.matching import Pair
from robotrace_desktop.verify.model import EpisodeMetrics, RerollResult, VerifyResult
from robotrace_desktop.verify.report_html import render_html
from robotrace_desktop.verify.report_junit import render_junit
from tests.verify.verify_fixtures import scan_sets, write_policy_set


def unknown_outcomes(prefix: str, n: int) -> list[EpisodeMetrics]:
    return [EpisodeMetrics(f"{prefix}{i}", "unknown", 10.0) for i in range(n)]


def test_no_known_outcome_is_inconclusive_not_a_pass() -> None:
    checks = evaluate(GateConfig(), unknown_outcomes("b", 5), unknown_outcomes("c", 5), [])
    success = next(c for c in checks if c.name == "success_rate_drop")
    assert success.inconclusive and not success.passed and success.state == "inconclusive"
    assert "no baseline episode has a known outcome" in success.detail
    assert verdict_of(checks, allow_inconclusive=False) == "inconclusive"
    assert verdict_of(checks, allow_inconclusive=True) == "pass"
    failed = [*checks, evaluate(GateConfig(), [], [], [RerollResult("b0", "x", error="E")])[0]]
    assert verdict_of(failed, allow_inconclusive=True) == "fail"  # a failure always wins


def test_reroll_without_a_single_step_is_inconclusive() -> None:
    checks = {c.name: c for c in evaluate(GateConfig(), [], [], [RerollResult("b0", "x")])}
    assert checks["policy_errors"].passed
    assert checks["ood_share"].inconclusive and checks["action_error"].inconclusive


def inconclusive_result() -> VerifyResult:
    checks = evaluate(GateConfig(), unknown_outcomes("b", 3), unknown_outcomes("c", 3), [])
    return VerifyResult(
        verdict=verdict_of(checks, False),
        baseline="A <b>",
        candidate="B",
        baseline_ids=["b0", "b1", "b2"],
        candidate_ids=["c0", "c1", "c2"],
        checks=checks,
    )


def test_html_and_junit_show_inconclusive_checks() -> None:
    result = inconclusive_result()
    html = render_html(result)
    assert '<div class="verdict inconclusive"><span class="word">INCONCLUSIVE</span>' in html
    assert '<tr class="inconclusive"><td><code>success_rate_drop</code></td>' in html
    assert "A &lt;b&gt;" in html and "A <b>" not in html
    root = ET.fromstring(render_junit(result).split("\n", 1)[1])
    gate = next(s for s in root if s.get("name") == "robotrace.verify.gate")
    case = next(c for c in gate if c.get("name") == "success_rate_drop")
    skipped = case.find("skipped")
    assert skipped is not None and case.find("failure") is None
    assert skipped.get("message").startswith("inconclusive: no baseline episode has a known")
    assert gate.find("properties/property[@name='verdict']").get("value") == "inconclusive"


def test_written_gate_file_documents_the_new_rules_and_loads_as_the_defaults(
    tmp_path: Path,
) -> None:
    path = write_default_gate(tmp_path / "gate.toml")
    text = path.read_text()
    assert "allow_inconclusive = false" in text and "exits 3" in text
    assert "max_jerk_increase = 0.25" in text and "max_regressed_share = 0.10" in text
    assert load_gate(path) == GateConfig()
    data = tomllib.loads(DEFAULT_TEXT)
    assert data["smoothness"]["max_jerk_increase"] == GateConfig().smoothness.max_jerk_increase
    strict = tmp_path / "strict.toml"
    strict.write_text("allow_inconclusive = true\n[pairs]\nmax_regressed_share = 0.2\n")
    assert (
        load_gate(strict).allow_inconclusive and load_gate(strict).pairs.max_regressed_share == 0.2
    )


def test_doubled_jerk_and_16_of_100_regressed_pairs_fail_the_default_gate() -> None:
    """The re-roll that used to PASS: OOD share and action error inside their limits, but 16
    of 100 pairs must be looked at and the actions are twice as rough."""
    rng = random.Random(3)
    rerolls = [
        RerollResult(
            f"b{i}",
            "jittery",
            steps=300,
            mean_error_z=0.4,
            ood_share=0.2 if i < 16 else 0.01,
            recorded_ood_share=0.0,
            jerk=rng.gauss(600.0, 20.0),
            recorded_jerk=rng.gauss(300.0, 10.0),
            replay_id=f"r{i}",
        )
        for i in range(100)
    ]
    gate = GateConfig()
    rows = compare_metrics([], [], rerolls, gate)
    pairs = pair_diffs(
        [Pair(r.baseline_id, None) for r in rerolls],
        {},
        {r.baseline_id: r for r in rerolls},
        {},
        gate,
    )
    assert sum(p.regressed for p in pairs) == 16
    checks = {c.name: c for c in evaluate(gate, [], [], rerolls, rows, pairs)}
    assert checks["ood_share"].passed and checks["action_error"].passed  # the old gate: PASS
    assert checks["regressed_pairs"].state == "fail"
    assert checks["regressed_pairs"].detail == "16 of 100 pairs regressed (16%); limit 10%"
    assert checks["reroll_jerk_increase"].state == "fail"
    assert "rougher actions" in checks["reroll_jerk_increase"].detail
    assert verdict_of(list(checks.values()), allow_inconclusive=True) == "fail"


def test_recorded_candidate_with_rougher_actions_fails_on_jerk() -> None:
    rng = random.Random(5)
    base = [EpisodeMetrics(f"b{i}", "success", 10.0, jerk=rng.gauss(300, 10)) for i in range(30)]
    rough = [EpisodeMetrics(f"c{i}", "success", 10.0, jerk=rng.gauss(420, 10)) for i in range(30)]
    same = [EpisodeMetrics(f"s{i}", "success", 10.0, jerk=rng.gauss(300, 10)) for i in range(30)]
    gate = GateConfig()
    for cand, expected in ((rough, "fail"), (same, "pass")):
        rows = compare_metrics(base, cand, [], gate)
        check = next(c for c in evaluate(gate, base, cand, [], rows) if c.name == "jerk_increase")
        assert check.state == expected, check.detail


# ---------------------------------------------------------------- end to end, real recordings


@pytest.fixture(scope="module")
def turtlesim_catalog(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """Two sessions of the real turtlesim bag tagged as two policy versions; neither has a
    known outcome (a recording never says whether the run succeeded)."""
    catalog = tmp_path_factory.mktemp("inconclusive") / "catalog.sqlite"
    bags = [shared_data / "ros1" / "example.bag", shared_data / "ros1" / "example-lz4.bag"]
    assert main(["--catalog", str(catalog), "scan", "--no-explain", *map(str, bags)]) == 0
    for bag, version in zip(bags, ("turtle-a", "turtle-b"), strict=True):
        assert main(["--catalog", str(catalog), "tag", str(bag), "--policy-version", version]) == 0
    return catalog


def test_verify_without_known_outcomes_exits_3_and_says_inconclusive(
    turtlesim_catalog: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    capsys.readouterr()
    args = ["--catalog", str(turtlesim_catalog), "verify", "--workers", "1"]
    args += ["--baseline", "turtle-a", "--candidate", "turtle-b"]
    code = main([*args, "--junit", str(tmp_path / "j.xml"), "--report", str(tmp_path / "r.html")])
    out = capsys.readouterr().out
    assert code == 3
    assert out.startswith("INCONCLUSIVE: turtle-b vs turtle-a")
    assert "  INCONCLUSIVE success_rate_drop: no baseline episode has a known outcome" in out
    assert "ok   success_rate_drop" not in out and "not checked" not in out
    assert 'class="verdict inconclusive"' in (tmp_path / "r.html").read_text()
    assert "<skipped" in (tmp_path / "j.xml").read_text()

    assert main([*args, "--allow-inconclusive", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["verdict"] == "pass"
    success = next(c for c in result["checks"] if c["name"] == "success_rate_drop")
    assert success["inconclusive"] is True and success["passed"] is False


JITTERY = """
import numpy as np

class Jittery:
    '''Holds the measured state plus 0.03 rad of white noise: close to the recorded actions,
    never out of distribution, but far rougher.'''
    def __init__(self):
        self.rng = np.random.default_rng(0)
    def __call__(self, obs):
        state = np.asarray(obs["observation.state"], dtype=float)
        return state + self.rng.normal(0.0, 0.03, state.shape)
"""


def test_a_jittery_reroll_fails_the_default_gate_on_jerk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = write_policy_set(tmp_path / "base", "v1", "baseline", episodes=10, steps=120)
    catalog = tmp_path / "home" / "catalog.sqlite"
    catalog.parent.mkdir()
    scan_sets(catalog, [base])
    policy = tmp_path / "jittery.py"
    policy.write_text(JITTERY)
    capsys.readouterr()
    args = ["--catalog", str(catalog), "verify", "--workers", "1", "--baseline", "v1"]
    code = main([*args, "--policy", f"{policy}:Jittery", "--no-save-replays", "--json"])
    result = json.loads(capsys.readouterr().out)
    checks = {c["name"]: c for c in result["checks"]}
    assert checks["ood_share"]["passed"] and checks["policy_errors"]["passed"]
    assert checks["reroll_jerk_increase"]["passed"] is False
    assert code == 1 and result["verdict"] == "fail"
