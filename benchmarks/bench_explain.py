"""Explain speed: all analyzers on a generated 60 s episode with 30 channels at 500 Hz, and
``robotrace-desktop explain --all`` over a 1,000-episode catalog using both cores.

    python benchmarks/bench_explain.py [--runs 5] [--episodes 1000] [--skip-all]
    python benchmarks/bench_explain.py --speed [--runs 3] [--big 10000]

Part 1 writes a bundle (parquet signals: /joint_states position/velocity/effort × 7 joints,
/action joint_position × 7 + gripper, /battery voltage = 30 channels at 500 Hz, plus a log) and
reports the median of ``--runs`` runs of: (a) opening it and reading every signal — the
baseline, (b) opening it and explaining it (reads + every analyzer), (c) the analyzers alone on
the already-loaded episode. Target (issue 4): the analyzers ≤ 0.5 s.

``--speed`` (issue 13's speed targets) prints medians of ``--runs`` CLI runs, each with its ratio
to a floor measured in the same run — reading the same signals alone, in one process:
``explain --all --force --workers 2`` of the real 100-episode G1 dataset (and
``lerobot-doctor check`` of it when ``LEROBOT_DOCTOR`` names its executable), ``explain`` of one
stored episode (findings reused) in a new CLI process and in a process that has the CLI loaded
(floors: ``--version`` and the interpreter importing the CLI module), a cold ``explain --force``
of the underwater robot's MCAP bag, and with ``--big N`` ``explain --all`` of N generated
episodes. Child processes cache their bytecode (in the run's temporary folder, as an installed
package has its ``.pyc`` files) even when ``PYTHONDONTWRITEBYTECODE`` is set; ``--no-bytecode``
makes every process compile every module it imports, as that setting does.

Part 2 generates a LeRobot v2.1 dataset (benchmarks/gen_lerobot.py), scans it with
``--no-explain`` and times ``explain --all``: wall time and CPU utilisation = (user + sys CPU
time of the child processes) / wall time; ≈ 2 means both cores were busy.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from robotrace_desktop.analysis.data import EpisodeData  # noqa: E402
from robotrace_desktop.analysis.explain import explain, explain_source  # noqa: E402
from robotrace_desktop.analysis.registry import analyzers  # noqa: E402
from robotrace_desktop.bundle.events import write_events_jsonl  # noqa: E402
from robotrace_desktop.bundle.manifest import (  # noqa: E402
    BundleManifest,
    EventEntry,
    SignalEntry,
    write_manifest,
)
from robotrace_desktop.bundle.tables import SignalData, write_parquet  # noqa: E402
from robotrace_desktop.core.episode import LogEvent  # noqa: E402
from robotrace_desktop.readers.bundle.reader import BundleReader  # noqa: E402
from tests.analysis.faults import Base, MemorySource, context_for  # noqa: E402

NS = 1_000_000_000
HZ = 500
SECONDS = 60
JOINTS = [f"joint_{i}" for i in range(1, 8)]


def write_big_bundle(dest: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    t_ns = np.arange(SECONDS * HZ, dtype=np.int64) * (NS // HZ)
    t = t_ns / NS
    phase = rng.uniform(0, 2 * np.pi, 7)
    q = 0.8 * np.sin(2 * np.pi * 0.1 * t[:, None] + phase) + rng.normal(0, 1e-3, (len(t), 7))
    dq = np.gradient(q, t, axis=0)
    tau = 10 * np.cos(q) + rng.normal(0, 0.1, q.shape)
    cmd = 0.8 * np.sin(2 * np.pi * 0.1 * (t[:, None] + 0.02) + phase)
    grip = ((t % 20) > 10).astype(float)
    volts = 24.0 - 0.01 * t + rng.normal(0, 0.02, len(t))
    write_parquet(
        dest / "signals/joint_states.parquet",
        SignalData(
            t_ns,
            {"position": q, "velocity": dq, "effort": tau},
            {"position": JOINTS, "velocity": JOINTS, "effort": JOINTS},
        ),
    )
    write_parquet(
        dest / "signals/action.parquet",
        SignalData(t_ns, {"joint_position": cmd, "gripper": grip}, {"joint_position": JOINTS}),
    )
    write_parquet(dest / "signals/battery.parquet", SignalData(t_ns, {"voltage": volts}))
    write_events_jsonl(dest / "events/log.jsonl", [LogEvent(0, "INFO", "start", "runner")])
    write_manifest(
        dest,
        BundleManifest(
            name="bench-explain-60s",
            id="bench0000explain",
            duration_ns=SECONDS * NS,
            signals=[
                SignalEntry(
                    "/joint_states", "signals/joint_states.parquet", "parquet", role="sensor"
                ),
                SignalEntry("/action", "signals/action.parquet", "parquet", role="action"),
                SignalEntry("/battery", "signals/battery.parquet", "parquet"),
            ],
            events=[EventEntry("/log", "events/log.jsonl")],
        ),
    )
    return dest


def bench_one(runs: int) -> None:
    analyzers()
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_big_bundle(Path(tmp) / "bundle")
        reader = BundleReader()
        info = next(iter(reader.index(folder)))
        channels = sum(len(s.channels) for s in info.streams if s.kind.value == "signal")
        samples = sum(s.count * len(s.channels) for s in info.streams if s.kind.value == "signal")
        print(
            f"episode: {info.duration_ns / NS:.0f} s, {channels} channels, "
            f"{samples / 1e6:.1f} M samples at {HZ} Hz"
        )

        def read_all() -> None:
            with reader.open(folder, None) as source:
                for s in info.streams:
                    if s.kind.value == "signal":
                        source.read_signal(s.name)

        def read_and_explain() -> None:
            with reader.open(folder, None) as source:
                explain_source(info, source)

        memory = MemorySource.load(info, reader.open(folder, None))
        ctx = context_for(Base("bench", "bench", memory), None)

        def analyzers_only() -> None:
            data = EpisodeData(info, memory)
            for s in info.streams:  # pre-load, so only analysis is timed
                if s.kind.value == "signal":
                    data.signal(s.name)
            start = time.perf_counter()
            explain(data, ctx)
            timings.append(time.perf_counter() - start)

        base = median_time(read_all, runs)
        full = median_time(read_and_explain, runs)
        timings: list[float] = []
        for _ in range(runs):
            analyzers_only()
        pure = statistics.median(timings)
        print(f"  read every signal (baseline) : {base * 1e3:7.1f} ms")
        print(
            f"  open + read + explain        : {full * 1e3:7.1f} ms  ({full / base:.1f}× baseline)"
        )
        print(f"  analyzers alone (loaded data): {pure * 1e3:7.1f} ms  (target <= 500 ms)")
        per = per_analyzer(info, memory, ctx)
        print("  per analyzer: " + ", ".join(f"{n} {ms:.0f} ms" for n, ms in per))


def per_analyzer(info, memory, ctx) -> list[tuple[str, float]]:
    data = EpisodeData(info, memory)
    data.signals()
    data.events()
    out = []
    for name, analyze in analyzers():
        start = time.perf_counter()
        try:
            analyze(data, ctx)
        except Exception as exc:  # a broken analyzer is reported, not fatal here
            print(f"  analyzer {name} failed: {exc!r}")
        out.append((name, (time.perf_counter() - start) * 1e3))
    return sorted(out, key=lambda x: -x[1])


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli(*args: str, env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess]:
    return python("-m", "robotrace_desktop", *args, env=env)


def python(*args: str, env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess]:
    before = children_cpu()
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    return wall, children_cpu() - before, done


def bench_all(episodes: int) -> None:
    if not (ROOT / "robotrace_desktop/commands/explain_cmd.py").is_file():
        print("skipped: explain --all not present")
        return
    with tempfile.TemporaryDirectory() as tmp:
        dataset = Path(tmp) / "dataset"
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "benchmarks/gen_lerobot.py"),
                "--episodes",
                str(episodes),
                "--version",
                "v2.1",
                str(dataset),
            ],
            check=True,
            capture_output=True,
        )
        env = {**os.environ, "ROBOTRACE_HOME": str(Path(tmp) / "home")}
        scan_help = cli("scan", "--help", env=env)[2].stdout
        scan_args = ["scan", str(dataset)] + (
            ["--no-explain"] if "--no-explain" in scan_help else []
        )
        wall, cpu, done = cli(*scan_args, env=env)
        print(f"scan {' '.join(scan_args[2:])}: {wall:.1f} s (rc {done.returncode})")
        wall, cpu, done = cli("explain", "--all", env=env)
        if done.returncode != 0:
            print(f"explain --all failed (rc {done.returncode}): {done.stderr[-600:]}")
            return
        print(
            f"explain --all over {episodes} episodes: wall {wall:.1f} s, "
            f"{episodes / wall:.0f} episodes/s, CPU (user+sys of children) {cpu:.1f} s, "
            f"utilisation {cpu / wall:.2f} cores of {os.cpu_count()}"
        )
        tail = (done.stdout or done.stderr).strip().splitlines()[-2:]
        print("  output tail: " + " | ".join(tail))


def read_signals_floor(catalog: Path, ids: list[str]) -> float:
    """Seconds to open every episode and read all its signal and event streams once (the
    one-pass read Explain does), in this process: the floor Explain's figures are set against."""
    from robotrace_desktop.catalog.store import Catalog
    from robotrace_desktop.core.episode import StreamKind
    from robotrace_desktop.episodes import ResolvedEpisode

    start = time.perf_counter()
    with Catalog(catalog) as c:
        for episode in ids:
            info = c.get(episode)
            with ResolvedEpisode(info, True).open() as source:
                signals = [s.name for s in info.streams_of(StreamKind.SIGNAL) if s.count]
                source.read_streams(
                    [s for s in signals if info.stream(s).channels],
                    [s.name for s in info.streams_of(StreamKind.EVENT)],
                )
    return time.perf_counter() - start


