"""The W&B sink in offline mode (no network, no login): what was logged is read back from the
offline run folder — the run's transaction log (``run-<id>.wandb``, records parsed with
wandb's own protobuf classes), the table and HTML files it points to, and the staged artifact
files — as a user syncing the run would see it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from robotrace_desktop.errors import ConfigurationError
from robotrace_desktop.sinks.base import make_sink, make_sinks_safely
from robotrace_desktop.sinks.wandb_sink import EPISODE_COLUMNS, FINDING_COLUMNS, WandbSink
from tests.extras import lazy_import
from tests.sinks.test_mlflow_sink import (
    FAILED_ID,
    REPO,
    SUCCESS_ID,
    sample_episodes,
    sample_verify_result,
)

wandb = lazy_import("wandb")  # used only by tests marked extra("wandb")
wandb_internal_pb2 = lazy_import("wandb.proto.wandb_internal_pb2")
needs_wandb = pytest.mark.extra("wandb")

_BLOCK = 32768  # the transaction log is a LevelDB-style log: 32 KiB blocks, 7-byte headers
_FULL, _LAST = 1, 4


def offline_env(root: Path) -> dict[str, str]:
    """W&B offline and silent, every W&B folder inside ``root``."""
    return {
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "WANDB_CONSOLE": "off",
        "WANDB_DISABLE_GIT": "true",
        "WANDB_DISABLE_CODE": "true",
        "WANDB_DIR": str(root),
        "WANDB_DATA_DIR": str(root / "data"),
        "WANDB_CACHE_DIR": str(root / "cache"),
        "WANDB_CONFIG_DIR": str(root / "config"),
    }


def use_offline_wandb(monkeypatch: pytest.MonkeyPatch, root: Path) -> Path:
    for name in ("WANDB_API_KEY", "WANDB_PROJECT", "WANDB_ENTITY", "WANDB_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in offline_env(root).items():
        monkeypatch.setenv(name, value)
    return root


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """W&B offline in a fresh folder; W&B's process-wide settings are reset afterwards (it
    reads WANDB_DIR once per process setup)."""
    root = use_offline_wandb(monkeypatch, tmp_path / "wandb_root")
    root.mkdir()
    yield root
    if wandb.run is not None:
        wandb.run.finish()
    wandb.teardown()


# --------------------------------------------------------------------- reading a run back


def wandb_records(log_file: Path) -> Iterator[Any]:
    """The records of a run's ``.wandb`` transaction log."""
    data = log_file.read_bytes()
    assert data[:4] == b":W&B", f"{log_file} is not a W&B transaction log"
    pos, pending = 7, b""
    while pos + 7 <= len(data):
        room = _BLOCK - pos % _BLOCK
        if room < 7:  # block trailer padding
            pos += room
            continue
        length = int.from_bytes(data[pos + 4 : pos + 6], "little")
        kind = data[pos + 6]
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (_FULL, _LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


@dataclass
class LoggedRun:
    folder: Path
    run: Any  # RunRecord: project, job_type…
    summary: dict[str, Any] = field(default_factory=dict)
    artifacts: list[Any] = field(default_factory=list)  # ArtifactRecord

    def table(self, key: str) -> list[dict[str, Any]]:
        ref = self.summary[key]
        assert ref["_type"] == "table-file", ref
        data = json.loads((self.folder / "files" / ref["path"]).read_text())
        return [dict(zip(data["columns"], row, strict=True)) for row in data["data"]]

    def columns(self, key: str) -> list[str]:
        ref = self.summary[key]
        return json.loads((self.folder / "files" / ref["path"]).read_text())["columns"]

    def html(self, key: str) -> str:
        ref = self.summary[key]
        assert ref["_type"] == "html-file", ref
        return (self.folder / "files" / ref["path"]).read_text(encoding="utf-8")

    def artifact(self, type_: str) -> tuple[Any, dict[str, bytes]]:
        """The one logged artifact of that type and its files' staged contents."""
        found = [a for a in self.artifacts if a.type == type_]
        assert len(found) == 1, [a.type for a in self.artifacts]
        files = {e.path: Path(e.local_path).read_bytes() for e in found[0].manifest.contents}
        return found[0], files


def read_run(folder: Path) -> LoggedRun:
    """What the run folder holds. W&B's service process writes the log asynchronously, even
    after ``run.finish()``: stopping the service (once no run is open) waits for it."""
    if wandb.run is None:
        wandb.teardown()
    (log_file,) = folder.glob("run-*.wandb")
    logged = LoggedRun(folder, None)
    for record in wandb_records(log_file):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            logged.run = record.run
        elif kind == "artifact":
            logged.artifacts.append(record.artifact)
        elif kind == "summary":
            for item in record.summary.update:
                keys = [item.key] if item.key else list(item.nested_key)
                target = logged.summary
                for key in keys[:-1]:
                    target = target.setdefault(key, {})
                target[keys[-1]] = json.loads(item.value_json)
    return logged


def offline_runs(root: Path) -> list[Path]:
    return sorted((root / "wandb").glob("offline-run-*"))


# --------------------------------------------------------------------- episodes


@needs_wandb
def test_episodes_are_batched_into_one_run_it_starts_and_finishes(offline: Path) -> None:
    sink = WandbSink(project="robotrace-tests", dir=offline)
    for info, findings in sample_episodes():
        sink.export_episode(info, findings)
    # nothing is sent before close: W&B tables are immutable, one table per batch
    assert sink.run is None and offline_runs(offline) == []
    sink.close()
    assert wandb.run is None  # the sink's own run is finished

    (folder,) = offline_runs(offline)
    logged = read_run(folder)
    assert logged.run.project == "robotrace-tests"
    assert logged.run.job_type == "robotrace-export"
    assert logged.columns("robotrace/episodes") == EPISODE_COLUMNS
    episodes = {row["episode_id"]: row for row in logged.table("robotrace/episodes")}
    assert list(episodes) == [FAILED_ID, SUCCESS_ID]
    failed = episodes[FAILED_ID]
    assert failed["name"] == "pick-042"
    assert failed["url"] == f"robotrace://episode/{FAILED_ID}"
    assert failed["policy_version"] == "v2.3" and failed["seed"] == 42
    assert failed["git_sha"] == "9f1c2ab" and failed["outcome"] == "failure"
    assert failed["duration_s"] == 12.5
    assert failed["top_cause"] == "action_saturation" and failed["top_confidence"] == 0.82
    assert failed["n_findings"] == 2
    assert episodes[SUCCESS_ID]["top_cause"] is None and episodes[SUCCESS_ID]["n_findings"] == 0

    assert logged.columns("robotrace/findings") == FINDING_COLUMNS
    findings = logged.table("robotrace/findings")
    assert [(f["episode_id"], f["rank"], f["cause"]) for f in findings] == [
        (FAILED_ID, 1, "action_saturation"),
        (FAILED_ID, 2, "tracking_error"),
    ]
    assert findings[0]["t_start_s"] == 3.2 and findings[0]["severity"] == "high"
    assert findings[0]["link"] == f"robotrace://episode/{FAILED_ID}?t=3200ms"
    assert "shoulder_pan" in findings[0]["explanation"]

    assert logged.summary["robotrace/n_episodes"] == 2
    assert logged.summary["robotrace/n_failures"] == 1
    assert logged.summary["robotrace/n_findings"] == 2
    # per cause: episodes whose confident top finding it is (tracking_error is rank 2)
    assert logged.summary["robotrace/cause/action_saturation"] == 1
    assert "robotrace/cause/tracking_error" not in logged.summary


@needs_wandb
def test_logs_into_the_scripts_active_run_and_leaves_it_open(offline: Path) -> None:
    run = wandb.init(project="training", dir=offline, config={"lr": 0.001})
    run.log({"loss": 0.5})
    sink = make_sink("wandb")  # no run given: the active wandb.run is used
    info, findings = sample_episodes()[0]
    sink.export_episode(info, findings)
    sink.close()
    assert wandb.run is run  # not finished by the sink
    run.log({"loss": 0.25})  # the script goes on logging
    assert run.summary["robotrace/n_episodes"] == 1
    run.finish()

    (folder,) = offline_runs(offline)  # no second run was started
    logged = read_run(folder)
    assert logged.run.project == "training"
    assert logged.summary["loss"] == 0.25
    assert [r["episode_id"] for r in logged.table("robotrace/episodes")] == [FAILED_ID]


# --------------------------------------------------------------------- verify


@needs_wandb
def test_verify_result_metrics_tables_report_and_artifact(offline: Path) -> None:
    result = sample_verify_result()
    given = wandb.init(project="release", dir=offline)
    sink = WandbSink(run=given)
    sink.export_verify(result)
    sink.close()
    given.finish()

    logged = read_run(offline_runs(offline)[0])
    summary = logged.summary
    assert summary["verify/passed"] == 0
    assert summary["verify/success_rate/baseline"] == 0.9
    assert summary["verify/success_rate/candidate"] == 0.8
    assert summary["verify/success_rate/delta"] == pytest.approx(-0.1)
    assert summary["verify/success_rate/p_value"] == 0.003
    assert summary["verify/cause:action_saturation/delta"] == pytest.approx(0.15)
    assert "verify/jerk/p_value" not in summary  # None is not logged as a number
    assert summary["verify/n_baseline"] == 150 and summary["verify/n_failed_checks"] == 1
    assert summary["verify/n_regressed_pairs"] == 120

    checks = logged.table("verify/checks")
    assert [(c["name"], c["passed"]) for c in checks] == [
        ("success_rate_drop", False),
        ("new_findings", True),
    ]
    pairs = logged.table("verify/pairs")
    assert len(pairs) == 100  # the worst 100 of 120
    assert pairs[0]["baseline_id"] == "base119" and pairs[0]["regression"] == 120.0
    assert pairs[0]["link"] == "robotrace://episode/cand119?t=2500ms"
    assert min(p["regression"] for p in pairs) == 21.0

    html = logged.html("verify/report")
    assert "FAIL" in html and "v2.4-candidate" in html
    assert "<script" not in html.lower()  # not injected: the report stays self-contained

    artifact, files = logged.artifact("robotrace-verify")
    assert artifact.name == "robotrace-verify-v2.4-candidate-vs-v2.3"
    assert sorted(files) == ["junit.xml", "report.html", "result.json"]
    assert json.loads(files["result.json"])["verdict"] == "fail"
    assert b"<testsuites" in files["junit.xml"]
    assert files["report.html"].decode() == html


# --------------------------------------------------------------------- missing / broken


def test_missing_wandb_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)  # what an uninstalled package looks like
    with pytest.raises(ConfigurationError, match=r"pip install 'robotrace-desktop\[wandb\]'"):
        make_sink("wandb")
    sinks, warnings = make_sinks_safely(["wandb"])
    assert sinks == []
    assert len(warnings) == 1 and "robotrace-desktop[wandb]" in warnings[0]


