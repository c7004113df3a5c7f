"""ROS bag reader figures: indexing throughput of 100 small rosbag2 bags, and time + peak RSS of
indexing (and of the CLI's ``show``) on big generated bags, to show both stay flat in file size.

    python benchmarks/bench_rosbag.py [--workdir benchmarks/_work] [--runs 3]
                                      [--sizes 0.25,1] [--storages mcap,sqlite3] [--n 100]

Inputs are generated once into the workdir by benchmarks/gen_rosbag.py and reused.
Every figure is the median of --runs runs. Baselines measured in the same run:
(a) rosbags' own rosbag2 Reader opening and closing each bag (no first messages, no decoding);
(b) a fresh ``python -c "import robotrace_desktop.readers.rosbag.source"`` (interpreter + imports).
Peak RSS is resource.getrusage(RUSAGE_CHILDREN).ru_maxrss measured by a fresh wrapper process
around each run. Targets: show <= 1 s, peak RSS <= 300 MB, flat in file size.

(c) --real BAG (issue 16, e.g. ../shared/data/rosbag2/cougars_auv/SO_lastbag_mcap): cold
``show BAG --json`` and ``scan BAG --no-explain`` (fresh process, fresh catalog each run) against,
in the same interleaved rounds, ``rerun BAG --save`` (--rerun, a rerun-sdk install of its own)
and the floor: a fresh python iterating every raw message with rosbags (no decoding).
--before DIR adds the same commands run with PYTHONPATH=DIR (e.g. ``git archive`` of main).
Target: show and scan <= 0.65x rerun.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rosbags.rosbag2 import Reader as RawReader  # noqa: E402

from benchmarks.gen_rosbag import generate_big, generate_many  # noqa: E402
from robotrace_desktop.readers.rosbag.reader import Rosbag2Reader  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(REPO)}
# Runs COMMAND (argv as JSON) as a child and prints "<seconds> <child peak RSS in MB> <rc>".
_WRAPPER = """
import json, resource, subprocess, sys, time
cmd = json.loads(sys.argv[1])
t = time.perf_counter()
rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode
dt = time.perf_counter() - t
print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, rc)
"""
_INDEX = (
    "import sys; from pathlib import Path; "
    "from robotrace_desktop.readers.rosbag.reader import Rosbag2Reader; "
    "list(Rosbag2Reader().index(Path(sys.argv[1])))"
)


def measure(cmd: list[str], runs: int) -> tuple[float, float, int]:
    """Median seconds, max peak RSS (MB) and the last exit code of ``cmd`` over ``runs``."""
    times, rss, rc = [], [], 0
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _WRAPPER, json.dumps(cmd)],
            env=ENV,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        times.append(float(out[0]))
        rss.append(float(out[1]))
        rc = int(out[2])
    return statistics.median(times), max(rss), rc


def median_time(action: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_many(workdir: Path, n: int, runs: int) -> None:
    bags = generate_many(workdir / f"many_{n}", n)
    reader = Rosbag2Reader()

    def ours() -> None:
        for bag in bags:
            list(reader.index(bag))

    def raw() -> None:
        for bag in bags:
            r = RawReader(bag)
            r.open()
            r.close()

    ours()  # warm the page cache and imports
    t_ours, t_raw = median_time(ours, runs), median_time(raw, runs)
    print(f"(a) index {n} small rosbag2 bags (sqlite3+mcap), median of {runs}:")
    print(f"    Rosbag2Reader.index   {t_ours:7.3f} s  = {n / t_ours:7.1f} bags/s")
    print(f"    baseline rosbags open {t_raw:7.3f} s  = {n / t_raw:7.1f} bags/s")
    print(f"    ratio ours/baseline   {t_ours / t_raw:7.2f}x")


def cli_has_show() -> bool:
    probe = subprocess.run(
        [sys.executable, "-m", "robotrace_desktop", "show", "--help"],
        env=ENV,
        capture_output=True,
        text=True,
    )
    return probe.returncode == 0


def bench_big(workdir: Path, sizes: list[float], storages: list[str], runs: int) -> None:
    importing = "import robotrace_desktop.readers.rosbag.source"
    baseline = measure([sys.executable, "-c", importing], runs)
    print(
        f"(b) baseline: python -c 'import robotrace_desktop.readers.rosbag.source' "
        f"{baseline[0]:.3f} s, peak RSS {baseline[1]:.0f} MB"
    )
    show = cli_has_show()
    if not show:
        print("    show: skipped: CLI not present (no 'show' command yet)")
    catalog = Path(tempfile.mkdtemp(prefix="robotrace_bench_")) / "catalog.sqlite"
    for storage in storages:
        for size in sizes:
            bag = workdir / f"big_{storage}_{size:g}gb"
            if not bag.exists():
                started = time.perf_counter()
                generate_big(bag, size, storage)
                print(f"    generated {bag.name} in {time.perf_counter() - started:.0f} s")
            nbytes = sum(p.stat().st_size for p in bag.iterdir())
            label = f"{storage:7s} {nbytes / (1 << 30):5.2f} GiB"
            t, rss, rc = measure([sys.executable, "-c", _INDEX, str(bag)], runs)
            print(
                f"    index()  {label}: {t:6.3f} s  peak RSS {rss:5.0f} MB  "
                f"(x{t / baseline[0]:.2f} time, +{rss - baseline[1]:.0f} MB over baseline)"
                + ("" if rc == 0 else f"  EXIT {rc}")
            )
            if show:
                cmd = [
                    sys.executable,
                    "-m",
                    "robotrace_desktop",
                    "--catalog",
                    str(catalog),
                    "show",
                    str(bag),
                    "--json",
                ]
                t, rss, rc = measure(cmd, runs)
                print(
                    f"    show     {label}: {t:6.3f} s  peak RSS {rss:5.0f} MB  "
                    f"(x{t / baseline[0]:.2f} time)" + ("" if rc == 0 else f"  EXIT {rc}")
                )


_RAW_ITERATION = (
    "import sys; from pathlib import Path; from rosbags.rosbag2 import Reader; "
    "r = Reader(Path(sys.argv[1])); r.open(); "
    "n = sum(1 for _ in r.messages()); r.close()"
)


def _cold(code: Path, argv: list[str]) -> list[str]:
    """``argv`` of the CLI run from ``code`` (its folder and PYTHONPATH) with a catalog of its
    own (a cold run)."""
    catalog = Path(tempfile.mkdtemp(prefix="robotrace_bench_")) / "catalog.sqlite"
    return [
        "env",
        "-C",  # from the code's folder: ``python -m`` puts the current folder first on sys.path
        str(code),
        f"PYTHONPATH={code}",
        sys.executable,
        "-m",
        "robotrace_desktop",
        "--catalog",
        str(catalog),
        *argv,
    ]


def bench_real(bag: Path, runs: int, rerun: str | None, before: Path | None) -> None:
    """Interleaved rounds (one run of every command per round), medians over ``runs``."""
    bag = bag.resolve()  # the commands run from their code's folder
    mcap = next(iter(sorted(bag.glob("*.mcap"))), bag) if bag.is_dir() else bag
    out = Path(tempfile.mkdtemp(prefix="robotrace_rerun_")) / "out.rrd"
    commands: dict[str, Callable[[], list[str]]] = {}
    if rerun:
        commands["rerun BAG --save"] = lambda: [rerun, str(mcap), "--save", str(out)]
    commands["floor: rosbags raw iteration"] = lambda: [
        sys.executable,
        "-c",
        _RAW_ITERATION,
        str(bag),
    ]
    for label, code in [("", REPO)] + ([("before: ", before)] if before else []):
        # default arguments bind this round's code; _cold gives each run a fresh catalog
        commands[f"{label}show --json"] = lambda c=code: _cold(c, ["show", str(bag), "--json"])
        commands[f"{label}scan --no-explain"] = lambda c=code: _cold(
            c, ["scan", str(bag), "--no-explain"]
        )
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, make in commands.items():
            t, _, rc = measure(make(), 1)
            times[name].append(t if rc == 0 else float("nan"))
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    size = sum(f.stat().st_size for f in _files(bag)) / 1e6
    print(f"(c) {bag} ({size:.1f} MB), cold runs, median of {runs} interleaved rounds:")
    if not rerun:
        print("    rerun: skipped (no --rerun)")
    floor = medians["floor: rosbags raw iteration"]
    peer = medians.get("rerun BAG --save")
    for name, t in medians.items():
        ratio = f"  = {t / peer:5.2f}x rerun" if peer else ""
        print(f"    {name:32s} {t:6.3f} s{ratio}  = {t / floor:5.2f}x floor")


# Prints the median ms of planning the bag (decoders built first, not counted): the step that
# reads each topic's first message, in-process so interpreter start-up does not hide it.
_PLAN = """
import statistics, sys, time
from pathlib import Path
from robotrace_desktop.readers.rosbag.bagfile import open_bag
from robotrace_desktop.readers.rosbag.topics import plan_bag
from robotrace_desktop.readers.rosbag.typestore import build_decoders
times = []
for _ in range(int(sys.argv[2])):
    with open_bag(Path(sys.argv[1])) as bag:
        decoders = build_decoders(bag.connections, ros1=bag.kind == "rosbag1",
                                  ros_distro=bag.ros_distro)
        started = time.perf_counter()
        plan_bag(bag, decoders)
        times.append(time.perf_counter() - started)
