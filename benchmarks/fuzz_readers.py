"""The long fuzz run over every reader (issue 7, "Fuzzing"); CI runs the short one in
tests/fuzz/test_fuzz_readers.py.

Usage:
    python benchmarks/fuzz_readers.py [--minutes 30] [--seed N] [--workdir benchmarks/_work/fuzz]
                                      [--timeout 10] [--rss-mb 1024] [--only SEED ...]

Draws (seed recording, member file, mutation, params) at random — seeds are the real recordings
in ../shared/data plus generated ones (tests/fuzz/seeds.py), mutations are in
tests/fuzz/mutations.py — builds each input in the work folder (never touching shared/data) and
runs it through tests/fuzz/harness.py's worker: sniff, index, open, every stream read, first /
middle / last frame of every camera, with a 10 s hang limit and a 1 GB peak-RSS limit.

Prints inputs tried, inputs/s, outcome counts per reader kind, the slowest input and the largest
peak RSS. Every input whose outcome is failure / hang / memory / crash is written as a JSON
recipe into tests/fuzz/corpus/ (named new-<...>.json) so the CI test replays it from then on.
Exit status 1 when any such input was found.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fuzz.harness import BAD, Runner  # noqa: E402
from tests.fuzz.mutations import OPERATORS, random_params  # noqa: E402
from tests.fuzz.seeds import SEEDS, build, recipe_name  # noqa: E402

CORPUS = REPO / "tests" / "fuzz" / "corpus"
TEXT_SUFFIXES = (".json", ".jsonl", ".yaml")


def draw(rng: random.Random, names: list[str], cache: Path) -> dict[str, Any]:
    seed = SEEDS[rng.choice(names)]
    member = rng.choice(seed.members)
    path = seed.root(cache) / member if member else seed.root(cache)
    ops = list(OPERATORS)
    if path.suffix in TEXT_SUFFIXES:
        ops += ["replace_text"] * 4  # structured edits find more in text than bit flips do
    else:
        ops.remove("replace_text")
        ops.remove("nest")
    op = rng.choice(ops)
    params = random_params(op, rng, path.stat().st_size)
    return {"seed": seed.name, "member": member, "op": op, "params": params}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=REPO / "benchmarks" / "_work" / "fuzz")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--rss-mb", type=float, default=1024.0)
    parser.add_argument("--only", nargs="*", help="seed names (default: every seed)")
    args = parser.parse_args()

    names = args.only or sorted(SEEDS)
    rng = random.Random(args.seed)
    cache = args.workdir / "seeds"
    for name in names:
        SEEDS[name].root(cache)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    slowest: tuple[float, str] = (0.0, "")
    max_rss: tuple[float, str] = (0.0, "")
    found = 0
    tried = 0
    started = time.perf_counter()
    deadline = started + args.minutes * 60
    with Runner(args.workdir / "home", args.timeout, args.rss_mb) as runner:
        while time.perf_counter() < deadline:
            recipe = draw(rng, names, cache)
            path = build(recipe, cache, args.workdir / "input")
            result = runner.run(path)
            tried += 1
            kind = result.get("kind") or SEEDS[recipe["seed"]].kind
            counts[kind][result["outcome"]] += 1
            label = json.dumps(recipe)
            if result.get("seconds", 0) > slowest[0]:
                slowest = (result["seconds"], label)
            if result.get("peak_rss_mb", 0) > max_rss[0]:
                max_rss = (result["peak_rss_mb"], label)
            if result["outcome"] in BAD:
                found += 1
                recipe["expect"] = "no failure"
                recipe["found"] = (result.get("failure") or "")[-600:]
                out = CORPUS / f"new-{recipe_name(recipe)}.json"
                out.write_text(json.dumps(recipe, indent=2) + "\n")
                print(f"{result['outcome'].upper()}: {label} -> {out.name}", flush=True)
    elapsed = time.perf_counter() - started
    print(f"\ninputs tried: {tried} in {elapsed:.0f} s ({tried / elapsed:.2f} inputs/s)")
    print(f"worker restarts: {runner.restarts}")
    outcomes = ("ok", "partial", "error", *BAD)
    print(f"{'kind':<10}" + "".join(f"{o:>9}" for o in outcomes))
    for kind in sorted(counts):
        print(f"{kind:<10}" + "".join(f"{counts[kind][o]:>9}" for o in outcomes))
    print(f"slowest input: {slowest[0]:.2f} s  {slowest[1]}")
    print(f"max peak RSS: {max_rss[0]:.0f} MB  {max_rss[1]}")
    print(f"new failing recipes: {found}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
