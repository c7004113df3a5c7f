"""The ``robotrace-desktop`` command line. No Qt is imported unless the GUI is asked for.

Errors the user can act on are printed as one line naming the file and the reason; anything
unexpected is logged with its traceback to the log file and reported as one line pointing there.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from robotrace_desktop import __version__
from robotrace_desktop.catalog.storage_errors import CatalogDatabaseError
from robotrace_desktop.errors import RobotraceError, UsageError

PROG = "robotrace-desktop"
EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2  # argparse exits with 2 on usage errors
#: metavars of options that take a time: their value may be negative ("--t -1s")
TIME_METAVARS = ("TIME", "PERIOD")


#: every command -> the module under ``robotrace_desktop.commands`` that registers it, in the
#: order ``--help`` lists them. Why a table: a command's parser is built by importing its module,
#: and all of them together pull in numpy, the readers and the sinks (about 0.3 s); ``list`` on
#: a large catalog must answer in less, so only the named command's module is imported
#: (``tests/test_cli_lazy.py`` keeps this table equal to what the modules register).
COMMAND_MODULES: dict[str, str] = {
    "scan": "scan",
    "list": "episode_cmds",
    "selections": "episode_cmds",
    "show": "episode_cmds",
    "tag": "episode_cmds",
    "explain": "explain_cmd",
    "verify": "verify_cmd",
    "frame": "frame",
    "bookmark": "bookmark_cmd",
    "export": "export",
    "export-to": "export_to",
    "import": "import_cmd",
    "open": "open_cmd",
    "demo": "demo",
    "register-url-handler": "register",
    "catalog": "catalog_cmd",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or (``command`` given) the top-level options and that command's
    module only: the same parse for that command, without importing the others."""
    import importlib

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Replay, explain and verify robot episodes (rosbags, LeRobot, HDF5, bundles).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--catalog",
        type=Path,
        help="catalog file to use (default: ROBOTRACE_HOME or the platform data folder)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    names = [COMMAND_MODULES[command]] if command in COMMAND_MODULES else COMMAND_MODULES.values()
    for name in dict.fromkeys(names):
        module = importlib.import_module(f"robotrace_desktop.commands.{name}")
        module.register(sub)
    return parser


def _command_in(arguments: Sequence[str]) -> str | None:
    """The command named in ``arguments`` (the first word that is not a top-level option or
    the catalog path), if it is a known one; None sends the parse to the whole parser."""
    skip = False
    for word in arguments:
        if skip:
            skip = False
        elif word == "--catalog":
            skip = True
        elif word == "--" or not word.startswith("-"):
            return word if word in COMMAND_MODULES else None
        elif word not in ("-v", "--verbose") and not word.startswith("--catalog="):
            return None  # -h, --version, an abbreviation...: the whole parser decides
    return None


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command_in(arguments))
    arguments = join_negative_times(parser, arguments)
    args = parser.parse_args(arguments)
    if args.command is None:  # no command: the catalog window
        args = parser.parse_args([*arguments, "open"])
    from robotrace_desktop.commands.terminal_text import safe_terminal

    with safe_terminal():  # recording text never reaches the terminal as control characters
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    _configure_logging(args.verbose)
    try:
        return int(args.handler(args))
    except UsageError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RobotraceError as exc:
        print(f"{PROG}: error: {_disk_full(args, exc) or exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `robotrace-desktop list | head`: the reader left, not an error
        sys.stderr.close()
        return EXIT_OK
    except CatalogDatabaseError as exc:  # a read that met a damaged page of the catalog
        from robotrace_desktop.catalog.advice import damaged_message

        if "locked" in str(exc) or "busy" in str(exc):
            print(f"{PROG}: error: the catalog is busy ({exc}); try again", file=sys.stderr)
            return EXIT_FAIL

        catalog = args.catalog or _default_catalog()
        print(f"{PROG}: error: {damaged_message(Path(catalog), f'SQLite says: {exc}')}",
              file=sys.stderr)  # fmt: skip
        return EXIT_FAIL
    except Exception as exc:  # never a traceback in the user's face
        logging.getLogger(PROG).exception("unexpected error in %s", args.command)
        full = _disk_full(args, exc)  # disk full, or RoboTrace's own folder not writable
        if full is not None:
            print(f"{PROG}: error: {full}", file=sys.stderr)
            return EXIT_FAIL
        print(
            f"{PROG}: internal error: {type(exc).__name__}: {exc} (details in {_log_path()})",
            file=sys.stderr,
        )
        return EXIT_FAIL


def _disk_full(args: argparse.Namespace, exc: BaseException) -> str | None:
    """'disk full: no space left in <folder> …' (and the original reason) when ``exc`` means
    the disk RoboTrace writes to is full, or 'permission denied: cannot write <folder>; set
    ROBOTRACE_HOME…' when its own folder refuses writes; None otherwise."""
    from robotrace_desktop import paths
    from robotrace_desktop.disk_full import disk_full_message
    from robotrace_desktop.home_access import home_not_writable_message

    said = str(exc).lower()
    if "disk full" in said or "read-only" in said:  # the catalog already said it plainly
        return None
    denied = home_not_writable_message(exc)
    if denied is not None:
        return denied

    catalog = getattr(args, "catalog", None)
    folders = [Path(catalog).expanduser().parent] if catalog else []
    folders.append(paths.home())
    message = disk_full_message(exc, folders)
    return None if message is None else f"{message} ({exc})"


def _default_catalog() -> Path:
    from robotrace_desktop import paths

    return paths.catalog_path()


def time_options(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string, in every subcommand, whose value is a TIME."""
    found: set[str] = set()
    for action in parser._actions:
        if action.metavar in TIME_METAVARS:
            found.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= time_options(sub)
    return found


def join_negative_times(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """``--t -1s`` → ``--t=-1s``: argparse takes a value starting with "-" (other than a bare
    number) for an option and fails with "expected one argument"; a time before the start is
    the command's to judge, not a parse error."""
    options = time_options(parser)
    out: list[str] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        following = argv[index + 1] if index + 1 < len(argv) else ""
        if token in options and _NEGATIVE_TIME.match(following):
            out.append(f"{token}={following}")
            index += 2
            continue
        out.append(token)
        index += 1
    return out


_NEGATIVE_TIME = re.compile(r"^-\.?\d")


def _log_path() -> Path:
    from robotrace_desktop import paths

    return paths.home() / "logs" / "robotrace.log"


def _configure_logging(verbose: bool) -> None:
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    if verbose:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(logging.DEBUG)
        root.addHandler(stream)
    try:
        from robotrace_desktop.quiet_log import QuietFileHandler

        log_file = _log_path()
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = QuietFileHandler(log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.setLevel(logging.INFO)
        root.addHandler(handler)
    except OSError:  # a read-only home must not stop the CLI, nor print tracebacks to it
        root.addHandler(logging.NullHandler())


if __name__ == "__main__":
    sys.exit(main())
