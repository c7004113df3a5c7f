"""Without Qt's xcb libraries (or with a DISPLAY nobody answers on) the GUI commands print one
line naming the missing library and the apt-get command, and exit 1 — Qt used to abort the
process with SIGABRT. Without any display the old advice (--screenshot) is kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from robotrace_desktop.cli import main
from robotrace_desktop.ui import app, platform_check
from robotrace_desktop.ui.platform_check import (
    APT_COMMAND,
    DisplayUnavailableError,
    check_platform,
    uses_xcb,
)

REPO = Path(__file__).resolve().parents[2]


def _no_cursor_lib(path: str) -> object:
    if path.endswith("libqxcb.so"):
        raise OSError(
            "libxcb-cursor.so.0: cannot open shared object file: No such file or directory"
        )
    return object()


def test_a_missing_xcb_library_is_named_with_the_apt_command() -> None:
    with pytest.raises(DisplayUnavailableError) as caught:
        check_platform({"DISPLAY": ":0"}, load=_no_cursor_lib)
    message = str(caught.value)
    assert "libxcb-cursor.so.0" in message and APT_COMMAND in message
    assert "\n" not in message
    assert "libxcb-cursor0" in APT_COMMAND.split()


@pytest.mark.parametrize(
    "env",
    [
        {},  # no display at all: the caller's "use --screenshot" advice applies
        {"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"},
        {"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland"},
        {"DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"},
    ],
)
def test_only_the_xcb_plugin_is_probed(env: dict[str, str]) -> None:
    def never(path: str) -> object:
        raise AssertionError(f"probed {path}")

    assert not uses_xcb(env)
    check_platform(env, load=never)


def test_explicit_xcb_is_probed() -> None:
    assert uses_xcb({"DISPLAY": ":1", "QT_QPA_PLATFORM": "xcb"})
    assert uses_xcb({"DISPLAY": ":1"}) == sys.platform.startswith("linux")


def test_the_check_runs_before_any_qapplication(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def missing(*_args: object, **_kwargs: object) -> None:
        check_platform({"DISPLAY": ":0"}, load=_no_cursor_lib)

    def no_application() -> None:
        raise AssertionError("a QApplication was created before the platform check")

    monkeypatch.setattr(platform_check, "check_platform", missing)
    monkeypatch.setattr(app, "_application", no_application)
    monkeypatch.setenv("DISPLAY", ":0")
    assert main(["open", "--new-window"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("robotrace-desktop: error: cannot open a window:")
    assert "libxcb-cursor.so.0" in err[0] and "sudo apt-get install" in err[0]


def test_the_real_command_exits_1_with_one_line_instead_of_aborting(tmp_path: Path) -> None:
    """On this machine for real: the xcb plugin either misses a library or finds no X server
    on a display number nobody uses — either way one line and exit 1, never SIGABRT."""
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=":87", ROBOTRACE_HOME=str(tmp_path), PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-m", "robotrace_desktop", "open", "--new-window"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("robotrace-desktop: error: cannot open a window:")
    assert "apt-get install" in lines[0] or "DISPLAY=:87" in lines[0]


def test_without_a_display_the_screenshot_advice_stays(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert main(["open"]) == 1
    assert "use --screenshot OUT.png" in capsys.readouterr().err


def test_the_readme_lists_the_same_apt_line() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert APT_COMMAND in readme
