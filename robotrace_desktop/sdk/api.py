"""The module-level API (``rt.log_episode``, ``rt.start_episode``, ``rt.init``) on a default
client.

Without ``rt.init`` the default client writes to ``$ROBOTRACE_HOME/library`` and the app's
catalog (platform folders when ROBOTRACE_HOME is unset), read at each call. ``rt.init(...)``
replaces it (closing the previous client's sinks); its sinks are closed at interpreter exit.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from robotrace_desktop.sdk.client import Client

if TYPE_CHECKING:
    from robotrace_desktop.sdk.episode import Episode
    from robotrace_desktop.sdk.recorder import Recorder
    from robotrace_desktop.sinks.base import Sink

_lock = threading.Lock()
_default: Client | None = None
_atexit_registered = False


def _close_default() -> None:
    client = _default
    if client is not None:
        client.close()


def init(
    library: str | os.PathLike[str] | None = None,
    *,
    catalog: str | os.PathLike[str] | None = None,
    sinks: Sequence[str | Sink] = (),
    sink_options: Mapping[str, Mapping[str, Any]] | None = None,
    explain: bool = True,
) -> Client:
    """Configure the default client used by ``rt.log_episode`` / ``rt.start_episode``."""
    global _default, _atexit_registered
    client = Client(
        library, catalog=catalog, sinks=sinks, sink_options=sink_options, explain=explain
    )
    with _lock:
        previous, _default = _default, client
        if not _atexit_registered:
            atexit.register(_close_default)
            _atexit_registered = True
    if previous is not None:
        previous.close()
    return client


def default_client() -> Client:
    """The client ``rt.init`` configured, or one with every default."""
    global _default
    with _lock:
        if _default is None:
            _default = Client()
        return _default


def log_episode(
    *,
    name: str | None = None,
    source: str | None = None,
    robot: str | None = None,
    policy_version: str | None = None,
    env_version: str | None = None,
    git_sha: str | None = None,
    seed: int | None = None,
    task: str | None = None,
    success: bool | None = None,
    video: Any = None,
    sensors: Any = None,
    actions: Any = None,
    duration_s: float | None = None,
    fps: float | None = None,
    metadata: Mapping[str, Any] | None = None,
    status: str = "ready",
    failure_time_s: float | None = None,
    start_time_ns: int | None = None,
    copy: bool = True,
) -> Episode:
    """``Client.log_episode`` on the default client (see there)."""
    return default_client().log_episode(
        name=name,
        source=source,
        robot=robot,
        policy_version=policy_version,
        env_version=env_version,
        git_sha=git_sha,
        seed=seed,
        task=task,
        success=success,
        video=video,
        sensors=sensors,
        actions=actions,
        duration_s=duration_s,
        fps=fps,
        metadata=metadata,
        status=status,
        failure_time_s=failure_time_s,
        start_time_ns=start_time_ns,
        copy=copy,
    )


def start_episode(
    *,
    name: str | None = None,
    source: str | None = None,
    robot: str | None = None,
    policy_version: str | None = None,
    env_version: str | None = None,
    git_sha: str | None = None,
    seed: int | None = None,
    task: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    fps: float | None = None,
    copy: bool = True,
    flush_rows: int = 10_000,
) -> Recorder:
    """``Client.start_episode`` on the default client (see there)."""
    return default_client().start_episode(
        name=name,
        source=source,
        robot=robot,
        policy_version=policy_version,
        env_version=env_version,
        git_sha=git_sha,
        seed=seed,
        task=task,
        metadata=metadata,
        fps=fps,
        copy=copy,
        flush_rows=flush_rows,
    )
