"""Fault injection against the catalog: the engine shared by the short run in the tests
(tests/hardening/test_catalog_faults.py) and the long one (benchmarks/catalog_faults.py).

Each round copies a small scanned catalog (with its journal and a backup), starts a writer
process that adds bookmarks and tags and prints each one only after the call returned, then
does one harmful thing: ``kill -9`` at a random moment, deletes the ``-wal`` while it writes
and then kills it, truncates the catalog or writes 4 KiB of random bytes into it (also with
every backup gone), deletes it, fills the disk under it (a small tmpfs), or kills the
``catalog restore``/``rebuild`` that repairs it. Then it does what a user would: runs ``list``;
if anything reported saved is missing or the catalog is damaged, ``catalog restore``, and if
that is not enough ``catalog rebuild``. Every command runs with a timeout (a hang) and its
stderr is searched for a traceback or "internal error".
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tests.hardening.trees import REPO, many_recordings

KINDS = (
    "kill", "wal", "truncate", "overwrite", "delete", "enospc", "killed-recovery", "no-backup",
)  # fmt: skip
TIMEOUT = 180.0  # seconds before a command counts as hung (a loaded 2-core machine)

WRITER = """
import json, sys
from pathlib import Path
from robotrace_desktop.catalog.bookmarks import add_bookmark
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.errors import RobotraceError

catalog_path, prefix, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
episodes = sys.argv[4:]
refused = 0
try:
    catalog = Catalog(Path(catalog_path))
except RobotraceError as exc:  # cannot even open (disk full): said plainly, nothing saved
    print(json.dumps({"refused": str(exc)}), flush=True)
    sys.exit(1)
with catalog:
    print(json.dumps({"ready": True}), flush=True)
    for i in range(limit):
        episode = episodes[i % len(episodes)]
        try:
            if i % 3 == 2:
                tag = f"{prefix}-{i}"
                catalog.add_tags([episode], [tag])
                print(json.dumps({"tag": [episode, tag]}), flush=True)
            else:
                mark = add_bookmark(catalog, episode, 1000 * i + 7, f"{prefix} #{i} \\u2713")
                print(json.dumps({"bookmark": [mark.id, episode, mark.t_ns, mark.note]}),
                      flush=True)
        except RobotraceError as exc:  # disk full: a clear refusal, nothing reported saved
            refused += 1
            print(json.dumps({"refused": str(exc)}), flush=True)
            if refused >= 5:
                break
