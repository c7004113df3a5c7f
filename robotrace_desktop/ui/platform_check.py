"""Can Qt show a window here? Checked before the QApplication exists.

Qt aborts the whole process (SIGABRT, a core dump and a paragraph about plugins) when its
platform plugin cannot load — on Linux typically the xcb plugin missing ``libxcb-cursor0`` and
friends on a fresh Debian/Ubuntu, or a DISPLAY nobody answers on. Before creating the
application we therefore load the xcb plugin ourselves (``dlopen`` reports exactly which shared
library is missing) and open a connection to the X display, and turn a failure into one line
that names the missing library and the ``apt-get install`` that fixes it.

Only the xcb case is checked: offscreen, Wayland, macOS and Windows plugins need nothing extra.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from robotrace_desktop.errors import RobotraceError

#: the Debian/Ubuntu packages Qt's xcb plugin needs beyond a base system (README: Requirements)
APT_PACKAGES = (
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-keysyms1",
    "libxcb-image0",
    "libxcb-render-util0",
    "libxcb-randr0",
    "libxcb-shape0",
    "libxcb-shm0",
    "libxcb-sync1",
    "libxcb-util1",
    "libxcb-xfixes0",
    "libxcb-xkb1",
    "libx11-xcb1",
    "libxkbcommon0",
    "libxkbcommon-x11-0",
    "libegl1",
    "libgl1",
    "libfontconfig1",
    "libdbus-1-3",
    "libglib2.0-0",
)
APT_COMMAND = "sudo apt-get install -y " + " ".join(APT_PACKAGES)
_MISSING = re.compile(r"(lib[\w.+-]+\.so[\w.]*): cannot open shared object file")

#: loads a shared library by path or soname; raises OSError like ctypes.CDLL
Loader = Callable[[str], object]


class DisplayUnavailableError(RobotraceError):
    """Qt's platform plugin cannot start here; the message says what to install or set."""


def uses_xcb(environ: Mapping[str, str] | None = None) -> bool:
    """Whether Qt will pick its xcb (X11) plugin: on Linux, QT_QPA_PLATFORM unset or xcb,
    not a Wayland session, and a DISPLAY set."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith("linux") or not env.get("DISPLAY"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if chosen:
        return chosen == "xcb"
    wayland = env.get("XDG_SESSION_TYPE") == "wayland" and env.get("WAYLAND_DISPLAY")
    return not wayland


def xcb_plugin_path() -> Path | None:
    """``libqxcb.so`` of the installed PySide6, if there is one."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        plugin = Path(root) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if plugin.is_file():
            return plugin
    return None


def missing_library(plugin: Path, load: Loader = ctypes.CDLL) -> str | None:
    """The first shared library the plugin cannot find (``None`` when it loads)."""
    try:
        load(str(plugin))
    except OSError as exc:
        found = _MISSING.search(str(exc))
        return found.group(1) if found else str(exc)
    return None


def display_reachable(display: str, load: Loader = ctypes.CDLL) -> bool:
    """Whether an X server answers on ``display`` (libxcb's own connect, as Qt does)."""
    try:
        xcb = load("libxcb.so.1")
    except OSError:
        return True  # the plugin check names libxcb; nothing more to say here
    connect = xcb.xcb_connect  # type: ignore[attr-defined]
    connect.restype = ctypes.c_void_p
    connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    has_error = xcb.xcb_connection_has_error  # type: ignore[attr-defined]
    has_error.argtypes = [ctypes.c_void_p]
    disconnect = xcb.xcb_disconnect  # type: ignore[attr-defined]
    disconnect.argtypes = [ctypes.c_void_p]
    connection = connect(display.encode(), None)
    try:
        return connection is not None and has_error(connection) == 0
    finally:
        if connection is not None:
            disconnect(connection)


def check_platform(environ: Mapping[str, str] | None = None, load: Loader = ctypes.CDLL) -> None:
    """Raise ``DisplayUnavailableError`` with one actionable line when Qt's xcb plugin would
    abort the process; return quietly otherwise (including every non-xcb platform)."""
    env = os.environ if environ is None else environ
    if not uses_xcb(env):
        return
    plugin = xcb_plugin_path()
    if plugin is None:
        return  # a Qt without the plugin says so itself, without aborting
    missing = missing_library(plugin, load)
    if missing is not None:
        raise DisplayUnavailableError(
            f"cannot open a window: Qt's xcb platform plugin needs {missing}, which is not "
            f"installed; install Qt's system libraries with: {APT_COMMAND} "
            "(or render offscreen with --screenshot OUT.png)"
        )
    display = env.get("DISPLAY", "")
    if not display_reachable(display, load):
        raise DisplayUnavailableError(
            f"cannot open a window: no X server answers on DISPLAY={display} "
            "(check DISPLAY, or render offscreen with --screenshot OUT.png)"
        )
