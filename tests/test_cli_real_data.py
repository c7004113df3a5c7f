"""The command line on the real third-party recordings: what a user types and sees."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pyarrow.csv as pacsv
import pytest

from robotrace_desktop.cli import main
from robotrace_desktop.video.images import decode_image_bytes
from tests import real_data
from tests.catalog_files import copy_catalog

LEROBOT = "lerobot/g1_pick_bottle_v21"
IIWA = "rosbag2/iiwa7_gazebo_joint_torque_sqlite3"


def tree_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def catalog(
    tmp_path_factory: pytest.TempPathFactory, scanned_shared_data: tuple[Path, dict]
) -> Path:
    """A copy of the session's scan of every real recording (``scan ../shared/data``)."""
    return copy_catalog(scanned_shared_data[0], tmp_path_factory.mktemp("cli") / "catalog.sqlite")


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def test_scan_indexes_every_recording_and_reports_failures(
    tmp_path: Path,
    shared_data: Path,
    scanned_shared_data: tuple[Path, dict],
    capsys: pytest.CaptureFixture[str],
) -> None:
    scanned, summary = scanned_shared_data  # what `scan ../shared/data --json` printed
    copy_catalog(scanned, tmp_path / "c.sqlite")
    assert summary["recordings"] == real_data.RECORDINGS
    assert summary["new"] == real_data.EPISODES_INDEXED
    assert summary["errors"] == real_data.UNREADABLE
    failed = "\n".join(summary["problems"])
    assert "wrong_format_mcap" in failed and "wrong_format" in failed
    assert "empty-file.bag" in failed and "empty file" in failed
    again = run_json(
        capsys, "--catalog", str(tmp_path / "c.sqlite"), "scan", str(shared_data), "--json"
    )
    assert again["new"] == 0 and again["updated"] == 0
    assert again["unchanged"] == summary["new"]


def test_list_json_has_the_documented_keys(catalog: Path, capsys) -> None:
    rows = run_json(capsys, "--catalog", str(catalog), "list", "--json")
    assert len(rows) == real_data.ROWS
    keys = {
        "id",
        "kind",
        "path",
        "episode_index",
        "name",
        "duration_ns",
        "status",
        "outcome",
        "problems",
        "policy_version",
        "env_version",
        "git_sha",
        "seed",
        "robot",
        "task",
    }
    for row in rows:
        assert keys <= set(row)
        assert row["duration_ns"] >= 0
        assert row["duration_ns"] < 3600 * 10**9  # no absurd durations (empty bags!)
    lerobot = [r for r in rows if r["kind"] == "lerobot"]
    assert len(lerobot) == real_data.LEROBOT_EPISODES
    g1 = [r for r in lerobot if r["path"].endswith(LEROBOT)]
    assert sorted(r["episode_index"] for r in g1) == list(range(100))
    assert all(r["task"] == "Pick up the yellow bottle on the table." for r in g1)
    bags = [r for r in rows if r["kind"] in ("rosbag1", "rosbag2")]
    assert all(r["episode_index"] is None for r in bags)
    wrong = next(r for r in rows if r["name"] == "wrong_format_mcap")
    assert wrong["status"] == "failed"
    assert any("serialization format" in p for p in wrong["problems"])


def test_list_filters(catalog: Path, capsys) -> None:
    rows = run_json(capsys, "--catalog", str(catalog), "list", "--kind", "rosbag1", "--json")
    assert sorted(r["name"] for r in rows) == sorted(real_data.ROS1_NAMES)
    rows = run_json(capsys, "--catalog", str(catalog), "list", "--search", "missing", "--json")
    missing = [r for r in rows if r["kind"] == "lerobot"]
    # G1: videos of 96 episodes absent; Reachy 2: the video of all 3 episodes absent
    assert len([r for r in missing if r["path"].endswith(LEROBOT)]) == 96
    assert len(missing) == 96 + 3
    rows = run_json(capsys, "--catalog", str(catalog), "list", "--status", "failed", "--json")
    assert {"wrong_format_mcap", "empty-file"} <= {r["name"] for r in rows}


