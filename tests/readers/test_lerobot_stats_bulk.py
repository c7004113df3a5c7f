"""Indexing a large v2.1 dataset parses episodes_stats.jsonl with pyarrow in one call; every
episode must come out exactly as the line-by-line parse makes it, and the bulk parse must
step aside for the files it cannot read the same way (issue 16)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from robotrace_desktop.readers.lerobot import stats_bulk
from robotrace_desktop.readers.lerobot.reader import LeRobotReader
from robotrace_desktop.readers.lerobot.stats import EpisodeStats
from tests.readers.lerobot_fixtures import EpisodeSpec, write_v2

Edit = Callable[[list[dict[str, Any]]], list[str]]


def _dataset(root: Path, edit: Edit | None = None, *, tasks: bool = True) -> Path:
    """Twelve episodes (mixed outcomes and tasks, no cameras); ``edit`` rewrites the stats
    records into the file's lines; ``tasks=False`` leaves the task to the stats."""
    write_v2(root, episodes=[EpisodeSpec(5 + i, i % 2, i % 3 != 0) for i in range(12)], cameras=())
    meta = root / "meta"
    if not tasks:
        records = [json.loads(x) for x in (meta / "episodes.jsonl").read_text().splitlines()]
        for record in records:
            record.pop("tasks")
        (meta / "episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    if edit is not None:
        path = meta / "episodes_stats.jsonl"
        records = [json.loads(line) for line in path.read_text().splitlines()]
        path.write_bytes("".join(line + "\n" for line in edit(records)).encode("utf-8", "replace"))
    return root


def _index(root: Path, monkeypatch: pytest.MonkeyPatch, *, bulk: bool) -> tuple[list, bool]:
    """The indexed episodes as dicts, and whether the bulk parse gave them."""
    used: list[bool] = []
    original = stats_bulk.bulk_stats

    def spy(stats: EpisodeStats, data: bytes) -> Any:
        found = original(stats, data) if bulk else None
        used.append(found is not None)
        return found

    with monkeypatch.context() as patch:
        patch.setattr(stats_bulk, "BULK_MIN_BYTES", 0)
        patch.setattr(stats_bulk, "bulk_stats", spy)
        infos = [i.to_dict() for i in LeRobotReader().index(root)]
    return infos, any(used)


def _lines(records: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(r) for r in records]


def _null_outcome(records: list[dict[str, Any]]) -> list[str]:
    for key in ("next.success", "next.done", "next.reward"):
        records[3]["stats"][key] = None
    records[5]["stats"] = {k: v for k, v in records[5]["stats"].items() if "next" not in k}
    records[7]["stats"]["next.success"] = None  # the others still decide
    return _lines(records)


def _ints_and_nan(records: list[dict[str, Any]]) -> list[str]:
    records[2]["stats"]["next.reward"]["max"] = [3]
    records[4]["stats"]["next.reward"]["max"] = [float("nan"), -1]
    return _lines(records)


def _missing_first(records: list[dict[str, Any]]) -> list[str]:
    del records[0]["stats"]["next.success"]
    return _lines(records)


def _deep_line(records: list[dict[str, Any]]) -> list[str]:
    """Nested past what the bulk parse vouches for (json.loads still reads it)."""
    lines = _lines(records)
    depth = stats_bulk.SAFE_NESTING + 50
    lines[6] = lines[6][:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"
    return lines


def _twice(records: list[dict[str, Any]]) -> list[str]:
    return [*_lines(records), json.dumps({**records[2], "stats": records[8]["stats"]})]


def _bools_then_numbers(records: list[dict[str, Any]]) -> list[str]:
    records[9]["stats"]["next.success"]["max"] = [1]
    return _lines(records)


def _two_in_one_line(records: list[dict[str, Any]]) -> list[str]:
    lines = _lines(records)
    return [*lines[:-2], lines[-2] + " " + lines[-1]]


@pytest.mark.parametrize(
    "edit, tasks, bulk_used",
    [
        (None, True, True),
        (None, False, True),  # tasks read from the task_index stats
        (_null_outcome, True, True),  # those lines parsed on their own
        (_ints_and_nan, False, True),
        (_missing_first, True, False),  # next.success's type unknown from the first line
        (_deep_line, True, False),  # could be deeper than json.loads recurses
        (_twice, True, False),
        (_bools_then_numbers, True, False),  # pyarrow refuses a type change
        (_two_in_one_line, True, False),
    ],
)
def test_bulk_stats_index_as_the_lines_do(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    edit: Edit | None,
    tasks: bool,
    bulk_used: bool,
) -> None:
    root = _dataset(tmp_path / "ds", edit, tasks=tasks)
    expected, _ = _index(root, monkeypatch, bulk=False)
    got, used = _index(root, monkeypatch, bulk=True)
    assert used is bulk_used
    assert got == expected
    outcomes = {e["outcome"] for e in expected}
    assert outcomes >= {"success", "failure"}
    if not tasks:
        assert all(e["task"] for e in expected)


def test_bytes_that_are_not_utf8_are_left_to_the_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _dataset(tmp_path / "ds")
    path = root / "meta" / "episodes_stats.jsonl"
    lines = path.read_bytes().splitlines()
    lines[1] = lines[1][:-1] + b', "note": "\xff"}'  # json.loads refuses the line
    path.write_bytes(b"\n".join(lines) + b"\n")
    expected, _ = _index(root, monkeypatch, bulk=False)
    got, used = _index(root, monkeypatch, bulk=True)
    assert not used and got == expected