def _ids(catalog: Path) -> list[str]:
    from robotrace_desktop.catalog.findings import explainable_ids
    from robotrace_desktop.catalog.store import Catalog

    with Catalog(catalog) as c:
        return explainable_ids(c)


def _median_cli(runs: int, *args: str, env: dict[str, str], raw: bool = False) -> float:
    """Median wall time of ``runs`` CLI runs (``raw``: ``python ARGS``); also remembers their
    median CPU time (user + sys of the process and its workers), steadier than wall time on a
    shared, loaded machine."""
    times, cpus = [], []
    for _ in range(runs):
        wall, cpu, done = (python if raw else cli)(*args, env=env)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed: {done.stderr[-600:]}")
        times.append(wall)
        cpus.append(cpu)
    _LAST_CPU[0] = statistics.median(cpus)
    return statistics.median(times)


_LAST_CPU = [0.0]


def _line(what: str, value: float, floor: float, target: str) -> None:
    print(
        f"  {what:<50} {value:7.3f} s  ({value / floor:5.1f}× floor {floor:.3f} s)  "
        f"CPU {_LAST_CPU[0]:6.2f} s  {target}"
    )


def _child_env(tmp: Path, bytecode: bool) -> dict[str, str]:
    env = dict(os.environ)
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def stored_in_process(catalog_home: Path, episode: str, runs: int) -> float:
    """Median seconds of ``explain EPISODE`` (stored findings) through ``cli.main`` in this
    process, once the CLI is loaded: what a long-lived caller (the viewer, a service) pays."""
    import contextlib
    import io

    from robotrace_desktop import cli as cli_module

    saved = os.environ.get("ROBOTRACE_HOME")
    os.environ["ROBOTRACE_HOME"] = str(catalog_home)
    times = []
    try:
        for _ in range(runs + 1):  # the first run loads the command's modules
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                cli_module.main(["explain", episode])
            times.append(time.perf_counter() - start)
    finally:
        if saved is None:
            os.environ.pop("ROBOTRACE_HOME", None)
        else:
            os.environ["ROBOTRACE_HOME"] = saved
    return statistics.median(times[1:])


