"""Concurrency: several writers on one catalog. Two CLI scans of overlapping trees, the GUI's
scan worker racing a CLI scan, two app windows with their own connections bookmarking and
tagging, and a big scan running while the viewer scrubs a real AV1 episode. Everyone finishes
without "database is locked", every episode is in the catalog once, no write is lost, and the
viewer shows the exact frame for every time it is sent to."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from robotrace_desktop.catalog import db
from robotrace_desktop.catalog.bookmarks import list_bookmarks
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.episodes import resolve
from robotrace_desktop.errors import StorageError
from robotrace_desktop.library.scanner import scan
from robotrace_desktop.readers.registry import reader_by_kind
from robotrace_desktop.ui.catalog_model import load_rows
from robotrace_desktop.ui.episode_view import EpisodeView
from robotrace_desktop.ui.main_window import MainWindow
from robotrace_desktop.ui.qimage import qimage_to_rgb
from robotrace_desktop.ui.scan_worker import ScanWorker
from tests import real_data
from tests.catalog_files import read_only
from tests.hardening.trees import (
    big_dataset,
    cli,
    count,
    expected_ids,
    finish,
    many_recordings,
    python,
)
from tests.ui.test_scan_worker import Receiver

S = 1_000_000_000
G1 = "lerobot/g1_pick_bottle_v21"
CAMERA = "observation.images.cam_high"
WAIT_MS = 180_000


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """90 small recordings in two halves (part1/, part2/)."""
    root = tmp_path_factory.mktemp("tree")
    first = many_recordings(root / "part1", 45)
    second = many_recordings(root / "part2", 45, start=45)
    return root, first + second


def clean(code: int, err: str) -> None:
    assert code == 0, err
    assert "locked" not in err and "Traceback" not in err, err


def start_worker(catalog: Path, roots: list[Path], *, explain: bool) -> tuple[ScanWorker, Receiver]:
    worker = ScanWorker(catalog, roots, explain=explain)
    receiver = Receiver()
    worker.progress.connect(receiver.on_progress)
    worker.finished.connect(receiver.on_finished)
    worker.failed.connect(receiver.on_failed)
    worker.start()
    return worker, receiver


def finished_summary(qtbot: Any, worker: ScanWorker, receiver: Receiver) -> Any:
    qtbot.waitUntil(lambda: bool(receiver.outcome), timeout=WAIT_MS)
    assert worker.wait(WAIT_MS)
    ((outcome, summary),) = receiver.outcome
    assert outcome == "finished", summary
    return summary


def test_two_cli_scans_of_overlapping_trees(tree: tuple[Path, list[Path]], tmp_path: Path) -> None:
    root, recordings = tree
    catalog = tmp_path / "catalog.sqlite"
    # one walks part1 then part2, the other part2 then part1: they meet in the middle
    one = cli(catalog, "scan", "--json", "--no-explain", str(root))
    two = cli(catalog, "scan", "--json", "--no-explain", str(root / "part2"), str(root / "part1"))
    code_one, out_one, err_one = finish(one)
    code_two, out_two, err_two = finish(two)
    clean(code_one, err_one)
    clean(code_two, err_two)
    a, b = json.loads(out_one), json.loads(out_two)
    for summary in (a, b):
        assert summary["errors"] == 0
        assert summary["new"] + summary["unchanged"] == len(recordings)
    # every upsert runs in a BEGIN IMMEDIATE transaction: exactly one scanner saw each new
    assert a["new"] + b["new"] == len(recordings)
    with Catalog(catalog) as opened:
        ids = [e.id for e in opened.list_episodes()]
        assert sorted(ids) == sorted(expected_ids(recordings))  # each episode once
        assert count(catalog, "recordings") == len(recordings)
        with read_only(catalog) as conn:
            streams = conn.execute("SELECT episode_id, name, count FROM streams").fetchall()
    # the same rows as one scanner alone writes
    with Catalog(tmp_path / "alone.sqlite") as alone:
        scan(alone, [root])
        with read_only(alone.path) as conn:
            reference = conn.execute("SELECT episode_id, name, count FROM streams").fetchall()
    assert sorted(map(tuple, streams)) == sorted(map(tuple, reference))


def test_two_cli_scans_explaining_at_once(tmp_path: Path) -> None:
    """Explain stores findings from both processes (and their pool workers) at once."""
    recordings = many_recordings(tmp_path / "few", 6)
    catalog = tmp_path / "catalog.sqlite"
    runs = [cli(catalog, "scan", "--json", str(tmp_path / "few")) for _ in range(2)]
    results = [finish(run) for run in runs]
    for code, _, err in results:
        clean(code, err)
    summaries = [json.loads(out) for _, out, _ in results]
    assert all(s["explain_errors"] == [] for s in summaries)
    assert sum(s["new"] for s in summaries) == len(recordings)
    assert count(catalog, "explained") == len(recordings)
    assert sum(s["explained"] for s in summaries) >= len(recordings)


def test_gui_scan_worker_while_a_cli_scan_runs(
    qtbot: Any, tree: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    root, recordings = tree
    catalog = tmp_path / "catalog.sqlite"
    dataset = big_dataset(tmp_path / "big", 1500)
    process = cli(catalog, "scan", "--json", "--no-explain", str(dataset), str(root))
    worker, receiver = start_worker(catalog, [root, dataset], explain=False)
    summary = finished_summary(qtbot, worker, receiver)
    code, out, err = finish(process)
    clean(code, err)
    other = json.loads(out)
    assert summary.errors == 0 and other["errors"] == 0
    total = len(recordings) + 1500
    assert summary.new + summary.unchanged == total == other["new"] + other["unchanged"]
    assert summary.new + other["new"] == total
    assert receiver.progress[-1][:2] == (len(recordings) + 1, len(recordings) + 1)
    with Catalog(catalog) as opened:
        assert opened.count() == total
        assert expected_ids(recordings) <= {e.id for e in opened.list_episodes()}


def test_two_windows_on_one_catalog_see_each_others_writes(
    qtbot: Any, tree: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    root, recordings = tree
    catalog = tmp_path / "catalog.sqlite"
    clean(*finish(cli(catalog, "scan", "--no-explain", str(root / "part1")))[::2])  # type: ignore[arg-type]
    windows = [MainWindow(catalog), MainWindow(catalog)]
    for window in windows:
        qtbot.addWidget(window)
        window.show()
    assert windows[0].catalog is not windows[1].catalog  # each Catalog opens its own connection
    episode = sorted(expected_ids(recordings[:45]))[0]
    views = [w.open_episode(episode, 1 * S) for w in windows]
    assert all(v is not None and v.bookmarks is not None for v in views)
    first, second = views[0].bookmarks, views[1].bookmarks  # type: ignore[union-attr]
    mark_a = first.add_at(1 * S, "from window one")  # type: ignore[union-attr]
    mark_b = second.add_at(2 * S, "from window two")  # type: ignore[union-attr]
    for panel in (first, second):
        panel.refresh()  # type: ignore[union-attr]
        notes = {(m.id, m.note) for m in panel.bookmarks()}  # type: ignore[union-attr]
        assert notes == {(mark_a.id, "from window one"), (mark_b.id, "from window two")}
    # tags and fields from both windows interleaved with a CLI tag: nothing overwritten
    others = sorted(expected_ids(recordings[:45]))[1:4]
    windows[0].catalog.add_tags([episode, *others], ["left"])
    windows[1].catalog.add_tags([episode], ["right"])
    windows[0].catalog.set_overrides([episode], {"robot": "arm-7"})
    windows[1].catalog.set_overrides([episode], {"task": "stack"})
    clean(*finish(cli(catalog, "tag", episode, "--tag", "cli", "--outcome", "failure"))[::2])
    for window in windows:
        window.browser.refresh()
        row = next(r for r in window.browser.model.rows() if r.id == episode)
        assert set(row.tags.split()) == {"cli", "left", "right"}
        info = window.catalog.get(episode)
        assert (info.robot, info.task, info.outcome.value) == ("arm-7", "stack", "failure")
    with Catalog(catalog) as opened:
        assert [b.note for b in list_bookmarks(opened, episode)] == [
            "from window one",
            "from window two",
        ]
        assert all(opened.tags(e) == ["left"] for e in others)
    for window in windows:
        window.close()


def test_the_viewer_shows_exact_frames_while_a_big_scan_runs(
    qtbot: Any, shared_data: Path, tree: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    root, recordings = tree
    catalog_path = tmp_path / "catalog.sqlite"
    dataset = big_dataset(tmp_path / "big", 2000)
    catalog = Catalog(catalog_path)
    view = EpisodeView(resolve(f"{shared_data / G1}#1", catalog), catalog)
    qtbot.addWidget(view)
    view.resize(1200, 800)
    view.show()
    pane = view.panes[CAMERA]
    qtbot.waitUntil(lambda: pane.is_ready(), timeout=WAIT_MS)
    times = pane.frame_times_ns()
    assert times is not None and len(times) == 393
    reader = reader_by_kind("lerobot")
    worker, receiver = start_worker(catalog_path, [shared_data, root, dataset], explain=False)
    rng = random.Random(5)
    targets = [0, 6_533_333_333, 13_066_666_666, 33_333_334, 9 * S + 1]
    targets += [rng.randrange(0, int(times[-1])) for _ in range(5)]
    with reader.open(shared_data / G1, 1) as source:
        frames = source.video(CAMERA)
        racing = []
        for t_ns in targets:
            racing.append(worker.is_running())
            view.timeline.set_time(t_ns)
            qtbot.waitUntil(view.settled, timeout=WAIT_MS)
            index = int(np.searchsorted(times, t_ns, side="right")) - 1
            shown = pane.shown_frame()
            assert shown is not None and shown[0] == index and shown[2], (t_ns, shown)
            image = pane.current_image()
            assert image is not None
            np.testing.assert_array_equal(qimage_to_rgb(image), frames.frame(index).rgb)
    summary = finished_summary(qtbot, worker, receiver)
    assert racing[0], "the scan ended before the viewer scrubbed: nothing raced"
    assert summary.errors == 2  # the two broken real recordings, nothing else
    assert summary.new == real_data.EPISODES_INDEXED + len(recordings) + 2000
    assert catalog.count() == summary.new + 2  # + the rows of the two broken recordings
    assert len(load_rows(catalog)) == catalog.count()
    view.shutdown()
    catalog.close()


def hold_write_lock(path: Path) -> sqlite3.Connection:
    """Another program in the middle of a write transaction on the catalog."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_a_writer_waits_for_the_lock_and_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "catalog.sqlite"
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 200)  # each try waits 0.2 s, not 15 s
    with Catalog(path) as catalog:
        other = hold_write_lock(path)
        release = threading.Timer(0.25, other.rollback)  # gone after the first try gave up
        release.start()
        catalog.touch_recent("/data/run.bag", "path")
        release.join()
        assert catalog.recent() == [("/data/run.bag", "path")]
        other.close()


