"""The command line's small promises, on the real recordings: an empty listing says which
filter matched nothing and what it could have been, names match in any case, replays never
bury the user's recordings, impossible exports are usage errors, negative times parse, short id
prefixes and bad commit ids are explained, and a tag is echoed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from robotrace_desktop.catalog.store import Catalog, EpisodeFilter
from robotrace_desktop.cli import build_parser, main, time_options
from tests.catalog_files import copy_catalog

G1 = "lerobot/g1_pick_bottle_v21"
IIWA = "rosbag2/iiwa7_gazebo_joint_torque_sqlite3"
TURTLES = "ros1/example.bag"
BROKEN = ("rosbag2/wrong_format_mcap", "ros1/no-messages.bag")


@pytest.fixture(scope="module")
def catalog(
    tmp_path_factory: pytest.TempPathFactory, scanned_shared_data: tuple[Path, dict[str, object]]
) -> Path:
    """A copy of the session's ``scan ../shared/data`` (Explain included): every real
    recording, among them the G1 dataset, the iiwa and turtlesim bags and the broken ones."""
    path = copy_catalog(scanned_shared_data[0], tmp_path_factory.mktemp("details") / "c.sqlite")
    with Catalog(path) as c:
        paths = {e.path for e in c.list_episodes()}
    for recording in (G1, IIWA, TURTLES, *BROKEN):
        assert any(p.endswith(recording) for p in paths), recording
    return path


def names(listing: str) -> list[str]:
    """The NAME column of ``list``'s table."""
    return [line.split()[2] for line in listing.splitlines()[1:] if line.strip()]


def run(capsys: pytest.CaptureFixture[str], catalog: Path, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--catalog", str(catalog), *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_filter_that_matches_nothing_is_named_with_the_known_values(
    catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, catalog, "list", "--cause", "nonsense")
    assert code == 0 and out == ""
    assert err.startswith("no episode has cause 'nonsense'; known causes: ")
    assert "run `robotrace-desktop scan" not in err
    code, out, err = run(capsys, catalog, "list", "--robot", "nobody")
    assert err.strip() == (
        "no episode has robot 'nobody'; "
        "known robots: iiwa, reachy2, so101_follower, Unitree_G1_Inspire"
    )
    code, out, err = run(capsys, catalog, "list", "--policy", "v9")
    assert err.strip() == "no episode has policy_version 'v9'; known policy versions: none"
    code, out, err = run(capsys, catalog, "list", "--robot", "iiwa", "--kind", "lerobot")
    assert "no episode matches all of --robot iiwa, --kind lerobot together" in err


