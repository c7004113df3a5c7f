"""Fault injection against the catalog, the long run: kill -9 at random points of bookmark and
tag writes, the -wal deleted while writing, truncation and random overwrite of the catalog, the
catalog deleted, a full disk (a small tmpfs; needs root). Prints the counts; the short run of
the same engine is tests/hardening/test_catalog_faults.py.

    python benchmarks/catalog_faults.py --rounds 60 [--seed 1] [--kinds kill,wal,...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.hardening.catalog_faults import KINDS, run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"some of {','.join(KINDS)}")
    args = parser.parse_args()
    kinds = tuple(k for k in args.kinds.split(",") if k)
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kinds {sorted(unknown)}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="catalog-faults-") as work:
        counts = run(Path(work), args.rounds, args.seed, kinds)
    print(counts.line())
    for kind, outcomes in counts.outcomes.items():
        print(f"  {kind:<10} " + ", ".join(f"{what} {n}" for what, n in outcomes.items()))
    print(f"seed {args.seed}, {time.monotonic() - started:.0f} s")
    for problem in counts.problems:
        print(f"  {problem}")
    return 0 if counts.lost == counts.tracebacks == counts.hangs == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
