"""The analyzers, in one list. Each module under ``analysis/causes/`` has one job and exposes
``analyze(data, ctx) -> list[Finding]`` and registers its thresholds at import."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache

from robotrace_desktop.analysis.data import EpisodeData, ExplainContext
from robotrace_desktop.analysis.finding import Finding

Analyzer = Callable[[EpisodeData, ExplainContext], list[Finding]]

#: module names under robotrace_desktop.analysis.causes, one per cause family
CAUSE_MODULES = (
    "outcome",
    "exception",
    "nan_inf",
    "timing",
    "flatline",
    "noise_stall",
    "level_stall",
    "still_message",
    "held_message",
    "battery",
    "action_saturation",
    "joint_limits",
    "effort",
    "tracking",
    "drift",
    "hard_stop",
    "gripper",
    "divergence",
    "oscillation",
    "spike",
)


@cache
def analyzers() -> tuple[tuple[str, Analyzer], ...]:
    found = []
    for name in CAUSE_MODULES:
        try:
            module = importlib.import_module(f"robotrace_desktop.analysis.causes.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"robotrace_desktop.analysis.causes.{name}":
                continue  # not written yet
            raise
        found.append((name, module.analyze))
    return tuple(found)
