"""``robotrace-desktop verify`` end to end on generated policy sets with known effects: the
verdict, the exit code, the failing check, the worst pairs and the reports are what a release
engineer would expect from each effect."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from robotrace_desktop.catalog.store import Catalog, EpisodeFilter
from robotrace_desktop.cli import main
from robotrace_desktop.core.links import parse_link
from tests.verify.verify_fixtures import (
    SATURATED_JOINT,
    SHARED_EPISODES,
    saturation_window,
)

N = SHARED_EPISODES  # per side: a 10-point drop is significant beyond the 2-point margin
POLICIES = '''
import numpy as np

def hold(obs):
    return obs["observation.state"]

class Saturating:
    """Holds the measured state but drives one joint far past anything the baseline did."""
    def __init__(self):
        self.steps = 0
    def reset(self):
        self.steps = 0
    def act(self, obs):
        self.steps += 1
        action = np.array(obs["observation.state"], dtype=float)
        action[JOINT] = 3.0
        return action

def crashes_on_seed_3(obs):
    if obs["step"] == 5 and obs["observation.state"][0] == FIRST_OF_SEED_3:
        raise RuntimeError("arm out of reach")
    return obs["observation.state"]
'''


@pytest.fixture(scope="module")
def catalog(policy_catalog: Path) -> Path:
    """The shared sets: v1 (baseline), v1-retrain (same), v2-drop (drop10), v2-sat (saturate)
    and v3 (better), N episodes each, scanned and explained (``tests/verify/conftest.py``)."""
    return policy_catalog


def verify(catalog: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = main(["--catalog", str(catalog), "verify", "--workers", "2", *args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def checks(result: dict) -> dict[str, bool]:
    return {c["name"]: c["passed"] for c in result["checks"]}


def metric(result: dict, name: str) -> dict:
    return next(m for m in result["metrics"] if m["metric"] == name)


def test_no_change_passes(catalog: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, result = verify(catalog, "--baseline", "v1", "--candidate", "v1-retrain", capsys=capsys)
    assert code == 0 and result["verdict"] == "pass"
    assert all(checks(result).values())
    success = metric(result, "success_rate")
    assert (success["baseline"], success["candidate"], success["delta"]) == (0.9, 0.9, 0.0)
    assert len(result["pairs"]) == N
    assert all(p["matched_on"] == ["env_version", "task", "seed"] for p in result["pairs"])
    assert not any(p["regressed"] for p in result["pairs"])


def test_a_ten_point_success_drop_fails_with_the_flipped_seeds_first(
    catalog: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    junit = tmp_path / "verify.xml"
    report = tmp_path / "verify.html"
    code, result = verify(
        catalog,
        "--baseline",
        "v1",
        "--candidate",
        "v2-drop",
        "--junit",
        str(junit),
        "--report",
        str(report),
        capsys=capsys,
    )
    assert code == 1 and result["verdict"] == "fail"
    assert checks(result) == {
        "success_rate_drop": False,
        "new_findings": True,
        "finding_rate_increase": True,
        "jerk_increase": True,
        "regressed_pairs": True,  # 15 of 150 pairs flipped: 10 %, at the limit
    }
    success = metric(result, "success_rate")
    assert success["baseline"] == 0.9 and success["candidate"] == pytest.approx(0.8)
    assert success["better"] is False and success["delta_high"] < 0
    flipped = [p for p in result["pairs"] if p["summary"].startswith("success → failure")]
    assert len(flipped) == N // 10  # seeds ending in 7
    assert result["pairs"][: len(flipped)] == flipped  # worst first
    with Catalog(catalog) as c:
        seeds = {c.get(p["candidate_id"]).seed % 10 for p in flipped}
    assert seeds == {7}
    # JUnit: one test case per pair, the flipped ones failing
    tree = ET.parse(junit)
    episodes = tree.getroot().find("testsuite[@name='robotrace.verify.episodes']")
    assert episodes is not None and int(episodes.get("tests")) == N
    assert int(episodes.get("failures")) == len(flipped)
    assert "FAIL" in report.read_text()


def test_a_saturating_policy_fails_on_the_new_finding(
    catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, result = verify(catalog, "--baseline", "v1", "--candidate", "v2-sat", capsys=capsys)
    assert code == 1
    failed = [c for c in result["checks"] if not c["passed"]]
    # the clip is entered at speed: the actions are also significantly rougher; and every
    # pair regressed, the clip being a new confident finding in each candidate run
    names = [c["name"] for c in failed]
    assert names == ["finding_rate_increase", "jerk_increase", "regressed_pairs"]
    assert "action_saturation" in failed[0]["detail"]
    assert "rougher actions" in failed[1]["detail"]
    # every candidate run is clipped, and the clipped shape is evidence whatever the outcome
    rate = metric(result, "cause:action_saturation")
    assert rate["baseline"] == 0.0 and rate["candidate"] == pytest.approx(1.0)
    assert rate["better"] is False
    worst = result["pairs"][0]
    assert worst["regressed"] and "action_saturation" in worst["new_causes"]
    # the deep link lands in the candidate episode, inside the clipped stretch
    link = parse_link(worst["link"])
    assert link.episode_id == worst["candidate_id"]
    with Catalog(catalog) as c:
        info = c.get(worst["candidate_id"])
    start, stop = saturation_window(info.seed, info.metadata["length"])
    assert start / 30 - 0.5 <= link.t_ns / 1e9 <= stop / 30
    assert sum(p["regressed"] for p in result["pairs"]) == N


def test_a_better_policy_passes_and_says_where_it_is_better(
    catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, result = verify(catalog, "--baseline", "v1", "--candidate", "v3", capsys=capsys)
    assert code == 0
    success = metric(result, "success_rate")
    assert success["candidate"] == pytest.approx(0.98) and success["better"] is True
    assert metric(result, "jerk")["better"] is True


def write_policies(folder: Path, catalog: Path) -> Path:
    from tests.verify.verify_fixtures import JOINTS

    with Catalog(catalog) as c:
        seed3 = next(e for e in c.list_episodes(EpisodeFilter(policy="v1")) if e.seed == 3)
        first = Path(seed3.path) / seed3.metadata["data_file"]
    import pyarrow.parquet as pq

    value = pq.read_table(first, columns=["observation.state"]).column(0)[5].as_py()[0]
    path = folder / "candidates.py"
    text = POLICIES.replace("JOINT]", f"{JOINTS.index(SATURATED_JOINT)}]")
    path.write_text(text.replace("FIRST_OF_SEED_3", repr(float(value))))
    return path


def test_reroll_a_policy_offline_and_save_the_replays(
    catalog: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policies = write_policies(tmp_path, catalog)
    code, result = verify(
        catalog,
        "--baseline",
        "v1",
        "--policy",
        f"{policies}:hold",
        "--candidate-name",
        "hold-1",
        capsys=capsys,
    )
    assert code == 0, result["checks"]
    assert set(checks(result)) == {
        "policy_errors",
        "ood_share",
        "action_error",
        "reroll_jerk_increase",
        "regressed_pairs",
    }
    assert len(result["rerolls"]) == N and all(r["error"] is None for r in result["rerolls"])
    assert all(r["policy"] == "hold-1" for r in result["rerolls"])
    with Catalog(catalog) as c:
        replays = c.list_episodes(EpisodeFilter(policy="hold-1"))
        assert len(replays) == N
        replay = c.get(replays[0].id)
        baseline = c.get(replay.metadata["replay_of"])
    assert replay.source == "replay" and baseline.policy_version == "v1"
    assert replay.seed == baseline.seed and replay.env_version == baseline.env_version
    action = next(s for s in replay.streams if s.name == "action")
    assert action.channels == baseline.stream("action").channels
    # replays live beside the catalog, never beside the recordings
    assert Path(replay.path).is_relative_to(catalog.parent / "library" / "replays")
    # and they are never counted as recorded runs of a version
    code, _ = verify(catalog, "--baseline", "hold-1", "--candidate", "v1", capsys=capsys)
    assert code == 2
    with Catalog(catalog) as c:
        assert "hold-1" not in dict(c.policy_versions())


def test_a_policy_out_of_distribution_or_raising_fails_the_gate(
    catalog: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policies = write_policies(tmp_path, catalog)
    code, result = verify(
        catalog,
        "--baseline",
        "v1",
        "--policy",
        f"{policies}:Saturating",
        "--no-save-replays",
        capsys=capsys,
    )
    assert code == 1 and not checks(result)["ood_share"]
    assert all(r["ood_share"] == 1.0 for r in result["rerolls"])
    assert all(r["per_joint_error"][SATURATED_JOINT] > 1.0 for r in result["rerolls"])

    code, result = verify(
        catalog,
        "--baseline",
        "v1",
        "--policy",
        f"{policies}:crashes_on_seed_3",
        "--no-save-replays",
        capsys=capsys,
    )
    assert code == 1 and checks(result) == {
        "policy_errors": False,
        "ood_share": True,
        "action_error": True,
        "reroll_jerk_increase": True,
        "regressed_pairs": True,  # 1 of 150
    }
    failed = [r for r in result["rerolls"] if r["error"]]
    assert len(failed) == 1 and failed[0]["error"].startswith("RuntimeError: arm out of reach")
    assert "step 5" in failed[0]["error"]
    assert sum(r["error"] is None for r in result["rerolls"]) == N - 1  # the run went on
    assert result["pairs"][0]["baseline_id"] == failed[0]["baseline_id"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--baseline", "v9", "--candidate", "v1"], "no episode has policy_version 'v9'"),
        (["--baseline", "selection:nope", "--candidate", "v1"], "no saved selection 'nope'"),
        (["--baseline", "v1"], "needs --candidate, --policy or both"),
        (["--baseline", "v1", "--candidate", "v1"], "share 150 episode(s)"),
        (["--baseline", "v1", "--policy", "no_such_module:f"], "no_such_module"),
        (
            ["--baseline", "v1", "--candidate", "v3", "--gate", "/nonexistent/gate.toml"],
            "gate file /nonexistent/gate.toml does not exist",
        ),
    ],
)
def test_usage_errors_exit_2(
    catalog: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code = main(["--catalog", str(catalog), "verify", *args])
    assert code == 2
    assert message in capsys.readouterr().err


def test_selections_and_a_custom_gate(
    catalog: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["--catalog", str(catalog), "list", "--policy", "v1", "--save-as", "nightly"]) == 0
    capsys.readouterr()
    gate = tmp_path / "gate.toml"
    assert main(["verify", "--write-gate", str(gate)]) == 0
    # a gate that tolerates a 15-point drop lets the 10-point drop through
    gate.write_text(gate.read_text().replace("max_drop = 0.02", "max_drop = 0.15"))
    code, result = verify(
        catalog,
        "--baseline",
        "selection:nightly",
        "--candidate",
        "v2-drop",
        "--gate",
        str(gate),
        capsys=capsys,
    )
    assert code == 0 and result["baseline"] == "selection:nightly"
    assert len(result["baseline_ids"]) == N
