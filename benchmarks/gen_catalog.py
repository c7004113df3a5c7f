"""Build a large synthetic catalog through the catalog API, without writing a single recording.

    python benchmarks/gen_catalog.py --episodes 1000000 OUT.sqlite

Rows look like a LeRobot library: datasets of ``--per-dataset`` episodes (default 10,000),
5 robots, 10 policy versions, 4 env versions, outcomes 60 % success / 30 % failure / 10 %
unknown, 2 % failed reads with a problem, one signal stream each. Every tenth episode has a
confident ``action_saturation`` finding (the ``list --cause`` benchmark: 10 % match) and every
seventh a low-confidence ``tracking_error`` one. Written with ``Catalog.upsert_episodes`` (one
transaction per dataset) and ``store_many_findings``: what a scan and Explain write, minus the
file reading. 1,000,000 rows take about a minute on a quiet machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from robotrace_desktop.catalog.findings import store_many_findings
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.episode import (
    EpisodeInfo,
    Outcome,
    Status,
    StreamInfo,
    StreamKind,
    episode_id,
)
from robotrace_desktop.core.finding import Finding

ROBOTS = ("so101", "aloha", "g1", "reachy2", "koch")
OUTCOMES = (Outcome.SUCCESS,) * 6 + (Outcome.FAILURE,) * 3 + (Outcome.UNKNOWN,)
CAUSE = "action_saturation"  # confident on every tenth episode
LOW_CAUSE = "tracking_error"  # low confidence on every seventh
FPS = 30


def dataset_root(number: int) -> str:
    return f"/synthetic/lerobot/dataset_{number:04d}"


def episode(dataset: int, index: int, serial: int) -> EpisodeInfo:
    """One synthetic episode; ``serial`` counts over the whole catalog (spreads the values)."""
    root = dataset_root(dataset)
    frames = 300 + (serial * 37) % 101
    failed = serial % 50 == 7
    return EpisodeInfo(
        id=episode_id(root, index),
        kind="lerobot",
        path=root,
        episode_index=index,
        name=f"dataset_{dataset:04d} #{index}",
        duration_ns=frames * 1_000_000_000 // FPS,
        source="real",
        robot=ROBOTS[dataset % len(ROBOTS)],
        policy_version=f"pi-{serial % 10}.{dataset % 3}",
        env_version=f"env-{serial % 4}",
        git_sha=f"{serial * 2654435761 % 2**32:08x}" * 5,
        seed=serial % 1000,
        task=("pick the cube", "open the drawer", "fold the towel")[serial % 3],
        outcome=OUTCOMES[serial % len(OUTCOMES)],
        status=Status.FAILED if failed else Status.READY,
        problems=[f"data file data/chunk-000/episode_{index:06d}.parquet is missing"]
        if failed
        else [],
        metadata={"codebase_version": "v2.1", "fps": FPS, "length": frames},
        streams=[
            StreamInfo(
                "observation.state",
                StreamKind.SIGNAL,
                frames,
                tuple(f"joint_{j}" for j in range(6)),
                0,
                (frames - 1) * 1_000_000_000 // FPS,
                "float32",
                {"shape": [6]},
            )
        ],
    )


def findings_of(serial: int) -> list[Finding]:
    found: list[Finding] = []
    if serial % 10 == 3:
        found.append(
            Finding(CAUSE, "Action saturated", "joint_2 at its limit for 1.2 s", 0.82, "high",
                    1_000_000_000, 2_200_000_000, ["action/joint_2"], {"limit": 1.0}, rank=1)
        )  # fmt: skip
    if serial % 7 == 2:
        found.append(
            Finding(LOW_CAUSE, "Tracking error", "joint_4 lags its command", 0.3, "low",
                    rank=len(found) + 1)
        )  # fmt: skip
    return found


def datasets(episodes: int, per_dataset: int) -> Iterator[tuple[int, range]]:
    """(dataset number, the catalog-wide serials of its episodes)."""
    for number, start in enumerate(range(0, episodes, per_dataset)):
        yield number, range(start, min(episodes, start + per_dataset))


def build(path: Path, episodes: int, per_dataset: int = 10_000) -> None:
    """Write ``episodes`` synthetic rows (and their findings) into the catalog at ``path``."""
    with Catalog(path) as catalog:
        for number, serials in datasets(episodes, per_dataset):
            infos = [episode(number, s - serials.start, s) for s in serials]
            with catalog.transaction():
                catalog.upsert_episodes(dataset_root(number), infos)
                catalog.set_recording_state(dataset_root(number), "lerobot", None, "ok", None)
            store_many_findings(
                catalog, {info.id: findings_of(s) for info, s in zip(infos, serials, strict=True)}
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--episodes", type=int, default=1_000_000)
    parser.add_argument("--per-dataset", type=int, default=10_000)
    args = parser.parse_args(argv)
    if args.out.exists():
        print(f"{args.out} already exists", file=sys.stderr)
        return 1
    started = time.perf_counter()
    build(args.out, args.episodes, args.per_dataset)
    print(f"wrote {args.out}: {args.episodes} episodes in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
