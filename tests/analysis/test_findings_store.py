"""Findings in the catalog: stored ranked and replaced whole, read back exactly, the browser's
one-query summary, and "every episode with action saturation" from the API and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robotrace_desktop.analysis.finding import Finding
from robotrace_desktop.catalog.findings import (
    causes_present,
    episodes_with_cause,
    explainable_ids,
    findings_for,
    store_findings,
    top_findings,
    was_explained,
)
from robotrace_desktop.catalog.store import Catalog, EpisodeFilter
from robotrace_desktop.cli import main
from robotrace_desktop.library.scanner import scan
from tests.demo_cache import demo_copy

S = 1_000_000_000


def saturation(confidence: float = 0.8, rank: int = 1) -> Finding:
    return Finding(
        cause="action_saturation",
        title="joint_2 command pinned at its limit",
        explanation="joint_2 stayed at 2.9 rad (limit 2.9) for 1.4 s",
        confidence=confidence,
        severity="high",
        t_start_ns=3 * S,
        t_end_ns=4_400_000_000,
        channels=["/action/joint_position/joint_2"],
        evidence={"limit": 2.9, "span_s": 1.4, "failure_time_ns": 7_500_000_000},
        next_step="check the policy's action clipping",
        rank=rank,
    )


def exception(rank: int = 2) -> Finding:
    return Finding(
        "raised_exception", "GraspError", "GraspError at 7.5 s", 0.95, "critical",
        7_500_000_000, None, [], {"text": "GraspError: slipped"}, "read the traceback", rank,
    )  # fmt: skip


@pytest.fixture(scope="module")
def catalog_of_three(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("three")
    for seed in (1, 2, 3):
        demo_copy(root / "data" / f"demo{seed}", seed=seed)
    (root / "data" / "broken.bag").write_bytes(b"not a bag at all")
    path = root / "catalog.sqlite"
    with Catalog(path) as catalog:
        scan(catalog, [root / "data"])
        ids = [e.id for e in catalog.list_episodes() if e.kind == "bundle"]
    return path, ids


def test_round_trip_keeps_every_field_and_the_ranking(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as catalog:
        assert not was_explained(catalog, "ep1")
        store_findings(catalog, "ep1", [saturation(), exception()])
        back = findings_for(catalog, "ep1")
        assert back == [saturation(), exception()]
        assert back[0].evidence["failure_time_ns"] == 7_500_000_000
        assert back[0].channels == ["/action/joint_position/joint_2"]
        assert was_explained(catalog, "ep1")
        store_findings(catalog, "clean", [])  # nothing found is still "explained"
        assert was_explained(catalog, "clean") and findings_for(catalog, "clean") == []
        # a re-run replaces the list; it never appends
        store_findings(catalog, "ep1", [exception(rank=1)])
        assert [f.cause for f in findings_for(catalog, "ep1")] == ["raised_exception"]
        assert findings_for(catalog, "other") == []


def test_unranked_findings_keep_their_order(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as catalog:
        store_findings(catalog, "ep", [exception(rank=0), saturation(rank=0)])
        assert [(f.rank, f.cause) for f in findings_for(catalog, "ep")] == [
            (1, "raised_exception"),
            (2, "action_saturation"),
        ]


def test_cause_queries_and_the_top_finding_summary(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as catalog:
        store_findings(catalog, "a", [saturation(0.9), exception()])
        store_findings(catalog, "b", [exception(rank=1), saturation(0.3, rank=2)])
        store_findings(catalog, "c", [])
        assert episodes_with_cause(catalog, "action_saturation") == ["a"]
        assert episodes_with_cause(catalog, "action_saturation", min_confidence=0.2) == ["a", "b"]
        assert episodes_with_cause(catalog, "raised_exception") == ["a", "b"]
        assert causes_present(catalog) == ["action_saturation", "raised_exception"]
        top = top_findings(catalog)
        assert set(top) == {"a", "b"}
        assert top["a"] == ("action_saturation", saturation().title, 0.9, 2)
        assert top["b"].cause == "raised_exception" and top["b"].count == 2


def test_list_filters_by_cause_in_the_api_and_the_cli(
    catalog_of_three: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, ids = catalog_of_three
    with Catalog(path) as catalog:
        for episode in ids:
            store_findings(catalog, episode, [])
        store_findings(catalog, ids[1], [saturation(0.85)])
        store_findings(catalog, ids[2], [saturation(0.2)])  # not confident: not listed
        listed = catalog.list_episodes(EpisodeFilter(cause="action_saturation"))
        assert [e.id for e in listed] == [ids[1]]
        assert catalog.list_episodes(EpisodeFilter(cause="battery_brownout")) == []
        assert len(catalog.list_episodes(EpisodeFilter(kind="bundle"))) == 3
    assert main(["--catalog", str(path), "list", "--cause", "action_saturation", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [ids[1]]
    assert main(["--catalog", str(path), "list", "--cause", "action_saturation"]) == 0
    out = capsys.readouterr().out
    assert ids[1] in out and ids[0] not in out and ids[2] not in out


def test_explainable_ids_skip_recordings_that_could_not_be_read(
    catalog_of_three: tuple[Path, list[str]],
) -> None:
    path, ids = catalog_of_three
    with Catalog(path) as catalog:
        assert catalog.count() == 4  # the broken bag has an error row
        assert sorted(explainable_ids(catalog)) == sorted(ids)