def bench_speed(runs: int, big: int, bytecode: bool = True) -> None:
    data = Path(os.environ.get("ROBOTRACE_TEST_DATA", ROOT.parent / "shared" / "data"))
    g1 = data / "lerobot" / "g1_pick_bottle_v21"
    bag = data / "rosbag2" / "cougars_auv" / "SO_lastbag_mcap"
    with tempfile.TemporaryDirectory() as tmp:
        base = _child_env(Path(tmp), bytecode)
        print(
            "child processes: "
            + ("bytecode cached (as installed)" if bytecode else "no bytecode cache (compile all)")
        )
        env = {**base, "ROBOTRACE_HOME": str(Path(tmp) / "g1")}
        cli("scan", "--no-explain", str(g1), env=env)
        catalog = Path(tmp) / "g1" / "catalog.sqlite"
        ids = _ids(catalog)
        floor = statistics.median(read_signals_floor(catalog, ids) for _ in range(runs))
        print(f"G1 v2.1, {len(ids)} episodes (floor: reading their signals, one process):")
        wall = _median_cli(runs, "explain", "--all", "--force", "--workers", "2", env=env)
        _line("explain --all --force --workers 2", wall, floor, "target <= 1.5 s")
        doctor = os.environ.get("LEROBOT_DOCTOR")
        if doctor:
            times = []
            cpus = []
            for _ in range(runs):
                before = children_cpu()
                start = time.perf_counter()
                subprocess.run([doctor, "check", str(g1)], capture_output=True, check=False)
                times.append(time.perf_counter() - start)
                cpus.append(children_cpu() - before)
            peer = statistics.median(times)
            _LAST_CPU[0] = statistics.median(cpus)
            _line("lerobot-doctor check", peer, floor, f"ours / doctor = {wall / peer:.2f}")
        start = _median_cli(runs * 3, "--version", env=env)
        imports = _median_cli(runs * 3, "-c", "import robotrace_desktop.cli", env=env, raw=True)
        print(f"  floor: python importing the CLI module {imports:.3f} s, CPU {_LAST_CPU[0]:.2f} s")
        one = _median_cli(runs * 3, "explain", ids[0], env=env)
        _line("explain EPISODE, stored (CLI process)", one, start, "target <= 0.1 s")
        print("    (floor here: `robotrace-desktop --version`, interpreter + CLI start-up)")
        inside = stored_in_process(Path(tmp) / "g1", ids[0], runs * 3)
        print(
            f"  {'explain EPISODE, stored (in a process, CLI loaded)':<50} {inside:7.3f} s  "
            f"({one / max(inside, 1e-9):5.1f}× less than a new process)  target <= 0.1 s"
        )
        env = {**base, "ROBOTRACE_HOME": str(Path(tmp) / "bag")}
        cli("scan", "--no-explain", str(bag), env=env)
        catalog = Path(tmp) / "bag" / "catalog.sqlite"
        bag_ids = _ids(catalog)
        floor = statistics.median(read_signals_floor(catalog, bag_ids) for _ in range(runs))
        cold = _median_cli(runs, "explain", "--force", str(bag), env=env)
        print("cougars_auv SO_lastbag_mcap (3.8 MB MCAP, 33 topics):")
        _line("explain --force BAG (a new process each run)", cold, floor, "target <= 0.5 s")
        bench_stored_ranges(Path(tmp), runs, base)
        if big:
            bench_big(big, Path(tmp), runs, base)


