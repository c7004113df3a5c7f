"""Replays the parent indexes are known to a later scan: they carry their fingerprint, so a
scan of the library folder does not read them again (issue 15: verify stored none)."""

from __future__ import annotations

from pathlib import Path

import pytest

import robotrace_desktop as rt
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.library.scanner import scan
from robotrace_desktop.readers.bundle.reader import BundleReader
from robotrace_desktop.verify import jobs
from tests.sdk.sdk_fixtures import joints


def test_a_scan_after_verify_skips_its_replays_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sensors, _ = joints(tmp_path / "joints.parquet")
    # a bundle written and indexed by the SDK into its own catalog, standing in for a replay
    written = rt.Client(explain=False).log_episode(name="replay stand-in", sensors=sensors)
    with Catalog(tmp_path / "verify.sqlite") as catalog:
        jobs.index_replays(catalog, [written.info])
        state = catalog.recording_state(str(written.path))
        assert state is not None and state["status"] == "ok" and state["fingerprint"]
        assert catalog.get(written.id).name == "replay stand-in"

        def must_not_read(self: BundleReader, path: Path) -> None:
            raise AssertionError(f"{path} was read again")

        monkeypatch.setattr(BundleReader, "index", must_not_read)
        summary = scan(catalog, [written.path])
    assert (summary.errors, summary.problems) == (0, [])
    assert (summary.new, summary.updated, summary.unchanged) == (0, 0, 1)
