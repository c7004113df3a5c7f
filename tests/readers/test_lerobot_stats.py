"""Per-episode stats of LeRobot v2.1 datasets: indexing parses every line keeping the wanted
features; opening one episode parses only its own line — with the same result either way."""

from __future__ import annotations

import json
from pathlib import Path

from robotrace_desktop.readers.lerobot.load import load_dataset
from robotrace_desktop.readers.lerobot.reader import LeRobotReader, _cached_dataset
from robotrace_desktop.readers.lerobot.stats import EpisodeStats
from tests.readers.lerobot_fixtures import write_v2

G1 = "lerobot/g1_pick_bottle_v21"


def test_opening_one_episode_parses_only_its_stats_line(tmp_path: Path) -> None:
    root = write_v2(tmp_path / "ds", cameras=())  # next.success etc.: stats are needed
    eager = load_dataset(root)
    lazy = load_dataset(root, lazy_stats=True)
    assert lazy.pending_stats is not None and len(lazy.pending_stats.spans) == 4
    assert all(not e.stats for e in lazy.episodes.values())  # nothing parsed yet
    assert lazy.stats_of(lazy.episodes[1]) == eager.episodes[1].stats
    assert "next.success" in eager.episodes[1].stats
    assert [i for i, e in lazy.episodes.items() if e.stats] == [1]
    assert _cached_dataset(root).pending_stats is not None


def test_the_real_dataset_needs_no_stats_and_opens_as_indexed(shared_data: Path) -> None:
    """G1 has tasks in episodes.jsonl and no outcome feature: the 100 stats lines (the bulk of
    its metadata) are never parsed, and open() describes each episode as index() does."""
    root = shared_data / G1
    assert load_dataset(root, lazy_stats=True).pending_stats is None
    reader = LeRobotReader()
    indexed = {i.episode_index: i for i in reader.index(root)}
    for index in (0, 7, 99):
        with reader.open(root, index) as source:
            assert source.info.to_dict() == indexed[index].to_dict()


def test_lines_in_another_key_order_and_broken_lines(tmp_path: Path) -> None:
    path = tmp_path / "episodes_stats.jsonl"
    lines = [
        json.dumps({"episode_index": 0, "stats": {"next.success": {"max": [1]}, "big": [0] * 9}}),
        json.dumps({"stats": {"next.success": {"max": [0]}}, "episode_index": 1}),  # key order
        "{not json",
        json.dumps({"episode_index": 3, "stats": "not a dict"}),
        "",
        json.dumps({"episode_index": 4, "stats": {"task_index": {"min": [2]}}}),
    ]
    path.write_text("\n".join(lines) + "\n")
    scanned = EpisodeStats.scan(path, ("next.success", "task_index"))
    assert scanned is not None
    stats, data = scanned
    assert set(stats.spans) == {0, 3, 4} and set(stats.parsed) == {1}
    expected = {0: {"next.success": {"max": [1]}}, 1: {"next.success": {"max": [0]}}, 3: {},
                4: {"task_index": {"min": [2]}}}  # fmt: skip
    assert dict(stats.all(data)) == expected
    assert {i: stats.get(i) for i in (0, 1, 3, 4)} == expected
    assert stats.get(2) == {}  # the broken line named no episode
    assert stats.bad == ["line 3 is not JSON (Expecting property name enclosed in double "
                         "quotes: line 1 column 2 (char 1))"]  # fmt: skip


def test_a_missing_stats_file_is_no_stats(tmp_path: Path) -> None:
    assert EpisodeStats.scan(tmp_path / "absent.jsonl", ("task_index",)) is None


def test_outcomes_from_lazy_stats_on_a_generated_dataset(tmp_path: Path) -> None:
    """The fixture's four episodes are success, failure, success, success (next.success)."""
    root = write_v2(tmp_path / "ds", cameras=())
    reader = LeRobotReader()
    indexed = [i.outcome.value for i in reader.index(root)]
    assert indexed == ["success", "failure", "success", "success"]
    opened = []
    for index in range(4):
        with reader.open(root, index) as source:
            opened.append(source.info.outcome.value)
    assert opened == indexed
