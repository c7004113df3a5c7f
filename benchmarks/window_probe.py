"""Child process of ``bench_window.py --bag``: the real ``robotrace-desktop open BAG --t T``
launch, timed from the parent's clock until each thing a user waits for is on screen.

    python benchmarks/window_probe.py START CATALOG BAG T_NS

START is the parent's ``time.time()`` just before it spawned this process, so Python start-up
and every import count. The only thing added to the launch is a 2 ms poll timer (and a paint
filter) installed when the app creates its QApplication; the launch itself is ``cli.main``.
Prints one JSON line: seconds from START to
  window      the main window's first paint,
  frames      every camera shows the exact frame at T (painted),
  first_plot  some curve holds data,
  plots       every curve holds data and nothing is loading (the whole episode).
"""

from __future__ import annotations

import json
import os
import sys
import time

START = float(sys.argv[1])
CATALOG, BAG, T_NS = sys.argv[2], sys.argv[3], int(sys.argv[4])
marks: dict[str, float] = {}


def _mark(name: str) -> None:
    marks.setdefault(name, round(time.time() - START, 4))


def _install(app) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QMainWindow

    class PaintWatch(QObject):
        def eventFilter(self, obj, event):  # type: ignore[no-untyped-def]  # noqa: N802
            if event.type() == QEvent.Type.Paint and isinstance(obj, QMainWindow):
                _mark("window")
                app.removeEventFilter(self)
            return False

    watch = PaintWatch(app)
    app.installEventFilter(watch)

    def poll() -> None:
        window = next((w for w in app.topLevelWidgets() if isinstance(w, QMainWindow)), None)
        view = getattr(window, "current_view", lambda: None)() if window else None
        if view is None:
            return
        panes = list(view.panes.values())
        if view.timeline.time_ns() == T_NS and all(
            p.is_settled() and p.shown_frame() is not None and p.shown_frame()[2] for p in panes
        ):
            _mark("frames")
        curves = [c for row in view.plots.rows() for c in row.curves]
        filled = [c.item.xData is not None and len(c.item.xData) > 0 for c in curves]
        if any(filled):
            _mark("first_plot")
        if curves and all(filled) and not view.plots.is_loading():
            _mark("plots")
        if {"window", "frames", "first_plot", "plots"} <= marks.keys():
            print(json.dumps(marks), flush=True)
            os._exit(0)

    timer = QTimer(app)
    timer.setInterval(2)
    timer.timeout.connect(poll)
    timer.start()
    QTimer.singleShot(120_000, lambda: (print(json.dumps(marks), flush=True), os._exit(1)))


def main() -> None:
    from robotrace_desktop.ui import app as app_module

    original = app_module._application

    def instrumented():  # type: ignore[no-untyped-def]
        app = original()
        if not getattr(app, "_probe_installed", False):
            app._probe_installed = True
            _install(app)
        return app

    app_module._application = instrumented
    from robotrace_desktop import cli

    cli.main(["--catalog", CATALOG, "open", BAG, "--t", f"{T_NS}ns", "--new-window"])


if __name__ == "__main__":
    main()
