"""Held-out Explain evaluation (issue 13): faults injected into every real robot recording in
``../shared/data``, split by robot into a tune fold and a held-out fold; prints the tables by
kind and by robot, the false-alarm rate per robot, and quotable summary lines.

    python benchmarks/eval_explain_heldout.py [--seed 0] [--per-cell 7 | --cases N]
                                              [--fold heldout|tune|all] [--all-g1] [--verbose]

Every case is explained through ``analysis.peer_explain.explain_with_peers`` with the robot's
OTHER clean episodes (or windows of its long recordings) as its history. The closing figure is
the held-out one: robots nobody tuned on. ``--fold all`` reports both folds (the rotated split:
tune on the held-out robots, report on the tune ones), so every robot has a held-out figure.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.analysis.heldout.kinds import KINDS
from tests.analysis.heldout.report import (
    arguments,
    evaluate,
    fold_parts,
    print_closing,
    print_false_alarms,
    print_header,
)
from tests.analysis.heldout.robots import FOLDS
from tests.analysis.heldout.scoring import Case, applicable, build_cases, table


def main() -> int:
    parser = arguments(__doc__.splitlines()[0], KINDS)
    parser.add_argument(
        "--cases",
        type=int,
        default=None,
        help="about this many cases over the chosen folds (default: --per-cell per robot×kind)",
    )
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
        total_cases=args.cases,
    )
    print_header(result, args.seed)
    for fold in result.folds:
        _print_fold(fold, FOLDS[fold], *fold_parts(result, fold))
    print_closing(result, verbose=args.verbose, name_width=40, case_width=90)
    return 0


def _print_fold(fold: str, members: tuple[str, ...], cases: list[Case], alarms: dict) -> None:
    print(f"\n=== fold {fold}: {', '.join(members)} ===")
    print("by kind:")
    print("\n".join(table(cases, "kind")))
    print("by robot:")
    print("\n".join(table(cases, "robot")))
    print("by variant (outcome label, ERROR line logged after the fault):")
    print("\n".join(table(cases, "variant")))
    print_false_alarms(members, alarms)


if __name__ == "__main__":
    raise SystemExit(main())
