"""Crash safety: ``kill -9`` a scan, a bookmark writer or a migration at awkward moments.

Afterwards the catalog always opens, ``PRAGMA integrity_check`` says ok, no bookmark a process
reported as saved is lost, a scan resumes where the killed one stopped (already indexed
recordings come back as unchanged, Explain picks up the episodes it never reached), and one
big recording is indexed all-or-nothing."""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from robotrace_desktop.catalog.bookmarks import get_bookmark
from robotrace_desktop.catalog.db import _statements
from robotrace_desktop.catalog.findings import store_findings
from robotrace_desktop.catalog.schema import MIGRATIONS
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.errors import StorageError
from robotrace_desktop.library.scanner import scan
from tests.catalog_files import read_only, writer
from tests.hardening.trees import (
    alive,
    big_dataset,
    children,
    cli,
    count,
    expected_ids,
    finish,
    kill9,
    many_recordings,
    python,
    wait_for,
)

BIG = 2000  # episodes in the one big dataset


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("many")
    return root, many_recordings(root, 150)


def healthy(catalog: Path) -> Catalog:
    """The catalog opens and the database is intact."""
    opened = Catalog(catalog)
    with read_only(catalog) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    return opened


def scan_json(catalog: Path, *args: str) -> dict:
    code, out, err = finish(cli(catalog, "scan", "--json", *args))
    assert code == 0, err
    assert "database is locked" not in err
    return json.loads(out)


PAUSE_INSIDE_A_COMMIT = """
import sys, time
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.cli import main

at = int(sys.argv.pop(1))
original = Catalog.set_recording_state


def set_state(self, *args, **kwargs):  # the at-th recording written, not yet committed: wait
    original(self, *args, **kwargs)
    if len(self.recordings_under("/")) >= at:  # every recording: their paths are absolute
        print("inside the transaction", flush=True)
        time.sleep(3600)

Catalog.set_recording_state = set_state
sys.exit(main(sys.argv[1:]))
"""


