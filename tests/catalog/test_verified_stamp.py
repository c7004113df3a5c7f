"""The catalog's integrity check runs once per version of the file, across processes.

Every CLI command is a new process; re-reading an unchanged 80 MB catalog for ``PRAGMA
quick_check`` on each ``list`` cost 0.1–0.2 s (issue 16). Any change to the file or its WAL
must bring the check back, and a damaged file is never trusted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from robotrace_desktop.catalog import health, verified_stamp
from robotrace_desktop.catalog.bookmarks import add_bookmark
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.library.scanner import scan
from tests.hardening.trees import many_recordings


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files ``PRAGMA quick_check`` ran on, in order."""
    ran: list[Path] = []
    real = health.quick_check

    def counted(path: Path, *, immutable: bool = False) -> str | None:
        ran.append(path)
        return real(path, immutable=immutable)

    monkeypatch.setattr(health, "quick_check", counted)
    return ran


def new_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a new process starts with: nothing checked in memory (the stamps on disk stay)."""
    monkeypatch.setattr(health, "_checked", {})


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    many_recordings(tmp_path / "tree", 4)
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as opened:
        scan(opened, [tmp_path / "tree"])
    return path


def test_an_unchanged_catalog_is_checked_once_and_a_changed_one_again(
    catalog: Path, checks: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    new_process(monkeypatch)
    assert health.catalog_problem(catalog) is None and len(checks) == 1
    new_process(monkeypatch)
    with Catalog(catalog) as opened:  # the next command: the same version, no check
        episode = opened.list_episodes()[0].id
        assert len(checks) == 1
        add_bookmark(opened, episode, 0, "failure frame")  # a write: another version
    new_process(monkeypatch)
    assert health.catalog_problem(catalog) is None and len(checks) == 2


def test_a_catalog_damaged_after_it_passed_is_caught_by_the_next_process(
    catalog: Path, checks: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    new_process(monkeypatch)
    assert health.catalog_problem(catalog) is None
    size = catalog.stat().st_size
    with open(catalog, "r+b") as handle:  # garbage over the last page: the size stays
        handle.seek(size - 4096)
        handle.write(b"\xa5" * 4096)
    assert catalog.stat().st_size == size
    new_process(monkeypatch)
    assert health.catalog_problem(catalog) is not None
    new_process(monkeypatch)  # a damaged file is never stamped: checked every time
    assert health.catalog_problem(catalog) is not None and len(checks) == 3


def test_a_garbled_or_unwritable_stamp_file_only_means_checking_again(
    catalog: Path, checks: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    stamps = verified_stamp._file()
    stamps.parent.mkdir(parents=True, exist_ok=True)
    stamps.write_text('{"x": [1, "two"]', encoding="utf-8")
    new_process(monkeypatch)
    assert health.catalog_problem(catalog) is None and len(checks) == 1
    stamps.unlink()
    stamps.mkdir()  # the stamp file cannot be written
    new_process(monkeypatch)
    assert health.catalog_problem(catalog) is None and len(checks) == 2


def test_list_in_a_new_process_trusts_the_version_the_last_one_checked(catalog: Path) -> None:
    """Two ``list`` commands in a row: the stamp names the version both saw."""
    listing = [sys.executable, "-m", "robotrace_desktop", "--catalog", str(catalog), "list"]
    for _ in range(2):
        done = subprocess.run(listing, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert len(done.stdout.splitlines()) == 1 + 4  # the header and the four recordings
    version = verified_stamp.version_of(catalog)
    assert verified_stamp.is_verified(catalog, version)
