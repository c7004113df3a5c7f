"""The generated policy sets carry exactly the effects the verify tests and benchmarks rely on:
outcome counts, versions and seeds in the catalog, the clipped joint that Explain finds only in
the "saturate" set, and the smoother "better" policy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from robotrace_desktop.catalog.findings import CONFIDENT, findings_for
from robotrace_desktop.catalog.store import Catalog, EpisodeFilter
from robotrace_desktop.cli import main
from robotrace_desktop.core.episode import EpisodeInfo
from robotrace_desktop.verify.metrics import action_jerk
from tests.verify.verify_fixtures import (
    EFFECTS,
    ENV_VERSION,
    JOINTS,
    LIMIT,
    SATURATED_JOINT,
    SATURATION_S,
    SHARED_EPISODES,
    SHARED_STEPS,
    SHARED_VERSIONS,
    saturation_window,
    succeeds,
)

EPISODES = SHARED_EPISODES  # a multiple of 50: every stated rate is exact
STEPS = SHARED_STEPS  # 6.7 s episodes keep the test fast; the saturation window still fits
# baseline/same/saturate fail on seeds ending in 3, drop10 also on 7, better on seed % 50 == 3
EXPECTED_SUCCESSES = {
    "baseline": EPISODES * 9 // 10,
    "same": EPISODES * 9 // 10,
    "drop10": EPISODES * 8 // 10,
    "saturate": EPISODES * 9 // 10,
    "better": EPISODES * 49 // 50,
}


@pytest.fixture(scope="module")
def catalog_path(policy_catalog: Path) -> Path:
    """Every effect's set, scanned in one scan with Explain (``tests/verify/conftest.py``)."""
    return policy_catalog


def _episodes(catalog_path: Path, effect: str) -> list[EpisodeInfo]:
    with Catalog(catalog_path) as catalog:  # get(): with streams
        listed = catalog.list_episodes(EpisodeFilter(policy=SHARED_VERSIONS[effect]))
        return [catalog.get(e.id) for e in listed]


def _actions(info: EpisodeInfo) -> np.ndarray:
    table = pq.read_table(Path(info.path) / info.metadata["data_file"], columns=["action"])
    column = table.column("action").combine_chunks()
    return column.flatten().to_numpy().reshape(len(column), -1).astype(np.float64)


@pytest.mark.parametrize("effect", EFFECTS)
def test_outcomes_versions_and_seeds(catalog_path: Path, effect: str) -> None:
    episodes = _episodes(catalog_path, effect)
    assert len(episodes) == EPISODES
    assert sorted(e.seed for e in episodes) == list(range(EPISODES))
    assert {e.env_version for e in episodes} == {ENV_VERSION}
    assert len({e.task for e in episodes}) == 1
    successes = [e for e in episodes if e.outcome.value == "success"]
    assert len(successes) == EXPECTED_SUCCESSES[effect]
    assert all(e.outcome.value == "failure" for e in episodes if e not in successes)
    assert {e.seed for e in successes} == {s for s in range(EPISODES) if succeeds(effect, s)}
    actions = next(s for s in episodes[0].streams if s.name == "action")
    assert actions.channels == JOINTS
    failed = next(e for e in episodes if e.outcome.value == "failure")
    assert failed.duration_ns == round(STEPS / 30 * 1e9)  # a failure runs into the time limit


def test_saturate_set_is_flagged_and_baseline_sets_are_not(
    catalog_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--catalog", str(catalog_path), "list", "--cause", "action_saturation", "--json"])
    assert code == 0
    flagged = {row["id"] for row in json.loads(capsys.readouterr().out)}
    saturate = _episodes(catalog_path, "saturate")
    failed = {e.id for e in saturate if e.outcome.value == "failure"}
    assert len(failed) == EPISODES // 10
    # a clip in a failed run is a confident finding (successful runs: see the report)
    assert failed <= flagged <= {e.id for e in saturate}
    with Catalog(catalog_path) as catalog:
        for info in saturate:
            found = [f for f in findings_for(catalog, info.id) if f.cause == "action_saturation"]
            assert len(found) == 1, info.name
            finding = found[0]
            # the clipped command, and the joint that held at the clip with it
            assert finding.channels == [
                f"action/{SATURATED_JOINT}",
                f"observation.state/{SATURATED_JOINT}",
            ]
            assert finding.evidence["limit"] == LIMIT and finding.evidence["side"] == "upper"
            assert finding.evidence["duration_s"] >= SATURATION_S
            start, _ = saturation_window(info.seed, round(info.duration_ns * 30 / 1e9))
            assert abs(finding.t_start_ns - start / 30 * 1e9) <= 0.25e9  # enters during the ramp
        for effect in ("baseline", "same", "drop10", "better"):
            for info in _episodes(catalog_path, effect):
                causes = {f.cause for f in findings_for(catalog, info.id)}
                assert "action_saturation" not in causes, (effect, info.name)
                confident = {
                    f.cause for f in findings_for(catalog, info.id) if f.confidence >= CONFIDENT
                }
                # the only confident finding of an unchanged policy: its recorded failures
                expected = set() if info.outcome.value == "success" else {"outcome_failed"}
                assert confident == expected, (effect, info.name)


def test_saturated_joint_is_pinned_at_the_limit_only_there(catalog_path: Path) -> None:
    k = JOINTS.index(SATURATED_JOINT)
    for info in _episodes(catalog_path, "saturate")[:10]:
        column = _actions(info)[:, k]
        start, stop = saturation_window(info.seed, len(column))
        assert np.all(column[start:stop] == LIMIT)
    for info in _episodes(catalog_path, "baseline"):
        actions = _actions(info)
        assert actions[:, k].max() < LIMIT - 0.03
        assert np.abs(actions).max() < LIMIT


def test_same_is_another_realisation_and_better_is_smoother(catalog_path: Path) -> None:
    by_seed = {
        effect: {e.seed: e for e in _episodes(catalog_path, effect)}
        for effect in ("baseline", "same", "better")
    }
    jerks: dict[str, list[float]] = {"baseline": [], "same": [], "better": []}
    for seed in range(10):
        actions = {effect: _actions(by_seed[effect][seed]) for effect in jerks}
        t_ns = np.arange(len(actions["baseline"]), dtype=np.int64) * (10**9 // 30)
        for effect, values in actions.items():
            jerks[effect].append(action_jerk(t_ns[: len(values)], values))
        # the same scenario: the policies differ only by their jitter
        difference = actions["same"] - actions["baseline"]
        assert 0.002 < np.abs(difference).mean() < 0.01
    assert np.mean(jerks["same"]) == pytest.approx(np.mean(jerks["baseline"]), rel=0.1)
    assert np.mean(jerks["better"]) < 0.4 * np.mean(jerks["baseline"])
