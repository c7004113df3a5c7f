"""One verify run, end to end: select, match, measure, re-roll, compare, gate.

The parent process owns the catalog writes (replay episodes) and the aggregation; per-episode
work (reading signals, calling the candidate policy, writing replay bundles) runs in
``engine.map_jobs`` workers. Bad selectors, gate files and policy specs raise before any work
starts; a bad episode only lands in ``result.errors``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from robotrace_desktop.catalog.findings import explained_ids, store_findings
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.episode import EpisodeInfo
from robotrace_desktop.core.finding import Finding
from robotrace_desktop.errors import ValidationError
from robotrace_desktop.verify import jobs
from robotrace_desktop.verify.compare import compare_metrics, pair_diffs
from robotrace_desktop.verify.gate import GateConfig, evaluate, load_gate, verdict_of
from robotrace_desktop.verify.matching import Pair, match_pairs
from robotrace_desktop.verify.model import EpisodeMetrics, GateCheck, RerollResult, VerifyResult
from robotrace_desktop.verify.spec import VerifySpec
from robotrace_desktop.workers import JobError, map_jobs

log = logging.getLogger(__name__)

#: progress(stage, done, total); stages: "metrics", "reroll"
VerifyProgress = Callable[[str, int, int], None]


def replay_root(catalog_path: Path) -> Path:
    """Replays live beside the catalog, never beside the user's recordings."""
    return Path(catalog_path).parent / "library" / "replays"


def run_verify(
    catalog_path: Path,
    spec: VerifySpec,
    *,
    progress: VerifyProgress | None = None,
    cancel: threading.Event | None = None,
) -> VerifyResult:
    started = time.perf_counter()
    catalog_path = Path(catalog_path)
    gate = load_gate(spec.gate_path)
    if spec.allow_inconclusive:
        gate = replace(gate, allow_inconclusive=True)
    if spec.policy:  # fail on a bad spec now, not once per episode in the workers
        from robotrace_desktop.verify.policy import load_policy

        load_policy(spec.policy)
    with Catalog(catalog_path) as catalog:
        baseline = spec.baseline.resolve(catalog)
        candidate = spec.candidate.resolve(catalog) if spec.candidate is not None else []
        overlap = {i.id for i in baseline} & {i.id for i in candidate}
        if overlap:
            raise ValidationError(
                f"baseline {spec.baseline} and candidate {spec.candidate} share "
                f"{len(overlap)} episode(s), e.g. {sorted(overlap)[0]}; compare disjoint sets"
            )
        findings = jobs.confident_findings(catalog, [i.id for i in [*baseline, *candidate]])
        explained = explained_ids(catalog)
    result = VerifyResult(
        verdict="fail",
        baseline=str(spec.baseline),
        candidate=str(spec.candidate) if spec.candidate is not None else spec.candidate_label,
        baseline_ids=[i.id for i in baseline],
        candidate_ids=[i.id for i in candidate],
        policy=spec.policy,
        gate_path=spec.gate_path,
    )
    names = {i.id: i.name for i in [*baseline, *candidate]}
    pairs = match_pairs(baseline, candidate) if candidate else [Pair(i.id, None) for i in baseline]

    moments = _measure(
        catalog_path, spec, baseline, candidate, findings, explained, result, progress, cancel
    )
    if spec.policy and not _cancelled(cancel):
        _reroll(catalog_path, spec, baseline, moments, gate, result, names, progress, cancel)
    result.cancelled = _cancelled(cancel)
    _conclude(result, gate, pairs, names)
    result.elapsed_s = time.perf_counter() - started
    jobs.release()
    return result


