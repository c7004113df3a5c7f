"""Weights & Biases: episodes and findings as tables, verify results as metrics and a report.

Episodes are batched: ``export_episode`` only appends rows, and ``close`` logs one
``robotrace/episodes`` table, one ``robotrace/findings`` table and the summary counts in a
single ``run.log`` call (W&B tables are immutable once logged, so one table per batch beats one
per episode). A verify result is logged at once: ``verify/passed`` (1/0), per metric row
``verify/<metric>/baseline|candidate|delta|p_value``, the gate checks and the worst pairs as
tables, the HTML report as a ``wandb.Html`` panel, and an artifact with report.html,
result.json and junit.xml.

The run is the one given, else the process's active ``wandb.run`` (a training script's own run),
else a new one (``job_type="robotrace-export"``) that ``close`` finishes. A run the sink did not
start is never finished by it. ``wandb`` itself is imported when the sink is made, so a missing
extra shows up as an ImportError there (``make_sink`` turns it into the pip line).
"""

from __future__ import annotations

import atexit
import io
import logging
import math
import os
import re
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from robotrace_desktop.core import jsonsafe
from robotrace_desktop.core.episode import Outcome
from robotrace_desktop.core.finding import CONFIDENT
from robotrace_desktop.core.links import EpisodeLink
from robotrace_desktop.sinks.base import Sink

if TYPE_CHECKING:
    from robotrace_desktop.core.episode import EpisodeInfo
    from robotrace_desktop.core.finding import Finding
    from robotrace_desktop.verify.model import VerifyResult

log = logging.getLogger(__name__)

DEFAULT_PROJECT = "robotrace"
JOB_TYPE = "robotrace-export"
#: worst pairs logged in the verify pairs table
PAIRS_LOGGED = 100

EPISODE_COLUMNS = [
    "episode_id",
    "name",
    "url",
    "source",
    "robot",
    "policy_version",
    "env_version",
    "git_sha",
    "seed",
    "task",
    "outcome",
    "status",
    "duration_s",
    "top_cause",
    "top_confidence",
    "n_findings",
]
FINDING_COLUMNS = [
    "episode_id",
    "rank",
    "cause",
    "title",
    "confidence",
    "severity",
    "t_start_s",
    "t_end_s",
    "explanation",
    "link",
]
CHECK_COLUMNS = ["name", "passed", "detail", "value", "threshold"]
PAIR_COLUMNS = [
    "baseline_id",
    "baseline_name",
    "candidate_id",
    "candidate_name",
    "replay_id",
    "regression",
    "regressed",
    "summary",
    "link",
]


class WandbSink(Sink):
    name = "wandb"

    def __init__(
        self,
        project: str | None = None,
        entity: str | None = None,
        mode: str | None = None,
        dir: str | os.PathLike[str] | None = None,  # wandb.init calls it dir
        run: Any = None,
        **init_kwargs: Any,
    ) -> None:
        """``project`` defaults to ``WANDB_PROJECT`` or "robotrace"; ``mode`` ("offline",
        "online", "disabled") and ``dir`` go to ``wandb.init`` as do ``init_kwargs`` (name,
        tags, group…). ``run``: log into this run instead (never finished here)."""
        import wandb  # the extra: ImportError here means "pip install robotrace-desktop[wandb]"

        self._wandb = wandb
        self._init = {
            "project": project or os.environ.get("WANDB_PROJECT") or DEFAULT_PROJECT,
            "entity": entity,
            "mode": mode,
            "dir": None if dir is None else os.fspath(dir),
            "job_type": JOB_TYPE,
            **init_kwargs,
        }
        self._given_run = run
        self._run: Any = None
        self._owns_run = False
        self._episodes: list[list[Any]] = []
        self._findings: list[list[Any]] = []
        self._exit_hook = False

    # ----------------------------------------------------------------- the run

    @property
    def run(self) -> Any:
        """The run being logged to (None before the first log)."""
        return self._run

    def _ensure_run(self) -> Any:
        if self._run is None:
            if self._given_run is not None:
                self._run = self._given_run
            elif self._wandb.run is not None:
                self._run = self._wandb.run
            else:
                options = {k: v for k, v in self._init.items() if v is not None}
                self._run = self._wandb.init(**options)
                self._owns_run = True
        return self._run

    # ----------------------------------------------------------------- episodes

    def export_episode(self, info: EpisodeInfo, findings: Sequence[Finding]) -> None:
        self._episodes.append(episode_row(info, findings))
        self._findings.extend(finding_rows(info, findings))
        if not self._exit_hook:  # rows still pending when the process ends are logged then
            atexit.register(self._close_at_exit)
            self._exit_hook = True

    def _log_episodes(self) -> None:
        wandb = self._wandb
        episodes, findings = self._episodes, self._findings
        self._episodes, self._findings = [], []
        run = self._ensure_run()
        run.log(
            {
                "robotrace/episodes": wandb.Table(
                    columns=EPISODE_COLUMNS, data=episodes, allow_mixed_types=True
                ),
                "robotrace/findings": wandb.Table(
                    columns=FINDING_COLUMNS, data=findings, allow_mixed_types=True
                ),
            }
        )
        run.summary.update(episode_summary(episodes))

    # ----------------------------------------------------------------- verify

    def export_verify(self, result: VerifyResult) -> None:
        from robotrace_desktop.verify.report_html import render_html
        from robotrace_desktop.verify.report_junit import render_junit

        wandb = self._wandb
        data: dict[str, Any] = verify_metrics(result)
        data["verify/checks"] = wandb.Table(
            columns=CHECK_COLUMNS, data=check_rows(result), allow_mixed_types=True
        )
        data["verify/pairs"] = wandb.Table(
            columns=PAIR_COLUMNS, data=pair_rows(result), allow_mixed_types=True
        )
        html = render_html(result)
        # a file object: newer wandb reads a plain str as a path; inject=False keeps the
        # report self-contained (it forbids outside styles and scripts)
        data["verify/report"] = wandb.Html(io.StringIO(html), inject=False)
        run = self._ensure_run()
        run.log(data)

        artifact = wandb.Artifact(
            artifact_name(result),
            type="robotrace-verify",
            description=f"verify {result.candidate} vs {result.baseline}: {result.verdict}",
            metadata={
                "verdict": result.verdict,
                "baseline": result.baseline,
                "candidate": result.candidate,
                "failed_checks": [c.name for c in result.failed_checks],
            },
        )
        with artifact.new_file("report.html", encoding="utf-8") as handle:
            handle.write(html)
        with artifact.new_file("result.json", encoding="utf-8") as handle:
            handle.write(jsonsafe.dumps(result.to_json_dict(), indent=2))
        with artifact.new_file("junit.xml", encoding="utf-8") as handle:
            handle.write(render_junit(result))
        run.log_artifact(artifact)

    # ----------------------------------------------------------------- closing

    def close(self) -> None:
        """Log the pending episode batch, then finish the run if this sink started it."""
        if self._exit_hook:
            atexit.unregister(self._close_at_exit)
            self._exit_hook = False
        try:
            if self._episodes:
                self._log_episodes()
        finally:
            run, owned = self._run, self._owns_run
            self._run, self._owns_run = None, False
            if run is not None and owned:
                run.finish()

    def _close_at_exit(self) -> None:
        try:
            self.close()
        except Exception as exc:  # at exit: a warning, never a traceback
            log.warning("wandb sink: could not log the pending episodes: %s", exc)


