"""Catalog and scanner behaviour with a toy format: what a user sees in rows and counts."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from robotrace_desktop.catalog import db
from robotrace_desktop.catalog.schema import MIGRATIONS
from robotrace_desktop.catalog.store import Catalog, EpisodeFilter
from robotrace_desktop.errors import StorageError, ValidationError
from robotrace_desktop.library import scanner
from tests.catalog.toy_reader import ToyReader
from tests.catalog_files import read_only, writer


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scanner, "readers", lambda: (ToyReader(),))


def write_toy(path: Path, episodes: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"episodes": episodes}))
    return path


def test_new_catalog_is_wal_and_migrated(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as catalog, read_only(catalog.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.schema_version(conn) == len(MIGRATIONS)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_migration_backs_up_existing_catalog_and_keeps_its_rows(
    tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "c.sqlite"
    monkeypatch.setattr(db, "MIGRATIONS", MIGRATIONS[:1])  # a catalog from the first release
    with Catalog(path), writer(path) as old:
        old.execute(
            "INSERT INTO bookmarks (episode_id, t_ns, note, created_at) VALUES ('e1', 5, 'x', 0)"
        )
    monkeypatch.setattr(db, "MIGRATIONS", MIGRATIONS)
    with Catalog(path) as catalog:
        with read_only(path) as conn:
            assert db.schema_version(conn) == len(MIGRATIONS)
            assert conn.execute("SELECT note FROM bookmarks").fetchone()[0] == "x"
        catalog.save_layout("bundle:arm", {"cameras": ["front"]})
        assert catalog.layout("bundle:arm") == {"cameras": ["front"]}
    backups = list(tmp_path.glob("c.sqlite.v1.*.bak"))
    assert len(backups) == 1
    saved = sqlite3.connect(backups[0])
    assert saved.execute("PRAGMA user_version").fetchone()[0] == 1
    assert saved.execute("SELECT count(*) FROM bookmarks").fetchone()[0] == 1


def test_recent_items_keep_the_newest(tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as catalog:
        for i in range(5):
            catalog.touch_recent(f"/runs/{i}", "path", keep=3)
        catalog.touch_recent("/runs/2", "path", keep=3)
        assert catalog.recent() == [("/runs/2", "path"), ("/runs/4", "path"), ("/runs/3", "path")]


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StorageError, match="newer than this RoboTrace"):
        Catalog(path)


def test_scan_counts_new_unchanged_updated_and_errors(tmp_path: Path, toy) -> None:
    data = tmp_path / "runs"
    write_toy(data / "a.toy", [{"name": "a0"}, {"name": "a1"}])
    write_toy(data / "sub" / "b.toy", [{"name": "b"}])
    (data / "bad.toy").write_text("corrupt!")
    with Catalog(tmp_path / "c.sqlite") as catalog:
        first = scanner.scan(catalog, [data])
        assert (first.new, first.updated, first.unchanged, first.errors) == (3, 0, 0, 1)
        assert any("bad.toy: toy file is corrupt" in p for p in first.problems)
        rows = {e.name: e for e in catalog.list_episodes()}
        assert set(rows) == {"a0", "a1", "b", "bad"}
        assert rows["bad"].status.value == "failed"
        assert rows["bad"].problems == [f"{data / 'bad.toy'}: toy file is corrupt"]

        second = scanner.scan(catalog, [data])
        assert (second.new, second.updated, second.unchanged, second.errors) == (0, 0, 3, 1)

        write_toy(data / "sub" / "b.toy", [{"name": "b", "duration_ns": 5_000_000_000}])
        os.utime(data / "sub" / "b.toy", ns=(1, 10**18))
        third = scanner.scan(catalog, [data])
        assert (third.new, third.updated, third.unchanged) == (0, 1, 2)
        assert catalog.find(str(data / "sub" / "b.toy"), None).duration_ns == 5_000_000_000


def test_vanished_recording_is_marked_missing_and_keeps_user_data(tmp_path: Path, toy) -> None:
    data = tmp_path / "runs"
    path = write_toy(data / "a.toy", [{"name": "a", "policy_version": "v1"}])
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scanner.scan(catalog, [data])
        (episode,) = catalog.list_episodes()
        catalog.set_overrides([episode.id], {"policy_version": "v2", "seed": 3})
        with writer(catalog.path) as other:
            other.execute(
                "INSERT INTO bookmarks (episode_id, t_ns, note, created_at) VALUES (?, ?, ?, 0)",
                (episode.id, 12_840_000_000, "gripper slips"),
            )
        path.unlink()
        summary = scanner.scan(catalog, [data])
        assert summary.missing == 1
        row = catalog.get(episode.id)
        assert row.status.value == "missing"
        assert row.policy_version == "v2"
        with read_only(catalog.path) as conn:
            assert conn.execute("SELECT count(*) FROM bookmarks").fetchone()[0] == 1

        write_toy(data / "a.toy", [{"name": "a", "policy_version": "v1"}])
        scanner.scan(catalog, [data])
        back = catalog.get(episode.id)
        assert back.status.value == "ready" and back.policy_version == "v2" and back.seed == 3


def test_filters_and_overrides(tmp_path: Path, toy) -> None:
    data = tmp_path / "runs"
    write_toy(data / "a.toy", [{"name": "pick", "policy_version": "v1"}])
    write_toy(data / "b.toy", [{"name": "place", "policy_version": "v2"}])
    with Catalog(tmp_path / "c.sqlite") as catalog:
        scanner.scan(catalog, [data])
        assert [e.name for e in catalog.list_episodes(EpisodeFilter(policy="v1"))] == ["pick"]
        assert [e.name for e in catalog.list_episodes(EpisodeFilter(search="plac"))] == ["place"]
        assert catalog.list_episodes(EpisodeFilter(search="%")) == []
        place = catalog.list_episodes(EpisodeFilter(search="place"))[0]
        catalog.set_overrides([place.id], {"policy_version": "v1", "outcome": "failure"})
        names = [e.name for e in catalog.list_episodes(EpisodeFilter(policy="v1"))]
        assert names == ["pick", "place"]
        assert catalog.get(place.id).outcome.value == "failure"
        with pytest.raises(ValidationError, match="seed must be an integer"):
            catalog.set_overrides([place.id], {"seed": "x"})
        # a re-scan does not undo what the user set
        scanner.scan(catalog, [data], force=True)
        assert catalog.get(place.id).policy_version == "v1"


def test_scan_of_missing_path_is_an_error_not_a_crash(tmp_path: Path, toy) -> None:
    with Catalog(tmp_path / "c.sqlite") as catalog:
        summary = scanner.scan(catalog, [tmp_path / "nope"])
    assert summary.errors == 1 and "no such file or folder" in summary.problems[0]
