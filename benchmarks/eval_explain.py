"""The Explain evaluation: inject each fault into real and generated episodes at a known time,
check the top-ranked cause and its time (±0.5 s), and count false alarms on untouched real
episodes. Prints the table for the closing note.

    python benchmarks/eval_explain.py [--data ../shared/data] [--seed 0] [--verbose]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from robotrace_desktop.analysis.registry import CAUSE_MODULES, analyzers
from tests.analysis.faults import KINDS, MODULE, evaluate

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="one line per case")
    args = parser.parse_args()

    present = {name for name, _ in analyzers()}
    missing = [m for m in CAUSE_MODULES if m not in present]
    print(f"analyzers present: {', '.join(sorted(present)) or 'none'}")
    print(f"analyzers missing: {', '.join(missing) or 'none'}")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        result = evaluate(args.data, work, args.seed)
    elapsed = time.perf_counter() - start

    by_kind = defaultdict(list)
    for case in result.cases:
        by_kind[case.fault.kind].append(case)
    print()
    print(
        f"{'fault':22} {'analyzer':18} {'cases':>5} {'top-1':>6} {'median |dt| s':>14} "
        f"{'max |dt| s':>11}  wrong top causes"
    )
    for kind in KINDS:
        cases = by_kind.get(kind, [])
        if not cases:
            continue
        hits = sum(c.hit for c in cases)
        errors = [c.time_error_s for c in cases if c.top_cause in c.fault.expected]
        errors = [e for e in errors if e is not None]
        med = f"{sorted(errors)[len(errors) // 2]:.2f}" if errors else "-"
        worst = f"{max(errors):.2f}" if errors else "-"
        wrong = sorted({str(c.top_cause) for c in cases if c.top_cause not in c.fault.expected})
        module = MODULE[kind] + ("" if MODULE[kind] in present else " (missing)")
        print(
            f"{kind:22} {module:18} {len(cases):5d} {hits:6d} {med:>14} {worst:>11}  "
            f"{', '.join(wrong)}"
        )
    total = len(result.cases)
    hits = sum(c.hit for c in result.cases)
    print()
    print(f"top-1 accuracy: {hits}/{total} = {result.top1:.1%} (target >= 95%)")
    flagged = {k: v for k, v in result.alarms.items() if v}
    print(
        f"false alarms: {len(flagged)}/{len(result.alarms)} untouched real episodes = "
        f"{result.false_alarm_rate:.1%} (target <= 5%)"
    )
    for name, findings in flagged.items():
        causes = ", ".join(f"{f.cause} {f.confidence:.2f}" for f in findings)
        print(f"  {name}: {causes}")
    if args.verbose:
        print()
        for c in result.cases:
            dt = "-" if c.time_error_s is None else f"{c.time_error_s:.2f}"
            print(
                f"{'ok ' if c.hit else 'BAD'} {c.base.name:22} {c.fault.describe():60} "
                f"top={c.top_cause} conf={c.confidence:.2f} |dt|={dt}"
            )
    print(f"\n(evaluation took {elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
