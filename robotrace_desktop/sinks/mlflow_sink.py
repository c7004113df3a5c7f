"""MLflow: one run per episode and one per verify result, with tags, metrics and artifacts.

An episode run is named after the episode; its tags carry the reproducibility fields (so the
MLflow UI can filter on ``policy_version`` or ``seed``) and ``robotrace.episode_id/url/outcome/
status``; params the source/robot/task; metrics the duration, the number of findings and the top
confidence; artifacts ``findings.json``, ``episode.json`` (the catalog row with its streams and
deep link) and, for native bundles, the manifest. A verify run has ``verify.passed`` and per
metric row ``verify.<metric>.baseline|candidate|delta|p_value``, the baseline/candidate/verdict
as tags, and result.json, report.html and junit.xml as artifacts.

Everything goes through ``MlflowClient`` (never the fluent ``mlflow.start_run`` state), so the
sink cannot end or hijack a run the user's script has open. Runs are nested under ``run_id``
when given, else under the script's active MLflow run when the sink uses the same tracking URI.

A ``file:`` tracking URI (or a plain folder) is MLflow's file store, which MLflow 3 only opens
with ``MLFLOW_ALLOW_FILE_STORE=true``; asking for one explicitly opts in (unless that variable
is already set). ``mlflow-skinny`` has no SQLAlchemy, so a ``sqlite:`` store (MLflow 3's
default) needs the full ``mlflow`` package: that is reported as a ConfigurationError.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from robotrace_desktop.core import jsonsafe
from robotrace_desktop.core.links import EpisodeLink
from robotrace_desktop.errors import ConfigurationError
from robotrace_desktop.sinks.base import Sink

if TYPE_CHECKING:
    from robotrace_desktop.core.episode import EpisodeInfo
    from robotrace_desktop.core.finding import Finding
    from robotrace_desktop.verify.model import VerifyResult

DEFAULT_EXPERIMENT = "robotrace"
#: the reproducibility fields, tagged under their own names
REPRO_FIELDS = ("source", "robot", "policy_version", "env_version", "git_sha", "seed", "task")
PARAM_FIELDS = ("source", "robot", "task")
#: conservative limits every MLflow server accepts (newer ones allow more)
MAX_TAG = 5000
MAX_PARAM = 500
MAX_KEY = 250
BATCH_METRICS = 1000
DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")


class MlflowSink(Sink):
    name = "mlflow"

    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment: str | None = None,
        run_id: str | None = None,
    ) -> None:
        """``tracking_uri``: default ``MLFLOW_TRACKING_URI`` / MLflow's own default;
        ``experiment``: default ``MLFLOW_EXPERIMENT_NAME`` or "robotrace"; ``run_id``: nest
        every run under this parent run (and log into its experiment)."""
        import mlflow  # the extra: ImportError here means "pip install robotrace-desktop[mlflow]"
        from mlflow.tracking import MlflowClient

        uri = tracking_uri or mlflow.get_tracking_uri()
        if is_file_store(uri):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        try:
            self._client = MlflowClient(tracking_uri=uri)
        except Exception as exc:  # a store it cannot open: an option to fix, not a crash
            raise ConfigurationError(store_problem(uri, tracking_uri is None, exc)) from None
        self.tracking_uri = uri
        named = experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME")
        self.experiment = named or DEFAULT_EXPERIMENT
        self._parent = run_id
        if run_id is None and tracking_uri is None:
            active = mlflow.active_run()  # the script's own run, in the same store
            self._parent = active.info.run_id if active is not None else None
        self._experiment_id: str | None = None
        #: ids of the runs this sink created, in order (what a caller or test can look up)
        self.run_ids: list[str] = []

    @property
    def client(self) -> Any:
        return self._client

    # ----------------------------------------------------------------- episodes

    def export_episode(self, info: EpisodeInfo, findings: Sequence[Finding]) -> None:
        url = EpisodeLink(info.id).url()
        tags = {
            field: getattr(info, field)
            for field in REPRO_FIELDS
            if getattr(info, field) is not None
        }
        tags.update(
            {
                "robotrace.kind": "episode",
                "robotrace.episode_id": info.id,
                "robotrace.url": url,
                "robotrace.outcome": str(info.outcome),
                "robotrace.status": str(info.status),
                "robotrace.format": info.kind,
                "robotrace.path": info.path,
            }
        )
        if info.git_sha:
            tags["mlflow.source.git.commit"] = info.git_sha
        if findings:
            tags["robotrace.top_cause"] = findings[0].cause
        params = {f: getattr(info, f) for f in PARAM_FIELDS if getattr(info, f) is not None}
        metrics: dict[str, float] = {
            "duration_s": info.duration_ns / 1e9,
            "n_findings": float(len(findings)),
        }
        if findings:
            metrics["top_confidence"] = float(findings[0].confidence)
        episode = info.to_dict(with_streams=True)
        episode["url"] = url
        with self._run(info.name or info.id, tags) as run_id:
            self._log_batch(run_id, metrics, params)
            self._client.log_text(
                run_id, jsonsafe.dumps([f.to_dict() for f in findings], indent=2), "findings.json"
            )
            self._client.log_text(run_id, jsonsafe.dumps(episode, indent=2), "episode.json")
            manifest = _bundle_manifest(info)
            if manifest is not None:
                self._client.log_artifact(run_id, str(manifest))

    # ----------------------------------------------------------------- verify

    def export_verify(self, result: VerifyResult) -> None:
        from robotrace_desktop.verify.report_html import render_html
        from robotrace_desktop.verify.report_junit import render_junit

        tags = {
            "robotrace.kind": "verify",
            "robotrace.baseline": result.baseline,
            "robotrace.candidate": result.candidate,
            "robotrace.verdict": result.verdict,
            "robotrace.failed_checks": ",".join(c.name for c in result.failed_checks),
        }
        if result.policy:
            tags["robotrace.policy"] = result.policy
        metrics: dict[str, float] = {
            "verify.passed": 1.0 if result.verdict == "pass" else 0.0,
            "verify.n_baseline": float(len(result.baseline_ids)),
            "verify.n_candidate": float(len(result.candidate_ids)),
            "verify.n_rerolled": float(len(result.rerolls)),
            "verify.n_regressed_pairs": float(sum(p.regressed for p in result.pairs)),
            "verify.n_failed_checks": float(len(result.failed_checks)),
        }
        for metric in result.metrics:
            for part in ("baseline", "candidate", "delta", "p_value"):
                value = getattr(metric, part)
                if value is not None and math.isfinite(value):
                    metrics[metric_key(f"verify.{metric.metric}.{part}")] = float(value)
        name = f"verify {result.candidate} vs {result.baseline}"
        with self._run(name, tags) as run_id:
            self._log_batch(run_id, metrics, {})
            self._client.log_text(
                run_id, jsonsafe.dumps(result.to_json_dict(), indent=2), "result.json"
            )
            self._client.log_text(run_id, render_html(result), "report.html")
            self._client.log_text(run_id, render_junit(result), "junit.xml")

    # ----------------------------------------------------------------- plumbing

    def _experiment(self) -> str:
        """The parent run's experiment, else the named one (created on first use)."""
        if self._experiment_id is None:
            if self._parent is not None:
                self._experiment_id = self._client.get_run(self._parent).info.experiment_id
            else:
                self._experiment_id = self._named_experiment()
        return self._experiment_id

    def _named_experiment(self) -> str:
        found = self._client.get_experiment_by_name(self.experiment)
        if found is not None:
            return str(found.experiment_id)
        try:
            return str(self._client.create_experiment(self.experiment))
        except Exception:
            found = self._client.get_experiment_by_name(self.experiment)
            if found is None:
                raise
            return str(found.experiment_id)  # another process created it meanwhile

    @contextmanager
    def _run(self, name: str, tags: dict[str, Any]) -> Iterator[str]:
        """A run that ends FINISHED, or FAILED when logging into it raised."""
        clean = {key: _clip(str(value), MAX_TAG) for key, value in tags.items()}
        if self._parent is not None:
            clean["mlflow.parentRunId"] = self._parent
        run = self._client.create_run(self._experiment(), run_name=name, tags=clean)
        run_id = run.info.run_id
        self.run_ids.append(run_id)
        try:
            yield run_id
        except BaseException:
            self._client.set_terminated(run_id, status="FAILED")
            raise
        self._client.set_terminated(run_id, status="FINISHED")

    def _log_batch(self, run_id: str, metrics: dict[str, float], params: dict[str, Any]) -> None:
        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)
        metric_list = [Metric(key, value, now, 0) for key, value in metrics.items()]
        param_list = [Param(key, _clip(str(value), MAX_PARAM)) for key, value in params.items()]
        for start in range(0, max(len(metric_list), 1), BATCH_METRICS):
            self._client.log_batch(
                run_id,
                metrics=metric_list[start : start + BATCH_METRICS],
                params=param_list if start == 0 else [],
            )


