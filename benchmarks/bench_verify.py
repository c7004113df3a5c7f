"""Verify speed: outcome comparison and offline re-roll over 3,000 episode pairs on 2 workers.

    python benchmarks/bench_verify.py [--runs 3] [--workers 2] [--episodes 3000] [--steps 400]
        [--effect drop10] [--engine process|ray] [--profile 200]

Writes (or reuses) the two generated policy sets of ``benchmarks/gen_verify.py`` under
``benchmarks/_work/verify``, scans them into a catalog there with Explain (once; timed on its own,
not part of the figures), then reports the median of ``--runs`` runs of ``run_verify`` for:

1. ``outcome``: the outcome comparison only (per-episode metrics of both sets, matching,
   comparison, gate);
2. ``reroll``: outcome + offline re-roll of ``benchmarks/policies.py:HoldState`` on every
   baseline episode (action diff per step), replays not saved;
3. ``reroll+save``: the same, saving each replay as a bundle and indexing it into the catalog.

Each run is a fresh process (so its peak RSS is its own); the time is ``run_verify`` itself
(process pool start-up included, interpreter start-up and imports not). Peak RSS: the parent's
``ru_maxrss``, and the largest worker's (``RUSAGE_CHILDREN`` after the pool is joined; not
available for Ray workers, which are the raylet's children).

Baseline measured in the same run: reading every episode's ``action`` column of both sets with
pyarrow in one process — the I/O floor of an action comparison. Target (issue 5): 3,000 pairs
of 400 steps × 26 dims ≤ 60 s on 2 cores for outcome + action diff.

``--profile N`` runs outcome + re-roll on the first N pairs in this process (``workers=1``, the
inline engine) under cProfile and prints the functions with the most cumulative and own time.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.gen_verify import DEFAULT_OUT, generate  # noqa: E402

POLICY = f"{ROOT / 'benchmarks' / 'policies.py'}:HoldState"
MODES = ("outcome", "reroll", "reroll+save")
TARGET_S = 60.0


def catalog_path(out: Path) -> Path:
    return out / "home" / "catalog.sqlite"


def scan_once(out: Path, sets: dict[str, Any]) -> None:
    from robotrace_desktop.catalog.store import Catalog, EpisodeFilter
    from tests.verify.verify_fixtures import scan_sets

    path = catalog_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    summary = scan_sets(path, [out / sets["baseline"]["path"], out / sets["candidate"]["path"]])
    took = time.perf_counter() - started
    with Catalog(path) as catalog:
        counts = {
            side: len(catalog.list_episodes(EpisodeFilter(policy=sets[side]["version"])))
            for side in ("baseline", "candidate")
        }
    print(
        f"scan + explain: {summary.new} new, {summary.updated} updated, {summary.unchanged} "
        f"unchanged, {summary.explained} explained in {took:.1f} s; catalog holds "
        f"{counts['baseline']} baseline + {counts['candidate']} candidate episodes"
    )


def read_actions_floor(out: Path, sets: dict[str, Any]) -> tuple[float, int]:
    """Seconds to read every episode's action column of both sets (one process), episodes."""
    import pyarrow.parquet as pq

    files = sorted((out / sets["baseline"]["path"] / "data").rglob("*.parquet"))
    files += sorted((out / sets["candidate"]["path"] / "data").rglob("*.parquet"))
    started = time.perf_counter()
    total = 0
    for file in files:
        column = pq.read_table(file, columns=["action"]).column("action").combine_chunks()
        total += len(column.flatten().to_numpy())
    assert total > 0
    return time.perf_counter() - started, len(files)


def spec_for(sets: dict[str, Any], mode: str, workers: int, engine: str, selections: bool):
    from robotrace_desktop.verify.spec import Selector, VerifySpec

    baseline = sets["baseline"]["version"]
    candidate = sets["candidate"]["version"]
    if selections:
        baseline, candidate = "selection:bench-profile-baseline", "selection:bench-profile-cand"
    return VerifySpec(
        baseline=Selector.parse(baseline),
        candidate=Selector.parse(candidate),
        policy=None if mode == "outcome" else POLICY,
        candidate_name="bench-holdstate",
        workers=workers,
        engine=engine,  # type: ignore[arg-type]
        save_replays=mode == "reroll+save",
    )