def test_show_lerobot_episode_by_dataset_index(catalog: Path, shared_data: Path, capsys) -> None:
    data = run_json(
        capsys, "--catalog", str(catalog), "show", f"{shared_data / LEROBOT}#1", "--json"
    )
    assert data["in_catalog"] is True
    assert data["episode_index"] == 1
    assert data["duration_ns"] == 13_100_000_000
    streams = {s["name"]: s for s in data["streams"]}
    assert streams["observation.images.cam_high"]["kind"] == "video"
    assert streams["observation.images.cam_high"]["count"] == 393
    state = streams["observation.state"]
    assert state["kind"] == "signal" and state["count"] == 393
    assert state["channels"][0] == "kLeftShoulderPitch" and len(state["channels"]) == 26
    assert state["rate_hz"] == pytest.approx(30.0)
    assert data["link"] == f"robotrace://episode/{data['id']}"


def test_show_unscanned_path_opens_directly(tmp_path: Path, shared_data: Path, capsys) -> None:
    data = run_json(
        capsys,
        "--catalog",
        str(tmp_path / "empty.sqlite"),
        "show",
        str(shared_data / IIWA),
        "--json",
    )
    assert data["in_catalog"] is False
    streams = {s["name"]: s for s in data["streams"]}
    assert streams["/joint_states"]["count"] == 1941
    assert "position/joint_a1" in streams["/joint_states"]["channels"]
    assert streams["/rosout"]["kind"] == "event"
    assert 17.0e9 < data["duration_ns"] < 18.5e9


def test_show_text_output_names_problems(catalog: Path, shared_data: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["--catalog", str(catalog), "show", f"{shared_data / LEROBOT}#3"]) == 0
    out = capsys.readouterr().out
    assert "episode_000003.mp4" in out and "missing" in out
    assert "not reproducible" in out


