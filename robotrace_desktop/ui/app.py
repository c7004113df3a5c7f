"""Starting the window: one instance per catalog, deep links handed over, headless screenshots.

``run`` is what ``robotrace-desktop`` (no arguments), ``open`` and ``demo`` call. A second launch
forwards what it was asked to open to the running window over a QLocalServer and exits.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from robotrace_desktop.errors import RobotraceError

if TYPE_CHECKING:  # PySide6 is imported when a window is made, not with the command line
    from PySide6.QtCore import QCoreApplication

    from robotrace_desktop.ui.main_window import MainWindow

SETTLE_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class OpenRequest:
    argument: str  # id, path, DATASET#N or robotrace:// link
    t_ns: int | None = None


def has_display() -> bool:
    """Whether a real window can be shown (Linux without X11/Wayland cannot)."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def _application() -> QCoreApplication:
    """The process's QApplication, made on first use (a running one is reused)."""
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0]])
        app.setApplicationName("RoboTrace Desktop")
        app.setOrganizationName("robotrace")
        icon = Path(__file__).resolve().parent.parent / "resources/icons/robotrace-desktop.svg"
        if icon.is_file():
            app.setWindowIcon(QIcon(str(icon)))
        from robotrace_desktop.ui.gui_gc import GuiThreadCollector

        GuiThreadCollector(app).start()  # widgets are never freed on a pool thread
    return app


def run(catalog_path: Path, requests: list[OpenRequest], *, new_window: bool = False) -> int:
    """Show the main window (or hand the requests to the one already running)."""
    from robotrace_desktop.ui.platform_check import check_platform

    check_platform()  # one clear line instead of Qt aborting the process
    app = _application()
    from robotrace_desktop.ui.main_window import MainWindow
    from robotrace_desktop.ui.single_instance import SingleInstance, server_key

    instance = SingleInstance(server_key(catalog_path))
    if not new_window:
        messages = [json.dumps({"open": r.argument, "t_ns": r.t_ns}) for r in requests] or [
            json.dumps({"open": ""})
        ]
        if all(instance.try_forward(m) for m in messages):
            print("handed over to the running RoboTrace Desktop window")
            return 0
    instance.listen()
    window = MainWindow(catalog_path)
    instance.messageReceived.connect(window.handle_message)
    window.show()
    app.processEvents()  # paint the window before opening anything (issue 16)
    if requests:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, lambda: _open_all(window, requests))
    code = app.exec()
    instance.close()
    return int(code)


def _open_all(window: MainWindow, requests: list[OpenRequest]) -> None:
    for request in requests:
        window.open_episode(request.argument, request.t_ns)


def screenshot(
    catalog_path: Path,
    request: OpenRequest | None,
    out: Path,
    *,
    size: tuple[int, int] = (1600, 1000),
) -> Path:
    """Render the window offscreen — on one episode at one moment, or (no request) on the
    catalog — save a PNG, and return."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = _application()
    from robotrace_desktop.ui.main_window import MainWindow

    window = MainWindow(catalog_path)
    window.resize(*size)
    window.show()
    app.processEvents()
    settled = True
    if request is not None:
        view = window.open_episode(request.argument, request.t_ns)
        if view is None:
            window.close()
            message = window.statusBar().currentMessage()
            raise RobotraceError(message or "could not open the episode")
        view.explain_when_loaded = False  # "Explaining…" as before; no run to wait for on close
        view.plots.fill_around_playhead = False  # the whole visible span is waited for: one read
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while not view.settled() and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
        settled = view.settled()
    for _ in range(5):  # let the last frames paint
        app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out), "PNG"):
        raise RobotraceError(f"{out}: could not write the screenshot")
    window.close()
    app.processEvents()
    if not settled:
        print(f"warning: not every pane settled within {SETTLE_TIMEOUT_S:.0f} s", file=sys.stderr)
    return out
