"""Generate a LeRobot dataset for benchmarks.

    python benchmarks/gen_lerobot.py --episodes 1000 --version v2.1 OUT

v2.x: 1,000 episodes of 300-400 frames at 30 fps, 26-dim observation.state/action with joint
names, next.reward/next.done/next.success, episodes.jsonl + episodes_stats.jsonl (v2.1). Videos:
with ``--videos`` every episode gets a tiny (64x48, a few KB) H.264 mp4 per camera, one encode
copied to every path; without it (the default) the videos are absent, as in a dataset
downloaded without its videos — indexing then lists each as missing, which costs the same
directory listing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.readers.lerobot_fixtures import EpisodeSpec, write_v2, write_v3
from tests.verify.verify_fixtures import JOINTS


def specs(count: int) -> list[EpisodeSpec]:
    return [EpisodeSpec(300 + (i * 37) % 101, i % 2, i % 3 != 0) for i in range(count)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--version", choices=("v2.0", "v2.1", "v3.0"), default="v2.1")
    parser.add_argument("--videos", action="store_true", help="write tiny mp4s (v2.x)")
    args = parser.parse_args(argv)
    if (args.out / "meta" / "info.json").exists():
        print(f"{args.out} already holds a dataset", file=sys.stderr)
        return 1
    started = time.perf_counter()
    episodes = specs(args.episodes)
    if args.version == "v3.0":
        write_v3(
            args.out, episodes=episodes, cameras=(), episodes_per_data_file=50, row_group_size=8192
        )
    else:
        write_v2(
            args.out,
            args.version,
            episodes=episodes,
            cameras=("observation.images.cam_high",),
            video_episodes=None if args.videos else (),
            state_names=JOINTS,
            action_dim=len(JOINTS),
            fps=30,
            random_values=True,
            shared_video=True,
        )
    frames = sum(s.length for s in episodes)
    print(
        f"wrote {args.version} dataset {args.out}: {len(episodes)} episodes, {frames} frames, "
        f"videos {'tiny' if args.videos else 'absent'}, in {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
