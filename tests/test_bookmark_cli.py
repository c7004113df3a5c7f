"""``bookmark`` and ``frame`` on the real LeRobot recordings, as a user runs them.

A bookmark added from the shell on a frame that does not start on a whole millisecond (frame 241
of the G1's 30 fps video, 8033.333… ms) is listed, exported as JSON / CSV / Markdown, and its
exported link reopened with ``frame`` shows that frame's pixels; ``frame`` prints each frame's
own start so frames 240 and 241 never print alike; usage mistakes exit 2 and store nothing;
notes are printed literally.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import av
import numpy as np
import pytest

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.cli import main
from robotrace_desktop.library.scanner import scan
from robotrace_desktop.video.images import decode_image_bytes
from tests.catalog_files import writer

G1 = "lerobot/g1_pick_bottle_v21"
SO101 = "lerobot/so101_v30"
CAMERA = "observation.images.cam_high"
WRIST = "observation.images.wrist"


@pytest.fixture(scope="module")
def catalog(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bookmark_cli") / "catalog.sqlite"
    with Catalog(path) as opened:
        scan(opened, [shared_data / G1, shared_data / SO101])
    return path


@pytest.fixture(scope="module")
def g1_frames(shared_data: Path) -> dict[int, np.ndarray]:
    """Frames 240 and 241 of G1 episode 1 from one plain sequential decode (the reference)."""
    video = shared_data / G1 / f"videos/chunk-000/{CAMERA}/episode_000001.mp4"
    frames: dict[int, np.ndarray] = {}
    with av.open(str(video)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in (240, 241):
                frames[index] = frame.to_ndarray(format="rgb24")
            if index >= 241:
                break
    return frames


def run(capsys: pytest.CaptureFixture[str], catalog: Path, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--catalog", str(catalog), *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def g1_episode(shared_data: Path, index: int = 1) -> str:
    return f"{shared_data / G1}#{index}"


def test_frame_prints_each_frames_own_start_time(
    catalog: Path, shared_data: Path, tmp_path: Path, capsys, g1_frames
) -> None:
    code, out, _ = run(
        capsys, catalog, "frame", g1_episode(shared_data), "--t", "8033ms", "--t", "frame:241",
        "-o", str(tmp_path / "frames"),
    )  # fmt: skip
    assert code == 0
    first, second = out.splitlines()
    assert first.endswith(f"{CAMERA} frame 240 at 8.000s")
    assert second.endswith(f"{CAMERA} frame 241 at 8.033333333s")
    # the printed start pastes back as a TIME and lands on that frame, pixel for pixel
    code, out, _ = run(
        capsys, catalog, "frame", g1_episode(shared_data), "--t", "8.033333333s",
        "-o", str(tmp_path / "again.png"),
    )  # fmt: skip
    assert code == 0 and out.strip().endswith("frame 241 at 8.033333333s")
    shown = decode_image_bytes((tmp_path / "again.png").read_bytes())
    assert np.array_equal(shown, g1_frames[241])
    assert not np.array_equal(shown, g1_frames[240])


def test_bookmark_add_list_export_reopen_delete(
    catalog: Path, shared_data: Path, tmp_path: Path, capsys, g1_frames
) -> None:
    episode = g1_episode(shared_data)
    code, out, err = run(
        capsys, catalog, "bookmark", "add", episode, "--t", "frame:241", "--end", "9s",
        "--note", "hand opens, bottle slips",
    )  # fmt: skip
    assert code == 0, err
    lines = out.splitlines()
    added = re.match(r"bookmark (\d+) on g1_pick_bottle_v21 #1 \(([0-9a-f]{16})\)$", lines[0])
    assert added is not None, out
    bookmark_id, episode_id = added.groups()
    link = f"robotrace://episode/{episode_id}?t=8033.333333ms"
    assert lines[1:] == [
        "  at     8.033333333s",
        "  until  9.000s",
        f"  link   {link}",
        f"  frame  {CAMERA} #241",
        "  note   hand opens, bottle slips",
    ]

    code, out, _ = run(capsys, catalog, "bookmark", "list")
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == ["ID", "EPISODE", "NAME", "AT", "UNTIL", "NOTE"]
    at = ["8.033333333s", "9.000s"]
    assert row.split()[:6] == [bookmark_id, episode_id, "g1_pick_bottle_v21", "#1", *at]
    assert row.endswith("hand opens, bottle slips")
    code, out, _ = run(capsys, catalog, "bookmark", "list", episode_id, "--json")
    (listed,) = json.loads(out)
    assert (listed["bookmark_id"], listed["t_ns"], listed["t"]) == (
        int(bookmark_id),
        8_033_333_333,
        "8033.333333ms",
    )
    assert (listed["t_end_ns"], listed["t_end"], listed["link"]) == (9_000_000_000, "9000ms", link)

    code, out, _ = run(capsys, catalog, "bookmark", "export", episode, "--format", "json")
    (exported,) = json.loads(out)
    assert exported["frame_index"] == {CAMERA: 241}
    assert (exported["t"], exported["link"], exported["note"]) == (
        "8033.333333ms",
        link,
        "hand opens, bottle slips",
    )
    code, out, _ = run(capsys, catalog, "bookmark", "export", episode_id, "--format", "csv")
    (row_csv,) = list(csv.DictReader(io.StringIO(out)))
    assert (row_csv["t"], row_csv[f"frame[{CAMERA}]"], row_csv["link"]) == (
        "8033.333333ms",
        "241",
        link,
    )
    written = tmp_path / "out" / "bookmarks.md"
    code, out, err = run(capsys, catalog, "bookmark", "export", "--all", "-o", str(written))
    assert code == 0 and out == "" and err == f"{written}: 1 bookmark(s) (md)\n"
    markdown = written.read_text()
    assert f"Link: `{link}`" in markdown
    assert "**Time:** 8.033333333s (`8033.333333ms`, t_ns = 8033333333)" in markdown
    assert f"**Frames:** {CAMERA.replace('_', chr(92) + '_')} #241" in markdown

    # the exported link, reopened with `frame`, shows frame 241 — not 240
    png = tmp_path / "reopened.png"
    code, out, _ = run(capsys, catalog, "frame", exported["link"], "-o", str(png), "--json")
    (frame,) = json.loads(out)["frames"]
    assert (frame["frame_index"], frame["frame_t_ns"]) == (241, 8_033_333_333)
    assert np.array_equal(decode_image_bytes(png.read_bytes()), g1_frames[241])

    code, out, _ = run(capsys, catalog, "bookmark", "delete", bookmark_id)
    assert code == 0
    assert out == f"deleted bookmark {bookmark_id} ({episode_id} at 8.033333333s–9.000s)\n"
    code, out, err = run(capsys, catalog, "bookmark", "list", "--json")
    assert code == 0 and json.loads(out) == []


def test_so101_episode_in_a_shared_video_file(
    catalog: Path, shared_data: Path, tmp_path: Path, capsys
) -> None:
    """Episode 3's clip starts at its from_timestamp inside the one wrist file: frame:100 of the
    episode is bookmarked, and its link reopens on the episode's frame 100."""
    code, out, err = run(
        capsys, catalog, "bookmark", "add", f"{shared_data / SO101}#3", "--t", "frame:100",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    row = json.loads(out)
    assert row["t_ns"] == 3_333_333_333 and row["t"] == "3333.333333ms"
    assert row["frame_index"] == {WRIST: 100} and row["episode_index"] == 3
    code, out, _ = run(capsys, catalog, "frame", row["link"], "-o", str(tmp_path / "f.png"))
    assert code == 0 and out.strip().endswith(f"{WRIST} frame 100 at 3.333333333s")
    run(capsys, catalog, "bookmark", "delete", str(row["bookmark_id"]))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["add", "nosuch", "--t", "1s"], "'nosuch' is neither a catalog episode id"),
        (["add", "{g1}", "--t", "soon"], "time 'soon'"),
        (["add", "{g1}", "--t", "2s", "--end", "1s"], "--end 1s (1.000s) must be after --t 2s"),
        (["add", "{g1}", "--t", "14s"], "--t 14s is outside the episode (0.000s–13.100s)"),
        (["add", "{g1}", "--t", "frame:393"], "--t frame:393: observation.images.cam_high has"),
        (["add", "{g1}", "--t", "1s", "--camera", "left"], "no readable camera 'left'"),
        (["add", "{unscanned}", "--t", "0"], "is not in the catalog"),
        (["add", "{g1}"], "give --t TIME"),
        (["list", "nosuch"], "'nosuch' is neither"),
        (["export", "--format", "csv"], "give one or more EPISODEs or --all"),
        (["export", "--all", "--format", "csv", "-o", "b.json"], "does not match --format csv"),
        (["export", "--all", "-o", "b.xlsx"], "give --format json|csv|md"),
        (["delete", "424242"], "bookmark_id 424242 does not exist"),
    ],
)
def test_usage_errors_exit_2_and_store_nothing(
    catalog: Path, shared_data: Path, capsys, argv: list[str], message: str
) -> None:
    unscanned = shared_data / "ros1" / "example.bag"
    filled = [a.format(g1=g1_episode(shared_data), unscanned=unscanned) for a in argv]
    code, out, err = run(capsys, catalog, "bookmark", *filled)
    assert code == 2 and out == ""
    assert err.startswith(f"robotrace-desktop bookmark {argv[0]}: error: ") and message in err
    assert "Traceback" not in err
    assert json.loads(run(capsys, catalog, "bookmark", "list", "--json")[1]) == []


