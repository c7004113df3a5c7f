"""BundleWriter, the single atomic folder every bundle is written through: a bundle appears
whole or not at all, an earlier bundle survives a failed replace, and a killed writer leaves
at most a temporary folder that the next writer in that folder removes."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from robotrace_desktop.bundle import writer as bundle_writer
from robotrace_desktop.bundle.manifest import MANIFEST_NAME, BundleManifest, read_manifest
from robotrace_desktop.bundle.stale import clean_stale_leftovers, temp_name
from robotrace_desktop.bundle.writer import BundleWriter
from robotrace_desktop.errors import ConfigurationError, StorageError


def _write(folder: Path, text: str, **options: object) -> Path:
    with BundleWriter(folder, **options) as bundle:  # type: ignore[arg-type]
        bundle.path("notes/a.txt").write_text(text)
        bundle.write_manifest(BundleManifest(name=text))
    return folder


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_bundle_appears_whole_only_when_the_block_ends(tmp_path: Path) -> None:
    folder = tmp_path / "lib" / "episode"
    with BundleWriter(folder) as bundle:
        bundle.path("signals/x.txt").write_text("data")
        bundle.write_manifest(BundleManifest(name="first"))
        assert not folder.exists()  # built beside it, invisible until complete
        assert bundle.root.parent == folder.parent and bundle.root.name.startswith(".episode.")
    assert read_manifest(folder).name == "first"
    assert (folder / "signals/x.txt").read_text() == "data"
    assert _names(folder.parent) == ["episode"]  # no temporary folder left


def test_a_failure_mid_write_leaves_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "episode"
    full = pytest.raises(StorageError, match=r"episode: cannot write the bundle: disk full")
    with full, BundleWriter(folder) as bundle:
        bundle.path("a.txt").write_text("half")
        raise OSError("disk full")
    assert _names(tmp_path) == []


def test_a_disk_error_names_the_file_and_a_plain_reason(tmp_path: Path) -> None:
    folder = tmp_path / "episode"
    with pytest.raises(StorageError) as err, BundleWriter(folder, what="replay") as bundle:
        target = bundle.path("video/front.mp4")
        raise OSError(errno.ENOSPC, "No space left on device", str(target))
    assert str(err.value).startswith(str(target))
    assert "cannot write the replay: disk full (No space left on device)" in str(err.value)
    assert _names(tmp_path) == []


def test_the_temp_folder_goes_on_a_non_os_exception_too(tmp_path: Path) -> None:
    folder = tmp_path / "episode"
    with pytest.raises(KeyError), BundleWriter(folder) as bundle:
        bundle.path("a.txt").write_text("half")
        raise KeyError("a bug in the caller")
    with pytest.raises(KeyboardInterrupt), BundleWriter(folder):
        raise KeyboardInterrupt
    assert _names(tmp_path) == []


def test_no_manifest_no_bundle(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="without a manifest"), BundleWriter(tmp_path / "e"):
        pass
    assert _names(tmp_path) == []


def test_replace_swaps_whole_and_keeps_the_earlier_bundle_on_failure(tmp_path: Path) -> None:
    folder = tmp_path / "lib" / "episode"
    _write(folder, "first")
    full = pytest.raises(StorageError, match=r"episode: cannot write the bundle: disk full")
    with full, BundleWriter(folder, replace=True) as bundle:
        bundle.path("notes/a.txt").write_text("half")
        raise OSError("disk full")
    assert read_manifest(folder).name == "first"  # the earlier bundle is untouched
    _write(folder, "second", replace=True)
    assert read_manifest(folder).name == "second"
    assert (folder / "notes/a.txt").read_text() == "second"
    assert _names(folder.parent) == ["episode"]  # neither temp nor old folder left


def test_replace_puts_the_old_bundle_back_when_the_swap_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "episode"
    _write(folder, "first")
    real_replace = os.replace

    def refuse_new(src: object, dst: object) -> None:
        if Path(str(src)).name.startswith(".episode.tmp-"):  # the new bundle into place
            raise OSError(errno.EACCES, "Permission denied", str(dst))
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(bundle_writer.os, "replace", refuse_new)
    with pytest.raises(StorageError, match="permission denied"):
        _write(folder, "second", replace=True)
    assert read_manifest(folder).name == "first"
    assert (folder / "notes/a.txt").read_text() == "first"
    assert _names(tmp_path) == ["episode"]


def test_replacing_a_symlinked_bundle_never_touches_its_target(tmp_path: Path) -> None:
    elsewhere = _write(tmp_path / "elsewhere" / "episode", "kept")
    link = tmp_path / "lib" / "episode"
    link.parent.mkdir()
    link.symlink_to(elsewhere, target_is_directory=True)
    _write(link, "new", replace=True)
    assert not link.is_symlink() and read_manifest(link).name == "new"
    assert read_manifest(elsewhere).name == "kept"
    assert _names(link.parent) == ["episode"]


def test_without_replace_an_existing_folder_is_refused(tmp_path: Path) -> None:
    folder = _write(tmp_path / "episode", "first")
    with pytest.raises(StorageError, match="already exists"):
        _write(folder, "second")
    assert read_manifest(folder).name == "first" and _names(tmp_path) == ["episode"]


def test_a_folder_that_is_not_a_bundle_is_never_replaced(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(ConfigurationError, match="not an episode bundle"):
        _write(precious, "x", replace=True)
    assert _names(precious) == ["thesis.tex"] and _names(tmp_path) == ["precious"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert read_manifest(_write(empty, "fills it", replace=True)).name == "fills it"


def test_staging_keeps_the_temp_folder_elsewhere(tmp_path: Path) -> None:
    staging = tmp_path / ".robotrace" / "tmp"
    folder = tmp_path / "2024-05-14" / "episode"
    with BundleWriter(folder, staging=staging) as bundle:
        assert bundle.root.parent == staging
        bundle.write_manifest(BundleManifest(name="staged"))
    assert read_manifest(folder).name == "staged" and _names(staging) == []


def test_paths_stay_inside_the_bundle(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.\."), BundleWriter(tmp_path / "e") as bundle:
        bundle.path("../outside.txt")
    assert _names(tmp_path) == []


_KILLED_WRITER = """
import sys
from pathlib import Path
from robotrace_desktop.bundle.writer import BundleWriter
with BundleWriter(Path(sys.argv[1]), replace=True) as bundle:
    bundle.path("video/front.mp4").write_bytes(b"half a video")
    print(bundle.root, flush=True)
    sys.stdin.read()  # killed here, mid-write
