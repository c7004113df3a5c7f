"""The optional Ray engine: the same per-episode jobs (verify's, Explain's) as Ray tasks.

For teams that outgrow one machine (``--engine ray [--address ...]``, the ``[ray]`` extra).
Each chunk of items becomes one Ray task running ``workers.run_chunk`` (so a failing item is a
``JobError`` exactly as in the process pool), and at most ``2 × cluster CPUs`` tasks are in
flight: results are consumed as they arrive, so driver memory is bounded by the in-flight chunks,
not by the number of episodes.

Where things must be:

- the job function is shipped by reference (module + name), so every Ray worker must be able to
  import ``robotrace_desktop`` (and the job's module). A local instance started here inherits
  this interpreter's ``sys.path`` through ``PYTHONPATH``, so a source checkout works without
  installing; on a cluster, install ``robotrace-desktop`` on every node (or start the cluster
  with ``runtime_env={"py_modules": [...]}``);
- jobs read the catalog and the recordings by path, so on a multi-node cluster those paths must
  be the same on every node (a shared file system);
- ``address`` is what ``ray.init`` takes: ``auto`` or ``HOST:PORT`` from a cluster node (the
  plain ``ray`` package suffices), or ``ray://HOST:10001`` for a remote client (needs
  ``ray[client]``).

Without ``address`` a local instance is started with one CPU per core and left running for the
rest of the process (a verify run maps two stages; starting Ray takes seconds), unless
``shutdown_local()`` is called; a cluster or an instance started by someone else is never shut
down here.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections import deque
from collections.abc import Iterator
from typing import Any

from robotrace_desktop.errors import ConfigurationError
from robotrace_desktop.workers.jobs import Job, JobError, describe, run_chunk

log = logging.getLogger(__name__)

INSTALL_HINT = "the ray engine needs the optional extra: pip install 'robotrace-desktop[ray]'"
#: how often (s) the driver looks at ``cancel`` while it waits for tasks
POLL_S = 0.5
#: a task whose worker died (a policy that segfaults, OOM, a lost node) is reported as JobErrors
#: for its items, as the process pool does, not re-run: a crashing policy would crash again
MAX_RETRIES = 0

_started_here = False


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigurationError(INSTALL_HINT) from exc
    return ray


def connect(address: str | None = None) -> Any:
    """The ``ray`` module, initialised: reuse a running session, else join ``address``, else
    start a local instance (one CPU per core) that this module owns."""
    global _started_here
    ray = _ray()
    if ray.is_initialized():
        if address is not None:
            log.info("ray is already initialised; reusing it instead of joining %s", address)
        return ray
    if address is None:
        ray.init(
            num_cpus=os.cpu_count() or 1,
            include_dashboard=False,
            runtime_env={"env_vars": {"PYTHONPATH": _pythonpath()}},
        )
        _started_here = True
    else:
        try:
            ray.init(address=address)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise ConfigurationError(f"cannot join the Ray cluster at {address}: {exc}") from exc
    return ray


def shutdown_local() -> None:
    """Stop the local instance ``connect`` started (no-op for a joined cluster)."""
    global _started_here
    if _started_here:
        _ray().shutdown()
        _started_here = False


def _pythonpath() -> str:
    """The driver's own additions to the import path (a source checkout, a test folder), so
    local workers import what the driver imports; the interpreter's own folders and
    site-packages (editable installs included) the workers find by themselves."""
    own = tuple(os.path.realpath(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix})
    entries = [
        p for p in sys.path if p and os.path.isdir(p) and not os.path.realpath(p).startswith(own)
    ]
    existing = os.environ.get("PYTHONPATH")
    if existing:
        entries.append(existing)
    return os.pathsep.join(dict.fromkeys(entries))


def map_chunks(
    fn: Job,
    context: dict[str, Any],
    chunks: list[list[Any]],
    *,
    address: str | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[tuple[int, list[Any]]]:
    """Yield ``(chunk number, results)`` as chunks finish (any order); ``results`` holds one
    job result or ``JobError`` per item of that chunk.

    ``cancel`` stops submitting, cancels the tasks in flight and ends the iteration; closing
    the iterator early does the same.
    """
    if not chunks:
        return
    ray = connect(address)
    task = ray.remote(num_cpus=1, max_retries=MAX_RETRIES)(run_chunk)
    limit = max(1, 2 * int(ray.cluster_resources().get("CPU", 1)))
    context_ref = ray.put(context)  # shipped once, not once per chunk
    pending = deque(range(len(chunks)))
    in_flight: dict[Any, int] = {}
    try:
        while pending or in_flight:
            if cancel is not None and cancel.is_set():
                return
            while pending and len(in_flight) < limit:
                number = pending.popleft()
                in_flight[task.remote(fn, context_ref, chunks[number])] = number
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=POLL_S)
            for ref in ready:
                number = in_flight.pop(ref)
                yield number, _results(ray, ref, len(chunks[number]))
    finally:
        for ref in in_flight:
            ray.cancel(ref)


def _results(ray: Any, ref: Any, count: int) -> list[Any]:
    try:
        return ray.get(ref)
    except Exception as exc:  # the task or its worker died (OOM, a segfault in a policy)
        log.warning("a ray task failed: %s", describe(exc))
        reason = f"ray task failed: {describe(exc).splitlines()[0]}"
        return [JobError(reason, str(exc))] * count