print(statistics.median(times) * 1000)
"""


def bench_late(
    workdir: Path, size: float, storages: list[str], runs: int, before: Path | None
) -> None:
    """index() of a generated bag whose /late topic has its only message at the very end:
    cold process, and the planning step alone (in-process median)."""
    print(f"(d) a {size:g} GiB bag with a topic whose only message is at the end:")
    codes = [("now", REPO)] + ([("before", before)] if before else [])
    for storage in storages:
        bag = (workdir / f"late_{storage}_{size:g}gb").resolve()
        if not bag.exists():
            generate_big(bag, size, storage, late_topic=True)
        for label, code in codes:
            env = ["env", "-C", str(code), f"PYTHONPATH={code}", sys.executable, "-c"]
            cold = measure([*env, _INDEX, str(bag)], runs)[0]
            plan = subprocess.run(
                [*env, _PLAN, str(bag), str(max(runs, 5))],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            print(
                f"    {storage:7s} {label:6s}: cold index() {cold:6.3f} s, "
                f"plan_bag (first messages) {float(plan):6.1f} ms"
            )


def _files(bag: Path) -> list[Path]:
    return [p for p in bag.iterdir() if p.is_file()] if bag.is_dir() else [bag]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, default=REPO / "benchmarks" / "_work")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--sizes", default="0.25,1")
    parser.add_argument("--storages", default="mcap,sqlite3")
    parser.add_argument("--skip-many", action="store_true")
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--real", type=Path, help="a real bag: show/scan vs rerun and the floor")
    parser.add_argument("--rerun", help="the rerun executable (rerun-sdk in a venv of its own)")
    parser.add_argument("--before", type=Path, help="another checkout to compare with")
    parser.add_argument("--late-gb", type=float, help="(d): size of the late-topic bag")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.real:
        bench_real(args.real, args.runs, args.rerun, args.before)
    if args.late_gb:
        bench_late(args.workdir, args.late_gb, args.storages.split(","), args.runs, args.before)
    if not args.skip_many:
        bench_many(args.workdir, args.n, args.runs)
    if not args.skip_big:
        sizes = [float(s) for s in args.sizes.split(",")]
        bench_big(args.workdir, sizes, args.storages.split(","), args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
