"""``index_recording``, the one way a recording's rows reach the catalog: what a scan stores
for a bad recording, what a writer that must undo its write is told instead, and when an
unchanged recording is not read again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.errors import CorruptRecordingError
from robotrace_desktop.library.indexing import Recording, index_recording
from tests.catalog.toy_reader import ToyReader


def toy(path: Path, text: str) -> Recording:
    path.write_text(text)
    return Recording(path, ToyReader())


def test_a_bad_recording_gets_one_error_row_and_strict_callers_get_the_error(
    tmp_path: Path,
) -> None:
    recording = toy(tmp_path / "bad.toy", "corrupt")
    with Catalog(tmp_path / "c.sqlite") as catalog:
        with pytest.raises(CorruptRecordingError, match="toy file is corrupt"):
            index_recording(catalog, recording, strict=True)
        assert catalog.recording_state(str(recording.path)) is None  # nothing was written
        done = index_recording(catalog, recording)
        assert done.error is not None and "toy file is corrupt" in done.error
        assert (done.new, done.updated, done.unchanged, done.changed) == (0, 0, 0, [])
        state = catalog.recording_state(str(recording.path))
        assert state is not None and state["status"] == "error"
        [row] = catalog.list_episodes()
        assert row.status.value == "failed" and "toy file is corrupt" in row.problems[0]


def test_an_unchanged_recording_is_not_read_again_unless_forced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    episodes = {"episodes": [{"name": "a"}, {"name": "b"}]}
    recording = toy(tmp_path / "two.toy", json.dumps(episodes))
    with Catalog(tmp_path / "c.sqlite") as catalog:
        first = index_recording(catalog, recording)
        assert (first.new, len(first.changed), first.error) == (2, 2, None)
        reads: list[Path] = []
        original = ToyReader.index

        def counted(self: ToyReader, path: Path):  # type: ignore[no-untyped-def]
            reads.append(path)
            return original(self, path)

        monkeypatch.setattr(ToyReader, "index", counted)
        again = index_recording(catalog, recording)
        assert (again.unchanged, again.unchanged_ids, again.episodes) == (2, first.changed, [])
        assert reads == []
        forced = index_recording(catalog, recording, force=True)
        assert (forced.unchanged, forced.new, reads) == (2, 0, [recording.path])
