"""``robotrace-desktop import`` as a user runs it: output, catalog, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robotrace_desktop import paths
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.cli import main
from robotrace_desktop.core.episode import REPRODUCIBILITY_FIELDS
from tests.convert.compare import snapshot
from tests.demo_cache import demo_copy
from tests.readers import lerobot_fixtures as lf


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_indexes_with_the_same_fields_and_a_new_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = demo_copy(tmp_path / "demo")
    catalog_path = tmp_path / "catalog.sqlite"
    assert main(["--catalog", str(catalog_path), "scan", str(demo), "--no-explain"]) == 0
    with Catalog(catalog_path) as catalog:
        (listed,) = catalog.list_episodes()
        original = catalog.get(listed.id)
    # a robotrace:// link to the scanned episode is an EPISODE like any other
    code, out, _ = run(
        capsys, "--catalog", str(catalog_path), "import", f"robotrace://episode/{original.id}"
    )
    assert code == 0, out
    with Catalog(catalog_path) as catalog:
        ids = {e.id for e in catalog.list_episodes()}
        (new_id,) = ids - {original.id}
        imported = catalog.get(new_id)
    assert f"episode: {new_id}" in out
    folder = paths.library_dir() / "imported" / Path(imported.path).name
    assert f"bundle: {folder}" in out and Path(imported.path) == folder
    assert imported.kind == "bundle"
    for name in (*REPRODUCIBILITY_FIELDS, "source", "robot", "task", "outcome", "status"):
        assert getattr(imported, name) == getattr(original, name), name
    assert imported.metadata["imported_from"]["episode_id"] == original.id
    assert [s.name for s in imported.streams] == [s.name for s in original.streams]
    # Explain ran on the import as a scan would run it
    code, out, _ = run(capsys, "--catalog", str(catalog_path), "explain", new_id, "--json")
    assert code == 0 and json.loads(out)["findings"]
    # a later scan of the library finds the import unchanged
    code, out, _ = run(
        capsys, "--catalog", str(catalog_path), "scan", str(paths.library_dir()), "--json"
    )
    assert json.loads(out)["unchanged"] == 1


def test_import_all_json_then_refuses_a_second_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = lf.write_v3(tmp_path / "v3")
    before = snapshot(dataset)
    dest = tmp_path / "out"
    args = ["--catalog", str(tmp_path / "c.sqlite"), "import", str(dataset), "--all"]
    code, out, _ = run(capsys, *args, "--dest", str(dest), "--json", "--no-explain")
    assert code == 0
    result = json.loads(out)
    assert result["errors"] == []
    episodes = result["episodes"]
    assert [e["source"]["episode_index"] for e in episodes] == [0, 1, 2, 3]
    assert {e["status"] for e in episodes} == {"imported"} and all(e["indexed"] for e in episodes)
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        Path(e["bundle"]).name for e in episodes
    )
    with Catalog(tmp_path / "c.sqlite") as catalog:
        rows = {e.id: e for e in catalog.list_episodes()}
    assert set(rows) == {e["id"] for e in episodes}
    assert [rows[e["id"]].outcome.value for e in episodes] == [
        "success",
        "failure",
        "success",
        "success",
    ]
    code, out, _ = run(capsys, *args, "--dest", str(dest), "--json", "--no-explain")
    assert code == 0
    assert {e["status"] for e in json.loads(out)["episodes"]} == {"exists"}
    code, out, _ = run(capsys, *args[:-1], "--episode", "2", "--dest", str(dest), "--replace")
    assert code == 0 and "v3 #2: replaced" in out
    assert snapshot(dataset) == before


def test_no_index_leaves_the_catalog_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shared_data: Path
) -> None:
    catalog_path = tmp_path / "c.sqlite"
    bag = shared_data / "ros1" / "example.bag"
    code, out, _ = run(capsys, "--catalog", str(catalog_path), "import", str(bag), "--no-index")
    assert code == 0 and "(not in the catalog)" in out
    with Catalog(catalog_path) as catalog:
        assert catalog.count() == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["import", "x", "--episode", "1", "--all"],
        ["import", "x", "--episode", "-1"],
        ["import", "x", "--episode", "one"],
        ["import"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert "usage: robotrace-desktop import" in capsys.readouterr().err


def test_errors_exit_1_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shared_data: Path
) -> None:
    missing = tmp_path / "nothing.bag"
    code, _, err = run(capsys, "import", str(missing))
    assert code == 1 and str(missing) in err and len(err.strip().splitlines()) == 1
    empty = shared_data / "ros1" / "empty-file.bag"
    code, _, err = run(capsys, "import", str(empty))
    assert code == 1 and "empty file" in err and len(err.strip().splitlines()) == 1
    dataset = shared_data / "lerobot" / "g1_pick_bottle_v21"
    code, _, err = run(capsys, "import", str(dataset))
    assert code == 1 and "--episode N or --all" in err
    code, _, err = run(capsys, "import", str(dataset), "--episode", "100")
    assert code == 1 and "no episode #100" in err
    code, _, err = run(capsys, "import", str(dataset), "--all", "--dest", str(dataset / "x"))
    assert code == 1 and "inside the recording" in err
    assert not (dataset / "x").exists()
