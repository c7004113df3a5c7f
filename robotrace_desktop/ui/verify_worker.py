"""Running a verify off the UI thread.

``run_verify`` measures hundreds of episodes in a process pool and may re-roll a policy on each;
it runs in its own QThread (the pattern of ScanWorker) and reports through signals only.
Cancelling sets the threading.Event that ``run_verify`` checks between chunks; the run then
returns a result marked ``cancelled``. A worker whose panel closed while it was running is
parked in ``_PARKED`` until its thread ends, so Qt never destroys a running QThread.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Signal, Slot

from robotrace_desktop.errors import RobotraceError
from robotrace_desktop.ui.thread_worker import ThreadWorker
from robotrace_desktop.verify.spec import VerifySpec

log = logging.getLogger(__name__)

_PARKED: set[VerifyWorker] = set()
_QUIT_HOOKED = False


class VerifyWorker(ThreadWorker):
    """One ``run_verify(catalog_path, spec)``, started by ``start()``.

    Signals (queued into the receivers' thread): ``progress(stage, done, total)``, then exactly
    one of ``finished(VerifyResult)`` (also when cancelled: ``result.cancelled``) or
    ``failed(message)`` — a RobotraceError's message (bad selector, gate file, policy spec)
    or, for anything unexpected, the exception's type and message.
    """

    progress = Signal(str, int, int)
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, catalog_path: Path, spec: VerifySpec) -> None:
        super().__init__("robotrace-verify")
        self.catalog_path = Path(catalog_path)
        self.spec = spec

    @Slot()
    def run(self) -> None:
        """The run itself, in the worker thread. Never lets an exception escape."""
        from robotrace_desktop.verify.run import run_verify

        try:
            result = run_verify(
                self.catalog_path, self.spec, progress=self._report, cancel=self._cancel
            )
        except RobotraceError as exc:
            self.failed.emit(str(exc) or type(exc).__name__)
        except Exception as exc:  # a bug or an environment problem: shown, logged in full
            log.exception("verify %s failed", self.spec)
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.finished.emit(result)
        finally:
            self._done()

    def _report(self, stage: str, done: int, total: int) -> None:
        self.progress.emit(stage, done, total)

    def park(self) -> None:
        """Cancel and keep this worker alive until its thread ends (its panel is closing)."""
        self.cancel()
        if not self.is_running():
            return
        _PARKED.add(self)
        assert self._thread is not None
        self._thread.finished.connect(self._unpark)
        _hook_quit()

    def _unpark(self) -> None:
        _PARKED.discard(self)


def wait_parked(timeout_ms: int = 60_000) -> None:
    """Wait for cancelled runs whose panels are gone (on application quit)."""
    for worker in list(_PARKED):
        worker.wait(timeout_ms)
        _PARKED.discard(worker)


def _hook_quit() -> None:
    global _QUIT_HOOKED
    app = QCoreApplication.instance()
    if app is not None and not _QUIT_HOOKED:
        app.aboutToQuit.connect(wait_parked)
        _QUIT_HOOKED = True
