"""EpisodeSession without a display: each change is stored in the catalog first, then emitted
once; unchanged values neither write nor emit; a failed write changes nothing. (That the
package imports no Qt is checked by tests/test_layering.py and the import-linter contract.)"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from robotrace_desktop.catalog.bookmarks import list_bookmarks
from robotrace_desktop.catalog.findings import store_findings
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.finding import Finding
from robotrace_desktop.errors import StorageError, UsageError, ValidationError
from robotrace_desktop.library.scanner import scan
from robotrace_desktop.session import EpisodeSession, Event
from tests.demo_cache import demo_copy

MS = 1_000_000


@pytest.fixture(scope="module")
def demo_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_copy(tmp_path_factory.mktemp("demo") / "bundle")


@pytest.fixture
def catalog(tmp_path: Path, demo_bundle: Path) -> Iterator[Catalog]:
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [demo_bundle])
        yield catalog


@pytest.fixture
def session(catalog: Catalog) -> EpisodeSession:
    return EpisodeSession(catalog, catalog.get(catalog.list_episodes()[0].id)).load()


def recorder(event: Event) -> list:  # type: ignore[type-arg]
    seen: list = []  # type: ignore[type-arg]
    event.connect(seen.append)
    return seen


def test_load_reads_what_the_catalog_holds_without_emitting(catalog: Catalog) -> None:
    info = catalog.get(catalog.list_episodes()[0].id)
    catalog.set_stream_offset(info.id, "wrist", 1_250 * MS)  # set elsewhere (the CLI)
    session = EpisodeSession(catalog, info)
    seen = recorder(session.offsets_changed)
    assert session.load() is session
    assert session.offsets() == {"wrist": 1_250 * MS} and session.offset("front") == 0
    assert session.bookmarks() == [] and seen == []


def test_set_offset_writes_then_emits_once(session: EpisodeSession, catalog: Catalog) -> None:
    seen = recorder(session.offsets_changed)
    assert session.set_offset("/joint_states", -40_500_000) is True
    with Catalog(catalog.path) as other:  # committed: another connection sees it
        assert other.stream_offsets(session.id) == {"/joint_states": -40_500_000}
    assert seen == [{"/joint_states": -40_500_000}]
    assert session.set_offset("/joint_states", -40_500_000) is False  # unchanged: no event
    assert session.set_offset("front", 0) is False  # 0 where nothing is stored: no row
    assert len(seen) == 1 and catalog.stream_offsets(session.id) == {"/joint_states": -40_500_000}
    seen[0]["front"] = 5  # what a subscriber gets is a copy
    assert session.offsets() == {"/joint_states": -40_500_000}


def test_reset_offsets_zeroes_every_stream_in_one_write(
    session: EpisodeSession, catalog: Catalog
) -> None:
    session.set_offset("front", 100_000)
    session.set_offset("wrist", -3 * MS)
    seen = recorder(session.offsets_changed)
    assert session.reset_offsets() == 2
    assert seen == [{"front": 0, "wrist": 0}]
    assert catalog.stream_offsets(session.id) == {"front": 0, "wrist": 0}
    assert session.reset_offsets() == 0 and len(seen) == 1  # nothing shifted: no event


def test_a_failed_write_changes_nothing_and_emits_nothing(
    session: EpisodeSession, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(*_: object) -> None:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(catalog, "set_stream_offset", locked)
    seen = recorder(session.offsets_changed)
    with pytest.raises(StorageError, match="readonly database"):
        session.set_offset("front", 7 * MS)
    assert session.offsets() == {} and seen == []


def test_bookmarks_are_stored_sorted_and_emitted(session: EpisodeSession, catalog: Catalog) -> None:
    seen = recorder(session.bookmarks_changed)
    late = session.add_bookmark(8_000 * MS, "gripper closes early", 9_000 * MS)
    early = session.add_bookmark(2_000 * MS)
    assert [b.id for b in session.bookmarks()] == [early.id, late.id]
    assert list_bookmarks(catalog, session.id) == session.bookmarks()
    assert [[b.id for b in marks] for marks in seen] == [[late.id], [early.id, late.id]]

    updated = session.update_bookmark_note(early.id, "look here")
    assert updated.note == "look here" and session.bookmarks()[0] == updated
    assert list_bookmarks(catalog, session.id)[0].note == "look here" and len(seen) == 3

    assert session.delete_bookmarks([late.id, late.id]) == 1  # the second is already gone
    assert session.bookmarks() == [updated] == list_bookmarks(catalog, session.id)
    assert len(seen) == 4


def test_a_bad_bookmark_is_refused_naming_the_field(session: EpisodeSession) -> None:
    seen = recorder(session.bookmarks_changed)
    with pytest.raises(ValidationError, match="t_end_ns"):
        session.add_bookmark(5 * MS, "", 4 * MS)
    assert session.bookmarks() == [] and seen == []


def test_playhead_and_selection_emit_only_on_change(session: EpisodeSession) -> None:
    times = recorder(session.time_changed)
    session.set_time(3 * MS)
    session.set_time(3 * MS)
    session.set_time(-5)  # clamped to the start
    session.set_time(10**15)  # clamped to the end
    assert times == [3 * MS, 0, session.info.duration_ns]
    assert session.time_ns() == session.info.duration_ns

    picks = recorder(session.selection_changed)
    session.set_selection([("/joint_states", "gripper")])
    session.set_selection([("/joint_states", "gripper")])
    assert picks == [[("/joint_states", "gripper")]]
    assert session.selection() == [("/joint_states", "gripper")]


def test_an_episode_opened_from_disk_reads_nothing_and_refuses_authored_writes(
    catalog: Catalog,
) -> None:
    info = catalog.get(catalog.list_episodes()[0].id)
    catalog.set_stream_offset(info.id, "wrist", MS)
    session = EpisodeSession(catalog, info, in_catalog=False).load()
    assert session.offsets() == {} and session.bookmarks() == []
    with pytest.raises(UsageError, match="scan it"):
        session.set_offset("wrist", 2 * MS)
    with pytest.raises(UsageError, match="bookmarks"):
        session.add_bookmark(MS)
    assert catalog.stream_offsets(info.id) == {"wrist": MS}


def test_events_connect_once_and_disconnect_quietly() -> None:
    event: Event[int] = Event("ticks")
    seen: list[int] = []
    event.connect(seen.append)
    event.connect(seen.append)
    event.emit(1)
    event.disconnect(seen.append)
    event.disconnect(seen.append)
    event.emit(2)
    assert seen == [1] and len(event) == 0


def test_the_layout_is_kept_per_recording(session: EpisodeSession, catalog: Catalog) -> None:
    assert session.saved_layout() == {}
    session.save_layout({"channels": [["/action", "gripper"]], "columns": [700, 300]})
    again = EpisodeSession(catalog, session.info, in_catalog=False)  # opened from disk
    assert again.saved_layout() == {"channels": [["/action", "gripper"]], "columns": [700, 300]}


def test_findings_load_and_a_finished_run_is_emitted(
    session: EpisodeSession, catalog: Catalog
) -> None:
    assert session.load_findings() == [] and not session.explained()
    asked = recorder(session.explain_requested)
    session.request_explain()
    assert asked == [None]
    found = Finding("stall", "Stall", "made up", 0.9, "high", MS, 2 * MS, ["/log"], {}, rank=1)
    store_findings(catalog, session.id, [found])  # what the explain run does in its thread
    seen = recorder(session.findings_changed)
    session.set_findings([found])
    assert seen == [[found]] and session.explained()
    again = EpisodeSession(catalog, session.info)
    assert [f.cause for f in again.load_findings()] == ["stall"] and again.explained()
