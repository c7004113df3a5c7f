"""What a person typed survives losing the catalog: the journal beside it, the rotating backups,
``catalog check | backup | restore | rebuild``; and a damaged catalog is never written to.

Everything runs through the command line (``main``) on the demo bundle and asserts what the user
sees: bookmarks, tags, outcomes, offsets, selections and layouts present after restore/rebuild,
exit codes, the words printed, the file bytes a refused write left untouched."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest

from robotrace_desktop.catalog import health, write_guard
from robotrace_desktop.catalog.backups import backups
from robotrace_desktop.catalog.bookmarks import (
    add_bookmark,
    delete_bookmark,
    list_bookmarks,
    update_note,
)
from robotrace_desktop.catalog.journal import Journal
from robotrace_desktop.catalog.selections import delete_selection, save_selection, selection_ids
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.cli import main
from tests.catalog_files import read_only, writer
from tests.demo_cache import demo_copy
from tests.hardening.test_crash_safety import v1_catalog

MS = 1_000_000


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_copy(tmp_path_factory.mktemp("demo") / "bundle")


@pytest.fixture(autouse=True)
def fresh_process_state() -> None:
    """Each test is a new "session": backups and quick checks as a fresh process sees them."""
    health.forget()
    write_guard._backed_up.clear()


def cli(capsys: pytest.CaptureFixture[str], catalog: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--catalog", str(catalog), *args])
    out, err = capsys.readouterr()
    assert "internal error" not in err and "Traceback" not in err, err
    return code, out, err


def scanned(capsys: pytest.CaptureFixture[str], catalog: Path, bundle: Path) -> str:
    code, _, err = cli(capsys, catalog, "scan", "--no-explain", str(bundle))
    assert code == 0, err
    with Catalog(catalog) as opened:
        return opened.list_episodes()[0].id


def annotate(catalog_path: Path, episode: str) -> None:
    """One of every kind of user-authored change."""
    with Catalog(catalog_path) as catalog:
        catalog.set_overrides([episode], {"outcome": "failure", "task": "pick ✓"})
        catalog.add_tags([episode], ["gripper", "nightly"])
        first = add_bookmark(catalog, episode, 1200 * MS, "slip", 1500 * MS)
        add_bookmark(catalog, episode, 2000 * MS, "to delete")
        update_note(catalog, first.id, "slip — edited")
        assert delete_bookmark(catalog, 2)
        catalog.set_stream_offset(episode, "/joint_states", 40 * MS)
        catalog.set_stream_offset(episode, "/imu", -5 * MS)
        catalog.reset_stream_offsets(episode)
        catalog.set_stream_offset(episode, "/imu", 7 * MS)
        save_selection(catalog, "baseline", [episode], "release 3")
        save_selection(catalog, "gone", [episode])
        assert delete_selection(catalog, "gone")
        catalog.save_layout("bundle:", {"channels": [["/imu", "ax"]], "main": [3, 1]})


def user_data(catalog_path: Path, episode: str) -> dict[str, object]:
    with Catalog(catalog_path) as catalog, read_only(catalog_path) as conn:
        info = catalog.get(episode) if catalog.count() else None
        return {
            "outcome": None if info is None else info.outcome.value,
            "overrides": tuple(
                conn.execute(
                    "SELECT outcome, task FROM episode_overrides WHERE episode_id = ?", (episode,)
                ).fetchone()
                or ()
            ),
            "tags": catalog.tags(episode),
            "bookmarks": [
                (b.id, b.t_ns, b.t_end_ns, b.note) for b in list_bookmarks(catalog, episode)
            ],
            "offsets": catalog.stream_offsets(episode),
            "selections": selection_ids(catalog, "baseline"),
            "layout": catalog.layout("bundle:"),
        }


EXPECTED = {
    "outcome": "failure",
    "overrides": ("failure", "pick ✓"),
    "tags": ["gripper", "nightly"],
    "bookmarks": [(1, 1200 * MS, 1500 * MS, "slip — edited")],
    "offsets": {"/joint_states": 0, "/imu": 7 * MS},
    "selections": None,  # filled with the episode id
    "layout": {"channels": [["/imu", "ax"]], "main": [3, 1]},
}


def expected(episode: str) -> dict[str, object]:
    return {**EXPECTED, "selections": [episode]}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_destroyed_catalog_is_rebuilt_with_every_kind_of_user_data(
    tmp_path: Path, bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "catalog.sqlite"
    episode = scanned(capsys, catalog, bundle)
    annotate(catalog, episode)
    assert user_data(catalog, episode) == expected(episode)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    for backup in (tmp_path / "backups").glob("*"):
        backup.unlink()  # no backup either: only the journal is left
    code, out, _ = cli(capsys, catalog, "catalog", "check")
    assert code == 1 and "MISSING" in out and "catalog rebuild" in out
    code, out, _ = cli(capsys, catalog, "catalog", "rebuild")
    assert code == 0, out
    assert "rescanned 1 known path(s), 1 episode(s) indexed" in out
    assert user_data(catalog, episode) == expected(episode)
    code, out, _ = cli(capsys, catalog, "catalog", "check")
    assert code == 0 and "all in the catalog" in out


def test_rebuild_twice_and_replay_again_change_nothing(
    tmp_path: Path, bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Replay is idempotent: a second rebuild of a healthy catalog gives the same data, and
    bookmark ids stay what they were (links and exports keep pointing at them)."""
    catalog = tmp_path / "catalog.sqlite"
    episode = scanned(capsys, catalog, bundle)
    annotate(catalog, episode)
    for _ in range(2):
        assert cli(capsys, catalog, "catalog", "rebuild")[0] == 0
        assert user_data(catalog, episode) == expected(episode)
    moved = sorted(p.name for p in tmp_path.glob("catalog.sqlite.replaced-*"))
    assert len([m for m in moved if not m.endswith(("-wal", "-shm"))]) == 2  # both kept


