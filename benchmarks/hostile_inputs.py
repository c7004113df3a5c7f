"""Fault injection against the command line (issue 14): hostile metadata, hostile times,
hostile text, a full disk, a normal user on unreadable files, kill -9 with Explain workers and
during an import. Prints one line per check and the totals:

    tried / survived / tracebacks / hangs

A check *survives* when the command finished within the hang limit, printed no traceback and
no "internal error", exited 0, 1 or 2, wrote no raw ESC/NUL/BEL byte to the terminal, and met
its own expectation (the problem text, the usage error, "disk full", "permission denied", no
worker left alive, no temp folder left). Nothing here asserts; run it as

    python benchmarks/hostile_inputs.py [--kill-rounds 10] [--hang-s 120]

Root is needed for the tmpfs (full disk) and setpriv (normal user) parts; without it those are
skipped and say so.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.hostile.cli_run import Run, run_cli
from tests.hostile.full_disk import can_mount, fill, small_tmpfs
from tests.hostile.hostile_data import (
    EVENT_STREAM,
    RAW_CONTROL_BYTES,
    TERMINAL_ATTACK,
    hostile_bundle,
    hostile_info_json,
)
from tests.hostile.procs import alive, children_of
from tests.readers.lerobot_fixtures import EpisodeSpec, write_v2, write_v3

SHARED = Path(
    os.environ.get("ROBOTRACE_TEST_DATA", Path(__file__).resolve().parents[2] / "shared/data")
)
Expect = Callable[[Run], bool]


@dataclass
class Tally:
    hang_s: float
    tried: int = 0
    survived: int = 0
    tracebacks: int = 0
    hangs: int = 0
    failures: list[str] = field(default_factory=list)

    def check(self, label: str, run: Run, expect: Expect | None = None) -> bool:
        self.tried += 1
        traceback = b"Traceback" in run.err or b"internal error" in run.err
        traceback |= b"--- Logging error ---" in run.err
        unsafe = any(raw in run.out or raw in run.err for raw in RAW_CONTROL_BYTES)
        hang = run.code is None
        self.tracebacks += traceback
        self.hangs += hang
        ok = not (traceback or hang or unsafe) and run.code in (0, 1, 2)
        ok = ok and (expect is None or expect(run))
        self.survived += ok
        if not ok:
            first = run.text.strip().splitlines()[-1:] or [""]
            self.failures.append(f"{label}: exit {run.code}, {first[0][:160]!r}")
        print(f"  {'ok  ' if ok else 'FAIL'} {label}")
        return ok

    def outcome(self, label: str, ok: bool) -> None:
        """A check that is not one command (workers alive, folders left)."""
        self.tried += 1
        self.survived += ok
        if not ok:
            self.failures.append(label)
        print(f"  {'ok  ' if ok else 'FAIL'} {label}")

    def run(self, label: str, *args: str, home: Path, expect: Expect | None = None) -> Run:
        run = run_cli(*args, home=home, timeout=self.hang_s)
        self.check(label, run, expect)
        return run


def says(*parts: str) -> Expect:
    return lambda run: all(p in run.text for p in parts)


def hostile_metadata(tally: Tally, work: Path) -> None:
    print("hostile LeRobot metadata (claims bounded by the files on disk)")
    claims: list[tuple[str, dict[str, object], str]] = [
        ("total_episodes 1e12", {"total_episodes": 1e12}, "claims 1000000000000 episodes"),
        ("total_episodes 1e6", {"total_episodes": 10**6}, "claims 1000000 episodes"),
        ("total_episodes -5", {"total_episodes": -5}, "claims -5 episodes"),
        ("chunks_size 0", {"chunks_size": 0}, "chunks_size 0 is not a positive integer"),
        ("chunks_size 'x'", {"chunks_size": "x"}, "chunks_size 'x' is not a positive integer"),
        ("total_frames 1e15", {"total_frames": 1e15}, "ready"),
        ("fps 1e-9", {"fps": 1e-9}, "invalid fps"),
        ("fps 1e9", {"fps": 1e9}, "invalid fps"),
    ]
    for version in ("v2.1", "v3.0"):
        for label, change, text in claims:
            folder = work / f"meta-{version}-{label.replace(' ', '_')}"
            if version == "v2.1":
                root = write_v2(folder, version, cameras=())
                (root / "meta/episodes.jsonl").unlink()
            else:
                root = write_v3(folder, cameras=())
            hostile_info_json(root, **change)
            home = work / f"home-{folder.name}"
            tally.run(f"{version} {label}: scan", "scan", str(root), "--no-explain", home=home)
            tally.run(f"{version} {label}: show", "show", f"{root}#0", home=home, expect=says(text))
            tally.run(
                f"{version} {label}: export",
                "export",
                f"{root}#0",
                "-o",
                str(folder / "t.csv"),
                home=home,
            )
            tally.run(f"{version} {label}: explain", "explain", f"{root}#0", home=home)
            if label == "total_episodes 1e12":  # the viewer opens it too (offscreen)
                shot = str(folder / "shot.png")
                tally.run(
                    f"{version} {label}: open",
                    "open",
                    f"{root}#0",
                    "--screenshot",
                    shot,
                    home=home,
                    expect=lambda run: run.code == 0,
                )
    root = write_v2(work / "meta-shape", "v2.1", cameras=())
    info = json.loads((root / "meta/info.json").read_text())
    info["features"]["action"]["shape"] = [10**12]
    (root / "meta/info.json").write_text(json.dumps(info))
    home = work / "home-shape"
    tally.run(
        "feature shape [1e12]: show",
        "show",
        f"{root}#0",
        home=home,
        expect=says("values per frame"),
    )
    root = write_v2(work / "meta-length", "v2.1", cameras=())
    lines = (root / "meta/episodes.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["length"] = 10**12
    (root / "meta/episodes.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    home = work / "home-length"
    tally.run("episode length 1e12: show", "show", f"{root}#0", home=home)
    tally.run(
        "episode length 1e12: export", "export", f"{root}#0", "-o", str(root / "t.csv"), home=home
    )
    tally.run(
        "episode length 1e12: export --grid 10ms",
        "export",
        f"{root}#0",
        "--grid",
        "10ms",
        "-o",
        str(root / "g.csv"),
        home=home,  # the implausible duration is shown as 0 with a problem: one row
    )
    tally.run("episode length 1e12: explain", "explain", f"{root}#0", home=home)


def hostile_times(tally: Tally, work: Path) -> None:
    print("hostile TIME and grid arguments (usage errors, exit 2)")
    bag = str(SHARED / "rosbag2/talker_mcap")
    home = work / "home-times"
    cases = [
        ("--grid 1ns", ["--grid", "1ns"], "would make"),
        ("--grid=-5ms", ["--grid=-5ms"], "longer than zero"),
        ("--grid 0", ["--grid", "0"], "longer than zero"),
        ("--start 1e23ms", ["--start", "99999999999999999999999ms"], "outside the episode"),
        ("--end 100s", ["--end", "100s"], "outside the episode"),
        ("--grid 1e30s", ["--grid", "1" + "0" * 30 + "s"], "out of range"),
    ]
    for label, flags, text in cases:
        tally.run(
            f"export {label}",
            "export",
            bag,
            *flags,
            "-o",
            str(work / "t.csv"),
            home=home,
            expect=lambda run, text=text: run.code == 2 and text in run.text,
        )
    for label, args in (
        ("frame --t 1e30s", ["frame", bag, "--t", "1" + "0" * 30 + "s", "-o", str(work / "f.png")]),
        ("bookmark --t 1e23ms", ["bookmark", "add", bag, "--t", "9" * 23 + "ms"]),
        (
            "open --t 1e30s",
            ["open", bag, "--t", "1" + "0" * 30 + "s", "--screenshot", str(work / "s.png")],
        ),
        ("link ?t=1e30ms", ["show", "robotrace://episode/abc?t=" + "9" * 30 + "ms"]),
    ):
        tally.run(label, *args, home=home, expect=lambda run: run.code in (1, 2))
    tally.run(
        "export --start -1s (clamps to the start)",
        "export",
        bag,
        "--start",
        "-1s",
        "-o",
        str(work / "c.csv"),
        home=home,
        expect=lambda run: run.code == 0,
    )


def hostile_text(tally: Tally, work: Path) -> None:
    print("hostile text (no raw control bytes on the terminal, formulas neutralised)")
    bundle = hostile_bundle(work / "text-bundle")
    home = work / "home-text"
    target = str(bundle)
    tally.run("scan", "scan", target, home=home)
    for label, args in (
        ("list", ["list"]),
        ("list --json", ["list", "--json"]),
        ("show", ["show", target]),
        ("show --json", ["show", target, "--json"]),
        ("explain", ["explain", target]),
        ("explain --json", ["explain", target, "--json"]),
        ("bookmark add", ["bookmark", "add", target, "--t", "1s", "--note", TERMINAL_ATTACK[:-2]]),
        ("bookmark list", ["bookmark", "list"]),
        ("tag", ["tag", target, "--tag", "hostile"]),
        ("verify", ["verify", "--baseline", "tag:hostile", "--candidate", "tag:hostile"]),
    ):
        tally.run(label, *args, home=home)
    csv_path = work / "text.csv"
    tally.run(
        "export csv (signals)",
        "export",
        target,
        "--format",
        "csv",
        "-o",
        str(csv_path),
        home=home,
        expect=lambda run: "'=cmd" in csv_path.read_text(),
    )
    log_path = work / "log.csv"
    tally.run(
        "export csv (log lines)",
        "export",
        target,
        "--streams",
        EVENT_STREAM,
        "-o",
        str(log_path),
        home=home,
        expect=lambda run: (
            "'=HYPERLINK" in log_path.read_text() and "\n=" not in log_path.read_text()
        ),
    )


def full_disk(tally: Tally, work: Path) -> None:
    print("full disk (a 4 MiB tmpfs)")
    if not can_mount():
        print("  skipped: needs root to mount a tmpfs")
        return
    dataset = write_v2(
        work / "full-ds", "v2.1", episodes=[EpisodeSpec(30, 0, True)] * 8, cameras=()
    )
    for leave in (0, 100, 300, 600):
        with small_tmpfs(work / f"disk{leave}", size="4m") as disk:
            home = disk / "home"
            run_cli("scan", str(SHARED / "rosbag2/talker_mcap"), "--no-explain", home=home)
            filler = fill(disk, leave)
            tally.run(
                f"scan, {leave} KiB free", "scan", str(SHARED / "ros1"), "--no-explain", home=home
            )
            tally.run(
                f"tag, {leave} KiB free",
                "tag",
                str(SHARED / "rosbag2/talker_mcap"),
                "--tag",
                "x",
                home=home,
            )
            tally.run(
                f"import --all, {leave} KiB free",
                "import",
                str(dataset),
                "--all",
                "--no-explain",
                home=home,
            )
            filler.unlink()
            rows = json.loads(run_cli("list", "--json", home=home).out or b"[]")
            names = {Path(r["path"]).name for r in rows}
            folder = home / "library/imported"
            bundles = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
            tally.outcome(f"no bundle outside the catalog, {leave} KiB free", bundles <= names)


def normal_user(tally: Tally, work: Path) -> None:
    print("a normal user (setpriv to nobody) on unreadable files and a read-only home")
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        print("  skipped: needs root and setpriv")
        return
    root = Path(tempfile.mkdtemp(prefix="robotrace-perm-", dir="/tmp"))
    try:
        root.chmod(0o755)
        (root / "home").mkdir()
        (root / "home").chmod(0o777)
        shutil.copy(SHARED / "ros1/example.bag", root / "secret.bag")
        (root / "locked").mkdir()
        dataset = write_v2(root / "ds", "v2.1", cameras=())
        for path in root.rglob("*"):
            path.chmod(path.stat().st_mode | 0o755)
        (root / "secret.bag").chmod(0)
        (root / "locked").chmod(0)
        (dataset / "data/chunk-000/episode_000001.parquet").chmod(0)

        def as_nobody(label: str, *args: str, home: Path, expect: Expect) -> None:
            env = {**os.environ, "ROBOTRACE_HOME": str(home)}
            command = [*nobody, sys.executable, "-m", "robotrace_desktop", *args]
            try:
                done = subprocess.run(command, capture_output=True, env=env, timeout=tally.hang_s)
                run = Run(tuple(args), done.returncode, done.stdout, done.stderr)
            except subprocess.TimeoutExpired as exc:
                run = Run(tuple(args), None, exc.stdout or b"", exc.stderr or b"")
            tally.check(label, run, expect)

        home = root / "home"
        as_nobody(
            "scan unreadable files",
            "scan",
            str(root),
            "--no-explain",
            home=home,
            expect=says(
                "secret.bag: permission denied",
                "locked: permission denied",
                "permission denied: data/chunk-000/episode_000001.parquet",
            ),
        )
        as_nobody(
            "show unreadable parquet",
            "show",
            f"{dataset}#1",
            home=home,
            expect=says("permission denied: data/chunk-000/episode_000001.parquet"),
        )
        readonly = root / "readonly/rt"
        (root / "readonly").mkdir()
        (root / "readonly").chmod(0o755)
        as_nobody(
            "demo, home not writable",
            "demo",
            "--no-gui",
            home=readonly,
            expect=says("set ROBOTRACE_HOME"),
        )
        as_nobody(
            "show PATH, home not writable",
            "show",
            str(SHARED / "rosbag2/talker_mcap"),
            home=readonly,
            expect=lambda run: run.code == 0,
        )
    finally:
        (root / "locked").chmod(0o755)
        shutil.rmtree(root, ignore_errors=True)


def killed_workers(tally: Tally, work: Path, rounds: int) -> None:
    print(f"kill -9 of a scan with Explain workers ({rounds} rounds, 5 s grace)")
    dataset = write_v2(
        work / "kill-ds",
        "v2.1",
        episodes=[EpisodeSpec(40, i % 2, i % 3 > 0) for i in range(24)],
        cameras=(),
    )
    for i in range(rounds):
        env = {**os.environ, "ROBOTRACE_HOME": str(work / f"home-kill{i}")}
        scan = subprocess.Popen(
            [sys.executable, "-m", "robotrace_desktop", "scan", str(dataset)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        workers: set[int] = set()
        start = time.monotonic()
        while not workers and scan.poll() is None and time.monotonic() - start < tally.hang_s:
            workers = children_of(scan.pid)
            time.sleep(0.02)
        time.sleep(0.15 * i)
        workers |= children_of(scan.pid)
        scan.send_signal(signal.SIGKILL)
        scan.wait()
        deadline = time.monotonic() + 5
        while alive(workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = alive(workers)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        tally.outcome(
            f"round {i}: {len(workers)} worker(s), {len(left)} alive after 5 s",
            bool(workers) and not left,
        )


def killed_import(tally: Tally, work: Path, rounds: int) -> None:
    print(f"kill -9 during an import, then import again ({rounds} rounds)")
    source = SHARED / "lerobot/g1_pick_bottle_v21"
    if not source.is_dir():
        print("  skipped: no g1_pick_bottle_v21 in the shared data")
        return
    for i in range(rounds):
        home = work / f"home-import{i}"
        env = {**os.environ, "ROBOTRACE_HOME": str(home)}
        command = [
            sys.executable,
            "-m",
            "robotrace_desktop",
            "import",
            f"{source}#{i % 3}",
            "--no-explain",
        ]
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        imported = home / "library/imported"
        start = time.monotonic()
        while process.poll() is None and time.monotonic() - start < tally.hang_s:
            if imported.is_dir() and any(p.name.startswith(".") for p in imported.iterdir()):
                break
            time.sleep(0.01)
        time.sleep(0.05 * (i % 4))
        process.send_signal(signal.SIGKILL)
        process.wait()
        killed_left = _temp_folders(imported)
        tally.run(
            f"round {i}: import again",
            "import",
            f"{source}#{(i + 1) % 3}",
            "--no-explain",
            home=home,
        )
        left = _temp_folders(imported)
        label = f"round {i}: temp folders left by the kill {killed_left}, after the next import"
        tally.outcome(f"{label} {left}", not left)


def _temp_folders(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    return sum(".tmp-" in p.name or ".old-" in p.name for p in folder.iterdir())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kill-rounds", type=int, default=10)
    parser.add_argument("--hang-s", type=float, default=120.0, help="a command slower is a hang")
    parser.add_argument("--only", nargs="*", help="metadata times text disk user workers import")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    tally = Tally(args.hang_s)
    parts: dict[str, Callable[[Path], None]] = {
        "metadata": lambda w: hostile_metadata(tally, w),
        "times": lambda w: hostile_times(tally, w),
        "text": lambda w: hostile_text(tally, w),
        "disk": lambda w: full_disk(tally, w),
        "user": lambda w: normal_user(tally, w),
        "workers": lambda w: killed_workers(tally, w, args.kill_rounds),
        "import": lambda w: killed_import(tally, w, args.kill_rounds),
    }
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="robotrace-hostile-") as folder:
        for name, part in parts.items():
            if args.only and name not in args.only:
                continue
            work = Path(folder) / name
            work.mkdir()
            part(work)
    print()
    for failure in tally.failures:
        print(f"failed: {failure}")
    print(
        f"tried {tally.tried}, survived {tally.survived}, tracebacks {tally.tracebacks}, "
        f"hangs {tally.hangs}  ({time.monotonic() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
