"""TIME and period arguments are validated at the edge: a grid that would make billions of
rows, a zero or negative grid, or a time past the int64 range or the episode is a usage error
(exit 2) naming what is wrong — never an internal error or a 97 GiB allocation."""

from __future__ import annotations

from pathlib import Path

import pytest

from robotrace_desktop.cli import main
from robotrace_desktop.core.timebase import parse_period_ns, parse_time
from robotrace_desktop.errors import ValidationError
from robotrace_desktop.slices import MAX_GRID_ROWS, check_grid

TALKER = "rosbag2/talker_mcap"  # 4.531096768 s


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--grid", "1ns"], "would make 4531096769 rows (at most 10000000)"),
        (["--grid=-5ms"], "--grid -5ms: a period must be longer than zero"),
        (["--grid", "0s"], "--grid 0s: a period must be longer than zero"),
        (
            ["--start", "99999999999999999999999ms"],
            "--start 99999999999999999999999ms is outside the episode (0.000s–4.531096768s)",
        ),
        (["--end", "100s"], "--end 100s is outside the episode (0.000s–4.531096768s)"),
    ],
)
def test_export_usage_errors(
    shared_data: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    message: str,
) -> None:
    out = tmp_path / "o.csv"
    target = str(shared_data / TALKER)
    code = main(["--catalog", str(tmp_path / "c.sqlite"), "export", target, *flags, "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "internal error" not in err
    assert not out.exists()


def test_times_past_int64_are_refused() -> None:
    with pytest.raises(ValidationError, match="out of range"):
        parse_time("9223372036.854775808s")
    assert parse_time("9223372036.854775807s") == 2**63 - 1


def test_period_must_be_positive() -> None:
    assert parse_period_ns("--grid", "10ms") == 10_000_000
    with pytest.raises(ValidationError, match="longer than zero"):
        parse_period_ns("--grid", "-0.5s")


def test_grid_rows_are_counted_before_any_allocation() -> None:
    assert check_grid(0, 10 * MAX_GRID_ROWS, 10) == MAX_GRID_ROWS
    with pytest.raises(ValidationError, match=f"would make {MAX_GRID_ROWS + 1} rows"):
        check_grid(0, 10 * MAX_GRID_ROWS + 1, 10)