def test_restore_takes_the_newest_good_backup_and_the_journal_written_since(
    tmp_path: Path, bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "catalog.sqlite"
    episode = scanned(capsys, catalog, bundle)
    with Catalog(catalog) as opened:
        add_bookmark(opened, episode, 100 * MS, "before the backup")
    code, out, _ = cli(capsys, catalog, "catalog", "backup")
    assert code == 0
    backup = Path(out.strip())
    assert backup.parent == tmp_path / "backups" and health.file_problem(backup) is None
    with Catalog(catalog) as opened:
        add_bookmark(opened, episode, 200 * MS, "after the backup")
        opened.add_tags([episode], ["late"])
    with open(catalog, "r+b") as handle:  # 4 KiB of random bytes into the catalog
        handle.seek(4096)
        handle.write(os.urandom(4096))
    health.forget()
    code, out, _ = cli(capsys, catalog, "catalog", "check")
    assert code == 1 and "DAMAGED" in out and f"catalog restore   (from {backup.name})" in out
    code, out, _ = cli(capsys, catalog, "catalog", "restore")
    assert code == 0, out
    assert f"from {backup}" in out
    assert "re-applied 2 change(s) from the journal written after that backup" in out
    assert "moved aside (not deleted)" in out
    assert list(tmp_path.glob("catalog.sqlite.damaged-*"))  # moved aside, never deleted
    with Catalog(catalog) as opened:
        notes = [b.note for b in list_bookmarks(opened, episode)]
        assert notes == ["before the backup", "after the backup"]
        assert opened.tags(episode) == ["late"]
        with read_only(catalog) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_restore_from_a_named_file_and_without_any_backup(
    tmp_path: Path, bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "catalog.sqlite"
    episode = scanned(capsys, catalog, bundle)
    for backup in (tmp_path / "backups").glob("*.sqlite"):
        backup.unlink()
    code, _, err = cli(capsys, catalog, "catalog", "restore")
    assert code == 1 and "no good backup" in err and "catalog rebuild" in err
    copy = tmp_path / "elsewhere.sqlite"
    with Catalog(catalog) as opened:
        add_bookmark(opened, episode, 5 * MS, "kept")
        with read_only(catalog) as conn:
            conn.execute("VACUUM INTO ?", (str(copy),))
        add_bookmark(opened, episode, 6 * MS, "journal only")
    code, out, _ = cli(capsys, catalog, "catalog", "restore", str(copy))
    assert code == 0 and "re-applied 1 change(s)" in out
    with Catalog(catalog) as opened:
        assert [b.note for b in list_bookmarks(opened, episode)] == ["kept", "journal only"]
    code, _, err = cli(capsys, catalog, "catalog", "restore", str(tmp_path / "nope.sqlite"))
    assert code == 1 and "nope.sqlite cannot be restored: the file is missing" in err


def test_a_catalog_older_than_the_journal_is_written_to_it_on_open(tmp_path: Path) -> None:
    """A catalog from before the journal existed: its user data goes into the journal the
    first time it is opened, so losing the file right after costs nothing."""
    catalog = tmp_path / "catalog.sqlite"
    v1_catalog(catalog)
    Catalog(catalog).close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    # a new, empty catalog catches up from the journal
    with Catalog(catalog), read_only(catalog) as conn:
        rows = conn.execute("SELECT t_ns, note FROM bookmarks ORDER BY t_ns").fetchall()
    assert [tuple(r) for r in rows] == [(k * 1000, f"note {k}") for k in range(50)]


def test_a_line_cut_by_a_crash_is_skipped_and_the_next_one_is_whole(
    tmp_path: Path, bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "catalog.sqlite"
    episode = scanned(capsys, catalog, bundle)
    journal = Journal(catalog)
    with open(journal.path, "ab") as handle:
        handle.write(b'{"v":1,"id":"cut","op":"tags.add","episodes":["x"],"ta')  # no newline
    with Catalog(catalog) as opened:
        opened.add_tags([episode], ["after the cut"])
    read = journal.read()
    assert read.unreadable == 1 and not read.incomplete
    assert read.records[-1]["tags"] == ["after the cut"]
    code, out, _ = cli(capsys, catalog, "catalog", "check")
    assert code == 0 and "1 unreadable line(s) skipped" in out


def test_a_change_the_database_refused_is_not_replayed(
    tmp_path: Path, bundle: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    """Journal first, then commit: when the commit fails after the journal line was written,
    a ``void`` line follows, so a rebuild does not resurrect a change reported as failed."""
    from robotrace_desktop.catalog import user_data as module
    from robotrace_desktop.errors import StorageError

    catalog = tmp_path / "catalog.sqlite"
    episode = scanned(capsys, catalog, bundle)

    def refuse(conn: sqlite3.Connection, record: str, offset: int) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    with Catalog(catalog) as opened:
        monkeypatch.setattr(module, "set_state", refuse)
        with pytest.raises(StorageError, match="could not save"):
            opened.add_tags([episode], ["never saved"])
        monkeypatch.undo()
        assert opened.tags(episode) == []
    assert Journal(catalog).read().records[-1]["op"] == "void"
    assert cli(capsys, catalog, "catalog", "rebuild")[0] == 0
    with Catalog(catalog) as opened:
        assert opened.tags(episode) == []


@pytest.mark.parametrize("damage", ["truncate", "random 4 KiB", "empty"])
def test_a_damaged_catalog_is_never_written_and_every_command_says_what_to_do(
    tmp_path: Path, bundle: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    catalog = tmp_path / "catalog.sqlite"
    episode = scanned(capsys, catalog, bundle)
    with Catalog(catalog) as opened:
        add_bookmark(opened, episode, 10 * MS, "precious")
        with writer(catalog) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = catalog.stat().st_size
    if damage == "truncate":
        os.truncate(catalog, size // 2 + 1000)
    elif damage == "empty":
        os.truncate(catalog, 0)
    else:
        with open(catalog, "r+b") as handle:
            handle.seek(size // 2)
            handle.write(os.urandom(4096))
    health.forget()
    before = digest(catalog)
    writes = [
        ("tag", episode, "--tag", "x"),
        ("tag", episode, "--outcome", "success"),
        ("bookmark", "add", episode, "--t", "1s", "--note", "n"),
        ("scan", "--no-explain", str(bundle)),
        ("list", "--save-as", "sel"),
    ]
    for args in writes:
        code, out, err = cli(capsys, catalog, *args)
        assert code == 1, (args, out, err)
        assert "is damaged" in err and "Nothing was written to it" in err, err
        assert "catalog restore (newest backup: " in err and "backups/catalog-" in err, err
        assert "catalog rebuild" in err
        assert digest(catalog) == before, f"{args} wrote into the damaged catalog"
    for args in (("list",), ("show", episode), ("bookmark", "list")):
        code, out, err = cli(capsys, catalog, *args)
        assert "damaged" in err and "catalog check" in err  # read what can be read, with a word
        assert code in (0, 1)
        assert digest(catalog) == before
    assert cli(capsys, catalog, "catalog", "restore")[0] == 0
    with Catalog(catalog) as opened:
        assert [b.note for b in list_bookmarks(opened, episode)] == ["precious"]


def test_backups_rotate_and_are_taken_on_the_first_write_of_a_session(
    tmp_path: Path, bundle: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    catalog = tmp_path / "catalog.sqlite"
    episode = scanned(capsys, catalog, bundle)
    folder = tmp_path / "backups"
    assert len(list(folder.glob("catalog-*.sqlite"))) == 1  # the scan's first write
    monkeypatch.setenv("ROBOTRACE_BACKUP_HOURS", "0")  # every session is due
    for k in range(7):
        write_guard._backed_up.clear()  # a new session
        with Catalog(catalog) as opened:
            opened.add_tags([episode], [f"t{k}"])
            opened.add_tags([episode], [f"u{k}"])  # a second write: no second backup
    kept = sorted(folder.glob("catalog-*.sqlite"))
    assert len(kept) == 5
    assert not list(folder.glob("*.partial"))
    newest = backups(catalog)[0]  # what `catalog restore` would take
    assert newest in kept
    with sqlite3.connect(f"file:{newest}?mode=ro", uri=True) as conn:
        tags = {r[0] for r in conn.execute("SELECT tag FROM tags")}
    assert "t5" in tags and "u5" in tags and "t6" not in tags  # taken before session 7 wrote
    monkeypatch.setenv("ROBOTRACE_BACKUP_HOURS", "24")
    write_guard._backed_up.clear()
    with Catalog(catalog) as opened:
        opened.add_tags([episode], ["no backup: the newest is fresh"])
    assert len(list(folder.glob("catalog-*.sqlite"))) == 5


def test_check_reports_json(
    tmp_path: Path, bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "catalog.sqlite"
    episode = scanned(capsys, catalog, bundle)
    with Catalog(catalog) as opened:
        add_bookmark(opened, episode, 1, "a")
    code, out, _ = cli(capsys, catalog, "catalog", "check", "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["bookmarks"] == 1
    assert report["journal_records"] == 1 and report["journal_records_not_in_catalog"] == 0
    assert report["backups"] and report["backups"][0]["problem"] is None


def test_a_deleted_catalog_comes_back_with_its_journal_and_says_to_rebuild(
    tmp_path: Path, bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "catalog.sqlite"
    episode = scanned(capsys, catalog, bundle)
    with Catalog(catalog) as opened:
        add_bookmark(opened, episode, 3 * MS, "kept by the journal")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    code, _, err = cli(capsys, catalog, "list")
    assert code == 0
    assert "was missing; a new one holds the 1 change(s) of its journal" in err
    assert f"--catalog {catalog} catalog rebuild" in err
    code, out, _ = cli(capsys, catalog, "bookmark", "list", "--json")
    assert code == 0 and "kept by the journal" in out
    assert cli(capsys, catalog, "catalog", "rebuild")[0] == 0
    code, out, _ = cli(capsys, catalog, "list", "--json")
    assert [e["id"] for e in json.loads(out)] == [episode]


def test_what_a_killed_restore_or_creation_left_is_removed_on_the_next_open(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    catalog = tmp_path / "catalog.sqlite"
    Catalog(catalog).close()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])  # a pid that has ended
    dead.wait()
    debris = [
        tmp_path / f".catalog.sqlite.rebuild-{dead.pid}.sqlite",
        tmp_path / f".catalog.sqlite.rebuild-{dead.pid}.sqlite-wal",
        tmp_path / f".catalog.sqlite.{dead.pid}.123.new",
    ]
    alive = tmp_path / f".catalog.sqlite.restore-{os.getpid()}.sqlite"  # still running
    for path in [*debris, alive]:
        path.write_bytes(b"partial")
    aside = tmp_path / "catalog.sqlite.damaged-20260101-000000"
    aside.write_bytes(b"kept")
    health.forget()
    write_guard._tidied.clear()
    Catalog(catalog).close()
    assert not any(p.exists() for p in debris)
    assert alive.exists() and aside.exists()