"""


def test_kill_9_mid_write_leaves_a_temp_folder_the_next_writer_removes(tmp_path: Path) -> None:
    folder = _write(tmp_path / "episode", "first")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    temp = Path(proc.stdout.readline().decode().strip())
    proc.kill()
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert read_manifest(folder).name == "first"  # never half a bundle
    assert _names(tmp_path) == sorted(["episode", temp.name])  # at most the temp folder
    _write(tmp_path / "other", "next writer")  # in the same folder
    assert _names(tmp_path) == ["episode", "other"]


def test_only_leftovers_of_writers_that_are_gone_are_cleaned(tmp_path: Path) -> None:
    dead = _dead_pid()
    gone = tmp_path / f".a.tmp-{dead}-1"
    reused = tmp_path / temp_name("b", "tmp", 7)  # our pid, but from before we started
    live = tmp_path / temp_name("c", "tmp", threading.get_ident())  # a writer of ours, now
    moved_aside = tmp_path / f".d.old-{dead}-1"  # the kill fell between the two renames
    for leftover in (gone, reused, live, moved_aside):
        leftover.mkdir()
    (moved_aside / MANIFEST_NAME).write_text("{}")
    os.utime(reused, (0, 0))
    cleaned = clean_stale_leftovers(tmp_path)
    assert sorted(cleaned) == sorted([gone, reused, moved_aside])
    assert _names(tmp_path) == sorted(["d", live.name])
    assert (tmp_path / "d" / MANIFEST_NAME).is_file()  # put back, not deleted
