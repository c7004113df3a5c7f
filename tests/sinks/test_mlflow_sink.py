"""The MLflow sink against a local file store, read back with ``MlflowClient``: the runs, their
tags, params, metrics and artifacts (listed and opened), as a user browsing MLflow sees them.

The sample episodes and verify result here are shared with the W&B and export-to tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from robotrace_desktop.bundle.manifest import MANIFEST_NAME
from robotrace_desktop.core.episode import EpisodeInfo, Outcome, StreamInfo, StreamKind
from robotrace_desktop.core.finding import Finding
from robotrace_desktop.errors import ConfigurationError
from robotrace_desktop.sinks.base import make_sink, make_sinks_safely
from robotrace_desktop.sinks.mlflow_sink import MlflowSink, metric_key
from robotrace_desktop.verify.model import GateCheck, MetricComparison, PairDiff, VerifyResult
from tests.extras import lazy_import

mlflow_tracking = lazy_import("mlflow.tracking")  # used only by tests marked extra("mlflow")
needs_mlflow = pytest.mark.extra("mlflow")

REPO = Path(__file__).resolve().parents[2]
FAILED_ID = "ep-failed-0042"
SUCCESS_ID = "ep-success-0043"
MLFLOW_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID")


# --------------------------------------------------------------------- shared samples


def sample_episodes() -> list[tuple[EpisodeInfo, list[Finding]]]:
    """A failed episode with two ranked findings, and a successful one with none."""
    failed = EpisodeInfo(
        id=FAILED_ID,
        kind="lerobot",
        path="/data/pick/dataset",
        episode_index=42,
        name="pick-042",
        duration_ns=12_500_000_000,
        source="sim",
        robot="so100",
        policy_version="v2.3",
        env_version="isaac-4.1",
        git_sha="9f1c2ab",
        seed=42,
        task="pick the red cube",
        outcome=Outcome.FAILURE,
        streams=[
            StreamInfo(
                "action",
                StreamKind.SIGNAL,
                375,
                ("shoulder_pan", "gripper"),
                0,
                12_466_666_667,
            )
        ],
    )
    findings = [
        Finding(
            cause="action_saturation",
            title="Action clipped at the joint limit",
            explanation="action/shoulder_pan held at +1.92 rad (the limit) for 0.84 s",
            confidence=0.82,
            severity="high",
            t_start_ns=3_200_000_000,
            t_end_ns=4_040_000_000,
            channels=["action/shoulder_pan"],
            evidence={"limit": 1.92, "held_s": 0.84},
            next_step="Check the action scaling of shoulder_pan.",
            rank=1,
        ),
        Finding(
            cause="tracking_error",
            title="Joint lags its command",
            explanation="observation.state/gripper trails the command by 0.3 rad",
            confidence=0.4,
            severity="medium",
            rank=2,
        ),
    ]
    success = EpisodeInfo(
        id=SUCCESS_ID,
        kind="lerobot",
        path="/data/pick/dataset",
        episode_index=43,
        name="pick-043",
        duration_ns=9_000_000_000,
        source="sim",
        robot="so100",
        policy_version="v2.3",
        seed=43,
        task="pick the red cube",
        outcome=Outcome.SUCCESS,
    )
    return [(failed, findings), (success, [])]


def sample_verify_result() -> VerifyResult:
    """A failing gate: a significant success-rate drop, 120 regressed pairs (given best first,
    so a sink must sort them itself)."""
    pairs = [
        PairDiff(
            baseline_id=f"base{i}",
            candidate_id=f"cand{i}",
            matched_on=["env_version", "task", "seed"],
            baseline_name=f"pick-{i}",
            candidate_name=f"pick-{i}",
            regression=float(i + 1),
            regressed=True,
            summary="success → failure",
            moment_ns=2_500_000_000,
            link=f"robotrace://episode/cand{i}?t=2500ms",
        )
        for i in range(120)
    ]
    return VerifyResult(
        verdict="fail",
        baseline="v2.3",
        candidate="v2.4-candidate",
        baseline_ids=[f"base{i}" for i in range(150)],
        candidate_ids=[f"cand{i}" for i in range(150)],
        metrics=[
            MetricComparison(
                metric="success_rate",
                label="Success rate",
                unit="%",
                higher_is_better=True,
                baseline=0.9,
                candidate=0.8,
                delta=-0.1,
                p_value=0.003,
                better=False,
            ),
            MetricComparison(
                metric="cause:action_saturation",
                label="Rate of Action saturation",
                unit="%",
                higher_is_better=False,
                baseline=0.05,
                candidate=0.2,
                delta=0.15,
                p_value=0.01,
                better=False,
            ),
            MetricComparison(
                metric="jerk",
                label="Action jerk (RMS)",
                unit="1/s³",
                higher_is_better=False,
                baseline=360.0,
                candidate=459.0,
                delta=99.0,
            ),
        ],
        pairs=pairs,
        checks=[
            GateCheck("success_rate_drop", False, "success rate 90.0% → 80.0%", -0.1, 0.02),
            GateCheck("new_findings", True, "no new critical finding"),
        ],
        elapsed_s=4.2,
    )


# --------------------------------------------------------------------- store and reading


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A local file store; the sink's opt-in to it does not leak into other tests."""
    for name in (*MLFLOW_ENV, "MLFLOW_ALLOW_FILE_STORE"):
        monkeypatch.delenv(name, raising=False)
    return (tmp_path / "mlruns").as_uri()


