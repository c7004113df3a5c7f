"""Generate a baseline and a candidate policy set for the verify benchmark.

    python benchmarks/gen_verify.py [--episodes 3000] [--steps 400] [--effect drop10] [OUT]

Two LeRobot v2.1 datasets written by ``tests/verify/verify_fixtures.py`` (26 joints, 30 fps,
smooth actions, observation.state following them with a lag; seeds 0..N-1 in both, so every
pair matches on env_version/task/seed): ``OUT/baseline`` (policy_version ``bench-baseline``,
90 % success) and ``OUT/candidate`` (``bench-<effect>``; effects: same, drop10, saturate,
better). ``OUT/sets.json`` records what was written; an existing set with the same parameters is
kept. OUT defaults to ``benchmarks/_work/verify`` (git-ignored). The two sets are written by two
processes; 3,000 + 3,000 episodes take about 15 s on 2 cores and ~0.75 GB.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.verify.verify_fixtures import EFFECTS, write_policy_set  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "_work" / "verify"
BASELINE_VERSION = "bench-baseline"


def _write(path: str, version: str, effect: str, episodes: int, steps: int) -> float:
    started = time.perf_counter()
    target = Path(path)
    if target.exists():
        shutil.rmtree(target)
    write_policy_set(target, version, effect, episodes=episodes, steps=steps)
    return time.perf_counter() - started


def generate(out: Path, episodes: int, steps: int, effect: str) -> dict:
    """Write (or keep) both sets; returns the sets.json description."""
    out = Path(out).resolve()
    wanted = {
        "episodes": episodes,
        "steps": steps,
        "baseline": {"version": BASELINE_VERSION, "effect": "baseline", "path": "baseline"},
        "candidate": {"version": f"bench-{effect}", "effect": effect, "path": "candidate"},
    }
    manifest = out / "sets.json"
    if manifest.is_file() and json.loads(manifest.read_text()) == wanted:
        print(f"{out}: sets already there ({episodes} + {episodes} episodes of {steps} steps)")
        return wanted
    out.mkdir(parents=True, exist_ok=True)
    manifest.unlink(missing_ok=True)
    started = time.perf_counter()
    jobs = [wanted["baseline"], wanted["candidate"]]
    with ProcessPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(_write, str(out / j["path"]), j["version"], j["effect"], episodes, steps)
            for j in jobs
        ]
        for job, future in zip(jobs, futures, strict=True):
            print(f"wrote {job['version']} ({job['effect']}) in {future.result():.1f} s")
    manifest.write_text(json.dumps(wanted, indent=2))
    print(
        f"{out}: {episodes} + {episodes} episodes of ≤ {steps} steps × 26 dims "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return wanted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, nargs="?", default=DEFAULT_OUT)
    parser.add_argument("--episodes", type=int, default=3000, help="per set")
    parser.add_argument("--steps", type=int, default=400, help="frames of a failed episode")
    parser.add_argument(
        "--effect", choices=[e for e in EFFECTS if e != "baseline"], default="drop10"
    )
    args = parser.parse_args(argv)
    generate(args.out, args.episodes, args.steps, args.effect)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