def _measure(
    catalog_path: Path,
    spec: VerifySpec,
    baseline: Sequence[EpisodeInfo],
    candidate: Sequence[EpisodeInfo],
    findings: dict[str, list[jobs.StoredFinding]],
    explained: set[str],
    result: VerifyResult,
    progress: VerifyProgress | None,
    cancel: threading.Event | None,
) -> dict[str, list[dict]]:
    """Per-episode metrics of both sets; action moments of the baseline when re-rolling.
    Episodes Explain never ran on are explained on the way (their findings are stored), so
    cause rates never silently read as zero."""
    want_moments = bool(spec.policy)
    items: list[dict[str, Any]] = [  # jobs.metrics_job's item
        {"id": i.id, "moments": want_moments and side == "b", "explain": i.id not in explained}
        for side, infos in (("b", baseline), ("c", candidate))
        for i in infos
    ]
    moments: dict[str, list[tuple[int, dict]]] = {}
    new_findings: dict[str, list[Finding]] = {}
    for index, outcome in map_jobs(
        jobs.metrics_job,
        items,
        {"catalog": str(catalog_path)},
        workers=spec.workers,
        engine=spec.engine,
        address=spec.address,
        progress=_stage(progress, "metrics"),
        cancel=cancel,
    ):
        episode = items[index]["id"]
        if isinstance(outcome, JobError):
            result.errors[episode] = outcome.reason
            log.warning("verify: %s could not be measured: %s", episode, outcome.reason)
            continue
        metrics = EpisodeMetrics.from_dict(outcome["metrics"])
        if outcome.get("findings") is not None:
            new_findings[episode] = [Finding.from_dict(f) for f in outcome["findings"]]
            findings[episode] = jobs.stored(new_findings[episode])
        jobs.merge_findings(metrics, findings.get(episode, []))
        result.episode_metrics[episode] = metrics
        for stream, moment in (outcome.get("moments") or {}).items():
            moments.setdefault(stream, []).append((index, moment))
    if new_findings:
        with Catalog(catalog_path) as catalog:
            for episode, found in new_findings.items():
                store_findings(catalog, episode, found)
    # combined in item order, not arrival order: the same run gives the same digits
    return {
        stream: [m for _, m in sorted(parts, key=lambda p: p[0])]
        for stream, parts in moments.items()
    }


def _reroll(
    catalog_path: Path,
    spec: VerifySpec,
    baseline: Sequence[EpisodeInfo],
    moments: dict[str, list[dict]],
    gate: GateConfig,
    result: VerifyResult,
    names: dict[str, str],
    progress: VerifyProgress | None,
    cancel: threading.Event | None,
) -> None:
    from robotrace_desktop.verify.reroll import ActionStats

    stats = {stream: ActionStats.combine(parts).to_dict() for stream, parts in moments.items()}
    context = {
        "catalog": str(catalog_path),
        "policy": spec.policy,
        "stats": stats,
        "with_images": spec.with_images,
        "divergence_z": gate.reroll.divergence_z,
        "ood_z": gate.reroll.ood_z,
        "candidate": spec.candidate_label,
        "replay_root": str(replay_root(catalog_path)) if spec.save_replays else None,
    }
    ids = [i.id for i in baseline if i.id not in result.errors]
    replays: list[EpisodeInfo] = []
    by_id: dict[str, RerollResult] = {}
    for index, outcome in map_jobs(
        jobs.reroll_job,
        ids,
        context,
        workers=spec.workers,
        engine=spec.engine,
        address=spec.address,
        progress=_stage(progress, "reroll"),
        cancel=cancel,
    ):
        episode = ids[index]
        if isinstance(outcome, JobError):
            by_id[episode] = RerollResult(episode, spec.candidate_label, error=outcome.reason)
            continue
        by_id[episode] = RerollResult.from_dict(outcome["result"])
        if outcome.get("replay") is not None:
            replays.append(EpisodeInfo.from_dict(outcome["replay"]))
    result.rerolls = [by_id[i] for i in ids if i in by_id]
    if replays:
        with Catalog(catalog_path) as catalog:
            jobs.index_replays(catalog, replays)
        names.update({r.id: r.name for r in replays})


def _conclude(
    result: VerifyResult,
    gate: GateConfig,
    pairs: list[Pair],
    names: dict[str, str],
) -> None:
    metrics = result.episode_metrics
    baseline = [metrics[i] for i in result.baseline_ids if i in metrics]
    candidate = [metrics[i] for i in result.candidate_ids if i in metrics]
    result.metrics = compare_metrics(baseline, candidate, result.rerolls, gate)
    rerolls = {r.baseline_id: r for r in result.rerolls}
    result.pairs = pair_diffs(pairs, metrics, rerolls, names, gate)
    result.checks = evaluate(
        gate, baseline, candidate, result.rerolls, result.metrics, result.pairs
    )
    if result.cancelled:
        result.checks.insert(
            0, GateCheck("complete", False, "cancelled before every episode was measured")
        )
    result.verdict = verdict_of(result.checks, gate.allow_inconclusive)


def _stage(progress: VerifyProgress | None, stage: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)


def _cancelled(cancel: threading.Event | None) -> bool:
    return cancel is not None and cancel.is_set()
