"""Running Explain on catalog episodes: one at a time, or many on the shared process pool.

Workers are separate processes (``robotrace_desktop.workers``, the pool verify uses too; the
analyzers are numpy-heavy Python, so threads would share one core), or Ray tasks with
``engine="ray"``. Each worker opens its own catalog connection *read-only in spirit*: it
computes the findings and returns them as plain dicts; the parent alone writes them, so no two
processes race on the findings table. A failing episode is reported and the others go on.

Episodes whose stored findings carry the current reuse key (``explain_reuse``) are not
recomputed unless ``force``: their stored findings are the result.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext
from robotrace_desktop.analysis.explain import explain
from robotrace_desktop.analysis.registry import analyzers
from robotrace_desktop.catalog.browse import refresh_group_summaries
from robotrace_desktop.catalog.channel_ranges import StoredRanges, store_ranges
from robotrace_desktop.catalog.findings import findings_of, store_findings
from robotrace_desktop.catalog.peers import PeerSnapshot
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.episode import EpisodeInfo
from robotrace_desktop.core.finding import Finding
from robotrace_desktop.episodes import ResolvedEpisode
from robotrace_desktop.library import peer_history
from robotrace_desktop.library.explain_reuse import current_keys, thresholds_file
from robotrace_desktop.workers import Engine, JobError, map_jobs

log = logging.getLogger(__name__)

#: learned channel ranges are stored this many rows at a time (derived data: a killed run
#: loses at most one batch, which the next run reads again)
_RANGES_BATCH = 500

#: progress(done, total, episode id just finished)
ExplainProgress = Callable[[int, int, str], None]


@dataclass(slots=True)
class ExplainRun:
    """What ``explain_many`` did."""

    explained: dict[str, list[Finding]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # episode id -> one-line reason
    cancelled: bool = False
    #: episodes in ``explained`` whose stored findings were reused (their key was unchanged)
    reused: set[str] = field(default_factory=set)

    def top_causes(self) -> dict[str, int]:
        """How many episodes have each cause as their confident (≥ 0.5) top finding."""
        counts: dict[str, int] = {}
        for findings in self.explained.values():
            if findings and findings[0].confidence >= 0.5:
                counts[findings[0].cause] = counts.get(findings[0].cause, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def ensure_thresholds_file(catalog_path: Path) -> Path:
    """Write the documented defaults next to the catalog the first time (never overwrite)."""
    path = thresholds_file(catalog_path)
    if not path.exists():
        analyzers()  # registers every analyzer's thresholds
        try:
            thresholds.write_defaults(path)
        except OSError as exc:  # a read-only folder: the defaults still apply
            log.warning("could not write %s: %s", path, exc)
    return path


def context_for(
    catalog: Catalog | None,
    info: EpisodeInfo,
    *,
    with_history: bool = True,
    peers: PeerSnapshot | None = None,
) -> ExplainContext:
    """Thresholds from the catalog folder; history and baseline (the robot's other episodes,
    ``peer_history``) when ``with_history``; ``peers``: the snapshot of the robot's other
    episodes a run over many episodes shares."""
    analyzers()
    path = thresholds_file(catalog.path) if catalog is not None else None
    ctx = ExplainContext(thresholds=thresholds.load(path))
    if catalog is None or not with_history:
        return ctx
    for name, factory in (
        ("history", peer_history.history_for),
        ("baseline", peer_history.baseline_for),
    ):
        try:
            setattr(ctx, name, factory(catalog, info, peers=peers))
        except Exception:  # history is a help, never a reason to skip the episode
            log.exception("%s_for failed on %s", name, info.id)
    return ctx


@dataclass(slots=True)
class Computed:
    """One episode explained: its findings, and the channel ranges learned on the way (its
    own, and those of any peer that had to be read) for the catalog to keep
    (``catalog.channel_ranges``) so the robot's next episode reads neither again."""

    findings: list[Finding]
    ranges: list[StoredRanges] = field(default_factory=list)


def explain_resolved(
    resolved: ResolvedEpisode, catalog: Catalog | None, peers: PeerSnapshot | None = None
) -> list[Finding]:
    """Ranked findings of an episode (in the catalog or opened from disk); stores nothing."""
    return _compute(resolved, catalog, peers).findings


def _compute(
    resolved: ResolvedEpisode, catalog: Catalog | None, peers: PeerSnapshot | None
) -> Computed:
    info = resolved.info
    in_catalog = catalog is not None and resolved.in_catalog
    offsets = catalog.stream_offsets(info.id) if in_catalog and catalog is not None else {}
    ctx = context_for(catalog, info, peers=peers)
    with resolved.open() as source:
        data = EpisodeData(info, source, offsets)
        findings = explain(data, ctx)
        if not in_catalog or catalog is None:
            return Computed(findings)
        digest = catalog.indexed_hashes([info.id]).get(info.id)
        own = [] if digest is None else peer_history.own_ranges(data, digest)
    return Computed(findings, own + peer_history.learned_ranges(ctx.history))


def compute_episode_id(
    catalog: Catalog, episode_id: str, peers: PeerSnapshot | None = None
) -> Computed:
    info = catalog.get(episode_id)
    return _compute(ResolvedEpisode(info, True), catalog, peers)