def test_notes_are_printed_literally(catalog: Path, shared_data: Path, capsys) -> None:
    note = "red \x1b[31mALERT\x1b[0m\x07 line1\nline2\rover \u202eevil"
    code, out, _ = run(capsys, catalog, "bookmark", "add", g1_episode(shared_data, 2),
                       "--t", "1s", "--note", note)  # fmt: skip
    assert code == 0
    visible = r"red \x1b[31mALERT\x1b[0m\x07 line1\nline2\rover \u202eevil"
    assert out.splitlines()[-1] == f"  note   {visible}"
    code, table, _ = run(capsys, catalog, "bookmark", "list")
    for text in (out, table):
        assert not any(c in text for c in "\x1b\x07\r\u202e")
    assert r"red \x1b[31mALERT" in table
    code, out, _ = run(capsys, catalog, "bookmark", "list", "--json")
    (row,) = json.loads(out)
    assert row["note"] == note  # the data itself is kept exactly
    run(capsys, catalog, "bookmark", "delete", str(row["bookmark_id"]))


def test_bookmarks_of_an_episode_the_index_lost_are_still_listed_and_exported(
    tmp_path: Path, capsys
) -> None:
    """User data outlives the index: a bookmark whose episode row is gone (a rebuilt catalog)
    is listed and exported under its episode id, with a warning saying to rescan."""
    path = tmp_path / "rebuilt.sqlite"
    with Catalog(path), writer(path) as conn:
        conn.execute(
            "INSERT INTO bookmarks (episode_id, t_ns, t_end_ns, note, created_at) "
            "VALUES ('0123456789abcdef', 8033333333, NULL, 'kept', 0)"
        )
    code, out, err = run(capsys, path, "bookmark", "list")
    assert code == 0 and "episode 0123456789abcdef is not in the catalog" in err
    assert out.splitlines()[1].split() == [
        "1", "0123456789abcdef", "(episode", "0123456789abcdef)", "8.033333333s", "-", "kept",
    ]  # fmt: skip
    code, out, _ = run(capsys, path, "bookmark", "export", "--all", "--format", "json")
    (row,) = json.loads(out)
    assert (row["t"], row["note"], row["frame_index"]) == ("8033.333333ms", "kept", {})
    assert row["link"] == "robotrace://episode/0123456789abcdef?t=8033.333333ms"