def test_a_lock_that_never_goes_gives_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "catalog.sqlite"
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 20)
    with Catalog(path) as catalog:
        other = hold_write_lock(path)
        with pytest.raises(StorageError, match=r"catalog\.sqlite: the catalog stayed locked"):
            catalog.touch_recent("/data/run.bag", "path")
        assert not catalog.in_transaction
        other.rollback()
        catalog.touch_recent("/data/run.bag", "path")  # the connection is still usable
        assert catalog.recent() == [("/data/run.bag", "path")]
        other.close()


OPEN_AT_ONCE = """
import sys, time
from pathlib import Path
from robotrace_desktop.catalog.store import Catalog
print("ready", flush=True)
start = float(sys.stdin.readline())
time.sleep(max(0.0, start - time.time() - 0.005))
while time.time() < start:  # every process leaves the line at the same moment
    pass
with Catalog(Path(sys.argv[1])) as catalog:
    print(catalog.count())
"""


def test_programs_creating_one_new_catalog_at_the_same_moment_all_open_it(
    tmp_path: Path,
) -> None:
    """The first open creates the file and switches it to WAL; SQLite answers the others
    "database is locked" without waiting, so opening must retry. The start moment is handed
    out once every interpreter says it is ready (its imports done), and each spins only for
    its last 5 ms, not six processes spinning through a fixed 2 s head start."""
    for round_ in range(4):
        catalog = tmp_path / f"new{round_}.sqlite"
        runs = [python("-c", OPEN_AT_ONCE, str(catalog), stdin=subprocess.PIPE) for _ in range(6)]
        for run in runs:
            assert run.stdout is not None and run.stderr is not None
            ready = run.stdout.readline()
            assert ready == "ready\n", ready + run.stderr.read()  # stderr: why it never got there
        start = time.time() + 0.1
        for run in runs:
            assert run.stdin is not None
            run.stdin.write(f"{start!r}\n")
            run.stdin.flush()
        for run in runs:
            code, out, err = finish(run)
            clean(code, err)
            assert out.strip() == "0"
        with sqlite3.connect(catalog) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
