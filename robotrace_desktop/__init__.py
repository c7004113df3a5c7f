"""RoboTrace Desktop: every robot run as a reproducible, replayable episode.

    import robotrace_desktop as rt
    episode = rt.log_episode(video="front.mp4", sensors="joints.parquet", seed=7)
    print(episode.url)

The logging API (``log_episode``, ``start_episode``, ``init``, ``Client``, ``Episode``) loads on
first use, so ``import robotrace_desktop`` stays light (the CLI imports it; no numpy, pyarrow
or Qt at import). This package imports without a display; Qt lives only in
``robotrace_desktop.ui``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from robotrace_desktop.errors import (
    ConfigurationError,
    RobotraceError,
    StorageError,
    ValidationError,
)

if TYPE_CHECKING:
    from robotrace_desktop.sdk.api import init, log_episode, start_episode
    from robotrace_desktop.sdk.client import Client
    from robotrace_desktop.sdk.episode import Episode
    from robotrace_desktop.sdk.recorder import Recorder

__version__ = "0.1.0"

_LAZY = {
    "log_episode": "robotrace_desktop.sdk.api",
    "start_episode": "robotrace_desktop.sdk.api",
    "init": "robotrace_desktop.sdk.api",
    "Client": "robotrace_desktop.sdk.client",
    "Episode": "robotrace_desktop.sdk.episode",
    "Recorder": "robotrace_desktop.sdk.recorder",
}

__all__ = [
    "Client",
    "ConfigurationError",
    "Episode",
    "Recorder",
    "RobotraceError",
    "StorageError",
    "ValidationError",
    "__version__",
    "init",
    "log_episode",
    "start_episode",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
