"""Log episodes from Python into the local library (log_episode, start_episode, Client).

The names load lazily so that importing a submodule (``robotrace_desktop.sdk.fields``) or the
package itself pulls in neither numpy nor pyarrow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from robotrace_desktop.sdk.api import init, log_episode, start_episode
    from robotrace_desktop.sdk.client import Client
    from robotrace_desktop.sdk.episode import Episode
    from robotrace_desktop.sdk.recorder import Recorder

_EXPORTS = {
    "log_episode": "robotrace_desktop.sdk.api",
    "start_episode": "robotrace_desktop.sdk.api",
    "init": "robotrace_desktop.sdk.api",
    "Client": "robotrace_desktop.sdk.client",
    "Episode": "robotrace_desktop.sdk.episode",
    "Recorder": "robotrace_desktop.sdk.recorder",
}

__all__ = ["Client", "Episode", "Recorder", "init", "log_episode", "start_episode"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
