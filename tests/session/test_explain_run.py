"""The viewer's Explain run without a display: it stores what it finds for a catalogued
episode (so the browser and ``explain`` see the same findings afterwards) and stores nothing
for a file opened from disk."""

from __future__ import annotations

from pathlib import Path

from robotrace_desktop.catalog.findings import findings_for, was_explained
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.episodes import ResolvedEpisode, resolve
from robotrace_desktop.library.scanner import scan
from robotrace_desktop.session.explain_run import explain_and_store
from tests.demo_cache import demo_copy


def test_a_catalogued_episode_gets_its_findings_stored(tmp_path: Path) -> None:
    bundle = demo_copy(tmp_path / "demo")
    db = tmp_path / "c.sqlite"
    with Catalog(db) as catalog:
        scan(catalog, [bundle])  # indexed only: nothing explained yet
        info = catalog.get(catalog.list_episodes()[0].id)
        assert not was_explained(catalog, info.id)
    found = explain_and_store(db, ResolvedEpisode(info, True))
    # the demo's gripper closes on nothing: the run says so first
    assert found[0].cause == "gripper_empty_close"
    with Catalog(db) as catalog:
        stored = findings_for(catalog, info.id)
    assert [(f.cause, f.t_start_ns) for f in stored] == [(f.cause, f.t_start_ns) for f in found]


def test_a_file_opened_from_disk_is_explained_without_writing_a_catalog(tmp_path: Path) -> None:
    bundle = demo_copy(tmp_path / "demo")
    with Catalog(tmp_path / "other.sqlite") as catalog:
        resolved = resolve(str(bundle), catalog)
    assert not resolved.in_catalog
    found = explain_and_store(None, resolved)
    assert found[0].cause == "gripper_empty_close"
    db = tmp_path / "c.sqlite"
    found_again = explain_and_store(db, resolved)  # a library exists, the file is not in it
    assert [f.cause for f in found_again] == [f.cause for f in found]
    with Catalog(db) as catalog:
        assert catalog.list_episodes() == []
        assert not was_explained(catalog, resolved.info.id)
