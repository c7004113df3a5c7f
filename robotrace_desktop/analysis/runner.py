"""Running Explain on catalog episodes: one at a time, or many in parallel on every core.

Workers are separate processes (the analyzers are numpy-heavy Python, so threads would share
one core). Each worker opens its own catalog connection *read-only in spirit*: it computes the
findings and returns them as plain dicts; the parent alone writes them, so no two processes
race on the findings table. A failing episode is reported and the others go on.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robotrace_desktop.analysis import thresholds
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext
from robotrace_desktop.analysis.explain import explain
from robotrace_desktop.analysis.finding import Finding
from robotrace_desktop.analysis.registry import analyzers
from robotrace_desktop.catalog.findings import store_findings
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.episode import EpisodeInfo
from robotrace_desktop.episodes import ResolvedEpisode
from robotrace_desktop.orphans import exit_with_parent

log = logging.getLogger(__name__)

#: progress(done, total, episode id just finished)
ExplainProgress = Callable[[int, int, str], None]
#: below this many episodes a process pool costs more (interpreter start-up) than it saves
POOL_MIN_EPISODES = 3


@dataclass(slots=True)
class ExplainRun:
    """What ``explain_many`` did."""

    explained: dict[str, list[Finding]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # episode id -> one-line reason
    cancelled: bool = False

    def top_causes(self) -> dict[str, int]:
        """How many episodes have each cause as their confident (≥ 0.5) top finding."""
        counts: dict[str, int] = {}
        for findings in self.explained.values():
            if findings and findings[0].confidence >= 0.5:
                counts[findings[0].cause] = counts.get(findings[0].cause, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def thresholds_path(catalog_path: Path) -> Path:
    return Path(catalog_path).parent / thresholds.FILE_NAME


def ensure_thresholds_file(catalog_path: Path) -> Path:
    """Write the documented defaults next to the catalog the first time (never overwrite)."""
    path = thresholds_path(catalog_path)
    if not path.exists():
        analyzers()  # registers every analyzer's thresholds
        try:
            thresholds.write_defaults(path)
        except OSError as exc:  # a read-only folder: the defaults still apply
            log.warning("could not write %s: %s", path, exc)
    return path


def context_for(
    catalog: Catalog | None, info: EpisodeInfo, *, with_history: bool = True
) -> ExplainContext:
    """Thresholds from the catalog folder; history and baseline (the robot's other episodes)
    when ``analysis.history`` exists and ``with_history``."""
    analyzers()
    path = thresholds_path(catalog.path) if catalog is not None else None
    ctx = ExplainContext(thresholds=thresholds.load(path))
    if catalog is None or not with_history:
        return ctx
    try:
        history = importlib.import_module("robotrace_desktop.analysis.history")
    except ModuleNotFoundError as exc:
        if exc.name != "robotrace_desktop.analysis.history":
            raise
        return ctx
    for name in ("history", "baseline"):
        factory = getattr(history, f"{name}_for", None)
        if factory is None:
            continue
        try:
            setattr(ctx, name, factory(catalog, info))
        except Exception:  # history is a help, never a reason to skip the episode
            log.exception("%s_for failed on %s", name, info.id)
    return ctx


def explain_resolved(resolved: ResolvedEpisode, catalog: Catalog | None) -> list[Finding]:
    """Ranked findings of an episode (in the catalog or opened from disk); stores nothing."""
    info = resolved.info
    in_catalog = catalog is not None and resolved.in_catalog
    offsets = catalog.stream_offsets(info.id) if in_catalog and catalog is not None else {}
    ctx = context_for(catalog, info)
    with resolved.open() as source:
        return explain(EpisodeData(info, source, offsets), ctx)


def compute_episode_id(catalog: Catalog, episode_id: str) -> list[Finding]:
    info = catalog.get(episode_id)
    return explain_resolved(ResolvedEpisode(info, True), catalog)


def explain_episode_id(catalog_path: Path, episode_id: str) -> list[Finding]:
    """Explain one catalog episode and store its findings. Returns them, ranked."""
    with Catalog(Path(catalog_path)) as catalog:
        findings = compute_episode_id(catalog, episode_id)
        store_findings(catalog, episode_id, findings)
    return findings


def _worker(catalog_path: str, episode_id: str) -> list[dict[str, Any]]:
    """Process-pool entry point (top level, so spawn can import it): compute, don't store."""
    with Catalog(Path(catalog_path)) as catalog:
        return [f.to_dict() for f in compute_episode_id(catalog, episode_id)]


def explain_many(
    catalog_path: Path,
    ids: Sequence[str],
    *,
    workers: int | None = None,
    progress: ExplainProgress | None = None,
    cancel: threading.Event | None = None,
) -> ExplainRun:
    """Explain ``ids`` on ``workers`` processes (default: every core) and store the findings.

    Results are stored by this process as they arrive. ``cancel`` stops handing out work; what
    finished is kept.
    """
    catalog_path = Path(catalog_path)
    ensure_thresholds_file(catalog_path)
    ids = list(dict.fromkeys(ids))
    workers = max(1, workers or os.cpu_count() or 1)
    run = ExplainRun()
    with Catalog(catalog_path) as catalog:

        def finished(episode: str, result: list[Finding] | BaseException) -> None:
            if isinstance(result, BaseException):
                run.errors[episode] = _reason(result)
                log.warning("explain %s failed: %s", episode, run.errors[episode])
            else:
                store_findings(catalog, episode, result)
                run.explained[episode] = result
            if progress is not None:
                progress(len(run.explained) + len(run.errors), len(ids), episode)

        if workers == 1 or len(ids) < POOL_MIN_EPISODES:
            for episode in ids:
                if cancel is not None and cancel.is_set():
                    run.cancelled = True
                    break
                try:
                    result: list[Finding] | BaseException = compute_episode_id(catalog, episode)
                except Exception as exc:
                    result = exc
                finished(episode, result)
            return run
        _run_pool(str(catalog_path), ids, workers, finished, cancel, run)
    return run


def _run_pool(
    catalog_path: str,
    ids: list[str],
    workers: int,
    finished: Callable[[str, list[Finding] | BaseException], None],
    cancel: threading.Event | None,
    run: ExplainRun,
) -> None:
    """Keep at most ``2 × workers`` episodes in flight so a cancel takes effect quickly."""
    context = multiprocessing.get_context("spawn")  # never fork a process that runs Qt/threads
    pending = iter(ids)
    in_flight: dict[Future[list[dict[str, Any]]], str] = {}
    with ProcessPoolExecutor(
        max_workers=min(workers, len(ids)), mp_context=context, initializer=exit_with_parent
    ) as pool:

        def submit() -> None:
            for episode in pending:
                in_flight[pool.submit(_worker, catalog_path, episode)] = episode
                if len(in_flight) >= 2 * workers:
                    return

        submit()
        while in_flight:
            done, _ = wait(in_flight, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                episode = in_flight.pop(future)
                try:
                    result: list[Finding] | BaseException = [
                        Finding.from_dict(d) for d in future.result()
                    ]
                except Exception as exc:  # the episode failed, or its worker died
                    result = exc
                finished(episode, result)
            if cancel is not None and cancel.is_set():
                run.cancelled = True
                for future in in_flight:
                    future.cancel()
                pending = iter(())
                in_flight = {f: e for f, e in in_flight.items() if not f.cancelled()}
                continue
            submit()


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return text if text else type(exc).__name__
