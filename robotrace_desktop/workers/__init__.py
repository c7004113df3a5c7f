"""The one process pool: per-episode jobs of Explain and verify on every core, or on a Ray
cluster, with bounded memory.

A job is a top-level function ``fn(context, item) -> result`` (importable by name, so a spawned
process or a Ray worker can run it). Items travel in chunks: one inter-process round trip per
chunk instead of per episode, and a worker keeps its per-process state (an open catalog, the
loaded policy) between the items of a run. At most ``2 × workers`` chunks are in flight, so
memory stays bounded by the chunk results, not by the number of episodes, and a cancel takes
effect within one chunk per worker. A failing item is returned as a ``JobError``; the others go
on. Workers are spawned (never forked: the parent may run Qt and threads) with the
``exit_with_parent`` initializer, so a killed parent leaves no orphans.

``explain --all``, scan-time Explain and verify's stages all run here (Explain's and verify's
pools used to be two copies of this loop).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Literal

from robotrace_desktop.orphans import exit_with_parent
from robotrace_desktop.workers.jobs import Job, JobError, describe, run_chunk

__all__ = [
    "POOL_MIN_ITEMS",
    "Engine",
    "Job",
    "JobError",
    "JobProgress",
    "chunk_size_for",
    "describe",
    "map_jobs",
    "run_chunk",
]

log = logging.getLogger(__name__)

#: progress(done, total)
JobProgress = Callable[[int, int], None]
Engine = Literal["process", "ray", "inline"]
#: below this many items a process pool costs more (interpreter start-up) than it saves
POOL_MIN_ITEMS = 4
MAX_CHUNK = 32


def chunk_size_for(total: int, workers: int) -> int:
    """Small enough that every worker gets ≥ 4 chunks (load balance, prompt cancel), large
    enough that a round trip is amortised over many episodes."""
    return max(1, min(MAX_CHUNK, total // max(1, workers * 4)))


def map_jobs(
    fn: Job,
    items: Sequence[Any],
    context: dict[str, Any],
    *,
    workers: int | None = None,
    engine: Engine = "process",
    address: str | None = None,
    progress: JobProgress | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[tuple[int, Any]]:
    """Yield ``(index into items, result or JobError)`` as results arrive (any order).

    ``engine``: "process" (a spawn process pool; falls back to this process for a handful of
    items or one worker), "ray" (``workers.ray_engine``; needs the ``[ray]`` extra), "inline".
    """
    workers = max(1, workers or os.cpu_count() or 1)
    total = len(items)
    if total == 0:
        return
    size = chunk_size_for(total, workers)
    chunks = [list(range(start, min(total, start + size))) for start in range(0, total, size)]
    done = 0

    def report(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, total)

    if engine == "ray":
        from robotrace_desktop.workers import ray_engine

        for chunk_no, results in ray_engine.map_chunks(
            fn, context, [[items[i] for i in c] for c in chunks], address=address, cancel=cancel
        ):
            yield from zip(chunks[chunk_no], results, strict=True)
            report(len(results))
        return
    if engine == "inline" or workers == 1 or total < POOL_MIN_ITEMS:
        for chunk in chunks:
            if cancel is not None and cancel.is_set():
                return
            results = run_chunk(fn, context, [items[i] for i in chunk])
            yield from zip(chunk, results, strict=True)
            report(len(results))
        return
    yield from _pool(fn, items, context, chunks, workers, report, cancel)


def _pool(
    fn: Job,
    items: Sequence[Any],
    context: dict[str, Any],
    chunks: list[list[int]],
    workers: int,
    report: Callable[[int], None],
    cancel: threading.Event | None,
) -> Iterator[tuple[int, Any]]:
    mp_context = multiprocessing.get_context("spawn")  # never fork a process running Qt/threads
    pending = iter(chunks)
    in_flight: dict[Future[list[Any]], list[int]] = {}
    with ProcessPoolExecutor(
        max_workers=min(workers, len(chunks)), mp_context=mp_context, initializer=exit_with_parent
    ) as pool:

        def submit() -> None:
            for chunk in pending:
                future = pool.submit(run_chunk, fn, context, [items[i] for i in chunk])
                in_flight[future] = chunk
                if len(in_flight) >= 2 * workers:
                    return

        submit()
        while in_flight:
            finished, _ = wait(in_flight, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in finished:
                chunk = in_flight.pop(future)
                try:
                    results = future.result()
                except Exception as exc:  # the worker process died (OOM, segfault in a policy)
                    log.warning("a worker process died: %s", exc)
                    results = [JobError(f"worker process died: {describe(exc)}")] * len(chunk)
                yield from zip(chunk, results, strict=True)
                report(len(results))
            if cancel is not None and cancel.is_set():
                for future in in_flight:
                    future.cancel()
                pending = iter(())
                in_flight = {f: c for f, c in in_flight.items() if not f.cancelled()}
                continue
            submit()
