"""Dataset triage on the real recordings: ``list --sort anomaly`` shows the most abnormal
episodes first, each with the finding that makes it so, and says which ones have no score yet.

The catalog is the session's scan of ../shared/data (Explain included), plus a copy of the
Reachy 2 dataset scanned with ``--no-explain``: three readable episodes never explained.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robotrace_desktop.catalog.anomaly import anomaly_scores
from robotrace_desktop.catalog.findings import findings_of, store_findings
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.cli import main
from robotrace_desktop.commands import common
from tests import real_data
from tests.catalog_files import copy_catalog, read_only
from tests.made_up_findings import finding

UNEXPLAINED = 3  # the Reachy 2 copy's episodes, scanned with --no-explain


@pytest.fixture
def catalog(triage_catalog: Path, tmp_path: Path) -> Path:
    return copy_catalog(triage_catalog, tmp_path / "catalog.sqlite")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str]:
    capsys.readouterr()
    assert main(list(argv)) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err


def expected_scores(path: Path) -> dict[str, float | None]:
    """Independently of the SQL: each episode's highest confidence among its stored findings
    other than a recorded failed outcome; 0.0 when explained and none; None never explained."""
    with Catalog(path) as catalog:
        ids = [e.id for e in catalog.list_episodes()]
        with read_only(path) as conn:
            explained = {r[0] for r in conn.execute("SELECT episode_id FROM explained").fetchall()}
        stored = findings_of(catalog, ids)
    return {
        i: (
            max((f.confidence for f in stored[i] if f.cause != "outcome_failed"), default=0.0)
            if i in explained
            else None
        )
        for i in ids
    }


def table(out: str) -> list[dict[str, str]]:
    """A printed table as dicts by header (columns cut where each header starts)."""
    lines = out.splitlines()
    header = lines[0]
    names = header.split("  ")
    names = [n.strip() for n in names if n.strip()]
    starts = [header.index(n) for n in names]
    rows = []
    for line in lines[1:]:
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
        rows.append(dict(zip(names, cells, strict=True)))
    return rows


def test_sort_anomaly_orders_rows_by_the_stored_findings(catalog: Path, capsys) -> None:
    expected = expected_scores(catalog)
    out, err = run(capsys, "--catalog", str(catalog), "list", "--sort", "anomaly", "--json")
    rows = json.loads(out)
    assert len(rows) == real_data.ROWS + UNEXPLAINED  # the same episodes as a plain `list`
    assert {r["id"] for r in rows} == set(expected)
    for row in rows:
        want = expected[row["id"]]
        assert row["explained"] is (want is not None)
        assert row["anomaly"] == (None if want is None else pytest.approx(want, abs=1e-4))
    scores = [r["anomaly"] for r in rows if r["anomaly"] is not None]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) > 1
    assert scores[0] == pytest.approx(max(s for s in expected.values() if s is not None), abs=1e-4)
    # never explained last: the Reachy copy and the two recordings that could not be read
    last = rows[-(UNEXPLAINED + real_data.UNREADABLE) :]
    assert all(r["anomaly"] is None and r["top_finding"] is None for r in last)
    assert {r["name"] for r in last if r["status"] == "failed"} == {
        "empty-file",
        "wrong_format_mcap",
    }
    # the finding that gives the score, with its time
    top = rows[0]["top_finding"]
    with Catalog(catalog) as c:
        stored = findings_of(c, [rows[0]["id"]])[rows[0]["id"]]
    best = max(stored, key=lambda f: f.confidence)
    assert (top["cause"], top["title"], top["t_start_ns"]) == (
        best.cause,
        best.title,
        best.t_start_ns,
    )
    assert f"{UNEXPLAINED} episode(s) not explained yet" in err
    assert "robotrace-desktop explain --all" in err
    assert f"{real_data.UNREADABLE} episode(s) could not be read" in err


@pytest.mark.parametrize("held_rows", [20_000, 10])  # the table held whole / read twice
def test_the_table_shows_score_and_top_finding_most_abnormal_first(
    catalog: Path, capsys, monkeypatch: pytest.MonkeyPatch, held_rows: int
) -> None:
    monkeypatch.setattr(common, "TABLE_BUFFER_ROWS", held_rows)
    expected = expected_scores(catalog)
    out, err = run(capsys, "--catalog", str(catalog), "list", "--sort", "anomaly")
    rows = table(out)
    assert list(rows[0])[-3:] == ["ANOMALY", "TOP FINDING", "PROBLEMS"]
    assert {r["ID"] for r in rows} == set(expected)
    in_order = [expected[r["ID"]] for r in rows]  # the stored findings' scores, row by row
    assert in_order == sorted(in_order, key=lambda s: (s is None, -(s or 0.0)))
    shown = [r["ANOMALY"] for r in rows]
    assert shown == ["-" if expected[r["ID"]] is None else f"{expected[r['ID']]:.2f}" for r in rows]
    with Catalog(catalog) as c:  # the finding that gives the top score, and when it starts
        stored = findings_of(c, [rows[0]["ID"]])[rows[0]["ID"]]
    best = max(stored, key=lambda f: f.confidence)
    assert rows[0]["TOP FINDING"] == f"{best.cause} @ {best.t_start_ns / 1e9:.2f} s"
    clean = next(r for r in rows if r["ANOMALY"] == "0.00")
    assert clean["TOP FINDING"] == "nothing unusual"
    assert [r["TOP FINDING"] for r in rows[-5:]] == ["not explained"] * 5
    assert f"{UNEXPLAINED} episode(s) not explained yet" in err  # counted once, not per read


def test_sort_anomaly_keeps_the_filters(catalog: Path, capsys) -> None:
    base = ["--catalog", str(catalog), "list", "--json"]
    for flags in (["--robot", "unitree_g1_inspire"], ["--cause", "range_excursion"]):
        plain, _ = run(capsys, *base, *flags)
        ranked, _ = run(capsys, *base, *flags, "--sort", "anomaly")
        plain_rows, ranked_rows = json.loads(plain), json.loads(ranked)
        assert {r["id"] for r in ranked_rows} == {r["id"] for r in plain_rows}
        scores = [r["anomaly"] for r in ranked_rows]
        assert scores == sorted(scores, reverse=True)
    g1 = json.loads(run(capsys, *base, "--robot", "unitree_g1_inspire")[0])
    assert len(g1) == 100


def test_the_default_listing_is_unchanged(catalog: Path, capsys) -> None:
    out, err = run(capsys, "--catalog", str(catalog), "list")
    assert "ANOMALY" not in out.splitlines()[0]
    assert "not explained" not in err
    rows = json.loads(run(capsys, "--catalog", str(catalog), "list", "--json")[0])
    assert "anomaly" not in rows[0]
    assert [(r["path"], r["episode_index"] or 0) for r in rows] == sorted(
        (r["path"], r["episode_index"] or 0) for r in rows
    )


def test_explain_all_gives_the_unexplained_a_score(catalog: Path, capsys) -> None:
    run(capsys, "--catalog", str(catalog), "explain", "--all")
    out, err = run(capsys, "--catalog", str(catalog), "list", "--sort", "anomaly", "--json")
    rows = json.loads(out)
    assert sum(r["anomaly"] is None for r in rows) == real_data.UNREADABLE
    assert "not explained yet" not in err
    reachy = [r for r in rows if "reachy2_unexplained" in r["path"]]
    assert len(reachy) == UNEXPLAINED and all(r["explained"] for r in reachy)


def test_a_recorded_failure_is_no_anomaly_but_an_exception_is(catalog: Path) -> None:
    """``outcome_failed`` restates the run's label; a raised exception happened in the data."""
    with Catalog(catalog) as c:
        clean = [e for e, a in anomaly_scores(c).items() if a.score == 0.0][:2]
        store_findings(c, clean[0], [finding("outcome_failed", 1.0, confidence=1.0)])
        store_findings(
            c,
            clean[1],
            [
                finding("outcome_failed", 1.0, confidence=1.0),
                finding("raised_exception", 2.5, confidence=0.95),
            ],
        )
        scores = anomaly_scores(c)
    assert scores[clean[0]].score == 0.0 and scores[clean[0]].cause is None
    assert scores[clean[1]].score == pytest.approx(0.95)
    assert scores[clean[1]].where() == "raised_exception @ 2.50 s"
