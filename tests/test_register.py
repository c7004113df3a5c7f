"""``register-url-handler`` and the shipped freedesktop entry."""

from __future__ import annotations

import configparser
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from robotrace_desktop.cli import main
from robotrace_desktop.commands import register

REPO = Path(__file__).resolve().parent.parent
PACKAGED = REPO / "robotrace_desktop" / "resources"
DESKTOP_VALIDATE = shutil.which("desktop-file-validate")


def parse_entry(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(text)
    assert parser.sections() == ["Desktop Entry"]
    return dict(parser["Desktop Entry"])


def check_entry(text: str) -> dict[str, str]:
    entry = parse_entry(text)
    assert entry["Type"] == "Application"
    assert entry["Name"] == "RoboTrace Desktop"
    assert entry["Icon"] == "robotrace-desktop"
    assert entry["Terminal"] == "false"
    assert entry["Categories"] == "Science;Robotics;DataVisualization;"
    assert entry["MimeType"] == "x-scheme-handler/robotrace;"
    assert entry["Exec"].endswith(" open %u")
    return entry


def validate(path: Path) -> None:
    """desktop-file-validate (apt: desktop-file-utils) when installed; hints are not errors."""
    if DESKTOP_VALIDATE is None:
        return
    done = subprocess.run([DESKTOP_VALIDATE, str(path)], capture_output=True, text=True)
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert done.returncode == 0 and not errors, done.stdout


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    return data


@pytest.fixture
def fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """xdg-mime and update-desktop-database stand-ins that log their arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for name in ("xdg-mime", "update-desktop-database"):
        tool = bin_dir / name
        tool.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n')
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    return log


def test_shipped_desktop_entry_is_valid_and_is_the_package_copy() -> None:
    text = (PACKAGED / "robotrace-desktop.desktop").read_text(encoding="utf-8")
    entry = check_entry(text)
    assert entry["Exec"] == "robotrace-desktop open %u"
    validate(PACKAGED / "robotrace-desktop.desktop")
    # The top-level resources/ holds identical copies (tests/test_packaging.py checks all).
    top = REPO / "resources"
    assert (top / "robotrace-desktop.desktop").read_bytes() == text.encode("utf-8")
    assert register.packaged_resource("icons/robotrace-desktop.svg").startswith(b"<svg")
    for n in register.PNG_SIZES:
        png = register.packaged_resource(f"icons/hicolor/{n}x{n}/apps/robotrace-desktop.png")
        assert png.startswith(b"\x89PNG")


def test_dry_run_writes_nothing(
    xdg: Path, fake_tools: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["register-url-handler", "--dry-run", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dry_run"] is True
    assert report["desktop_file"] == str(xdg / "applications" / "robotrace-desktop.desktop")
    assert report["icon"] == str(xdg / "icons/hicolor/scalable/apps/robotrace-desktop.svg")
    assert [s["command"][0] for s in report["steps"]] == ["update-desktop-database", "xdg-mime"]
    assert {s["status"] for s in report["steps"]} == {"planned"}
    assert len(report["png_icons"]) == 7
    assert not xdg.exists()
    assert not fake_tools.exists()  # no tool ran

    assert main(["register-url-handler", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"would install {xdg / 'applications' / 'robotrace-desktop.desktop'}" in out
    assert "would run xdg-mime default robotrace-desktop.desktop x-scheme-handler/robotrace" in out


def test_install_writes_entry_and_icon_and_runs_the_tools(
    xdg: Path, fake_tools: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["register-url-handler", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [s["status"] for s in report["steps"]] == ["ran", "ran"]
    installed = xdg / "applications" / "robotrace-desktop.desktop"
    entry = check_entry(installed.read_text(encoding="utf-8"))
    assert entry["Exec"] == report["exec"]
    # This interpreter runs the link: its own entry point script, else `python -m`.
    script = Path(sys.executable).parent / "robotrace-desktop"
    if script.is_file():
        assert entry["Exec"] == f"{script} open %u"
    else:
        assert entry["Exec"] == f"{sys.executable} -m robotrace_desktop open %u"
    validate(installed)
    icon = xdg / "icons" / "hicolor" / "scalable" / "apps" / "robotrace-desktop.svg"
    assert icon.read_bytes() == (PACKAGED / "icons" / "robotrace-desktop.svg").read_bytes()
    pngs = sorted((xdg / "icons" / "hicolor").glob("*/apps/robotrace-desktop.png"))
    assert [p.parent.parent.name for p in pngs] == sorted(
        ["16x16", "32x32", "48x48", "64x64", "128x128", "256x256", "512x512"]
    )
    assert report["png_icons"] == [
        str(xdg / "icons" / "hicolor" / f"{n}x{n}" / "apps" / "robotrace-desktop.png")
        for n in register.PNG_SIZES
    ]
    for png in pngs:
        size = png.parent.parent.name
        packaged = PACKAGED / "icons" / "hicolor" / size / "apps" / "robotrace-desktop.png"
        assert png.read_bytes() == packaged.read_bytes()
        width = int.from_bytes(png.read_bytes()[16:20], "big")  # IHDR width
        assert f"{width}x{width}" == size
    assert fake_tools.read_text().splitlines() == [
        f"update-desktop-database {xdg / 'applications'}",
        "xdg-mime default robotrace-desktop.desktop x-scheme-handler/robotrace",
    ]
    # Running it again is harmless (same files, tools run again).
    assert main(["register-url-handler"]) == 0
    assert "robotrace:// links now open RoboTrace Desktop." in capsys.readouterr().out


def test_missing_tools_are_reported_as_skipped(
    xdg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert main(["register-url-handler"]) == 0
    out = capsys.readouterr().out
    assert "skipped update-desktop-database" in out and "(install desktop-file-utils)" in out
    assert "skipped xdg-mime default robotrace-desktop.desktop x-scheme-handler/robotrace" in out
    assert "choose RoboTrace Desktop for x-scheme-handler/robotrace" in out
    assert (xdg / "applications" / "robotrace-desktop.desktop").is_file()


def test_a_failing_tool_fails_the_command(
    xdg: Path, fake_tools: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = fake_tools.parent / "bin" / "xdg-mime"
    broken.write_text('#!/bin/sh\necho "xdg-mime: no default apps list" >&2\nexit 4\n')
    assert main(["register-url-handler"]) == 1
    out = capsys.readouterr().out
    assert "FAILED xdg-mime default robotrace-desktop.desktop x-scheme-handler/robotrace: " in out
    assert "no default apps list" in out


def test_refused_outside_linux(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], xdg: Path
) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert main(["register-url-handler"]) == 1
    err = capsys.readouterr().err
    assert "Linux desktops only (this is darwin)" in err
    assert not xdg.exists()


def test_exec_line_quoting() -> None:
    assert register.exec_line(["/usr/bin/robotrace-desktop", "open", "%u"]) == (
        "/usr/bin/robotrace-desktop open %u"
    )
    assert register.exec_line(["/opt/my apps/python", "-m", "robotrace_desktop", "open", "%u"]) == (
        '"/opt/my apps/python" -m robotrace_desktop open %u'
    )
    assert register.quote_exec_argument("/a/100%/x") == "/a/100%%/x"
    assert register.quote_exec_argument('/a/"q"$x') == '"/a/\\"q\\"\\$x"'
    # In the file, the backslashes of the Exec quoting are themselves escaped.
    assert register.exec_line(['/a/"q"', "open", "%u"]) == '"/a/\\\\"q\\\\"" open %u'


def test_exec_prefers_this_interpreters_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    python = venv_bin / "python"
    python.write_text("")
    monkeypatch.setattr(sys, "executable", str(python))
    assert register.exec_arguments() == [str(python), "-m", "robotrace_desktop", "open", "%u"]
    script = venv_bin / "robotrace-desktop"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    assert register.exec_arguments() == [str(script), "open", "%u"]


def test_working_folder_only_when_run_from_a_source_checkout() -> None:
    entry = parse_entry(register.desktop_entry("python -m robotrace_desktop open %u", REPO))
    assert entry["Path"] == str(REPO)
    assert "Path" not in parse_entry(register.desktop_entry("robotrace-desktop open %u"))
