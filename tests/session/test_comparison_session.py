"""ComparisonSession without a display: which run is the baseline, the alignment rules moved
out of the comparison widget, and the one event the view follows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from robotrace_desktop.catalog.findings import store_findings
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.library.scanner import scan
from robotrace_desktop.session import Alignment, ComparisonSession
from robotrace_desktop.session.alignment import comparison_pair
from tests.demo_cache import demo_copy
from tests.made_up_findings import finding

S = 1_000_000_000
MS = 1_000_000


@pytest.fixture(scope="module")
def demo_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, str]]:
    """Demo runs with seeds 7 and 8: first finding 3.9 s vs 4.4 s; 8 has a camera offset."""
    root = tmp_path_factory.mktemp("pair")
    path = root / "catalog.sqlite"
    with Catalog(path) as catalog:
        for seed in (7, 8):
            scan(catalog, [demo_copy(root / f"seed{seed}", seed=seed)])
        ids = {int(i.seed): i.id for i in catalog.list_episodes()}  # type: ignore[arg-type]
        store_findings(catalog, ids[7], [finding("gripper_closed_early", 3.9, failure_s=7.5)])
        store_findings(catalog, ids[8], [finding("gripper_closed_early", 4.4)])
        catalog.set_stream_offset(ids[8], "front", 20 * MS)
    return path, ids


def test_open_reads_both_runs_and_starts_at_the_start(demo_pair) -> None:  # type: ignore[no-untyped-def]
    path, ids = demo_pair
    session = ComparisonSession.open(path, ids[7], ids[8])
    assert (session.baseline.id, session.candidate.id) == (ids[7], ids[8])
    assert session.runs["candidate"].offsets == {"front": 20 * MS}
    assert [f.t_start_ns for f in session.runs["baseline"].findings] == [round(3.9 * S)]
    assert session.alignment() == Alignment("start", 0, "")
    assert (session.origin_ns(), session.end_ns()) == (0, session.baseline.duration_ns)


def test_first_finding_alignment_shifts_the_candidate_and_emits(demo_pair) -> None:  # type: ignore[no-untyped-def]
    path, ids = demo_pair
    session = ComparisonSession.open(path, ids[7], ids[8])
    seen: list[Alignment] = []
    session.alignment_changed.connect(seen.append)
    aligned = session.set_alignment("first_finding")
    assert seen == [aligned]
    assert aligned.offset_ns == -500 * MS and aligned.move_to_ns == round(3.9 * S)
    assert not aligned.fell_back and "candidate shifted -500 ms" in aligned.note
    assert session.origin_ns() == -500 * MS
    assert session.end_ns() == max(
        session.baseline.duration_ns, session.candidate.duration_ns - 500 * MS
    )
    assert session.pane_offset("candidate", "front") == 20 * MS - 500 * MS
    assert session.pane_offset("baseline", "front") == 0
    assert session.shift_ns("candidate") == -500 * MS and session.shift_ns("baseline") == 0


def test_a_missing_event_falls_back_to_the_start_with_a_note(demo_pair) -> None:  # type: ignore[no-untyped-def]
    path, ids = demo_pair
    session = ComparisonSession.open(path, ids[7], ids[8])
    aligned = session.set_alignment("failure_time")  # only the baseline has a failure time
    assert aligned.offset_ns == 0 and aligned.fell_back and aligned.move_to_ns is None
    assert aligned.note == "The candidate has no failure time: aligned at the start."


def test_manual_keeps_or_sets_the_shift(demo_pair) -> None:  # type: ignore[no-untyped-def]
    path, ids = demo_pair
    session = ComparisonSession.open(path, ids[7], ids[8])
    session.set_alignment("first_finding")
    kept = session.set_alignment("manual")
    assert kept == Alignment("manual", -500 * MS, "Manual shift.")
    assert session.set_manual_offset(250 * MS).offset_ns == 250 * MS == session.offset_ns()
    assert session.alignment().mode == "manual"
    with pytest.raises(ValueError, match="unknown alignment"):
        session.set_alignment("sideways")


def test_a_replay_goes_right_of_the_run_it_replays(demo_pair) -> None:  # type: ignore[no-untyped-def]
    path, ids = demo_pair
    with Catalog(path) as catalog:
        base, other = catalog.get(ids[7]), catalog.get(ids[8])
    replay = dataclasses.replace(other, source="replay", metadata={"replay_of": base.id})
    assert comparison_pair(replay, base) == (base, replay)
    assert comparison_pair(base, replay) == (base, replay)
    assert comparison_pair(other, base) == (other, base)  # not a replay: as given


def test_default_channels_are_the_shared_commands(demo_pair) -> None:  # type: ignore[no-untyped-def]
    path, ids = demo_pair
    channels = ComparisonSession.open(path, ids[7], ids[8]).default_channels()
    assert channels and len(channels) <= 8
    assert all(stream == "/action" for stream, _ in channels)