def client_for(uri: str) -> Any:
    """A reader of the file store (MLflow 3 opens one only when allowed; the sink under test
    must allow it by itself, so the variable is set here only while the reader is made)."""
    before = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        return mlflow_tracking.MlflowClient(uri)
    finally:
        if before is None:
            del os.environ["MLFLOW_ALLOW_FILE_STORE"]
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = before


def runs_of(uri: str, experiment: str = "robotrace") -> list[Any]:
    client = client_for(uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r}"
    runs = client.search_runs([found.experiment_id])
    return sorted(runs, key=lambda r: (r.info.start_time or 0, r.info.run_name))


def artifact_text(uri: str, run_id: str, path: str) -> str:
    local = client_for(uri).download_artifacts(run_id, path)
    return Path(local).read_text(encoding="utf-8")


def artifact_paths(uri: str, run_id: str) -> list[str]:
    return sorted(a.path for a in client_for(uri).list_artifacts(run_id))


# --------------------------------------------------------------------- episodes


@needs_mlflow
def test_one_run_per_episode_with_tags_params_metrics_and_artifacts(store: str) -> None:
    sink = MlflowSink(tracking_uri=store)
    for info, findings in sample_episodes():
        sink.export_episode(info, findings)
    sink.close()

    runs = runs_of(store)
    assert [r.info.run_name for r in runs] == ["pick-042", "pick-043"]
    assert [r.info.run_id for r in runs] == sink.run_ids
    assert {r.info.status for r in runs} == {"FINISHED"}
    failed, success = runs
    tags = failed.data.tags
    assert tags["policy_version"] == "v2.3" and tags["env_version"] == "isaac-4.1"
    assert tags["seed"] == "42" and tags["git_sha"] == "9f1c2ab"
    assert tags["mlflow.source.git.commit"] == "9f1c2ab"
    assert tags["robotrace.episode_id"] == FAILED_ID
    assert tags["robotrace.url"] == f"robotrace://episode/{FAILED_ID}"
    assert tags["robotrace.outcome"] == "failure" and tags["robotrace.status"] == "ready"
    assert tags["robotrace.top_cause"] == "action_saturation"
    assert failed.data.params == {"source": "sim", "robot": "so100", "task": "pick the red cube"}
    assert failed.data.metrics == {"duration_s": 12.5, "n_findings": 2.0, "top_confidence": 0.82}
    assert success.data.metrics == {"duration_s": 9.0, "n_findings": 0.0}
    assert "env_version" not in success.data.tags  # missing fields are not tagged "None"

    run_id = failed.info.run_id
    assert artifact_paths(store, run_id) == ["episode.json", "findings.json"]
    findings = json.loads(artifact_text(store, run_id, "findings.json"))
    assert [(f["rank"], f["cause"]) for f in findings] == [
        (1, "action_saturation"),
        (2, "tracking_error"),
    ]
    assert findings[0]["t_start_ns"] == 3_200_000_000
    assert findings[0]["evidence"] == {"limit": 1.92, "held_s": 0.84}
    episode = json.loads(artifact_text(store, run_id, "episode.json"))
    assert episode["url"] == f"robotrace://episode/{FAILED_ID}"
    assert episode["episode_index"] == 42
    assert [s["name"] for s in episode["streams"]] == ["action"]
    assert json.loads(artifact_text(store, success.info.run_id, "findings.json")) == []


@needs_mlflow
def test_a_bundle_episode_carries_its_manifest(store: str) -> None:
    from robotrace_desktop.demo import ensure_demo_bundle
    from robotrace_desktop.readers.bundle.reader import BundleReader

    bundle = ensure_demo_bundle()
    (info,) = BundleReader().index(bundle)
    sink = make_sink("mlflow", tracking_uri=store, experiment="bundles")
    sink.export_episode(info, [])
    (run,) = runs_of(store, "bundles")
    assert MANIFEST_NAME in artifact_paths(store, run.info.run_id)
    logged = artifact_text(store, run.info.run_id, MANIFEST_NAME)
    assert logged == (bundle / MANIFEST_NAME).read_text(encoding="utf-8")
    assert run.data.tags["robotrace.format"] == "bundle"


