"""The catalog on storage that says no: a disk that fills up while a new catalog is created, and
a catalog on a read-only mount (a file or a whole folder).

Both need root to mount a tmpfs or a read-only bind mount (chmod does not stop root); the tests
skip where mounting is not allowed."""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from robotrace_desktop.catalog.storage_errors import DiskFullError
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.cli import main
from tests.catalog_files import read_only
from tests.demo_cache import demo_copy
from tests.hardening.catalog_faults import fill, small_disk
from tests.hardening.trees import cli, finish


def test_a_catalog_created_on_a_full_disk_is_whole_or_absent(tmp_path: Path) -> None:
    """Every amount of free space from none to enough: creation either fails saying "disk
    full" and where, leaving no catalog, or succeeds — and after space is freed the catalog
    always opens intact (the old creation left a permanently "malformed" file)."""
    refused = created = 0
    with small_disk(tmp_path / "disk", "1m") as disk:
        if disk is None:
            pytest.skip("cannot mount a tmpfs here")
        for leave in range(0, 240 * 1024, 12 * 1024):
            fill(disk, leave)
            catalog = disk / f"c{leave}.sqlite"
            try:
                Catalog(catalog).close()
                created += 1
            except DiskFullError as exc:
                refused += 1
                assert str(exc).startswith("disk full: cannot ")
                assert f"free on the drive holding {disk}" in str(exc)
            (disk / "filler").unlink()
            assert not [p.name for p in disk.iterdir() if p.name.startswith(".")]  # no debris
            with Catalog(catalog) as opened, read_only(catalog) as conn:  # a good catalog again
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                assert opened.count() == 0
            for leftover in disk.iterdir():
                shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
    assert refused > 0 and created > 0


@contextmanager
def read_only_view(source: Path, target: Path) -> Iterator[Path | None]:
    """``source`` (a file or folder) bind-mounted read-only at ``target``."""
    if source.is_dir():
        target.mkdir(parents=True, exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
    mounted = subprocess.run(["mount", "--bind", str(source), str(target)], capture_output=True)
    if mounted.returncode != 0:
        yield None
        return
    try:
        ro = subprocess.run(
            ["mount", "-o", "remount,bind,ro", str(target)], capture_output=True, check=False
        )
        yield target if ro.returncode == 0 else None
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)


def run(catalog: Path, *args: str) -> tuple[int, str, str]:
    """``robotrace-desktop --catalog CATALOG ARGS`` in this process (``cli.main``): exit code,
    stdout, stderr. What is checked is the catalog's answer, not process behaviour, and each
    subprocess cost an interpreter start and the imports; the GUI's ``open`` still gets its own
    process (a QApplication of its own)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--catalog", str(catalog), *args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A catalog folder with the demo episode scanned, bookmarked and closed cleanly."""
    root = tmp_path_factory.mktemp("ro")
    bundle = demo_copy(root / "bundle")
    folder = root / "catalog"
    folder.mkdir()
    code, _, err = run(folder / "catalog.sqlite", "scan", str(bundle))
    assert code == 0, err
    with Catalog(folder / "catalog.sqlite") as catalog:
        episode = catalog.list_episodes()[0].id
    code, _, err = run(folder / "catalog.sqlite", "bookmark", "add", episode, "--t", "1s")
    assert code == 0, err
    return folder, episode


@pytest.mark.parametrize("what", ["folder", "file"])
def test_a_read_only_catalog_serves_reads_and_refuses_writes_plainly(
    scanned: tuple[Path, str], tmp_path: Path, what: str
) -> None:
    folder, episode = scanned
    source = folder if what == "folder" else folder / "catalog.sqlite"
    target = tmp_path / "view" if what == "folder" else tmp_path / "view" / "catalog.sqlite"
    with read_only_view(source, target) as view:
        if view is None:
            pytest.skip("cannot bind-mount read-only here")
        catalog = view / "catalog.sqlite" if what == "folder" else view
        reads = {
            "list": ("list",),
            "show": ("show", episode),
            "bookmark list": ("bookmark", "list"),
            "frame": ("frame", episode, "--t", "1s", "-o", str(tmp_path / "f.png")),
            "open": ("open", episode, "--t", "1s", "--screenshot", str(tmp_path / "s.png")),
        }
        for name, args in reads.items():
            code, _, err = finish(cli(catalog, *args)) if name == "open" else run(catalog, *args)
            assert code == 0, (name, err)
            assert "Traceback" not in err and "internal error" not in err
        assert (tmp_path / "f.png").stat().st_size > 0 and (tmp_path / "s.png").stat().st_size
        for args in (
            ("tag", episode, "--tag", "x"),
            ("bookmark", "add", episode, "--t", "2s", "--note", "n"),
            ("scan", str(folder)),
        ):
            code, _, err = run(catalog, *args)
            assert code == 1, (args, err)
            assert f"the catalog is read-only: {catalog}" in err, err
            assert "internal error" not in err and "OperationalError" not in err