# --------------------------------------------------------------------- rows


def episode_row(info: EpisodeInfo, findings: Sequence[Finding]) -> list[Any]:
    top = findings[0] if findings else None
    return [
        info.id,
        info.name,
        EpisodeLink(info.id).url(),
        info.source,
        info.robot,
        info.policy_version,
        info.env_version,
        info.git_sha,
        info.seed,
        info.task,
        str(info.outcome),
        str(info.status),
        round(info.duration_ns / 1e9, 6),
        top.cause if top else None,
        top.confidence if top else None,
        len(findings),
    ]


def finding_rows(info: EpisodeInfo, findings: Sequence[Finding]) -> list[list[Any]]:
    return [
        [
            info.id,
            f.rank or position,
            f.cause,
            f.title,
            f.confidence,
            f.severity,
            _seconds(f.t_start_ns),
            _seconds(f.t_end_ns),
            f.explanation,
            EpisodeLink(info.id, f.t_start_ns).url(),
        ]
        for position, f in enumerate(findings, start=1)
    ]


def episode_summary(rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """Counts over the batch: episodes, failures, findings, and per cause the episodes whose
    confident top finding it is (as ``explain --all`` counts them)."""
    column = {name: i for i, name in enumerate(EPISODE_COLUMNS)}
    causes: Counter[str] = Counter()
    for row in rows:
        confidence = row[column["top_confidence"]]
        if row[column["top_cause"]] and confidence is not None and confidence >= CONFIDENT:
            causes[row[column["top_cause"]]] += 1
    summary: dict[str, Any] = {
        "robotrace/n_episodes": len(rows),
        "robotrace/n_failures": sum(
            row[column["outcome"]] == Outcome.FAILURE.value for row in rows
        ),
        "robotrace/n_findings": sum(row[column["n_findings"]] for row in rows),
    }
    summary.update({f"robotrace/cause/{cause}": n for cause, n in sorted(causes.items())})
    return summary


def verify_metrics(result: VerifyResult) -> dict[str, Any]:
    data: dict[str, Any] = {
        "verify/passed": 1 if result.verdict == "pass" else 0,
        "verify/n_baseline": len(result.baseline_ids),
        "verify/n_candidate": len(result.candidate_ids),
        "verify/n_rerolled": len(result.rerolls),
        "verify/n_regressed_pairs": sum(p.regressed for p in result.pairs),
        "verify/n_failed_checks": len(result.failed_checks),
    }
    for metric in result.metrics:
        for part in ("baseline", "candidate", "delta", "p_value"):
            value = getattr(metric, part)
            if value is not None and math.isfinite(value):
                data[f"verify/{metric.metric}/{part}"] = float(value)
    return data


def check_rows(result: VerifyResult) -> list[list[Any]]:
    return [[c.name, c.passed, c.detail, c.value, c.threshold] for c in result.checks]


def pair_rows(result: VerifyResult) -> list[list[Any]]:
    worst = sorted(result.pairs, key=lambda p: -p.regression)[:PAIRS_LOGGED]
    return [
        [
            p.baseline_id,
            p.baseline_name,
            p.candidate_id,
            p.candidate_name,
            p.replay_id,
            p.regression,
            p.regressed,
            p.summary,
            p.link,
        ]
        for p in worst
    ]


def artifact_name(result: VerifyResult) -> str:
    """W&B artifact names allow letters, digits, '-', '_' and '.' only."""
    text = f"robotrace-verify-{result.candidate}-vs-{result.baseline}"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:120]


def _seconds(t_ns: int | None) -> float | None:
    return None if t_ns is None else round(t_ns / 1e9, 6)
