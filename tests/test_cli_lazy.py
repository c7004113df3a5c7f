"""The CLI imports only the named command's module (issue 16: `list` answers in < 0.3 s)."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from pathlib import Path

from robotrace_desktop import cli


def _registered(module: str) -> list[str]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    importlib.import_module(f"robotrace_desktop.commands.{module}").register(sub)
    return list(sub.choices)


def test_the_table_names_every_command_of_every_module() -> None:
    found: dict[str, str] = {}
    for module in dict.fromkeys(cli.COMMAND_MODULES.values()):
        found.update(dict.fromkeys(_registered(module), module))
    assert found == cli.COMMAND_MODULES
    full = cli.build_parser()
    sub = next(a for a in full._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == list(cli.COMMAND_MODULES)


def test_which_command_the_words_name() -> None:
    assert cli._command_in(["list", "--robot", "g1"]) == "list"
    assert cli._command_in(["--catalog", "list", "show", "x"]) == "show"
    assert cli._command_in(["--catalog=c.sqlite", "-v", "tag", "x"]) == "tag"
    assert cli._command_in(["--version"]) is None
    assert cli._command_in(["--cat", "c.sqlite", "list"]) is None  # abbreviation: whole parser
    assert cli._command_in(["nonsense"]) is None
    assert cli._command_in([]) is None


def test_list_imports_neither_numpy_nor_the_readers(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from robotrace_desktop.cli import main\n"
        f"assert main(['--catalog', {str(tmp_path / 'c.sqlite')!r}, 'list']) == 0\n"
        "heavy = [m for m in ('numpy', 'robotrace_desktop.readers.registry') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_explain_of_a_stored_episode_imports_neither_numpy_nor_the_readers(
    tmp_path: Path,
) -> None:
    """Stored findings whose reuse key is current are printed from the catalog alone (issue 13:
    ≤ 0.1 s): no analyzer, no reader, no numpy is loaded for them."""
    from tests.demo_cache import demo_copy

    demo_copy(tmp_path / "lib" / "seed1", seed=1)
    catalog = str(tmp_path / "c.sqlite")
    assert cli.main(["--catalog", catalog, "scan", str(tmp_path / "lib")]) == 0
    code = (
        "import io, sys, contextlib\n"
        "from robotrace_desktop.cli import main\n"
        "from robotrace_desktop.catalog.store import Catalog\n"
        f"with Catalog({catalog!r}) as c:\n"
        "    episode = c.list_episodes()[0].id\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        f"    assert main(['--catalog', {catalog!r}, 'explain', episode]) == 0\n"
        "assert '#1' in out.getvalue(), out.getvalue()\n"
        "heavy = [m for m in ('numpy', 'robotrace_desktop.readers.registry',\n"
        "         'robotrace_desktop.analysis.registry') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