def is_file_store(uri: str) -> bool:
    """A ``file:`` URI or a plain (local or Windows) path: MLflow's file store."""
    scheme = urlsplit(uri).scheme
    return scheme in ("", "file") or len(scheme) == 1  # "C:\\runs" parses as scheme "c"


def store_problem(uri: str, default: bool, exc: Exception) -> str:
    """One line saying why the tracking store will not open, and what to do."""
    where = f"MLflow tracking URI {uri!r}" + (" (MLflow's default)" if default else "")
    database = urlsplit(uri).scheme.split("+")[0] in DATABASE_SCHEMES
    if database and importlib.util.find_spec("sqlalchemy") is None:
        return (
            f"{where} is a database store, which needs SQLAlchemy (mlflow-skinny has none): "
            "give --tracking-uri / MLFLOW_TRACKING_URI an http(s) server or a file: folder, "
            "or pip install mlflow"
        )
    return f"{where}: {type(exc).__name__}: {exc}"


def metric_key(text: str) -> str:
    """MLflow keys allow letters, digits, ``_ - . / space``: ``cause:x`` becomes ``cause.x``."""
    return re.sub(r"[^\w.\-/ ]", "_", text.replace(":", "."))[:MAX_KEY]


def _bundle_manifest(info: EpisodeInfo) -> Path | None:
    if info.kind != "bundle":
        return None
    from robotrace_desktop.bundle.manifest import MANIFEST_NAME

    path = Path(info.path) / MANIFEST_NAME
    return path if path.is_file() else None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