def child(args: argparse.Namespace) -> int:
    """One measured run in this (fresh) process; prints one JSON line."""
    from robotrace_desktop.verify.run import run_verify

    sets = json.loads((args.out / "sets.json").read_text())
    spec = spec_for(sets, args.child, args.workers, args.engine, selections=False)
    started = time.perf_counter()
    result = run_verify(catalog_path(args.out), spec)
    elapsed = time.perf_counter() - started
    kib = 1024  # ru_maxrss is in KiB on Linux
    print(
        json.dumps(
            {
                "elapsed_s": elapsed,
                "verdict": result.verdict,
                "pairs": len(result.pairs),
                "measured": len(result.episode_metrics),
                "rerolls": len(result.rerolls),
                "reroll_errors": sum(r.error is not None for r in result.rerolls),
                "errors": len(result.errors),
                "failed_checks": [c.name for c in result.failed_checks],
                "parent_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / kib,
                "worker_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / kib,
            }
        )
    )
    return 0


def measure(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        mode,
        "--workers",
        str(args.workers),
        "--engine",
        args.engine,
        "--out",
        str(args.out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def profile(args: argparse.Namespace, sets: dict[str, Any]) -> None:
    from robotrace_desktop.catalog.selections import save_selection
    from robotrace_desktop.catalog.store import Catalog, EpisodeFilter
    from robotrace_desktop.verify.run import run_verify

    with Catalog(catalog_path(args.out)) as catalog:
        for side, name in (
            ("baseline", "bench-profile-baseline"),
            ("candidate", "bench-profile-cand"),
        ):
            infos = catalog.list_episodes(EpisodeFilter(policy=sets[side]["version"]))
            infos.sort(key=lambda i: i.seed if i.seed is not None else -1)
            save_selection(catalog, name, [i.id for i in infos[: args.profile]])
    spec = spec_for(sets, "reroll", 1, "process", selections=True)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    result = run_verify(catalog_path(args.out), spec)
    profiler.disable()
    took = time.perf_counter() - started
    print(
        f"\nprofile: outcome + re-roll of {args.profile} pairs inline (workers=1): {took:.2f} s "
        f"({took / max(1, args.profile) * 1000:.1f} ms per pair), verdict {result.verdict}"
    )
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--episodes", type=int, default=3000, help="per set")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--effect", default="drop10", help="the candidate set's effect")
    parser.add_argument("--engine", choices=("process", "ray"), default="process")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated subset")
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)

    sets = generate(args.out, args.episodes, args.steps, args.effect)
    scan_once(args.out, sets)
    if args.profile:
        profile(args, sets)
        return 0

    floors = [read_actions_floor(args.out, sets) for _ in range(args.runs)]
    floor = statistics.median(t for t, _ in floors)
    files = floors[0][1]
    print(
        f"\nbaseline: read the action column of all {files} episodes with pyarrow, one process: "
        f"{floor:.2f} s (median of {args.runs})"
    )
    pairs = args.episodes
    print(f"\n{pairs} pairs, {args.workers} workers, engine {args.engine}, median of {args.runs}:")
    header = f"{'mode':<12} {'median s':>9} {'ms/pair':>8} {'× floor':>8} "
    header += f"{'parent MB':>10} {'worker MB':>10} {'pairs/rerolls':>13}  runs (s)"
    header += "         verdict / failed checks"
    print(header)
    results: dict[str, float] = {}
    for mode in [m for m in args.modes.split(",") if m]:
        if mode not in MODES:
            raise SystemExit(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        runs = [measure(args, mode) for _ in range(args.runs)]
        median = statistics.median(r["elapsed_s"] for r in runs)
        results[mode] = median
        last = runs[-1]
        each = " ".join(f"{r['elapsed_s']:.1f}" for r in runs)
        # Ray workers are the raylet's children, not ours: their peak is not visible here
        worker_rss = max(r["worker_rss_mb"] for r in runs)
        worker_mb = f"{worker_rss:.0f}" if args.engine == "process" else "-"
        problems = f", {last['errors']} unmeasured" if last["errors"] else ""
        if last["reroll_errors"]:
            problems += f", {last['reroll_errors']} re-roll errors"
        print(
            f"{mode:<12} {median:>9.2f} {median / pairs * 1000:>8.2f} {median / floor:>8.1f} "
            f"{max(r['parent_rss_mb'] for r in runs):>10.0f} "
            f"{worker_mb:>10} "
            f"{str(last['pairs']) + '/' + str(last['rerolls']):>13}  "
            f"{each:<16} {last['verdict']} "
            f"{last['failed_checks']}{problems}"
        )
    diff = results.get("reroll+save", results.get("reroll"))
    if diff is not None:
        verdict = "meets" if diff <= TARGET_S else "MISSES"
        print(
            f"\noutcome + action diff, {pairs} pairs on {args.workers} workers: {diff:.1f} s — "
            f"{verdict} the ≤ {TARGET_S:.0f} s target"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
