"""The per-episode work of a verify run, as top-level functions a spawned process or a Ray
worker can import: measuring an episode, and re-rolling the candidate policy on it.

Workers only read the catalog (one connection per process, reused across the run's episodes)
and write replay bundles into the replay folder; the parent indexes those bundles, so no two
processes write the catalog at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from robotrace_desktop.analysis.data import EpisodeData
from robotrace_desktop.catalog.findings import findings_of
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.episode import EpisodeInfo
from robotrace_desktop.core.finding import CONFIDENT, RECORDED_OUTCOME, Finding
from robotrace_desktop.episodes import ResolvedEpisode
from robotrace_desktop.library.indexing import Recording, index_recording
from robotrace_desktop.readers.bundle.reader import BundleReader
from robotrace_desktop.verify.model import EpisodeMetrics

_catalogs: dict[str, Catalog] = {}


class StoredFinding(NamedTuple):
    cause: str
    severity: str
    t_start_ns: int | None
    failure_time_ns: int | None
    rank: int


def _catalog(path: str) -> Catalog:
    catalog = _catalogs.get(path)
    if catalog is None:
        catalog = _catalogs[path] = Catalog(Path(path))
    return catalog


def release() -> None:
    """Close the catalog connections this process cached (the parent, after a run)."""
    while _catalogs:
        _catalogs.popitem()[1].close()


def _open(catalog: Catalog, episode_id: str) -> tuple[EpisodeInfo, EpisodeData]:
    info = catalog.get(episode_id)
    source = ResolvedEpisode(info, True).open()
    return info, EpisodeData(info, source, catalog.stream_offsets(episode_id))


def metrics_job(context: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """Measure one episode; with ``item["moments"]`` also its action moments (baseline), with
    ``item["explain"]`` also its findings (an episode Explain never ran on)."""
    from robotrace_desktop.verify.metrics import episode_metrics

    catalog = _catalog(context["catalog"])
    info, data = _open(catalog, item["id"])
    with data.source:
        metrics = episode_metrics(data)
        moments = findings = None
        if item.get("moments"):
            from robotrace_desktop.verify.reroll import action_moments

            moments = action_moments(data)
        if item.get("explain"):
            from robotrace_desktop.analysis.explain import explain
            from robotrace_desktop.library.explain_runner import context_for

            findings = [f.to_dict() for f in explain(data, context_for(catalog, info))]
    return {"metrics": metrics.to_dict(), "moments": moments, "findings": findings}


def reroll_job(context: dict[str, Any], episode_id: str) -> dict[str, Any]:
    """Replay the candidate policy on one baseline episode; save the replay bundle."""
    from robotrace_desktop.verify.policy import cached_policy
    from robotrace_desktop.verify.reroll import ActionStats, reroll_episode

    catalog = _catalog(context["catalog"])
    policy = cached_policy(context["policy"])
    stats = {name: ActionStats.from_dict(d) for name, d in (context.get("stats") or {}).items()}
    info, data = _open(catalog, episode_id)
    with data.source:
        reroll = reroll_episode(
            data,
            policy,
            stats or None,
            with_images=bool(context.get("with_images")),
            divergence_z=float(context["divergence_z"]),
            ood_z=float(context["ood_z"]),
            candidate_name=context["candidate"],
        )
    reroll.result.problems = list(reroll.problems)
    replay = None
    root = context.get("replay_root")
    if root and reroll.result.error is None and reroll.result.steps:
        from robotrace_desktop.verify.replay_bundle import safe_folder_name, write_replay

        folder = Path(root) / safe_folder_name(context["candidate"]) / info.id
        replay_info = write_replay(
            reroll, info, folder, candidate_name=context["candidate"], policy_spec=context["policy"]
        )
        reroll.result.replay_id = replay_info.id
        reroll.result.replay_path = replay_info.path
        replay = replay_info.to_dict()
    return {"result": reroll.result.to_dict(), "replay": replay}


# ---------------------------------------------------------------- parent side


def confident_findings(
    catalog: Catalog, episode_ids: Sequence[str]
) -> dict[str, list[StoredFinding]]:
    """Confident stored findings of many episodes in one pass, ranked order."""
    out: dict[str, list[StoredFinding]] = {}
    for episode, found in findings_of(catalog, episode_ids).items():
        kept = stored(found)
        if kept:
            out[episode] = kept
    return out


#: findings that restate the outcome (already compared as the success rate), not a cause
OUTCOME_ONLY_CAUSES = frozenset({RECORDED_OUTCOME})


def stored(findings: Sequence[Finding]) -> list[StoredFinding]:
    """The confident ones, as ``confident_findings`` returns them."""
    out = []
    for f in findings:
        if f.confidence < CONFIDENT:
            continue
        failure = f.evidence.get("failure_time_ns")
        out.append(
            StoredFinding(
                f.cause,
                f.severity,
                f.t_start_ns,
                failure if isinstance(failure, int) else None,
                f.rank,
            )
        )
    return out


def merge_findings(metrics: EpisodeMetrics, findings: Sequence[StoredFinding]) -> None:
    """Confident causes (the most severe finding of each), the top finding's times."""
    order = ("critical", "high", "medium", "low", "info")
    for finding in findings:
        if finding.cause in OUTCOME_ONLY_CAUSES:
            continue
        known = metrics.causes.get(finding.cause)
        if known is None or order.index(finding.severity) < order.index(known):
            metrics.causes[finding.cause] = finding.severity
        if finding.cause not in metrics.cause_times or metrics.cause_times[finding.cause] is None:
            metrics.cause_times[finding.cause] = finding.t_start_ns
    if findings:
        top = findings[0]
        metrics.first_finding_ns = top.t_start_ns
        metrics.failure_time_ns = top.failure_time_ns


def index_replays(catalog: Catalog, replays: Sequence[EpisodeInfo]) -> None:
    """Index the replay bundles the workers wrote, as a scan would (``index_recording``): with
    their fingerprints, so a scan of the library folder later skips them as unchanged."""
    reader = BundleReader()
    for info in replays:
        index_recording(catalog, Recording(Path(info.path), reader), force=True)
