"""Pool workers that end with the process that started them.

Explain and verify run episodes on a spawn ``ProcessPoolExecutor``. When the main process is
killed (``kill -9``, a crash, the OOM killer) its workers do not notice: they block forever on
the pool's queue, each holding a Python interpreter's memory. ``exit_with_parent`` is the pool
initializer that prevents this, in two ways:

- on Linux the kernel is asked to SIGKILL the worker when its parent dies (``PR_SET_PDEATHSIG``),
  so a worker busy in a long C call ends at once too;
- everywhere, a daemon thread watches the parent id and ends the worker once its parent is gone.

Both compare against the pid of the process that spawned the pool (``multiprocessing``'s
``parent_process``), not the parent seen when the initializer runs: a spawn worker needs a
second or more to import, and a parent killed in that time left workers whose "parent" was
already init — the watch never fired (2 of 10 killed scans left three workers alive).
Standard-library only, so any process can use it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time

POLL_S = 0.5
_PR_SET_PDEATHSIG = 1


def exit_with_parent() -> None:
    """ProcessPoolExecutor ``initializer``: exit this worker when its parent process dies."""
    parent = _spawning_parent()
    _die_with_parent_linux()
    if os.getppid() != parent:  # the parent died before we got here
        os._exit(1)
    thread = threading.Thread(
        target=_watch, args=(parent,), name="robotrace-exit-with-parent", daemon=True
    )
    thread.start()


def _spawning_parent() -> int:
    parent = multiprocessing.parent_process()
    pid = getattr(parent, "pid", None)
    return pid if isinstance(pid, int) else os.getppid()


def _die_with_parent_linux() -> None:
    """PR_SET_PDEATHSIG(SIGKILL) through libc; silently nothing elsewhere or on failure."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def _watch(parent: int) -> None:
    while os.getppid() == parent:  # re-parented (to init or a subreaper): the parent died
        time.sleep(POLL_S)
    os._exit(1)  # no cleanup to run: the results have nowhere to go
