"""The catalog browser opens on stored per-recording summaries; a write makes a recording's
summary stale. A CLI scan or ``explain --all`` summarises what it touched as it finishes, so the
browser's next open has nothing left to count on the UI thread (at 1,000,000 freshly scanned
rows that count took minutes)."""

from __future__ import annotations

from pathlib import Path

from robotrace_desktop.catalog.browse import group_summaries, refresh_group_summaries
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.cli import main


def test_a_cli_scan_leaves_no_summary_for_the_browser_to_count(
    shared_data: Path, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog.sqlite"
    assert main(["--catalog", str(catalog), "scan", str(shared_data), "--no-explain"]) == 0
    with Catalog(catalog) as opened:
        assert refresh_group_summaries(opened) == 0  # the scan stored them all
        counts = {Path(str(g["first_path"])).name: int(g["n"]) for g in group_summaries(opened)}
    assert counts["g1_pick_bottle_v21"] == 100 and counts["so101_v30"] == 6


def test_explain_all_refreshes_the_summaries_its_findings_made_stale(
    shared_data: Path, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog.sqlite"
    dataset = shared_data / "lerobot" / "so101_v30"
    assert main(["--catalog", str(catalog), "scan", str(dataset), "--no-explain"]) == 0
    with Catalog(catalog) as opened:
        assert [int(g["scored"]) for g in group_summaries(opened)] == [0]  # none explained yet
    assert main(["--catalog", str(catalog), "explain", "--all", "--workers", "1"]) == 0
    with Catalog(catalog) as opened:
        assert refresh_group_summaries(opened) == 0
        assert [int(g["scored"]) for g in group_summaries(opened)] == [6]
