"""Bulk writing and streamed listing give the same rows and the same output as before.

The catalog-scale work (issue 16) changed how rows are written (``upsert_episodes``: one
``executemany`` per table) and how ``list`` prints (rows streamed from the cursor, read twice
for the column widths). These tests hold them to the row-at-a-time results on a generated
catalog and on the LeRobot fixtures.
"""

from __future__ import annotations

import io
import json
import sqlite3
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from benchmarks.gen_catalog import build, episode, findings_of
from robotrace_desktop.catalog.findings import episodes_with_cause, top_findings
from robotrace_desktop.catalog.store import Catalog, EpisodeFilter
from robotrace_desktop.cli import main
from robotrace_desktop.commands import common
from robotrace_desktop.commands.common import (
    duration_text,
    episode_summary,
    print_json,
    print_json_stream,
)

LIST_HEADERS = ["ID", "KIND", "NAME", "DURATION", "STATUS", "OUTCOME", "POLICY", "PROBLEMS"]


def _table_before(episodes: list) -> str:
    """What ``list`` printed before streaming, written out here as the oracle: every cell
    clipped to 48 characters, columns padded to their widest cell, two spaces between."""
    rows = [
        [
            e.id, e.kind, e.name, duration_text(e.duration_ns), e.status.value,
            e.outcome.value, e.policy_version or "-",
            e.problems[0] if len(e.problems) == 1
            else (f"{len(e.problems)} problems" if e.problems else ""),
        ]
        for e in episodes
    ]  # fmt: skip
    rows = [[c if len(c) <= 48 else c[:47] + "…" for c in row] for row in rows]
    widths = [max(len(r[i]) for r in [LIST_HEADERS, *rows]) for i in range(len(LIST_HEADERS))]
    return "".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n"
        for row in [LIST_HEADERS, *rows]
    )


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scale") / "catalog.sqlite"
    build(path, 700, per_dataset=250)  # 3 datasets, the last one short
    return path


@pytest.mark.parametrize(
    "flags, flt",
    [
        ([], EpisodeFilter()),
        (["--cause", "action_saturation"], EpisodeFilter(cause="action_saturation")),
        (["--robot", "aloha"], EpisodeFilter(robot="aloha")),
        (["--status", "failed"], EpisodeFilter(status="failed")),
        (["--outcome", "unknown", "--policy", "pi-9.1"], EpisodeFilter(outcome="unknown",
                                                                      policy="pi-9.1")),
        (["--search", "#12"], EpisodeFilter(search="#12")),
    ],
)  # fmt: skip
@pytest.mark.parametrize("held_rows", [20_000, 7])  # held whole / read twice
def test_list_prints_what_the_whole_list_printed(
    generated: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    flt: EpisodeFilter,
    held_rows: int,
) -> None:
    monkeypatch.setattr(common, "TABLE_BUFFER_ROWS", held_rows)
    with Catalog(generated) as catalog:
        episodes = catalog.list_episodes(flt)
    assert episodes
    assert _run(capsys, "--catalog", str(generated), "list", *flags) == _table_before(episodes)
    expected = io.StringIO()
    with redirect_stdout(expected):
        print_json([episode_summary(e) for e in episodes])
    out = _run(capsys, "--catalog", str(generated), "list", *flags, "--json")
    assert out == expected.getvalue()


def test_list_of_nothing(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--catalog", str(generated), "list", "--robot", "nobody"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "no episode has robot 'nobody'; known robots:" in captured.err
    assert _run(capsys, "--catalog", str(generated), "list", "--robot", "nobody", "--json") == (
        "[]\n"
    )


def test_streamed_json_is_the_json_of_the_list(capsys: pytest.CaptureFixture[str]) -> None:
    values = [{"a": [1, {"b": "x\ny é"}], "c": None}, {}, [], {"d": []}, "plain"]
    for count in range(len(values) + 1):
        print_json(values[:count])
        whole = capsys.readouterr().out
        print_json_stream(iter(values[:count]))
        assert capsys.readouterr().out == whole


def test_bulk_upsert_matches_one_at_a_time(tmp_path: Path) -> None:
    """Same rows, streams and new/updated/unchanged answers as upserting one by one."""
    infos = [episode(0, i, i) for i in range(40)]
    changed = [episode(0, i, i + (1 if i % 3 == 0 else 0)) for i in range(40)]
    results: dict[str, list[list[str]]] = {}
    for mode in ("bulk", "single"):
        path = tmp_path / f"{mode}.sqlite"
        answers: list[list[str]] = []
        with Catalog(path) as catalog:
            for batch in (infos, infos, changed, [*changed[:3], changed[0]]):
                with catalog.transaction():
                    if mode == "bulk":
                        answers.append(catalog.upsert_episodes("/r", batch))
                    else:
                        answers.append([catalog.upsert_episode("/r", i) for i in batch])
        results[mode] = answers
    assert results["bulk"] == results["single"]
    assert results["bulk"][1] == ["unchanged"] * 40
    assert results["bulk"][3] == ["unchanged"] * 3 + ["unchanged"]
    dumps = []
    for mode in ("bulk", "single"):
        conn = sqlite3.connect(tmp_path / f"{mode}.sqlite")
        episodes = conn.execute("SELECT * FROM episodes ORDER BY id").fetchall()
        streams = conn.execute("SELECT * FROM streams ORDER BY episode_id, position").fetchall()
        dumps.append(([r[:-2] + r[-1:] for r in episodes], streams))  # indexed_at differs
    assert dumps[0] == dumps[1]


def test_generated_findings(generated: Path) -> None:
    with Catalog(generated) as catalog:
        ids = [e.id for e in catalog.list_episodes()]
        assert len(ids) == 700
        confident = episodes_with_cause(catalog, "action_saturation")
        assert len(confident) == sum(1 for s in range(700) if findings_of(s)
                                     and findings_of(s)[0].confidence >= 0.5)  # fmt: skip
        assert len(top_findings(catalog)) == sum(1 for s in range(700) if findings_of(s))
        metadata = catalog.get(ids[0]).metadata
    assert json.loads(json.dumps(metadata)) == metadata
