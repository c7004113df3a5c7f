"""What both Explain evaluations do around their own fault builders: load the folds' robots, run
the cases and the untouched episodes, and print the header, the false alarms, the per-case
lines and the closing summary. ``benchmarks/eval_explain_heldout.py`` and
``eval_explain_independent.py`` differ only in how they build cases and which extra tables
they print."""

from __future__ import annotations

import argparse
import math
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from robotrace_desktop.analysis.finding import Finding
from tests.analysis.heldout.robots import FOLDS, load_robots
from tests.analysis.heldout.scoring import (
    Case,
    RobotData,
    default_thresholds,
    false_alarms,
    run,
    summary,
)

#: (robots, seed, per_cell, kinds) -> cases
BuildCases = Callable[[dict[str, RobotData], int, int, Sequence[str]], list[Case]]
#: (robot, kind, seed) -> whether the robot can carry the kind
Applicable = Callable[[RobotData, str, int], bool]


@dataclass
class Evaluation:
    folds: tuple[str, ...]
    robots: dict[str, RobotData]
    kinds: list[str]
    cells: set[tuple[str, str]]
    cases: list[Case] = field(default_factory=list)
    alarms: dict[str, list[Finding]] = field(default_factory=dict)
    per_cell: int = 0
    loading_s: float = 0.0
    elapsed_s: float = 0.0


#: the real recordings: $ROBOTRACE_TEST_DATA, else ../shared/data beside the repository
DEFAULT_DATA = Path(
    os.environ.get("ROBOTRACE_TEST_DATA") or Path(__file__).resolve().parents[4] / "shared" / "data"
)


def arguments(description: str, kinds: Sequence[str]) -> argparse.ArgumentParser:
    """The options both fault-set benchmarks take (data, seed, cases per cell, fold, kinds)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-cell", type=int, default=7, help="cases per robot×kind")
    parser.add_argument("--fold", choices=("heldout", "tune", "all"), default="all")
    parser.add_argument("--all-g1", action="store_true", help="all 100 G1 episodes (default 20)")
    parser.add_argument("--kinds", nargs="*", choices=kinds, default=list(kinds))
    parser.add_argument("--verbose", action="store_true", help="one line per case")
    return parser


def evaluate(
    data: Path,
    fold: str,
    kinds: Iterable[str],
    *,
    seed: int,
    per_cell: int,
    all_g1: bool,
    build_cases: BuildCases,
    applicable: Applicable,
    total_cases: int | None = None,
) -> Evaluation:
    """Every applicable (robot, kind) case of the chosen folds explained, and every untouched
    episode or window explained for the false alarms. ``total_cases``: about this many cases
    over the folds instead of ``per_cell`` per robot×kind."""
    folds = ("heldout", "tune") if fold == "all" else (fold,)
    names = tuple(r for f in folds for r in FOLDS[f])
    start = time.perf_counter()
    robots = {n: RobotData(r) for n, r in load_robots(data, names, all_g1=all_g1).items()}
    loaded = time.perf_counter()
    kinds = list(kinds)
    cells = {(n, k) for n in sorted(robots) for k in kinds if applicable(robots[n], k, seed)}
    if total_cases is not None:
        per_cell = max(1, math.ceil(total_cases / max(1, len(cells))))
    result = Evaluation(folds, robots, kinds, cells, per_cell=per_cell)
    limits = default_thresholds()
    result.cases = [
        c for c in build_cases(robots, seed, per_cell, kinds) if (c.robot, c.kind) in cells
    ]
    for case in result.cases:
        run(case, robots[case.robot], limits)
    result.alarms = {
        base.name: false_alarms(base, robot, limits)
        for robot in robots.values()
        for base in robot.robot.bases
    }
    result.loading_s = loaded - start
    result.elapsed_s = time.perf_counter() - start
    return result


def robot_of(base_name: str) -> str:
    """The robot of an episode or window name (``G1#4``, ``Husky:test1.bag[3]``)."""
    return base_name.split("#")[0].split(":")[0]


def seconds(t: int | None) -> str:
    return "-" if t is None else f"{t / 1e9:.2f} s"


def print_header(result: Evaluation, seed: int) -> None:
    kinds = {k for _, k in result.cells}
    print(
        f"{len(result.cases)} cases of {len(kinds)} kinds on {len(result.robots)} robots "
        f"({result.per_cell} per applicable robot×kind), {len(result.alarms)} untouched "
        f"episodes/windows, seed {seed}"
    )
    missing: dict[str, list[str]] = defaultdict(list)
    for n in sorted(result.robots):
        for k in result.kinds:
            if (n, k) not in result.cells:
                missing[n].append(k)
    print("not applicable: " + "; ".join(f"{n}: {', '.join(ks)}" for n, ks in missing.items()))


def fold_parts(result: Evaluation, fold: str) -> tuple[list[Case], dict[str, list[Finding]]]:
    members = FOLDS[fold]
    cases = [c for c in result.cases if c.robot in members]
    return cases, {k: v for k, v in result.alarms.items() if robot_of(k) in members}


def print_false_alarms(members: Sequence[str], alarms: dict[str, list[Finding]]) -> None:
    print("false alarms by robot (episodes/windows with any finding ≥ 0.5):")
    for robot in members:
        mine = {k: v for k, v in alarms.items() if robot_of(k) == robot}
        flagged = {k: v for k, v in mine.items() if v}
        rate = len(flagged) / len(mine) if mine else 0.0
        print(f"  {robot:10} {len(flagged)}/{len(mine)} = {rate:.0%}")
        for name, found in flagged.items():
            what = ", ".join(
                f"{f.cause} {f.confidence:.2f} @ {seconds(f.t_start_ns)}" for f in found
            )
            print(f"      {name}: {what}")


def print_closing(result: Evaluation, *, verbose: bool, name_width: int, case_width: int) -> None:
    """The per-case lines (with ``verbose``), then each fold's summary lines and the time."""
    if verbose:
        print("\ncases:")
        for c in result.cases:
            top = c.found[0] if c.found else None
            got = "nothing" if top is None else f"{top[0]} {top[2]:.2f} @ {seconds(top[1])}"
            print(
                f"  {'ok ' if c.hit(1) else 'BAD'} {c.base.name:{name_width}} "
                f"{c.describe():{case_width}} -> {got}"
            )
    closing: list[str] = []
    for fold in result.folds:
        closing += summary(f"[{fold}]", *fold_parts(result, fold))
    print()
    print("\n".join(closing))
    explained = len(result.cases) + len(result.alarms)
    print(
        f"(evaluation took {result.elapsed_s:.1f} s: loading {result.loading_s:.1f} s, "
        f"explaining {explained} episodes {result.elapsed_s - result.loading_s:.1f} s)"
    )