def test_a_scan_killed_at_several_points_resumes(
    tree: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    """Each scan is killed while it holds the write transaction of its threshold-th recording
    (the scan waits there, so the point does not depend on how busy the machine is)."""
    root, recordings = tree
    catalog = tmp_path / "catalog.sqlite"
    indexed = 0
    for threshold in (10, 60, 110):
        scan = python(
            "-c", PAUSE_INSIDE_A_COMMIT, str(threshold),
            "--catalog", str(catalog), "scan", "--no-explain", str(root),
        )  # fmt: skip
        assert scan.stdout is not None
        assert scan.stdout.readline() == "inside the transaction\n", finish(scan)
        kill9(scan)
        assert scan.returncode == -9
        with healthy(catalog) as opened, read_only(catalog, named=True) as conn:
            rows = conn.execute("SELECT path, status FROM recordings").fetchall()
            ids = {e.id for e in opened.list_episodes()}
        # a recording's state is committed with its episode, never before or without it; the
        # killed transaction's recording is not there at all
        assert len(rows) == len(ids) == threshold - 1 and all(r["status"] == "ok" for r in rows)
        assert ids <= expected_ids(recordings)
        assert indexed < len(ids) < len(recordings)
        indexed = len(ids)
    summary = scan_json(catalog, "--no-explain", str(root))
    assert summary["unchanged"] == indexed  # resumed: nothing indexed twice
    assert summary["new"] == len(recordings) - indexed
    assert summary["updated"] == 0 and summary["errors"] == 0
    with healthy(catalog) as opened:
        assert {e.id for e in opened.list_episodes()} == expected_ids(recordings)


PAUSE_AFTER_FIRST_FINDINGS = """
import sys, time
from robotrace_desktop.cli import main
from robotrace_desktop.library import explain_runner

store, map_jobs = explain_runner.store_findings, explain_runner.map_jobs


def store_then_wait(*args, **kwargs):  # the first episode's findings committed: wait there
    store(*args, **kwargs)
    print("stored the first findings", flush=True)
    time.sleep(3600)


def two_workers(*args, **kwargs):  # a pool even on a one-core machine
    return map_jobs(*args, **{**kwargs, "workers": 2})


explain_runner.store_findings, explain_runner.map_jobs = store_then_wait, two_workers
sys.exit(main(sys.argv[1:]))
"""


def test_explain_resumes_after_a_scan_killed_while_explaining(tmp_path: Path) -> None:
    """The scan is killed while its Explain pool is running, right after the first episode's
    findings were stored (it waits there, so the point does not depend on the machine)."""
    recordings = many_recordings(tmp_path / "few", 12)
    catalog = tmp_path / "catalog.sqlite"
    scan = python("-c", PAUSE_AFTER_FIRST_FINDINGS, "--catalog", str(catalog), "scan",
                  str(tmp_path / "few"))  # fmt: skip
    assert scan.stdout is not None
    assert "stored the first findings\n" in iter(scan.stdout.readline, ""), finish(scan)
    workers = children(scan.pid)  # the Explain pool's two workers (and its resource tracker)
    kill9(scan)
    assert scan.returncode == -9
    assert len(workers) >= 2
    # the pool's workers must not outlive the killed scan (they used to wait forever)
    wait_for(lambda: not any(alive(w) for w in workers), timeout=30, what="orphaned workers")
    with healthy(catalog) as opened:
        explained_before = count(catalog, "explained")
        assert opened.count() == len(recordings)
    assert explained_before == 1
    summary = scan_json(catalog, str(tmp_path / "few"))
    assert summary["unchanged"] == len(recordings) and summary["new"] == 0
    assert summary["explained"] == len(recordings) - explained_before
    assert count(catalog, "explained") == len(recordings)
    again = scan_json(catalog, str(tmp_path / "few"))
    assert again["explained"] == 0  # nothing left to explain: the analyzers do not start


SLOW_UPSERTS = """
import sys, time
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.cli import main

original = Catalog.upsert_episodes


def upsert(self, recording, infos):  # writes 500 rows, says it is inside, then dawdles
    first = original(self, recording, infos[:500])
    print("inside the transaction", flush=True)
    time.sleep(0.002 * (len(infos) - 500))
    return first + original(self, recording, infos[500:])

Catalog.upsert_episodes = upsert
sys.exit(main(sys.argv[1:]))
"""


def test_one_big_recording_is_indexed_all_or_nothing(tmp_path: Path) -> None:
    dataset = big_dataset(tmp_path / "big", BIG)
    catalog = tmp_path / "catalog.sqlite"
    # 1. killed for sure inside the recording's single transaction (500 rows written)
    scan = python("-c", SLOW_UPSERTS, "--catalog", str(catalog), "scan", "--no-explain",
                  str(dataset))  # fmt: skip
    assert scan.stdout is not None
    assert scan.stdout.readline().strip() == "inside the transaction"
    kill9(scan)
    with healthy(catalog) as opened:
        assert opened.count() == 0 and count(catalog, "recordings") == 0
        assert count(catalog, "streams") == 0
    # 2. killed at random moments of an ordinary scan: never a partial dataset
    rng = random.Random(7)
    for _ in range(3):
        scan = cli(catalog, "scan", "--no-explain", str(dataset))
        time.sleep(rng.uniform(0.3, 1.5))
        kill9(scan)
        with healthy(catalog) as opened:
            assert opened.count() in (0, BIG)
            assert count(catalog, "recordings") == (1 if opened.count() else 0)
    summary = scan_json(catalog, "--no-explain", str(dataset))
    assert summary["new"] + summary["unchanged"] == BIG and summary["errors"] == 0
    with healthy(catalog) as opened:
        assert opened.count() == BIG
        assert opened.recording_state(str(dataset.resolve()))["status"] == "ok"


BOOKMARKER = """
import sys
from pathlib import Path
from robotrace_desktop.catalog.bookmarks import add_bookmark
from robotrace_desktop.catalog.store import Catalog

catalog_path, episode, prefix = sys.argv[1:4]
with Catalog(Path(catalog_path)) as catalog:
    for i in range(1_000_000):
        t = 1_000_000 * i + 7
        mark = add_bookmark(catalog, episode, t, f"{prefix} #{i}: grip \u2713", t + 5)
        print(f"saved {mark.id} {t}", flush=True)  # only after the write returned
"""


def test_no_bookmark_reported_saved_is_lost(tree: tuple[Path, list[Path]], tmp_path: Path) -> None:
    root, recordings = tree
    catalog = tmp_path / "catalog.sqlite"
    scan_json(catalog, "--no-explain", str(root))
    episode = sorted(expected_ids(recordings))[0]
    rng = random.Random(11)
    saved: dict[int, tuple[int, str]] = {}
    for round_ in range(6):
        scanner = None
        if round_ >= 4:  # also while another process scans (and writes) the same catalog
            scanner = cli(catalog, "scan", "--force", "--no-explain", str(root))
        writer = python("-c", BOOKMARKER, str(catalog), episode, f"round {round_}")
        assert writer.stdout is not None
        first = writer.stdout.readline()
        assert first.startswith("saved "), writer.stderr.read() if writer.stderr else ""
        time.sleep(rng.uniform(0.05, 0.8))
        writer.kill()
        writer.wait(timeout=30)
        rest = writer.stdout.read()  # not communicate(): it would skip what readline buffered
        writer.stdout.close()
        assert writer.stderr is not None and "Traceback" not in writer.stderr.read()
        writer.stderr.close()
        lines = [first, *rest.splitlines()]
        for line in lines:
            if line.strip():  # a line cut by the kill has no newline but is complete or absent
                _, mark_id, t = line.split()
                saved[int(mark_id)] = (int(t), f"round {round_} #{int(t) // 1_000_000}: grip ✓")
        if scanner is not None:
            code, _, err = finish(scanner)
            assert code == 0 and "database is locked" not in err, err
        assert len(lines) > 1
    with healthy(catalog) as opened:
        for mark_id, (t, note) in saved.items():
            mark = get_bookmark(opened, mark_id)
            assert (mark.episode_id, mark.t_ns, mark.t_end_ns, mark.note) == (
                episode, t, t + 5, note
            )  # fmt: skip
        with read_only(catalog) as conn:
            stored = conn.execute("SELECT count(*) FROM bookmarks").fetchone()[0]
    # at most one write per round committed after its "saved" line could be printed
    assert len(saved) <= stored <= len(saved) + 6


MIGRATE = """
import sys
from pathlib import Path
from robotrace_desktop.catalog.store import Catalog

print("start", flush=True)
Catalog(Path(sys.argv[1])).close()
print("done", flush=True)
"""


def v1_catalog(path: Path) -> None:
    """A catalog as the first release left it: schema v1, one episode with bookmarks."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for statement in _statements(MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO episodes (id, recording, kind, path, name, indexed_at) "
        "VALUES ('ep1', '/r/a.bag', 'rosbag1', '/r/a.bag', 'a', 0)"
    )
    conn.executemany(
        "INSERT INTO bookmarks (episode_id, t_ns, note, created_at) VALUES ('ep1', ?, ?, 0)",
        [(k * 1000, f"note {k}") for k in range(50)],
    )
    conn.close()


def bookmarks_in(path: Path) -> list[tuple[int, str]]:
    with read_only(path) as conn:
        return conn.execute("SELECT t_ns, note FROM bookmarks ORDER BY t_ns").fetchall()


def test_a_migration_killed_midway_loses_nothing(tmp_path: Path) -> None:
    template = tmp_path / "v1.sqlite"
    v1_catalog(template)
    expected = [(k * 1000, f"note {k}") for k in range(50)]
    rng = random.Random(3)
    versions = set()
    for round_ in range(8):
        folder = tmp_path / f"round{round_}"
        folder.mkdir()
        catalog = folder / "catalog.sqlite"
        shutil.copy(template, catalog)
        process = python("-c", MIGRATE, str(catalog))
        assert process.stdout is not None and process.stdout.readline().strip() == "start"
        time.sleep(rng.uniform(0.0, 0.03))
        kill9(process)
        with read_only(catalog) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        versions.add(version)
        assert version in range(1, len(MIGRATIONS) + 1)
        assert bookmarks_in(catalog) == expected
        backups = list(folder.glob("catalog.sqlite.v1.*.bak"))
        if version > 1:
            assert len(backups) == 1
        for backup in backups:  # a backup is whole or absent, never half-written
            assert bookmarks_in(backup) == expected
        assert not list(folder.glob("*.partial")) or not backups
        with healthy(catalog), read_only(catalog) as conn:  # the next start finishes the upgrade
            assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert bookmarks_in(catalog) == expected
    assert versions <= set(range(1, len(MIGRATIONS) + 1))


#: another program's trigger: each new recent item adds a row whose episode does not exist,
#: which the deferred foreign key refuses only at COMMIT (the catalog enforces foreign keys)
REFUSED_AT_COMMIT = """
CREATE TABLE dangling (episode_id TEXT REFERENCES episodes(id) DEFERRABLE INITIALLY DEFERRED);
CREATE TRIGGER refuse_at_commit AFTER INSERT ON recent
BEGIN INSERT INTO dangling VALUES ('no-such-episode'); END;
"""


def test_a_commit_that_fails_leaves_nothing_and_the_catalog_usable(tmp_path: Path) -> None:
    """A COMMIT refused by SQLite (here a deferred foreign-key check; a full disk looks the
    same) becomes a StorageError naming the catalog, with the transaction rolled back."""
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as catalog:
        with writer(path) as other:  # from now on a recent item writes a row no episode owns
            other.executescript(REFUSED_AT_COMMIT)
        refused = pytest.raises(StorageError, match=r"catalog\.sqlite: could not save")
        with refused:
            catalog.touch_recent("/data/run.bag", "path")
        assert not catalog.in_transaction
        assert count(path, "dangling") == 0 and catalog.recent() == []
        with writer(path) as other:
            other.execute("DROP TRIGGER refuse_at_commit")
        catalog.touch_recent("/data/run.bag", "path")
        assert catalog.recent() == [("/data/run.bag", "path")]


def test_a_rescan_explains_what_an_earlier_scan_never_reached(tmp_path: Path) -> None:
    """Episodes indexed without Explain (a killed scan, --no-explain) are explained by the next
    scan with Explain, whether their recordings are skipped as unchanged or re-read (--force,
    or a touched file with the same content)."""
    recordings = many_recordings(tmp_path / "three", 3)
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        assert scan(catalog, [tmp_path / "three"]).new == 3  # no explain
        (reached,) = expected_ids(recordings[1:2])
        store_findings(catalog, reached, [])  # Explain reached only the second one
        touched = recordings[0] if recordings[0].is_file() else recordings[0] / "metadata.yaml"
        os.utime(touched)  # re-read, same content: upsert says unchanged
        summary = scan(catalog, [tmp_path / "three"], explain=True)
        assert (summary.new, summary.updated, summary.unchanged) == (0, 0, 3)
        assert summary.explained == 2 and summary.explain_errors == []
        assert count(tmp_path / "catalog.sqlite", "explained") == 3
        assert scan(catalog, [tmp_path / "three"], explain=True, force=True).explained == 0