@needs_wandb
def test_rows_still_pending_at_exit_are_logged(tmp_path: Path) -> None:
    """An SDK user who never calls close(): the batch is logged when the process ends."""
    root = tmp_path / "wandb_root"
    root.mkdir()
    script = (
        "from robotrace_desktop.sinks.wandb_sink import WandbSink\n"
        "from tests.sinks.test_mlflow_sink import sample_episodes\n"
        "sink = WandbSink(project='atexit')\n"
        "for info, findings in sample_episodes():\n"
        "    sink.export_episode(info, findings)\n"
    )
    env = {**_without_wandb(os.environ), **offline_env(root), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    (folder,) = offline_runs(root)
    logged = read_run(folder)
    assert logged.summary["robotrace/n_episodes"] == 2
    assert len(logged.table("robotrace/episodes")) == 2


@needs_wandb
def test_example_runs_offline(tmp_path: Path) -> None:
    root = tmp_path / "wandb_root"
    env = {
        **_without_wandb(os.environ),
        "ROBOTRACE_HOME": str(tmp_path / "home"),
        "TMPDIR": str(tmp_path),  # the example's own temporary W&B folder goes here
        **{k: v for k, v in offline_env(root).items() if k.endswith(("DATA_DIR", "CACHE_DIR"))},
        "WANDB_CONFIG_DIR": str(root / "config"),
    }
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "wandb_sink.py")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Gripper closed on nothing" in done.stdout  # the demo's known fault, found
    folder = Path(done.stdout.strip().splitlines()[-1])
    assert folder.parent == tmp_path
    (run_folder,) = offline_runs(folder)
    logged = read_run(run_folder)
    assert logged.run.project == "robotrace-example"
    assert logged.summary["robotrace/n_episodes"] == 1
    assert logged.summary["robotrace/cause/gripper_empty_close"] == 1
    (row,) = logged.table("robotrace/episodes")
    assert row["name"] == "pick-and-place-seed7" and row["outcome"] == "failure"
    assert row["top_cause"] == "gripper_empty_close"
    assert row["url"].startswith("robotrace://episode/")


def _without_wandb(environ: Any) -> dict[str, str]:
    return {k: v for k, v in environ.items() if not k.startswith("WANDB_")}
