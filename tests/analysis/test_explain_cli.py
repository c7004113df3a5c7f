"""`explain EPISODE [--json]`, `explain --all` on two worker processes, and Explain after a
scan (and `scan --no-explain`), on generated demo bundles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robotrace_desktop.analysis import explain as explain_module
from robotrace_desktop.analysis import registry
from robotrace_desktop.analysis.data import EpisodeData, ExplainContext
from robotrace_desktop.analysis.finding import Finding
from robotrace_desktop.catalog.findings import findings_for, was_explained
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.cli import main
from robotrace_desktop.library.explain_runner import explain_episode_id, explain_many
from tests.demo_cache import demo_copy

S = 1_000_000_000
KEYS = {
    "cause",
    "title",
    "explanation",
    "confidence",
    "severity",
    "t_start_ns",
    "t_end_ns",
    "channels",
    "evidence",
    "next_step",
    "rank",
}


def fake_analyzer(data: EpisodeData, ctx: ExplainContext) -> list[Finding]:
    """A symptom at the logged error and a specific cause before it (listed last on purpose)."""
    effort = data.signal("/joint_states")
    assert effort is not None and len(effort.t_ns) > 100  # it really read the episode
    return [
        Finding("raised_exception", "GraspError", "at 7.5 s", 0.95, "critical", 7_500 * 10**6),
        Finding("unrelated_blip", "Late blip", "after the failure", 0.9, "high", 11 * S),
        Finding(
            "fake_cause",
            "Gripper closed early",
            "closed 1.7 s before the cube was reached",
            0.8,
            "high",
            3_900 * 10**6,
            5_600 * 10**6,
            ["/action/gripper", "/joint_states/effort/gripper"],
            {"width_m": 0.0},
            "check the grasp trigger",
        ),
    ]  # fmt: skip


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> None:
    only = (("fake", fake_analyzer),)
    monkeypatch.setattr(registry, "analyzers", lambda: only)
    monkeypatch.setattr(explain_module, "analyzers", lambda: only)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bundles")
    for seed in (1, 2, 3, 4):
        demo_copy(root / f"demo{seed}", seed=seed)
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_explain_json_is_ranked_with_every_key_and_stored(
    fake: None, bundles: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = str(tmp_path / "c.sqlite")
    assert run(capsys, "--catalog", catalog, "scan", "--no-explain", str(bundles / "demo1"))[0] == 0
    code, out = run(capsys, "--catalog", catalog, "explain", str(bundles / "demo1"), "--json")
    assert code == 0
    data = json.loads(out)
    findings = data["findings"]
    assert all(set(f) == KEYS for f in findings)
    assert [(f["rank"], f["cause"]) for f in findings] == [
        (1, "fake_cause"),
        (2, "unrelated_blip"),
        (3, "raised_exception"),
    ]
    top = findings[0]
    assert top["t_start_ns"] == 3_900_000_000 and top["t_end_ns"] == 5_600_000_000
    assert top["evidence"] == {"width_m": 0.0, "failure_time_ns": 7_500_000_000}
    assert top["channels"] == ["/action/gripper", "/joint_states/effort/gripper"]
    with Catalog(Path(catalog)) as c:
        stored = findings_for(c, data["episode"])
    assert [f.cause for f in stored] == ["fake_cause", "unrelated_blip", "raised_exception"]
    assert (tmp_path / "explain.toml").is_file()  # documented defaults next to the catalog


def test_explain_text_names_rank_confidence_time_and_next_step(
    fake: None, bundles: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(
        capsys, "--catalog", str(tmp_path / "c.sqlite"), "explain", str(bundles / "demo2")
    )
    assert code == 0
    lines = out.splitlines()
    assert "not in the catalog" in lines[1]
    assert "judged on this episode alone" in lines[2]  # an empty catalog: no history
    assert "#1" in lines[3] and "80%" in lines[3] and "high" in lines[3]
    assert "3.900s–5.600s" in lines[3] and "Gripper closed early" in lines[3]
    assert "next: check the grasp trigger" in out


def test_an_unscanned_path_is_explained_without_touching_the_catalog(
    fake: None, bundles: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "c.sqlite"
    code, out = run(capsys, "--catalog", str(catalog), "explain", str(bundles / "demo3"), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["findings"][0]["cause"] == "fake_cause"
    with Catalog(catalog) as c:
        assert c.count() == 0
        assert not was_explained(c, data["episode"])


def test_explain_needs_an_episode_or_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--catalog", str(tmp_path / "c.sqlite"), "explain"]) == 1
    assert "give one EPISODE or --all" in capsys.readouterr().err


def test_explain_all_on_two_workers_stores_findings_for_every_episode(
    bundles: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "c.sqlite"
    assert run(capsys, "--catalog", str(catalog), "scan", "--no-explain", str(bundles))[0] == 0
    with Catalog(catalog) as c:
        ids = [e.id for e in c.list_episodes()]
        assert len(ids) == 4 and not any(was_explained(c, i) for i in ids)
    code, out = run(
        capsys, "--catalog", str(catalog), "explain", "--all", "--workers", "2", "--json"
    )
    assert code == 0
    summary = json.loads(out)
    assert summary["explained"] == 4 and summary["errors"] == {}
    assert sum(summary["top_causes"].values()) == 4  # every demo run has a confident top cause
    with Catalog(catalog) as c:
        for episode in ids:
            findings = findings_for(c, episode)
            assert findings and findings[0].rank == 1 and findings[0].confidence >= 0.5
    code, out = run(capsys, "--catalog", str(catalog), "explain", "--all", "--workers", "2")
    assert code == 0 and "explained 4 episode(s), 0 error(s)" in out


def test_a_failing_episode_is_reported_and_the_others_go_on(
    bundles: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "c.sqlite"
    run(capsys, "--catalog", str(catalog), "scan", "--no-explain", str(bundles))
    with Catalog(catalog) as c:
        ids = [e.id for e in c.list_episodes()]
    progress: list[tuple[int, int]] = []
    result = explain_many(
        catalog,
        [*ids, "no-such-episode"],
        workers=2,
        progress=lambda d, t, _e: progress.append((d, t)),
    )
    assert set(result.explained) == set(ids)
    assert list(result.errors) == ["no-such-episode"]
    assert "no-such-episode" in result.errors["no-such-episode"]
    assert progress[-1] == (5, 5) and len(progress) == 5


def test_scan_explains_new_episodes_and_no_explain_skips(
    fake: None, bundles: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "c.sqlite"
    code, out = run(capsys, "--catalog", str(catalog), "scan", str(bundles / "demo1"), "--json")
    assert code == 0 and json.loads(out)["explained"] == 1
    code, out = run(
        capsys, "--catalog", str(catalog), "scan", "--no-explain", str(bundles / "demo2")
    )
    assert code == 0 and "explained" not in out
    with Catalog(catalog) as c:
        first = c.find(str(bundles / "demo1"), None)
        second = c.find(str(bundles / "demo2"), None)
        assert first is not None and second is not None
        assert findings_for(c, first.id)[0].cause == "fake_cause"
        assert not was_explained(c, second.id)
    # demo1's recording is unchanged, but its robot gained a run (demo2): its history changed,
    # so the scan judges it again, once
    code, out = run(capsys, "--catalog", str(catalog), "scan", str(bundles / "demo1"), "--json")
    assert json.loads(out)["explained"] == 1 and json.loads(out)["unchanged"] == 1
    # nothing changed since: nothing to explain
    code, out = run(capsys, "--catalog", str(catalog), "scan", str(bundles / "demo1"), "--json")
    assert json.loads(out)["explained"] == 0 and json.loads(out)["unchanged"] == 1
    assert explain_episode_id(catalog, second.id)[0].cause == "fake_cause"
    with Catalog(catalog) as c:
        assert was_explained(c, second.id)


def test_explain_says_what_it_compared_the_episode_with(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The SO-101 dataset's episodes are judged against the robot's five others; a lone demo
    bundle against nothing, and the output says so (a finding judged on one episode alone is
    weaker)."""
    db = str(tmp_path / "c.sqlite")
    assert (
        main(["--catalog", db, "scan", "--no-explain", str(shared_data / "lerobot/so101_v30")]) == 0
    )
    with Catalog(Path(db)) as catalog:
        episode = catalog.list_episodes()[0]
    capsys.readouterr()
    assert main(["--catalog", db, "explain", episode.id]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == f"  compared with 5 other episodes of robot {episode.robot!r}"
    assert main(["--catalog", db, "explain", episode.id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["history_episodes"] == 5

    lone = str(tmp_path / "lone.sqlite")
    bundle = demo_copy(tmp_path / "demo")
    assert main(["--catalog", lone, "scan", "--no-explain", str(bundle)]) == 0
    capsys.readouterr()
    assert main(["--catalog", lone, "explain", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert "no other episode of robot" in out and "judged on this episode alone" in out