def test_robot_names_match_in_any_case(catalog: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, catalog, "list", "--robot", "unitree_g1_inspire", "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 100
    assert {r["robot"] for r in rows} == {"Unitree_G1_Inspire"}


def test_replays_are_hidden_from_the_default_listing(
    catalog: Path, capsys: pytest.CaptureFixture[str], shared_data: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "catalog.sqlite"
    shutil.copy(catalog, copy)
    turtles = str(shared_data / TURTLES)
    assert main(["--catalog", str(copy), "tag", turtles, "--source", "replay"]) == 0
    code, out, err = run(capsys, copy, "list", "--kind", "rosbag1")
    assert code == 0 and "example" not in names(out) and "example-lz4" in names(out)
    assert "(1 replays hidden — --replays to show)" in err
    for flags in (["--replays"], ["--source", "replay"]):
        code, out, err = run(capsys, copy, "list", "--kind", "rosbag1", *flags)
        assert "example" in names(out) and "hidden" not in err
    code, out, err = run(capsys, copy, "list", "--json")
    assert "example.bag" not in out and "(1 replays hidden" in err
    with Catalog(copy) as c:  # the query API the GUI catalog uses
        assert all(
            e.source != "replay" for e in c.list_episodes(EpisodeFilter(include_replays=False))
        )
        assert any(e.source == "replay" for e in c.list_episodes(EpisodeFilter()))


def test_export_end_before_start_and_unknown_extension_are_usage_errors(
    catalog: Path, capsys: pytest.CaptureFixture[str], shared_data: Path, tmp_path: Path
) -> None:
    iiwa = str(shared_data / IIWA)
    out_csv = tmp_path / "slice.csv"
    code, _, err = run(
        capsys, catalog, "export", iiwa, "--start", "2s", "--end", "1s", "-o", str(out_csv)
    )
    assert code == 2 and "--end 1s is not after --start 2s" in err and not out_csv.exists()
    xlsx = tmp_path / "g1.xlsx"
    code, _, err = run(capsys, catalog, "export", iiwa, "-o", str(xlsx))
    assert code == 2 and not xlsx.exists()
    assert "no format writes .xlsx files; supported extensions: .csv, .parquet" in err
    parquet = tmp_path / "a.parquet"
    code, _, err = run(capsys, catalog, "export", iiwa, "--format", "csv", "-o", str(parquet))
    assert code == 2 and "the extension says parquet but --format is csv" in err
    code, _, _ = run(capsys, catalog, "export", iiwa, "--format", "csv", "-o", str(xlsx))
    assert code == 0 and xlsx.exists()  # asked for explicitly: written as asked


def test_negative_times_parse_for_every_time_option(
    catalog: Path, capsys: pytest.CaptureFixture[str], shared_data: Path, tmp_path: Path
) -> None:
    assert {"--t", "--start", "--end", "--grid"} <= time_options(build_parser())
    iiwa = str(shared_data / IIWA)
    out_csv = tmp_path / "slice.csv"
    code, out, err = run(
        capsys, catalog, "export", iiwa, "--start", "-1s", "--end", "1s", "-o", str(out_csv)
    )
    assert code == 0 and "expected one argument" not in err
    assert out.startswith(f"{out_csv}: ")  # a start before the episode clamps to its start
    g1 = f"{shared_data / G1}#1"
    code, _, err = run(capsys, catalog, "frame", g1, "--t", "-1s", "-o", str(tmp_path / "f.png"))
    assert code != 0 and "expected one argument" not in err
    assert "no frame at -1s" in err


def test_a_short_id_prefix_says_six_characters_are_needed(
    catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Catalog(catalog) as c:
        prefix = c.list_episodes()[0].id[:4]
    code, _, err = run(capsys, catalog, "show", prefix)
    assert code == 1 and "an id prefix needs at least 6 characters" in err
    assert "neither a catalog episode id" not in err


def test_tag_echoes_the_label_and_rejects_a_non_hex_git_sha(
    catalog: Path, capsys: pytest.CaptureFixture[str], shared_data: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "catalog.sqlite"
    shutil.copy(catalog, copy)
    turtles = str(shared_data / TURTLES)
    code, out, _ = run(capsys, copy, "tag", turtles, "--tag", "slips", "--seed", "3")
    assert code == 0 and out.rstrip().endswith("(example): seed=3, tag 'slips'")
    with pytest.raises(SystemExit) as exit_info:
        main(["--catalog", str(copy), "tag", turtles, "--git-sha", "not-a-sha"])
    assert exit_info.value.code == 2
    assert (
        "'not-a-sha' is not a git commit id (4 to 64 hexadecimal digits)" in capsys.readouterr().err
    )
    code, out, _ = run(capsys, copy, "tag", turtles, "--git-sha", "90FF6A08")
    assert code == 0 and "git_sha=90ff6a08" in out


def test_no_recording_is_failed_without_a_reason(catalog: Path) -> None:
    with Catalog(catalog) as c:
        failed = c.list_episodes(EpisodeFilter(status="failed"))
    assert failed  # wrong_format_mcap
    assert all(e.problems for e in failed), [(e.path, e.problems) for e in failed]