@needs_mlflow
def test_runs_nest_under_a_given_parent_run(store: str) -> None:
    client = client_for(store)
    training = client.create_experiment("training")
    parent = client.create_run(training, run_name="train-v2.4").info.run_id
    sink = MlflowSink(tracking_uri=store, run_id=parent)
    info, findings = sample_episodes()[0]
    sink.export_episode(info, findings)
    (child,) = [r for r in runs_of(store, "training") if r.info.run_id != parent]
    assert child.data.tags["mlflow.parentRunId"] == parent
    assert child.info.run_name == "pick-042"
    assert client.get_run(parent).info.status == "RUNNING"  # the parent is the script's


@needs_mlflow
def test_runs_nest_under_the_scripts_active_run(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    client = client_for(store)  # also lets the fluent API open the file store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)  # the script's store
    with mlflow.start_run(run_name="eval-sweep") as active:
        sink = make_sink("mlflow")  # no URI, no run id: the script's run and store
        info, findings = sample_episodes()[1]
        sink.export_episode(info, findings)
        assert mlflow.active_run() is not None  # still the script's, still open
    # the child lives in the parent's experiment (here MLflow's "Default")
    (child,) = [r for r in runs_of(store, "Default") if r.info.run_id != active.info.run_id]
    assert child.data.tags["mlflow.parentRunId"] == active.info.run_id
    assert child.info.run_name == "pick-043"
    assert client.get_run(active.info.run_id).info.status == "FINISHED"


# --------------------------------------------------------------------- verify


@needs_mlflow
def test_verify_run_metrics_tags_and_reports(store: str) -> None:
    result = sample_verify_result()
    sink = MlflowSink(tracking_uri=store, experiment="release")
    sink.export_verify(result)
    (run,) = runs_of(store, "release")
    assert run.info.run_name == "verify v2.4-candidate vs v2.3"
    tags = run.data.tags
    assert tags["robotrace.verdict"] == "fail"
    assert tags["robotrace.baseline"] == "v2.3"
    assert tags["robotrace.candidate"] == "v2.4-candidate"
    assert tags["robotrace.failed_checks"] == "success_rate_drop"
    metrics = run.data.metrics
    assert metrics["verify.passed"] == 0.0
    assert metrics["verify.success_rate.baseline"] == 0.9
    assert metrics["verify.success_rate.candidate"] == 0.8
    assert metrics["verify.success_rate.delta"] == pytest.approx(-0.1)
    assert metrics["verify.success_rate.p_value"] == 0.003
    assert metrics["verify.cause.action_saturation.delta"] == pytest.approx(0.15)
    assert "verify.jerk.p_value" not in metrics
    assert metrics["verify.n_regressed_pairs"] == 120.0

    run_id = run.info.run_id
    assert artifact_paths(store, run_id) == ["junit.xml", "report.html", "result.json"]
    again = VerifyResult.from_json_dict(json.loads(artifact_text(store, run_id, "result.json")))
    assert again.verdict == "fail" and len(again.pairs) == 120
    html = artifact_text(store, run_id, "report.html")
    assert "FAIL" in html and "v2.4-candidate" in html
    junit = ET.fromstring(artifact_text(store, run_id, "junit.xml"))
    assert int(junit.get("failures") or 0) >= 1


@needs_mlflow
def test_metric_keys_are_what_mlflow_accepts() -> None:
    assert metric_key("verify.cause:action_saturation.delta") == (
        "verify.cause.action_saturation.delta"
    )
    assert metric_key("verify.rate (%)") == "verify.rate ___"


# --------------------------------------------------------------------- missing / misconfigured


def test_missing_mlflow_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'robotrace-desktop\[mlflow\]'"):
        make_sink("mlflow")
    sinks, warnings = make_sinks_safely(["mlflow"])
    assert sinks == [] and "robotrace-desktop[mlflow]" in warnings[0]


@needs_mlflow
def test_a_database_store_without_sqlalchemy_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)  # mlflow-skinny has none
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(ConfigurationError) as caught:
        make_sink("mlflow", tracking_uri=uri)
    message = str(caught.value)
    assert uri in message and "SQLAlchemy" in message and "file:" in message
    assert not (tmp_path / "mlflow.db").exists()


@needs_mlflow
def test_example_runs_against_a_local_store(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update({"ROBOTRACE_HOME": str(tmp_path / "home"), "TMPDIR": str(tmp_path)})
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "mlflow_sink.py")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Gripper closed on nothing" in done.stdout  # the demo's known fault, found
    uri = done.stdout.strip().splitlines()[-1]
    assert uri.startswith(tmp_path.as_uri())
    (run,) = runs_of(uri)
    assert run.info.run_name == "pick-and-place-seed7"
    assert run.data.tags["robotrace.top_cause"] == "gripper_empty_close"
    assert run.data.tags["robotrace.outcome"] == "failure"
    assert run.data.metrics["n_findings"] >= 1
    findings = json.loads(artifact_text(uri, run.info.run_id, "findings.json"))
    assert findings[0]["cause"] == "gripper_empty_close"