def test_show_of_broken_input_is_one_clear_line(tmp_path: Path, shared_data: Path, capsys) -> None:
    capsys.readouterr()
    code = main(
        ["--catalog", str(tmp_path / "c.sqlite"), "show", str(shared_data / "ros1/empty-file.bag")]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "empty-file.bag" in err and "empty file" in err
    assert "Traceback" not in err


def test_tag_sets_catalog_fields_and_filters_find_them(
    tmp_path: Path, shared_data: Path, scanned_shared_data: tuple[Path, dict], capsys
) -> None:
    # its own copy of the session's scan (this test writes tags), not another scan
    db = str(copy_catalog(scanned_shared_data[0], tmp_path / "c.sqlite"))
    rows = run_json(capsys, "--catalog", db, "list", "--json")
    example = next(r for r in rows if r["name"] == "example")
    before = tree_hashes(shared_data / "ros1")
    run_json(
        capsys,
        "--catalog",
        db,
        "tag",
        example["id"],
        "--policy-version",
        "turtle-v2",
        "--seed",
        "42",
        "--outcome",
        "failure",
        "--json",
    )
    tagged = run_json(capsys, "--catalog", db, "list", "--policy", "turtle-v2", "--json")
    assert [(r["name"], r["seed"], r["outcome"]) for r in tagged] == [("example", 42, "failure")]
    assert tree_hashes(shared_data / "ros1") == before  # stored in the catalog only
    with pytest.raises(SystemExit) as usage:
        main(["--catalog", db, "tag", example["id"], "--seed", "x"])
    assert usage.value.code == 2


def test_frame_at_several_times_matches_a_sequential_decode(
    catalog: Path, shared_data: Path, tmp_path: Path, capsys
) -> None:
    episode = f"{shared_data / LEROBOT}#1"
    out = tmp_path / "frames"
    result = run_json(
        capsys,
        "--catalog",
        str(catalog),
        "frame",
        episode,
        "--t",
        "0",
        "--t",
        "5.01s",
        "--t",
        "12840ms",
        "--t",
        "frame:385",
        "-o",
        str(out),
        "--json",
    )
    got = {(f["t_ns"], f["frame_index"]) for f in result["frames"]}
    assert got == {(0, 0), (5_010_000_000, 150), (12_840_000_000, 385), (12_833_333_333, 385)}
    video = (
        shared_data / LEROBOT / "videos/chunk-000/observation.images.cam_high/episode_000001.mp4"
    )
    with av.open(str(video)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == 393
    for item in result["frames"]:
        path = Path(item["path"])
        assert path.parent == out
        assert path.name == f"observation.images.cam_high_{item['t_ns']}.png"
        assert np.array_equal(decode_image_bytes(path.read_bytes()), decoded[item["frame_index"]])


def test_frame_single_time_writes_the_file(
    catalog: Path, shared_data: Path, tmp_path: Path, capsys
):
    out = tmp_path / "one.png"
    capsys.readouterr()
    assert (
        main(
            [
                "--catalog",
                str(catalog),
                "frame",
                f"{shared_data / LEROBOT}#2",
                "--t",
                "1s",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert decode_image_bytes(out.read_bytes()).shape == (480, 640, 3)


def test_frame_of_episode_without_its_video_says_which_file(
    catalog: Path, shared_data: Path, tmp_path: Path, capsys
) -> None:
    capsys.readouterr()
    code = main(
        [
            "--catalog",
            str(catalog),
            "frame",
            f"{shared_data / LEROBOT}#3",
            "--t",
            "1s",
            "-o",
            str(tmp_path / "x.png"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "episode_000003.mp4" in err and "missing" in err


def test_frame_via_deep_link(catalog: Path, shared_data: Path, tmp_path: Path, capsys) -> None:
    rows = run_json(capsys, "--catalog", str(catalog), "list", "--kind", "lerobot", "--json")
    ep4 = next(r for r in rows if r["episode_index"] == 4)
    link = f"robotrace://episode/{ep4['id']}?t=2000ms"
    result = run_json(
        capsys, "--catalog", str(catalog), "frame", link, "-o", str(tmp_path / "l.png"), "--json"
    )
    assert [(f["t_ns"], f["frame_index"]) for f in result["frames"]] == [(2_000_000_000, 60)]


def test_export_csv_raw_and_on_a_grid(
    catalog: Path, shared_data: Path, tmp_path: Path, capsys
) -> None:
    bag = str(shared_data / IIWA)
    raw = tmp_path / "js.csv"
    run_json(
        capsys,
        "--catalog",
        str(catalog),
        "export",
        bag,
        "--streams",
        "/joint_states",
        "--format",
        "csv",
        "-o",
        str(raw),
        "--json",
    )
    table = pacsv.read_csv(raw)
    assert table.num_rows == 1941
    assert "position/joint_a1" in table.column_names
    grid = tmp_path / "grid.parquet"
    result = run_json(
        capsys,
        "--catalog",
        str(catalog),
        "export",
        bag,
        "--streams",
        "/joint_states",
        "/effort_controller/commands",
        "--grid",
        "100ms",
        "--start",
        "1s",
        "--end",
        "3s",
        "--format",
        "parquet",
        "-o",
        str(grid),
        "--json",
    )
    assert result["rows"] == 20
    assert "/effort_controller/commands/data[0]" in result["columns"]


def test_cli_leaves_recordings_untouched(
    catalog: Path, shared_data: Path, tmp_path: Path, capsys
) -> None:
    before = tree_hashes(shared_data)
    again = copy_catalog(catalog, tmp_path / "again.sqlite")
    main(["--catalog", str(again), "scan", str(shared_data)])
    main(["--catalog", str(catalog), "show", f"{shared_data / LEROBOT}#5"])
    main(
        [
            "--catalog",
            str(catalog),
            "frame",
            f"{shared_data / LEROBOT}#5",
            "--t",
            "1s",
            "-o",
            str(tmp_path / "f.png"),
        ]
    )
    main(
        [
            "--catalog",
            str(catalog),
            "export",
            str(shared_data / IIWA),
            "-o",
            str(tmp_path / "all.csv"),
        ]
    )
    assert tree_hashes(shared_data) == before


def test_module_entry_point_and_exit_codes(tmp_path: Path) -> None:
    env_catalog = str(tmp_path / "c.sqlite")
    ok = subprocess.run(
        [sys.executable, "-m", "robotrace_desktop", "--help"], capture_output=True, text=True
    )
    assert ok.returncode == 0 and "scan" in ok.stdout
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "robotrace_desktop",
            "--catalog",
            env_catalog,
            "scan",
            str(tmp_path / "nothing"),
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1
    assert "no such file or folder" in bad.stdout + bad.stderr
    usage = subprocess.run(
        [sys.executable, "-m", "robotrace_desktop", "list", "--status", "bogus"],
        capture_output=True,
        text=True,
    )
    assert usage.returncode == 2
