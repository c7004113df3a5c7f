"""``register-url-handler``: make ``robotrace://`` links open RoboTrace on a Linux desktop.

Installs the packaged freedesktop entry (with ``Exec`` pointing at *this* installation, so a
link opens the same version the user ran the command with) and the icon under
``$XDG_DATA_HOME``, then asks ``xdg-mime`` / ``update-desktop-database`` to pick it up when
those tools exist. Nothing outside the user's data folder is touched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from robotrace_desktop.commands.common import print_json
from robotrace_desktop.errors import RobotraceError

DESKTOP_FILE = "robotrace-desktop.desktop"
ICON_FILE = "robotrace-desktop.svg"
PNG_ICON = "robotrace-desktop.png"
# Rendered from the SVG by packaging/render_icons.py; desktops without SVG support use these.
PNG_SIZES = (16, 32, 48, 64, 128, 256, 512)
SCHEME_MIME = "x-scheme-handler/robotrace"
# Characters that force quoting of an Exec argument (Desktop Entry Specification, "Exec key").
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "register-url-handler",
        help="make robotrace:// links open RoboTrace Desktop (Linux)",
        description=(
            "Install a desktop entry and icon under $XDG_DATA_HOME (default ~/.local/share) "
            "and register it as the handler of robotrace:// links."
        ),
    )
    parser.add_argument("--dry-run", action="store_true", help="show what would be done")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=run)


@dataclass(slots=True)
class Step:
    command: list[str]
    status: str  # ran / failed / skipped / planned
    returncode: int | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "status": self.status,
            "returncode": self.returncode,
            "detail": self.detail,
        }


@dataclass(slots=True)
class Plan:
    desktop_path: Path
    icon_path: Path
    exec_line: str
    working_dir: Path | None
    desktop_text: str
    icon_bytes: bytes
    png_icons: list[tuple[Path, bytes]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)


def data_home() -> Path:
    """$XDG_DATA_HOME if set to an absolute path (the spec ignores relative ones)."""
    value = os.environ.get("XDG_DATA_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / ".local" / "share"


def exec_arguments() -> list[str]:
    """The command a link runs: this interpreter's entry point, else ``python -m``."""
    script = Path(sys.executable).parent / "robotrace-desktop"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script), "open", "%u"]
    return [sys.executable, "-m", "robotrace_desktop", "open", "%u"]


def quote_exec_argument(argument: str) -> str:
    """Quote one Exec argument as the Desktop Entry Specification asks."""
    if argument == "%u":
        return argument
    argument = argument.replace("%", "%%")
    if not any(c in _RESERVED for c in argument):
        return argument
    inner = "".join("\\" + c if c in '"`$\\' else c for c in argument)
    return f'"{inner}"'


def exec_line(arguments: list[str]) -> str:
    """The Exec value as written in the file (string-level escaping of backslashes too)."""
    return " ".join(quote_exec_argument(a) for a in arguments).replace("\\", "\\\\")


def packaged_resource(name: str) -> bytes:
    """A file from robotrace_desktop/resources (ships in wheels as package data)."""
    node = resources.files("robotrace_desktop").joinpath("resources")
    for part in name.split("/"):
        node = node.joinpath(part)
    return node.read_bytes()


