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

import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.analysis.heldout.kinds import ACCEPTED
from tests.analysis.heldout.report import (
    arguments,
    evaluate,
    fold_parts,
    print_closing,
    print_false_alarms,
    print_header,
)
from tests.analysis.heldout.robots import FOLDS
from tests.analysis.heldout.scoring import Case, _row, table
from tests.analysis.independent.cases import KINDS, applicable, build_cases, style


def main() -> int:
    parser = arguments(__doc__.splitlines()[0], KINDS)
    args = parser.parse_args()

    result = evaluate(
        args.data,
        args.fold,
        args.kinds,
        seed=args.seed,
        per_cell=args.per_cell,
        all_g1=args.all_g1,
        build_cases=build_cases,
        applicable=applicable,
    )
    print_header(result, args.seed)
    for fold in result.folds:
        _print_fold(fold, FOLDS[fold], *fold_parts(result, fold))
    print_closing(result, verbose=args.verbose, name_width=34, case_width=100)
    return 0


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
    print_false_alarms(members, alarms)


if __name__ == "__main__":
    raise SystemExit(main())
