"""Pool workers that end with the process that started them.

Explain and verify run episodes on a spawn ``ProcessPoolExecutor``. When the main process is
killed (``kill -9``, a crash, the OOM killer) its workers do not notice: they block forever on
the pool's queue, each holding a Python interpreter's memory. ``exit_with_parent`` is the pool
initializer that prevents this: a daemon thread in the worker watches the parent id and ends the
worker once its parent is gone. It is standard-library only, so any process can use it.
"""

from __future__ import annotations

import os
import threading
import time

POLL_S = 0.5


def exit_with_parent() -> None:
    """ProcessPoolExecutor ``initializer``: exit this worker when its parent process dies."""
    parent = os.getppid()
    thread = threading.Thread(
        target=_watch, args=(parent,), name="robotrace-exit-with-parent", daemon=True
    )
    thread.start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:  # re-parented (to init or a subreaper): the parent died
        time.sleep(POLL_S)
    os._exit(1)  # no cleanup to run: the results have nowhere to go