def source_checkout() -> Path | None:
    """The checkout folder when robotrace_desktop only imports from the current directory
    (run from a source tree, not pip-installed): ``python -m`` then needs that working folder.
    """
    root = Path(__file__).resolve().parents[2]
    try:
        done = subprocess.run(
            [sys.executable, "-c", "import robotrace_desktop"],
            cwd=Path.home() if Path.home().is_dir() else "/",
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return root
    return None if done.returncode == 0 else root


def desktop_entry(exec_value: str, working_dir: Path | None = None) -> str:
    """The packaged desktop entry with its Exec line pointing at this installation."""
    lines = packaged_resource(DESKTOP_FILE).decode("utf-8").splitlines()
    out = []
    for line in lines:
        if line.startswith("Exec="):
            out.append(f"Exec={exec_value}")
            if working_dir is not None:
                out.append(f"Path={working_dir}")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def make_plan() -> Plan:
    home = data_home()
    applications = home / "applications"
    arguments = exec_arguments()
    exec_value = exec_line(arguments)
    working_dir = source_checkout() if "-m" in arguments else None
    plan = Plan(
        desktop_path=applications / DESKTOP_FILE,
        icon_path=home / "icons" / "hicolor" / "scalable" / "apps" / ICON_FILE,
        exec_line=exec_value,
        working_dir=working_dir,
        desktop_text=desktop_entry(exec_value, working_dir),
        icon_bytes=packaged_resource(f"icons/{ICON_FILE}"),
        png_icons=[
            (
                home / "icons" / "hicolor" / f"{n}x{n}" / "apps" / PNG_ICON,
                packaged_resource(f"icons/hicolor/{n}x{n}/apps/{PNG_ICON}"),
            )
            for n in PNG_SIZES
        ],
    )
    for command, hint in (
        (["update-desktop-database", str(applications)], "install desktop-file-utils"),
        (["xdg-mime", "default", DESKTOP_FILE, SCHEME_MIME], "install xdg-utils"),
    ):
        if shutil.which(command[0]) is None:
            plan.steps.append(Step(command, "skipped", detail=f"{command[0]} not found ({hint})"))
        else:
            plan.steps.append(Step(command, "planned"))
    return plan


def install(plan: Plan) -> None:
    """Write the files, then run the tools that exist (each step records its result)."""
    try:
        plan.desktop_path.parent.mkdir(parents=True, exist_ok=True)
        plan.desktop_path.write_text(plan.desktop_text, encoding="utf-8")
        plan.icon_path.parent.mkdir(parents=True, exist_ok=True)
        plan.icon_path.write_bytes(plan.icon_bytes)
        for path, data in plan.png_icons:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    except OSError as exc:
        raise RobotraceError(f"cannot install the desktop entry: {exc}") from exc
    for step in plan.steps:
        if step.status != "planned":
            continue
        try:
            done = subprocess.run(
                step.command, capture_output=True, text=True, timeout=60, check=False
            )
        except (OSError, subprocess.SubprocessError) as exc:
            step.status, step.detail = "failed", str(exc)
            continue
        step.returncode = done.returncode
        step.status = "ran" if done.returncode == 0 else "failed"
        step.detail = (done.stderr or done.stdout).strip()


def run(args: argparse.Namespace) -> int:
    if not sys.platform.startswith("linux"):
        raise RobotraceError(
            f"register-url-handler sets up robotrace:// links on Linux desktops only "
            f"(this is {sys.platform}); on macOS and Windows links are registered by the "
            "installer"
        )
    plan = make_plan()
    if not args.dry_run:
        install(plan)
    failed = any(s.status == "failed" for s in plan.steps)
    if args.json:
        print_json(
            {
                "dry_run": bool(args.dry_run),
                "desktop_file": str(plan.desktop_path),
                "icon": str(plan.icon_path),
                "png_icons": [str(path) for path, _ in plan.png_icons],
                "exec": plan.exec_line,
                "working_dir": None if plan.working_dir is None else str(plan.working_dir),
                "steps": [s.to_dict() for s in plan.steps],
                "ok": not failed,
            }
        )
    else:
        _print_plan(plan, dry_run=args.dry_run)
    return 1 if failed else 0


def _print_plan(plan: Plan, *, dry_run: bool) -> None:
    verb = "would install" if dry_run else "installed"
    print(f"{verb} {plan.desktop_path}")
    print(f"  Exec={plan.exec_line}")
    if plan.working_dir is not None:
        print(f"  Path={plan.working_dir} (robotrace_desktop is not installed: runs from there)")
    print(f"{verb} {plan.icon_path}")
    if plan.png_icons:
        sizes = ", ".join(path.parent.parent.name for path, _ in plan.png_icons)
        print(f"{verb} PNG icons ({sizes}) under {plan.png_icons[0][0].parents[2]}")
    for step in plan.steps:
        command = " ".join(step.command)
        if step.status == "skipped":
            print(f"skipped {command}: {step.detail}")
        elif step.status == "planned":
            print(f"would run {command}")
        elif step.status == "ran":
            print(f"ran {command}")
        else:
            print(f"FAILED {command}: {step.detail or f'exit code {step.returncode}'}")
    if dry_run:
        return
    if any(s.status == "failed" for s in plan.steps):
        print("robotrace:// links may not open RoboTrace until the failed step is fixed.")
    elif any(s.status == "skipped" and s.command[0] == "xdg-mime" for s in plan.steps):
        print(
            f"Installed. Without xdg-mime, choose RoboTrace Desktop for {SCHEME_MIME} in your "
            "desktop's default-applications settings."
        )
    else:
        print("robotrace:// links now open RoboTrace Desktop.")
