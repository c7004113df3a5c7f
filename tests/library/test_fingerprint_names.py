"""A recording's fingerprint names its files relative to the recording as os.path.relpath
does, whichever way the name is worked out (a string slice for a 10,000-file dataset): a
changed fingerprint would re-index every recording of every catalog once (issue 16)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from robotrace_desktop.library.indexing import Recording, fingerprint
from robotrace_desktop.library.scanner import discover
from robotrace_desktop.readers.lerobot.reader import LeRobotReader
from tests.readers.lerobot_fixtures import write_v2


def _relpath_fingerprint(recording: Recording) -> str:
    """The fingerprint as it was computed before: relpath for every file."""
    digest = hashlib.sha256()
    base = recording.path if recording.path.is_dir() else recording.path.parent
    for file in recording.reader.fingerprint_files(recording.path):
        try:
            stat = file.stat()
        except OSError:
            digest.update(f"{file}\0missing\n".encode("utf-8", "surrogateescape"))
            continue
        name = os.path.relpath(file, base)
        digest.update(
            f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode("utf-8", "surrogateescape")
        )
    return digest.hexdigest()[:32]


def test_every_real_recording(shared_data: Path) -> None:
    recordings = list(discover([shared_data]))
    assert len(recordings) > 20
    for recording in recordings:
        assert fingerprint(recording) == _relpath_fingerprint(recording), recording.path


def test_unusual_bases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_v2(tmp_path / "ds", cameras=())
    (tmp_path / "x").mkdir()
    monkeypatch.chdir(tmp_path)
    reader = LeRobotReader()
    for path in (root, Path("ds"), Path(f"{tmp_path}//ds"), tmp_path / "x" / ".." / "ds"):
        recording = Recording(path, reader)
        assert fingerprint(recording) == _relpath_fingerprint(recording), path
