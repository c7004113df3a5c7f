"""Seed inputs for the reader fuzzer: the real recordings in shared/data and generated ones.

A seed is a recording (a file or a folder) plus the member files worth mutating. ``build``
turns a recipe (seed name, member, op, params) into a fresh input under a work folder: the seed
is copied there and only the chosen member is rewritten — nothing is ever written under
shared/data. Generated seeds (and the trimmed G1 dataset) are made once per cache folder with
the same writers the reader tests use.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fuzz.mutations import mutate

REPO = Path(__file__).resolve().parents[2]
G1 = "lerobot/g1_pick_bottle_v21"
G1_EPISODES = 2  # episode 0 (no video in the download) and episode 1 (AV1 video)
G1_VIDEO = "videos/chunk-000/observation.images.cam_high/episode_000001.mp4"


def shared_root() -> Path:
    override = os.environ.get("ROBOTRACE_TEST_DATA")
    return Path(override) if override else REPO.parent / "shared" / "data"


@dataclass(frozen=True)
class Seed:
    name: str
    kind: str  # the reader kind the unmutated seed indexes as
    members: tuple[str, ...]  # relative to the seed root; "" = the seed is the file itself
    shared: str | None = None  # path under shared/data, or None for generated seeds
    make: Callable[[Path], Path] | None = None  # writes the seed under a folder, returns it

    def root(self, cache: Path) -> Path:
        """The unmutated recording (generated into ``cache`` on first use)."""
        if self.shared is not None:
            return shared_root() / self.shared
        assert self.make is not None
        done = cache / self.name / ".done"
        if not done.exists():
            folder = cache / self.name
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            target = self.make(folder)
            done.write_text(str(target.relative_to(folder)))
        return cache / self.name / done.read_text()


# -- generated seeds ------------------------------------------------------------------------------


def _bundle(folder: Path) -> Path:
    from tests.readers.test_bundle import make_bundle

    make_bundle(folder / "bundle")
    return folder / "bundle"


def _aloha(folder: Path) -> Path:
    from tests.readers.hdf5_fixtures import write_aloha

    write_aloha(folder / "episode_0.hdf5", steps=20, compress=True)
    return folder / "episode_0.hdf5"


def _aloha_raw(folder: Path) -> Path:
    from tests.readers.hdf5_fixtures import write_aloha

    write_aloha(folder / "episode_1.hdf5", steps=20, cams=("top",))
    return folder / "episode_1.hdf5"


def _aloha_hollow(folder: Path) -> Path:
    """An ALOHA episode whose /observations/qvel claims 16 GB (20 x 10^8, chunks never
    written): the file is small, reading the dataset whole would not be."""
    import h5py

    from tests.readers.hdf5_fixtures import write_aloha

    path = folder / "hollow.hdf5"
    write_aloha(path, steps=20, cams=("top",))
    with h5py.File(path, "a") as f:
        del f["observations/qvel"]
        f.create_dataset(
            "observations/qvel",
            shape=(20, 10**8),
            dtype="f8",
            chunks=(1, 10**6),
            compression="gzip",
        )
    return path


def _robomimic(folder: Path) -> Path:
    from tests.readers.hdf5_fixtures import write_robomimic

    write_robomimic(folder / "demo.hdf5")
    return folder / "demo.hdf5"


def _lerobot_v3(folder: Path) -> Path:
    from tests.readers.lerobot_fixtures import write_v3

    return write_v3(folder / "v3")


def _lerobot_v2(folder: Path) -> Path:
    from tests.readers.lerobot_fixtures import write_v2

    write_v2(folder / "v2")
    return folder / "v2"


def _ros2(storage: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        from tests.readers.ros_fixtures import write_rosbag2

        return write_rosbag2(folder / f"gen_{storage}", storage)

    return make


def _ros1_lz4(folder: Path) -> Path:
    from tests.readers.ros_fixtures import write_rosbag1

    return write_rosbag1(folder / "gen_lz4.bag", "lz4")


def _g1_trimmed(folder: Path) -> Path:
    """The real G1 dataset cut to its first two episodes, meta files kept consistent (copying
    all 100 parquets and 14 MB of video per input would make each case slow)."""
    src = shared_root() / G1
    dst = folder / "g1_pick_bottle_v21"
    (dst / "meta").mkdir(parents=True)
    info = json.loads((src / "meta/info.json").read_text())
    lines = {
        name: (src / "meta" / name).read_text().splitlines()[:G1_EPISODES]
        for name in ("episodes.jsonl", "episodes_stats.jsonl")
    }
    info["total_episodes"] = G1_EPISODES
    info["total_frames"] = sum(json.loads(line)["length"] for line in lines["episodes.jsonl"])
    info["total_videos"] = G1_EPISODES
    info["splits"] = {"train": f"0:{G1_EPISODES}"}
    (dst / "meta/info.json").write_text(json.dumps(info, indent=4))
    for name, kept in lines.items():
        (dst / "meta" / name).write_text("\n".join(kept) + "\n")
    shutil.copyfile(src / "meta/tasks.jsonl", dst / "meta/tasks.jsonl")
    for i in range(G1_EPISODES):
        rel = f"data/chunk-000/episode_{i:06d}.parquet"
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, dst / rel)
    (dst / G1_VIDEO).parent.mkdir(parents=True)
    shutil.copyfile(src / G1_VIDEO, dst / G1_VIDEO)
    return dst


# -- the seed table -------------------------------------------------------------------------------


def _seeds() -> dict[str, Seed]:
    rb2 = "rosbag2"
    table = [
        Seed("talker_mcap", rb2, ("talker.mcap", "metadata.yaml"), f"{rb2}/talker_mcap"),
        Seed("talker_sqlite3", rb2, ("talker.db3", "metadata.yaml"), f"{rb2}/talker_sqlite3"),
        Seed("cdr_test_mcap", rb2, ("cdr_test_0.mcap", "metadata.yaml"), f"{rb2}/cdr_test_mcap"),
        Seed("cdr_test_sqlite3", rb2, ("cdr_test_0.db3",), f"{rb2}/cdr_test_sqlite3"),
        Seed("split_wbag_mcap", rb2, ("wbag_2.mcap", "metadata.yaml"), f"{rb2}/split_wbag_mcap"),
        Seed("split_wbag_sqlite3", rb2, ("wbag_0.db3",), f"{rb2}/split_wbag_sqlite3"),
        Seed(
            "service_events_mcap",
            rb2,
            ("bag_with_topics_and_service_events.mcap", "metadata.yaml"),
            f"{rb2}/service_events_mcap",
        ),
        Seed(
            "service_events_sqlite3",
            rb2,
            ("bag_with_topics_and_service_events.db3",),
            f"{rb2}/service_events_sqlite3",
        ),
        Seed(
            "empty_bag_sqlite3",
            rb2,
            ("empty_bag_0.db3", "metadata.yaml"),
            f"{rb2}/empty_bag_sqlite3",
        ),
        Seed(
            "iiwa7",
            rb2,
            ("my_bag_0_0.db3", "metadata.yaml"),
            f"{rb2}/iiwa7_gazebo_joint_torque_sqlite3",
        ),
        Seed("wrong_format_mcap", rb2, ("wrong_rmw_test_0.mcap",), f"{rb2}/wrong_format_mcap"),
        Seed("example_bag", "rosbag1", ("",), "ros1/example.bag"),
        Seed("example_lz4_bag", "rosbag1", ("",), "ros1/example-lz4.bag"),
        Seed("unsorted_chunks_bag", "rosbag1", ("",), "ros1/example-unsorted-chunks.bag"),
        Seed("no_messages_bag", "rosbag1", ("",), "ros1/no-messages.bag"),
        Seed(
            "g1",
            "lerobot",
            (
                "meta/info.json",
                "meta/episodes.jsonl",
                "meta/episodes_stats.jsonl",
                "meta/tasks.jsonl",
                "data/chunk-000/episode_000001.parquet",
                G1_VIDEO,
            ),
            make=_g1_trimmed,
        ),
        Seed(
            "bundle",
            "bundle",
            (
                "robotrace_episode.json",
                "signals/joints.parquet",
                "signals/streams.npz",
                "signals/wrench.feather",
                "video/front.mp4",
                "video/wrist_times.npy",
                "events/log.jsonl",
            ),
            make=_bundle,
        ),
        Seed("aloha", "hdf5", ("",), make=_aloha),
        Seed("aloha_raw", "hdf5", ("",), make=_aloha_raw),
        Seed("robomimic", "hdf5", ("",), make=_robomimic),
        Seed("aloha_hollow", "hdf5", ("",), make=_aloha_hollow),
        Seed(
            "lerobot_v3",
            "lerobot",
            (
                "meta/info.json",
                "meta/episodes/chunk-000/file-000.parquet",
                "meta/tasks.parquet",
                "data/chunk-000/file-000.parquet",
                "videos/observation.images.top/chunk-000/file-000.mp4",
            ),
            make=_lerobot_v3,
        ),
        Seed(
            "lerobot_v2",
            "lerobot",
            (
                "meta/info.json",
                "meta/episodes.jsonl",
                "data/chunk-000/episode_000000.parquet",
                "videos/chunk-000/observation.images.top/episode_000000.mp4",
            ),
            make=_lerobot_v2,
        ),
        Seed("gen_mcap", rb2, ("gen_mcap.mcap", "metadata.yaml"), make=_ros2("mcap")),
        Seed("gen_sqlite3", rb2, ("gen_sqlite3.db3",), make=_ros2("sqlite3")),
        Seed("gen_lz4_bag", "rosbag1", ("",), make=_ros1_lz4),
    ]
    return {seed.name: seed for seed in table}


SEEDS: dict[str, Seed] = _seeds()


def recipe_name(recipe: dict[str, Any]) -> str:
    """A short, file-name-safe label for a recipe."""
    params = "-".join(f"{k}{v}" for k, v in sorted(recipe["params"].items()) if k != "new")
    member = Path(recipe["member"]).name or "file"
    text = f"{recipe['seed']}-{member}-{recipe['op']}-{params}"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:120]


def build(recipe: dict[str, Any], cache: Path, work: Path) -> Path:
    """Materialise a recipe as a fresh input under ``work`` (emptied first); returns its path.

    A recipe is ``{"seed": name, "member": relative path ("" = the file), "op": operator,
    "params": {...}}``; ``op`` "none" gives the unmutated seed.
    """
    seed = SEEDS[recipe["seed"]]
    source = seed.root(cache)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    target = work / source.name
    if source.is_dir():
        shutil.copytree(source, target, copy_function=shutil.copyfile, ignore=_skip_done)
    else:
        shutil.copyfile(source, target)
    if recipe["op"] == "none":
        return target
    member = target / recipe["member"] if recipe["member"] else target
    data = member.read_bytes()
    member.write_bytes(mutate(data, recipe["op"], recipe["params"]))
    return target


def _skip_done(_folder: str, names: list[str]) -> list[str]:
    return [n for n in names if n == ".done"]