def bench_stored_ranges(tmp: Path, runs: int, base: dict[str, str], peers: int = 50) -> None:
    """A new episode among ``peers`` bags of the same folder: ``explain --force`` of it in a new
    process with the peers' channel ranges stored in the catalog (as any earlier Explain leaves
    them) against the same with that table emptied (every peer's recording read), interleaved."""
    import sqlite3

    folder = tmp / "peers"
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/gen_rosbag.py"), "many", "--n", str(peers + 1),
         str(folder)],
        check=True, capture_output=True,
    )  # fmt: skip
    env = {**base, "ROBOTRACE_HOME": str(tmp / "peers_home")}
    cli("scan", str(folder), env=env)  # with Explain: every episode leaves its ranges
    catalog = tmp / "peers_home" / "catalog.sqlite"
    ids = _ids(catalog)
    with sqlite3.connect(catalog) as conn:
        kept = conn.execute("SELECT * FROM channel_ranges").fetchall()
    marks = ", ".join("?" * len(kept[0])) if kept else ""
    walls: dict[bool, list[float]] = {True: [], False: []}
    cpus: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(runs):
        for table in (True, False):
            with sqlite3.connect(catalog) as conn:
                conn.execute("DELETE FROM channel_ranges")
                if table:
                    conn.executemany(f"INSERT INTO channel_ranges VALUES ({marks})", kept)
            walls[table].append(_median_cli(1, "explain", "--force", ids[-1], env=env))
            cpus[table].append(_LAST_CPU[0])
    print(f"a new episode among {peers} bags of its folder ({len(kept)} stored stream ranges):")
    _LAST_CPU[0] = statistics.median(cpus[True])
    _line("explain --force EPISODE, peers' ranges stored", statistics.median(walls[True]),
          statistics.median(walls[False]), "")  # fmt: skip
    print(
        "    (floor here: the same with no ranges stored, every peer's recording read: "
        f"CPU {statistics.median(cpus[False]):.2f} s)"
    )


def bench_big(episodes: int, tmp: Path, runs: int, base: dict[str, str]) -> None:
    dataset = tmp / "big"
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/gen_lerobot.py"), "--episodes", str(episodes),
         "--version", "v2.1", str(dataset)],
        check=True, capture_output=True,
    )  # fmt: skip
    env = {**base, "ROBOTRACE_HOME": str(tmp / "big_home")}
    cli("scan", "--no-explain", str(dataset), env=env)
    catalog = tmp / "big_home" / "catalog.sqlite"
    ids = _ids(catalog)
    floor = read_signals_floor(catalog, ids)
    wall = _median_cli(1, "explain", "--all", "--workers", "2", env=env)
    print(f"generated LeRobot v2.1, {len(ids)} episodes:")
    _line("explain --all --workers 2 (first run)", wall, floor, "target <= 120 s")
    again = _median_cli(runs, "explain", "--all", "--workers", "2", env=env)
    _line("explain --all again (all findings reused)", again, floor, "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--skip-all", action="store_true", help="only the 60 s episode")
    parser.add_argument("--speed", action="store_true", help="issue 13's speed figures only")
    parser.add_argument("--big", type=int, default=0, help="with --speed: N generated episodes")
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="with --speed: child processes compile every module (no .pyc cache)",
    )
    args = parser.parse_args()
    if args.speed:
        bench_speed(args.runs, args.big, bytecode=not args.no_bytecode)
        return 0
    print(f"analyzers: {', '.join(n for n, _ in analyzers())}")
    bench_one(args.runs)
    if not args.skip_all:
        bench_all(args.episodes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
