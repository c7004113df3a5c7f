"""What a pool job is and how one item's failure is kept: shared by the process pool
(``workers``) and the Ray engine (``workers.ray_engine``), here so neither imports the other."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

#: job(context, item) -> a picklable result (verify's jobs return dicts, Explain's a list)
Job = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True, slots=True)
class JobError:
    """Why one item failed: ``Type: message`` and the worker's traceback for the log."""

    reason: str
    detail: str = ""


def run_chunk(fn: Job, context: dict[str, Any], items: Sequence[Any]) -> list[Any]:
    """Run ``fn`` over ``items`` in this process; an exception becomes that item's JobError."""
    results: list[Any] = []
    for item in items:
        try:
            results.append(fn(context, item))
        except Exception as exc:  # one bad episode never stops the run
            results.append(JobError(describe(exc), traceback.format_exc(limit=8)))
    return results


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
