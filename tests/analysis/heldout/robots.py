"""Every real robot recording in ``../shared/data``, loaded into memory as that robot's episodes.

A robot needs peers (its history) and clean episodes to count false alarms on. LeRobot datasets
have many episodes; a robot with one or two long recordings has them cut into windows of
10–20 s that act as its episodes (a window is re-based so it starts at 0, like an episode).

The folds split by robot, never by episode: a figure on robots the analyzers were tuned on says
nothing about a robot nobody has seen.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robotrace_desktop.core.episode import EpisodeInfo, LogEvent, SignalChunk, StreamKind
from tests.analysis.faults import MemorySource

NS = 1_000_000_000
#: long recordings are cut into windows of about this length (at least two per recording)
WINDOW_S = 15.0
MIN_WINDOW_S = 8.0
G1_SUBSET = tuple(range(0, 100, 5))  # 20 episodes spread over the dataset (``--all-g1``: 100)

TUNE = ("G1", "iiwa", "turtlesim", "Husky")
HELDOUT = ("SO-101", "Reachy 2", "CougUV", "Baxter")
FOLDS = {"tune": TUNE, "heldout": HELDOUT}


@dataclass(frozen=True)
class RobotSpec:
    """Where a robot's recordings are: LeRobot datasets by episode, bags as windows."""

    name: str
    lerobot: str | None = None
    bags: tuple[str, ...] = ()


ROBOTS = (
    RobotSpec("G1", lerobot="lerobot/g1_pick_bottle_v21"),
    RobotSpec("iiwa", bags=("rosbag2/iiwa7_gazebo_joint_torque_sqlite3",)),
    RobotSpec("turtlesim", bags=("ros1/example.bag",)),
    RobotSpec("Husky", bags=("ros1/husky_localization/test1.bag",)),
    RobotSpec("SO-101", lerobot="lerobot/so101_v30"),
    RobotSpec("Reachy 2", lerobot="lerobot/reachy2_v30_trimmed"),
    RobotSpec(
        "CougUV",
        bags=("rosbag2/cougars_auv/SO_lastbag_mcap", "rosbag2/cougars_auv/cleaned_up_bag"),
    ),
    RobotSpec("Baxter", bags=("ros1/baxter_endpoint/data.bag",)),
)


@dataclass
class Base:
    """One clean episode (or window) of a robot, held in memory."""

    robot: str
    name: str
    source: MemorySource

    @property
    def info(self) -> EpisodeInfo:
        return self.source.info


@dataclass
class Robot:
    name: str
    bases: list[Base]

    def peers_of(self, base: Base) -> list[Base]:
        """The robot's other clean episodes: leave-one-out, never ``base`` itself."""
        return [b for b in self.bases if b is not base]


def load_robot(data: Path, spec: RobotSpec, *, all_g1: bool = False) -> Robot:
    bases: list[Base] = []
    if spec.lerobot is not None:
        bases += _lerobot_bases(data / spec.lerobot, spec.name, all_g1)
    for bag in spec.bags:
        bases += _bag_windows(data / bag, spec.name)
    return Robot(spec.name, bases)


def load_robots(
    data: Path, names: tuple[str, ...] | None = None, *, all_g1: bool = False
) -> dict[str, Robot]:
    wanted = [s for s in ROBOTS if names is None or s.name in names]
    return {s.name: load_robot(Path(data), s, all_g1=all_g1) for s in wanted}


def _lerobot_bases(path: Path, robot: str, all_g1: bool) -> list[Base]:
    from robotrace_desktop.readers.lerobot.reader import LeRobotReader

    reader = LeRobotReader()
    infos = sorted(reader.index(path), key=lambda i: i.episode_index or 0)
    if robot == "G1" and not all_g1:
        infos = [i for i in infos if i.episode_index in G1_SUBSET]
    return [
        Base(
            robot,
            f"{robot}#{info.episode_index}",
            MemorySource.load(info, reader.open(path, info.episode_index)),
        )
        for info in infos
    ]


def _bag_windows(path: Path, robot: str) -> list[Base]:
    from robotrace_desktop.episodes import resolve

    resolved = resolve(str(path), None)
    whole = MemorySource.load(resolved.info, resolved.open())
    duration = whole.info.duration_ns / NS
    count = max(2, int(duration // WINDOW_S))
    if duration / count < MIN_WINDOW_S:
        count = max(1, int(duration // MIN_WINDOW_S))
    length = duration / count
    bases = []
    for k in range(count):
        lo, hi = round(k * length * NS), round((k + 1) * length * NS)
        bases.append(Base(robot, f"{robot}:{path.name}[{k}]", window(whole, lo, hi, k)))
    return bases


def window(src: MemorySource, lo_ns: int, hi_ns: int, k: int) -> MemorySource:
    """[lo, hi) of a recording as an episode of its own, re-based to start at 0 (every clock
    shifted alike, so intervals between samples are untouched)."""
    signals = {name: _cut(chunk, lo_ns, hi_ns) for name, chunk in src.signals.items()}
    events = {
        name: [
            LogEvent(e.t_ns - lo_ns, e.level, e.text, e.source)
            for e in evs
            if lo_ns <= e.t_ns < hi_ns
        ]
        for name, evs in src.events.items()
    }
    frames = {name: t[(t >= lo_ns) & (t < hi_ns)] - lo_ns for name, t in src.frames.items()}
    streams = []
    for stream in src.info.streams:
        if stream.kind == StreamKind.SIGNAL and stream.name in signals:
            t = signals[stream.name].t_ns
        elif stream.kind == StreamKind.EVENT and stream.name in events:
            t = np.asarray([e.t_ns for e in events[stream.name]], dtype=np.int64)
        elif stream.kind == StreamKind.VIDEO and stream.name in frames:
            t = frames[stream.name]
        else:
            streams.append(stream)  # static streams (robot description) stay as they are
            continue
        streams.append(
            dataclasses.replace(
                stream,
                count=len(t),
                t_start_ns=int(t.min()) if len(t) else None,
                t_end_ns=int(t.max()) if len(t) else None,
            )
        )
    info = dataclasses.replace(
        src.info,
        id=f"{src.info.id}@{k}",
        name=f"{src.info.name} [{lo_ns / NS:.1f}-{hi_ns / NS:.1f} s]",
        duration_ns=hi_ns - lo_ns,
        start_time_ns=None if src.info.start_time_ns is None else src.info.start_time_ns + lo_ns,
        streams=streams,
        metadata={**src.info.metadata, "window_ns": [lo_ns, hi_ns]},
        problems=list(src.info.problems),
    )
    return MemorySource(info, {k: v for k, v in signals.items() if len(v)}, events, frames)


def _cut(chunk: SignalChunk, lo_ns: int, hi_ns: int) -> SignalChunk:
    sel = (chunk.t_ns >= lo_ns) & (chunk.t_ns < hi_ns)
    times = {clock: t[sel] - lo_ns for clock, t in chunk.times.items()}
    return SignalChunk(
        chunk.stream, chunk.channels, chunk.t_ns[sel] - lo_ns, chunk.values[sel], times
    )