"""


@dataclass(slots=True)
class Counts:
    tried: int = 0
    survived: int = 0  # everything reported saved was there without any recovery command
    recovered: int = 0  # needed `catalog restore` / `rebuild`, and then everything was there
    lost: int = 0  # items reported saved and missing after restore/rebuild
    tracebacks: int = 0
    hangs: int = 0
    saved: int = 0  # items reported saved across all rounds
    refused: int = 0  # writes refused with a clear message (disk full)
    by_kind: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)  # kind → outcome → n
    problems: list[str] = field(default_factory=list)

    def outcome(self, kind: str, what: str) -> None:
        per = self.outcomes.setdefault(kind, {})
        per[what] = per.get(what, 0) + 1

    def line(self) -> str:
        return (
            f"tried {self.tried}, survived {self.survived}, recovered {self.recovered}, "
            f"user data lost after restore/rebuild {self.lost}, tracebacks {self.tracebacks}, "
            f"hangs {self.hangs} ({self.saved} bookmarks/tags reported saved, "
            f"{self.refused} writes refused with a clear message)"
        )


@dataclass(slots=True)
class Saved:
    bookmarks: dict[int, tuple[str, int, str]] = field(default_factory=dict)
    tags: set[tuple[str, str]] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.bookmarks) + len(self.tags)


class Engine:
    """Runs fault rounds in ``work`` (a scratch folder) and tallies ``counts``."""

    def __init__(self, work: Path, seed: int = 1) -> None:
        self.work = work
        self.rng = random.Random(seed)
        self.counts = Counts()
        self.template = work / "template"
        self.recordings = work / "recordings"
        self.episodes: list[str] = []
        self._prepare()

    # --- set-up ------------------------------------------------------------------------------

    def _prepare(self) -> None:
        from robotrace_desktop.catalog.backups import take_backup
        from robotrace_desktop.catalog.store import Catalog
        from robotrace_desktop.library.scanner import scan
        from tests.catalog_files import read_only

        many_recordings(self.recordings, 3)
        self.template.mkdir(parents=True)
        with Catalog(self.template / "catalog.sqlite") as catalog:
            scan(catalog, [self.recordings])
            self.episodes = sorted(e.id for e in catalog.list_episodes())
            with read_only(catalog.path) as conn:
                take_backup(conn, catalog.path)

    def _fresh(self, folder: Path) -> Path:
        shutil.copytree(self.template, folder)
        return folder / "catalog.sqlite"

    # --- one round ---------------------------------------------------------------------------

    def round(self, kind: str) -> None:
        self.counts.tried += 1
        self.counts.by_kind[kind] = self.counts.by_kind.get(kind, 0) + 1
        number = self.counts.tried
        if kind == "enospc":
            with small_disk(self.work / f"disk{number}") as disk:
                if disk is None:  # cannot mount here: count it as not tried
                    self.counts.tried -= 1
                    self.counts.by_kind[kind] -= 1
                    return
                self._round(kind, disk / "round", number)
            return
        self._round(kind, self.work / f"round{number}", number)

    def _round(self, kind: str, folder: Path, number: int) -> None:
        catalog = self._fresh(folder)
        saved = Saved()
        if kind == "enospc":
            fill(folder, leave=self.rng.randrange(0, 640 * 1024))
            self._write(catalog, saved, f"r{number}", kill_after=None, limit=400)
            for filler in folder.glob("filler*"):
                filler.unlink()
        elif kind == "wal":
            self._write(catalog, saved, f"r{number}", kill_after=self.rng.uniform(0.4, 1.5),
                        during=lambda: Path(f"{catalog}-wal").unlink(missing_ok=True))  # fmt: skip
        else:
            self._write(catalog, saved, f"r{number}", kill_after=self.rng.uniform(0.2, 1.5))
            if kind == "truncate":
                size = catalog.stat().st_size
                os.truncate(catalog, self.rng.randrange(0, size))
            elif kind == "overwrite":
                size = catalog.stat().st_size
                with open(catalog, "r+b") as handle:
                    handle.seek(self.rng.randrange(0, max(1, size - 4096)))
                    handle.write(os.urandom(4096))
            elif kind == "killed-recovery":  # damage, then a restore/rebuild killed midway
                size = catalog.stat().st_size
                with open(catalog, "r+b") as handle:
                    handle.seek(self.rng.randrange(0, max(1, size - 4096)))
                    handle.write(os.urandom(4096))
                action = self.rng.choice(("restore", "rebuild"))
                process = _python("-m", "robotrace_desktop", "--catalog", str(catalog),
                                  "catalog", action)  # fmt: skip
                time.sleep(self.rng.uniform(0.3, 2.5))
                process.kill()
                process.communicate()
            elif kind == "no-backup":  # the catalog overwritten and every backup gone: rebuild
                size = catalog.stat().st_size
                with open(catalog, "r+b") as handle:
                    handle.seek(self.rng.randrange(0, max(1, size // 4)))
                    handle.write(os.urandom(4096))
                shutil.rmtree(folder / "backups")
            elif kind == "delete":
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{catalog}{suffix}").unlink(missing_ok=True)
        self.counts.saved += len(saved)
        self._recover(kind, catalog, saved)
        debris = [p.name for p in catalog.parent.glob(".catalog.sqlite.*")]
        if debris:  # a recovery's temporary file left behind after it finished
            self.counts.problems.append(f"{kind}: left behind {debris}")

    def _write(
        self,
        catalog: Path,
        saved: Saved,
        prefix: str,
        *,
        kill_after: float | None,
        limit: int = 1_000_000,
        during: Callable[[], None] | None = None,
    ) -> None:
        writer = _python("-c", WRITER, str(catalog), prefix, str(limit), *self.episodes)
        assert writer.stdout is not None and writer.stderr is not None
        lines: list[str] = [writer.stdout.readline()]
        if kill_after is not None:
            if during is not None:
                # the fault strikes once the writer has saved a few rows, not at a wall-clock
                # moment a busy machine may reach before the writer wrote anything
                _read_saved(writer.stdout, lines, count=5)
                during()
                time.sleep(kill_after / 2)
            else:
                time.sleep(kill_after)
            writer.kill()
        try:
            out, err = writer.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self._hang("writer", writer)
            out, err = writer.communicate()
        lines += out.splitlines()
        self._scan_stderr("writer", err)
        for line in lines:
            try:
                item = json.loads(line)
            except ValueError:
                continue  # a line the kill cut short was never complete, so never "saved"
            if "bookmark" in item:
                mark_id, episode, t_ns, note = item["bookmark"]
                saved.bookmarks[int(mark_id)] = (episode, int(t_ns), note)
            elif "tag" in item:
                saved.tags.add(tuple(item["tag"]))
            elif "refused" in item:
                self.counts.refused += 1
                self._scan_stderr("refusal", item["refused"])
                if not item["refused"].startswith("disk full: "):
                    self.counts.problems.append(f"unclear refusal: {item['refused']}")

    # --- what the user then does ----------------------------------------------------------

    def _recover(self, kind: str, catalog: Path, saved: Saved) -> None:
        self._cli(catalog, "list")
        missing = self._missing(catalog, saved)
        if missing == 0:
            self.counts.survived += 1
            self.counts.outcome(kind, "survived")
            return
        for action in (("catalog", "restore"), ("catalog", "rebuild")):
            self._cli(catalog, *action)
            missing = self._missing(catalog, saved)
            if missing == 0:
                self.counts.recovered += 1
                self.counts.outcome(kind, f"recovered by {action[1]}")
                return
        self.counts.outcome(kind, "lost data")
        self.counts.lost += missing
        self.counts.problems.append(f"{kind}: {missing} item(s) lost in {catalog}")

    def _missing(self, catalog: Path, saved: Saved) -> int:
        """Items reported saved that the catalog lacks (all of them when it cannot be read or
        fails its integrity check)."""
        try:
            conn = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True, timeout=30)
            try:
                if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                    return len(saved) or 1
                marks = {
                    int(r[0]): (r[1], int(r[2]), r[3])
                    for r in conn.execute("SELECT id, episode_id, t_ns, note FROM bookmarks")
                }
                tags = {(r[0], r[1]) for r in conn.execute("SELECT episode_id, tag FROM tags")}
            finally:
                conn.close()
        except sqlite3.Error:
            return len(saved) or 1
        lost = sum(1 for k, v in saved.bookmarks.items() if marks.get(k) != v)
        return lost + len(saved.tags - tags)

    def _cli(self, catalog: Path, *args: str) -> int:
        process = _python("-m", "robotrace_desktop", "--catalog", str(catalog), *args)
        try:
            _, err = process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self._hang(" ".join(args), process)
            return -1
        self._scan_stderr(" ".join(args), err)
        return process.returncode

    def _scan_stderr(self, what: str, err: str) -> None:
        if "Traceback" in err or "internal error" in err:
            self.counts.tracebacks += 1
            self.counts.problems.append(f"{what}: {err.strip()[-400:]}")

    def _hang(self, what: str, process: subprocess.Popen[str]) -> None:
        process.kill()
        self.counts.hangs += 1
        self.counts.problems.append(f"{what}: no answer in {TIMEOUT:.0f} s")


def run(work: Path, rounds: int, seed: int = 1, kinds: tuple[str, ...] = KINDS) -> Counts:
    """``rounds`` rounds cycling through ``kinds``."""
    engine = Engine(work, seed)
    for number in range(rounds):
        engine.round(kinds[number % len(kinds)])
    return engine.counts


@contextmanager
def small_disk(mount: Path, size: str = "3m") -> Iterator[Path | None]:
    """A tmpfs of ``size`` at ``mount`` (None when this machine does not allow mounting)."""
    mount.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        yield None
        return
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def fill(folder: Path, leave: int) -> None:
    """Fill the drive under ``folder`` until only ``leave`` bytes are free."""
    free = shutil.disk_usage(folder).free
    with open(folder / "filler", "wb") as handle:
        remaining = max(0, free - leave)
        block = b"\0" * (1 << 16)
        try:
            while remaining > 0:
                remaining -= handle.write(block[: min(len(block), remaining)])
        except OSError:
            pass


def _python(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )


def _read_saved(stream: IO[str], lines: list[str], *, count: int) -> None:
    """Read the writer's lines into ``lines`` until ``count`` of them report a saved row (or
    the writer stops)."""
    saved = 0
    while saved < count:
        line = stream.readline()
        if not line:
            return
        lines.append(line)
        saved += '"bookmark"' in line or '"tag"' in line