def explain_episode_id(
    catalog_path: Path, episode_id: str, *, model_version: str | None = None
) -> list[Finding]:
    """Explain one catalog episode (always computed) and store its findings with their reuse
    key, and the channel ranges learned on the way. Returns the findings, ranked."""
    with Catalog(Path(catalog_path)) as catalog:
        keys = current_keys(catalog, [episode_id], model_versions={episode_id: model_version})
        computed = compute_episode_id(catalog, episode_id)
        check = keys.get(episode_id)
        store_findings(catalog, episode_id, computed.findings, None if check is None else check.key)
        store_ranges(catalog, computed.ranges)
    return computed.findings


#: catalog connections a worker keeps between the items of a run, by (path, thread): an
#: SQLite connection may only be used by the thread that opened it, and a run of a few
#: episodes is computed inline in the caller's thread (the viewer's scan thread, say)
_catalogs: dict[tuple[str, int], Catalog] = {}
#: the peer snapshot of the run each kept connection serves, by the same key: (run, snapshot)
_snapshots: dict[tuple[str, int], tuple[str, PeerSnapshot]] = {}


def explain_job(context: dict[str, Any], episode_id: str) -> dict[str, Any]:
    """Pool / Ray entry point (top level, so spawn and Ray can import it): compute one
    episode's findings as plain dicts and the ranges learned (``Computed``); store nothing.
    The episodes of one run (``context["run"]``) share one snapshot of their robots' other
    episodes."""
    key = (str(context["catalog"]), threading.get_ident())
    catalog = _catalogs.get(key)
    if catalog is None:
        catalog = _catalogs[key] = Catalog(Path(key[0]))
    run = str(context.get("run", ""))
    kept = _snapshots.get(key)
    if kept is None or kept[0] != run or kept[1].catalog is not catalog:
        kept = _snapshots[key] = (run, PeerSnapshot(catalog))
    computed = compute_episode_id(catalog, episode_id, kept[1])
    return {
        "findings": [f.to_dict() for f in computed.findings],
        "ranges": [tuple(r) for r in computed.ranges],
    }


def _release_inline(path: Path) -> None:
    """Close the connection an inline run opened in this thread (workers keep theirs)."""
    _snapshots.pop((str(path), threading.get_ident()), None)
    catalog = _catalogs.pop((str(path), threading.get_ident()), None)
    if catalog is not None:
        catalog.close()


def explain_many(
    catalog_path: Path,
    ids: Sequence[str],
    *,
    workers: int | None = None,
    progress: ExplainProgress | None = None,
    cancel: threading.Event | None = None,
    force: bool = False,
    engine: Engine = "process",
    address: str | None = None,
    model_versions: Mapping[str, str | None] | None = None,
) -> ExplainRun:
    """Explain ``ids`` on ``workers`` processes (default: every core; ``engine="ray"``: Ray
    tasks, ``address`` as ``ray.init`` takes it) and store the findings with their reuse keys.

    Episodes whose stored findings are still valid (same key) are reused, not recomputed,
    unless ``force``. Results are stored by this process as they arrive. ``cancel`` stops
    handing out work; what finished is kept.
    """
    catalog_path = Path(catalog_path)
    ensure_thresholds_file(catalog_path)
    ids = list(dict.fromkeys(ids))
    run = ExplainRun()
    done = 0

    def tick(episode: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, len(ids), episode)

    with Catalog(catalog_path) as catalog:
        keys = current_keys(catalog, ids, model_versions=model_versions)
        todo = [e for e in ids if force or e not in keys or not keys[e].fresh]
        reused = [e for e in ids if e not in set(todo)]
        for episode, findings in findings_of(catalog, reused).items():
            run.explained[episode] = findings
            run.reused.add(episode)
            tick(episode)
        results = map_jobs(
            explain_job,
            todo,
            {"catalog": str(catalog_path), "run": uuid.uuid4().hex},
            workers=workers,
            engine=engine,
            address=address,
            cancel=cancel,
        )
        learned: list[StoredRanges] = []
        for index, result in results:
            episode = todo[index]
            if isinstance(result, JobError):
                run.errors[episode] = _error_text(result)
                log.warning("explain %s failed: %s", episode, run.errors[episode])
            else:
                findings = [Finding.from_dict(d) for d in result["findings"]]
                check = keys.get(episode)
                store_findings(catalog, episode, findings, None if check is None else check.key)
                run.explained[episode] = findings
                learned += [StoredRanges(*r) for r in result["ranges"]]
                if len(learned) >= _RANGES_BATCH:
                    store_ranges(catalog, learned)
                    learned = []
            tick(episode)
        store_ranges(catalog, learned)
        run.cancelled = done < len(ids) and cancel is not None and cancel.is_set()
        if len(run.explained) > len(run.reused):  # new findings: the browser's summaries too
            refresh_group_summaries(catalog)
    _release_inline(catalog_path)
    return run


def _error_text(error: JobError) -> str:
    """The exception's own message (``Type: message`` -> ``message``), as before the pool
    was shared; a type with no message keeps its name."""
    head, sep, rest = error.reason.partition(": ")
    return rest if sep and head.isidentifier() else error.reason
