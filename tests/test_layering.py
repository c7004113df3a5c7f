"""Qt stays under robotrace_desktop/ui: everything else must import on a machine without a
display, and scripts using the core must not pay for Qt."""

from __future__ import annotations

import ast
import sqlite3
import subprocess
import sys
from pathlib import Path

import robotrace_desktop
from robotrace_desktop.catalog.store import Catalog

PACKAGE = Path(robotrace_desktop.__file__).parent


def non_ui_modules() -> list[str]:
    names = []
    for file in PACKAGE.rglob("*.py"):
        relative = file.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(relative.parts)
        if "ui" in parts[1:2] or parts[-1] == "__main__":
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return sorted(names)


def test_core_modules_never_import_qt() -> None:
    modules = non_ui_modules()
    assert "robotrace_desktop.library.scanner" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "from robotrace_desktop.readers.registry import readers\n"
        "readers()\n"
        "from robotrace_desktop.cli import build_parser\n"
        "build_parser()\n"
        "qt = ('PySide6', 'pyqtgraph', 'shiboken6')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in qt)\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


#: how code reaches a catalog's connection: ``Catalog._conn`` and the transaction that yields it
#: (``conn`` too, so a public alias cannot come back)
CONNECTION_ATTRIBUTES = {"conn", "_conn", "_write_transaction"}


def test_only_the_catalog_reaches_its_connection() -> None:
    """One owner for the catalog's tables: every query lives in robotrace_desktop/catalog, so a
    schema change is made (and tested) in one place. The tests and scripts too: they check what
    was stored with their own read-only connection (tests/catalog_files.read_only), as another
    program would."""
    repo = PACKAGE.parent
    files = [f for f in PACKAGE.rglob("*.py") if f.relative_to(PACKAGE).parts[0] != "catalog"]
    for outside in ("tests", "benchmarks", "examples"):
        files += (repo / outside).rglob("*.py")
    assert len(files) > 400  # the package, the tests and the scripts were all found
    users = []
    for file in files:
        tree = ast.parse(file.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in CONNECTION_ATTRIBUTES:
                users.append(f"{file.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert users == []


def test_a_catalog_hands_out_no_connection(tmp_path: Path) -> None:
    """No public attribute holds the connection and a transaction yields none: what other code
    can do with the catalog is what its functions offer."""
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        public = {name: getattr(catalog, name) for name in dir(catalog) if name[0] != "_"}
        assert [n for n, v in public.items() if isinstance(v, sqlite3.Connection)] == []
        with catalog.transaction() as handed:
            assert handed is None


def test_no_module_imports_itself_back() -> None:
    """No two modules of the package import each other at run time, directly or through
    others — function-level imports included, ``TYPE_CHECKING`` ones (annotations) not. A
    cycle hidden behind a lazy import still ties two modules into one (issue 15 found nine);
    in the readers it would also load rosbags/h5py/pyarrow with a format's registry entry."""
    import grimp

    # no cache: a stale one (import-linter's, in the working folder) answers for old code
    graph = grimp.build_graph(
        "robotrace_desktop", exclude_type_checking_imports=True, cache_dir=None
    )
    assert len(graph.modules) > 200  # the whole package was read
    cycles = {
        tuple(sorted((a, b)))
        for a in graph.modules
        for b in graph.find_modules_directly_imported_by(a)
        if graph.chain_exists(importer=b, imported=a)
    }
    assert cycles == set()
