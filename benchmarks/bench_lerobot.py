"""Indexing throughput of LeRobotReader on a generated 1,000-episode v2.1 dataset, and the
time of a first ``scan`` and of a re-scan of the unchanged tree through the CLI.

    python benchmarks/bench_lerobot.py [--episodes 1000] [--runs 5] [DATASET]

Without DATASET a v2.1 dataset is generated into a temporary folder (benchmarks/gen_lerobot.py).
Baselines measured in the same run put the figures in proportion: json-loading
meta/episodes.jsonl + episodes_stats.jsonl (the least any metadata-based indexer must do), a
stat of every file in the tree, and the start-up of a bare ``python -c pass``.
Targets: >= 500 episodes/s; re-scan <= 0.3 s.
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

from robotrace_desktop.readers.lerobot.reader import LeRobotReader  # noqa: E402


def median_time(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def load_jsonl(dataset: Path) -> int:
    count = 0
    for name in ("episodes.jsonl", "episodes_stats.jsonl"):
        with (dataset / "meta" / name).open("rb") as lines:
            count += sum(1 for line in lines if json.loads(line))
    return count


def stat_tree(dataset: Path) -> int:
    count = 0
    for dirpath, _dirs, files in os.walk(dataset):
        for name in files:
            os.stat(os.path.join(dirpath, name))
            count += 1
    return count


def run_cli(catalog: Path, *args: str) -> tuple[float, int, str]:
    """One CLI run; ROBOTRACE_HOME beside the catalog keeps logs and caches out of the user's."""
    command = [sys.executable, "-m", "robotrace_desktop", "--catalog", str(catalog), *args]
    env = {**os.environ, "PYTHONPATH": str(REPO), "ROBOTRACE_HOME": str(catalog.parent / "home")}
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    elapsed = time.perf_counter() - started
    return elapsed, done.returncode, (done.stdout + done.stderr).strip().splitlines()[-1:][0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, nargs="?")
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_lerobot_") as tmp:
        dataset = args.dataset
        if dataset is None:
            dataset = Path(tmp) / "lerobot_v21"
            from benchmarks.gen_lerobot import main as generate

            generate(["--episodes", str(args.episodes), "--version", "v2.1", str(dataset)])
        reader = LeRobotReader()
        episodes = list(reader.index(dataset))
        count = len(episodes)
        index_s = median_time(lambda: list(reader.index(dataset)), args.runs)
        jsonl_s = median_time(lambda: load_jsonl(dataset), args.runs)
        files = stat_tree(dataset)
        stat_s = median_time(lambda: stat_tree(dataset), args.runs)
        fingerprint_s = median_time(lambda: reader.fingerprint_files(dataset), args.runs)
        print(f"dataset: {dataset} ({count} episodes, {files} files)")
        print(
            f"LeRobotReader.index: {index_s * 1000:.1f} ms median of {args.runs} -> "
            f"{count / index_s:,.0f} episodes/s (target >= 500)"
        )
        print(
            f"baseline json-load episodes.jsonl + episodes_stats.jsonl: {jsonl_s * 1000:.1f} ms "
            f"(index / baseline = {index_s / jsonl_s:.2f}x)"
        )
        print(
            f"baseline stat of all {files} files: {stat_s * 1000:.1f} ms "
            f"(index / baseline = {index_s / stat_s:.2f}x)"
        )
        print(
            f"LeRobotReader.fingerprint_files (what a re-scan asks the reader): "
            f"{fingerprint_s * 1000:.1f} ms"
        )
        if not (REPO / "robotrace_desktop" / "cli.py").is_file():
            print("scan: robotrace_desktop/cli.py not present, skipped")
            return 0
        python_s = median_time(
            lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), args.runs
        )
        catalog = Path(tmp) / "catalog.sqlite"
        first_s, first_rc, first_line = run_cli(catalog, "scan", str(dataset))
        rescans = [run_cli(catalog, "scan", str(dataset)) for _ in range(args.runs)]
        rescan_s = statistics.median(r[0] for r in rescans)
        print(f"first scan (subprocess): {first_s:.2f} s, exit {first_rc}: {first_line}")
        print(
            f"re-scan of the unchanged tree (subprocess): {rescan_s:.3f} s median of {args.runs}, "
            f"exit {rescans[-1][1]}: {rescans[-1][2]} (target <= 0.3 s)"
        )
        print(
            f"baseline python -c pass: {python_s:.3f} s (re-scan / baseline = "
            f"{rescan_s / python_s:.1f}x)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
