"""Independent Explain evaluation (issue 13): a second, clean-room fault injector
(``tests/analysis/independent``) written without reading the detectors nor the first held-out
set's builders, over every real robot recording in ``../shared/data``, split by robot into the
same tune and held-out folds; prints the tables by kind, by builder style and by robot, the
false-alarm rate per robot, and quotable summary lines.

    python benchmarks/eval_explain_independent.py [--seed 0] [--per-cell 7]
                                                  [--fold heldout|tune|all] [--kinds ...]
                                                  [--verbose]

Scoring is the first set's (``heldout.scoring``): the top finding must name an accepted cause,
start within ±0.5 s of the injected onset and have confidence ≥ 0.5; every case is explained
through ``analysis.peer_explain.explain_with_peers`` with the robot's OTHER clean episodes (or
windows) as its history. No detector was tuned on this set: it is the closest thing in the
repository to "faults the project has never seen".
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.analysis.heldout.kinds import ACCEPTED
from tests.analysis.heldout.robots import FOLDS, load_robots
from tests.analysis.heldout.scoring import (
    Case,
    RobotData,
    _row,
    default_thresholds,
    false_alarms,
    run,
    summary,
    table,
)
from tests.analysis.independent.cases import KINDS, applicable, build_cases, style

DEFAULT_DATA = Path(
    os.environ.get("ROBOTRACE_TEST_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-cell", type=int, default=7, help="cases per robot×kind")
    parser.add_argument("--fold", choices=("heldout", "tune", "all"), default="all")
    parser.add_argument("--all-g1", action="store_true", help="all 100 G1 episodes (default 20)")
    parser.add_argument("--kinds", nargs="*", choices=KINDS, default=list(KINDS))
    parser.add_argument("--verbose", action="store_true", help="one line per case")
    args = parser.parse_args()

    folds = ("heldout", "tune") if args.fold == "all" else (args.fold,)
    names = tuple(r for f in folds for r in FOLDS[f])
    start = time.perf_counter()
    robots = {n: RobotData(r) for n, r in load_robots(args.data, names, all_g1=args.all_g1).items()}
    loaded = time.perf_counter()
    cells = {
        (n, k) for n in sorted(robots) for k in args.kinds if applicable(robots[n], k, args.seed)
    }
    limits = default_thresholds()
    cases = [
        c
        for c in build_cases(robots, args.seed, args.per_cell, args.kinds)
        if (c.robot, c.kind) in cells
    ]
    for case in cases:
        run(case, robots[case.robot], limits)
    alarms = {
        base.name: false_alarms(base, robot, limits)
        for robot in robots.values()
        for base in robot.robot.bases
    }
    elapsed = time.perf_counter() - start

    print(
        f"{len(cases)} cases of {len({k for _, k in cells})} kinds on {len(robots)} robots "
        f"({args.per_cell} per applicable robot×kind), {len(alarms)} untouched "
        f"episodes/windows, seed {args.seed}"
    )
    missing: dict[str, list[str]] = defaultdict(list)
    for n in sorted(robots):
        for k in args.kinds:
            if (n, k) not in cells:
                missing[n].append(k)
    print("not applicable: " + "; ".join(f"{n}: {', '.join(ks)}" for n, ks in missing.items()))
    closing: list[str] = []
    for fold in folds:
        members = FOLDS[fold]
        mine = [c for c in cases if c.robot in members]
        fold_alarms = {k: v for k, v in alarms.items() if _robot_of(k) in members}
        _print_fold(fold, members, mine, fold_alarms)
        closing += summary(f"[{fold}]", mine, fold_alarms)
    if args.verbose:
        print("\ncases:")
        for c in cases:
            top = c.found[0] if c.found else None
            got = "nothing" if top is None else f"{top[0]} {top[2]:.2f} @ {_s(top[1])}"
            print(f"  {'ok ' if c.hit(1) else 'BAD'} {c.base.name:34} {c.describe():100} -> {got}")
    print()
    print("\n".join(closing))
    print(
        f"(evaluation took {elapsed:.1f} s: loading {loaded - start:.1f} s, "
        f"explaining {len(cases) + len(alarms)} episodes {elapsed - (loaded - start):.1f} s)"
    )
    return 0


def _robot_of(base_name: str) -> str:
    return base_name.split("#")[0].split(":")[0]


def _s(t: int | None) -> str:
    return "-" if t is None else f"{t / 1e9:.2f} s"


def _by_style(cases: list[Case]) -> list[str]:
    groups: dict[str, list[Case]] = defaultdict(list)
    for c in cases:
        groups[style(c)].append(c)
    lines = [
        f"  {'style':30} {'cases':>5} {'top-1':>7} {'top-3':>7} {'top-1 any':>9}  top-1 misses"
    ]
    for key in sorted(groups, key=lambda k: (KINDS.index(k.split(":")[0]), k)):
        lines.append(_row(f"{key:30}", groups[key]))
    return lines


def _anatomy(cases: list[Case]) -> list[str]:
    """Why the top-1 misses miss: the right cause dated wrong, the right cause and time but
    under 0.5, the right answer outranked within the top 3, or not in the top 3 at all."""
    groups: dict[str, list[Case]] = defaultdict(list)
    for c in cases:
        groups[c.kind].append(c)
    lines = [
        f"  {'kind':18} {'cases':>5} {'hit':>5} {'dated':>6} {'unconf':>7} "
        f"{'outrank':>8} {'absent':>7}"
    ]
    for kind in [k for k in KINDS if k in groups] + ["all"]:
        mine = cases if kind == "all" else groups[kind]
        counts = defaultdict(int)
        for c in mine:
            counts[_why(c)] += 1
        lines.append(
            f"  {kind:18} {len(mine):5d} {counts['hit']:5d} {counts['dated']:6d} "
            f"{counts['unconf']:7d} {counts['outrank']:8d} {counts['absent']:7d}"
        )
    return lines


def _why(c: Case) -> str:
    if c.hit(1):
        return "hit"
    if any(c.matches(f, confident=False) for f in c.found[:1]):
        return "unconf"
    if c.hit(3, confident=False):
        return "outrank"
    ids = ACCEPTED[c.kind]
    if any(cause in ids for cause, _, _ in c.found[:3]):
        return "dated"
    return "absent"


def _print_fold(fold: str, members: tuple[str, ...], cases: list[Case], alarms: dict) -> None:
    print(f"\n=== fold {fold}: {', '.join(members)} ===")
    print("by kind:")
    print("\n".join(table(cases, "kind")))
    print("why top-1 misses (dated: right cause, onset off by > 0.5 s; unconf: right cause")
    print("and time, confidence < 0.5; outrank: right answer at rank 2-3; absent: not in top 3):")
    print("\n".join(_anatomy(cases)))
    print("by builder style:")
    print("\n".join(_by_style(cases)))
    print("by robot:")
    print("\n".join(table(cases, "robot")))
    print("by variant (outcome label, ERROR line logged after the fault):")
    print("\n".join(table(cases, "variant")))
    print("false alarms by robot (episodes/windows with any finding ≥ 0.5):")
    for robot in members:
        mine = {k: v for k, v in alarms.items() if _robot_of(k) == robot}
        flagged = {k: v for k, v in mine.items() if v}
        rate = len(flagged) / len(mine) if mine else 0.0
        print(f"  {robot:10} {len(flagged)}/{len(mine)} = {rate:.0%}")
        for name, found in flagged.items():
            what = ", ".join(f"{f.cause} {f.confidence:.2f} @ {_s(f.t_start_ns)}" for f in found)
            print(f"      {name}: {what}")


if __name__ == "__main__":
    raise SystemExit(main())
