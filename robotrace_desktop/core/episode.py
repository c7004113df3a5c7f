"""The episode model: what one robot run is, independent of the file format it came from.

``EpisodeInfo`` is the cheap, catalog-sized description produced by indexing (no sample data).
``EpisodeSource`` is an opened episode: it reads streams lazily by time range. Readers produce
both; the catalog stores only the former.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Any

from robotrace_desktop.errors import StreamNotFoundError

if TYPE_CHECKING:  # numpy is imported lazily: a re-scan of an unchanged tree never needs it
    import numpy as np

    from robotrace_desktop.video.frames import FrameSource

REPRODUCIBILITY_FIELDS = ("policy_version", "env_version", "git_sha", "seed")
SOURCES = ("real", "sim", "replay")
KINDS = ("rosbag2", "rosbag1", "lerobot", "hdf5", "bundle")


class StreamKind(StrEnum):
    VIDEO = "video"
    SIGNAL = "signal"
    EVENT = "event"


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    UNKNOWN = "unknown"

    @classmethod
    def from_success(cls, success: bool | None) -> Outcome:
        if success is None:
            return cls.UNKNOWN
        return cls.SUCCESS if success else cls.FAILURE


class Status(StrEnum):
    READY = "ready"
    FAILED = "failed"
    MISSING = "missing"  # catalog-only: the recording vanished from disk


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """Summary of one stream. Times are ns relative to the episode start."""

    name: str
    kind: StreamKind
    count: int
    channels: tuple[str, ...] = ()
    t_start_ns: int | None = None
    t_end_ns: int | None = None
    message_type: str | None = None
    # Format details worth showing: clock used, codec, width/height, file, topic...
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def rate_hz(self) -> float | None:
        if self.count < 2 or self.t_start_ns is None or self.t_end_ns is None:
            return None
        span = self.t_end_ns - self.t_start_ns
        if span <= 0:
            return None
        return (self.count - 1) * 1e9 / span

    def to_dict(self) -> dict[str, Any]:
        rate = self.rate_hz
        return {
            "name": self.name,
            "kind": self.kind.value,
            "count": self.count,
            "rate_hz": None if rate is None else round(rate, 3),
            "channels": list(self.channels),
            "t_start_ns": self.t_start_ns,
            "t_end_ns": self.t_end_ns,
            "message_type": self.message_type,
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StreamInfo:
        return cls(
            name=data["name"],
            kind=StreamKind(data["kind"]),
            count=int(data["count"]),
            channels=tuple(data.get("channels") or ()),
            t_start_ns=data.get("t_start_ns"),
            t_end_ns=data.get("t_end_ns"),
            message_type=data.get("message_type"),
            details=dict(data.get("details") or {}),
        )


@dataclass(slots=True)
class EpisodeInfo:
    """Everything the catalog knows about an episode, produced by indexing a recording."""

    id: str
    kind: str
    path: str
    episode_index: int | None
    name: str
    duration_ns: int = 0
    start_time_ns: int | None = None  # absolute (Unix epoch ns) where the recording says
    source: str | None = None  # real / sim / replay
    robot: str | None = None
    policy_version: str | None = None
    env_version: str | None = None
    git_sha: str | None = None
    seed: int | None = None
    task: str | None = None
    outcome: Outcome = Outcome.UNKNOWN
    status: Status = Status.READY
    problems: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    streams: list[StreamInfo] = field(default_factory=list)

    def stream(self, name: str) -> StreamInfo:
        for info in self.streams:
            if info.name == name:
                return info
        known = ", ".join(s.name for s in self.streams) or "none"
        raise StreamNotFoundError(f"episode {self.id} has no stream {name!r} (streams: {known})")

    def streams_of(self, kind: StreamKind) -> list[StreamInfo]:
        return [s for s in self.streams if s.kind == kind]

    @property
    def missing_reproducibility(self) -> list[str]:
        return [f for f in REPRODUCIBILITY_FIELDS if getattr(self, f) in (None, "")]

    def to_dict(self, *, with_streams: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "path": self.path,
            "episode_index": self.episode_index,
            "name": self.name,
            "duration_ns": self.duration_ns,
            "start_time_ns": self.start_time_ns,
            "status": self.status.value,
            "outcome": self.outcome.value,
            "problems": list(self.problems),
            "source": self.source,
            "robot": self.robot,
            "policy_version": self.policy_version,
            "env_version": self.env_version,
            "git_sha": self.git_sha,
            "seed": self.seed,
            "task": self.task,
            "metadata": self.metadata,
        }
        if with_streams:
            data["streams"] = [s.to_dict() for s in self.streams]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EpisodeInfo:
        """Inverse of ``to_dict`` (worker processes hand episodes back this way)."""
        return cls(
            id=data["id"],
            kind=data["kind"],
            path=data["path"],
            episode_index=data.get("episode_index"),
            name=data["name"],
            duration_ns=int(data.get("duration_ns") or 0),
            start_time_ns=data.get("start_time_ns"),
            source=data.get("source"),
            robot=data.get("robot"),
            policy_version=data.get("policy_version"),
            env_version=data.get("env_version"),
            git_sha=data.get("git_sha"),
            seed=data.get("seed"),
            task=data.get("task"),
            outcome=Outcome(data.get("outcome") or Outcome.UNKNOWN.value),
            status=Status(data.get("status") or Status.READY.value),
            problems=list(data.get("problems") or []),
            metadata=dict(data.get("metadata") or {}),
            streams=[StreamInfo.from_dict(s) for s in data.get("streams") or []],
        )


def episode_id(path: str, episode_index: int | None = None) -> str:
    """A stable id: the same recording at the same absolute path always gets the same id."""
    key = path if episode_index is None else f"{path}#{episode_index}"
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class SignalChunk:
    """Samples of one signal stream in a time range.

    ``t_ns`` is int64 (N,), relative to the episode start, sorted. ``values`` is float64 (N, C),
    one column per channel. ``times`` keeps the alternative clocks (e.g. ``record`` and ``header``
    for ROS topics) so a user can see both; ``t_ns`` is the one chosen for the timeline.
    """

    stream: str
    channels: tuple[str, ...]
    t_ns: np.ndarray
    values: np.ndarray
    times: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.t_ns.shape[0])

    def channel(self, name: str) -> np.ndarray:
        try:
            return self.values[:, self.channels.index(name)]
        except ValueError:
            raise StreamNotFoundError(f"stream {self.stream!r} has no channel {name!r}") from None


@dataclass(frozen=True, slots=True)
class LogEvent:
    t_ns: int
    level: str  # DEBUG / INFO / WARN / ERROR / FATAL
    text: str
    source: str = ""


class EpisodeSource(ABC):
    """An opened episode. Use as a context manager; reads are lazy and bounded by time.

    ``start_ns``/``stop_ns`` are relative to the episode start; ``stop_ns`` is exclusive.
    """

    info: EpisodeInfo

    def __enter__(self) -> EpisodeSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release file handles and decoders."""

    @abstractmethod
    def read_signal(
        self, stream: str, start_ns: int | None = None, stop_ns: int | None = None
    ) -> SignalChunk: ...

    def read_events(
        self, stream: str, start_ns: int | None = None, stop_ns: int | None = None
    ) -> list[LogEvent]:
        raise StreamNotFoundError(f"episode {self.info.id} has no event stream {stream!r}")

    def read_streams(
        self, signals: Sequence[str], events: Sequence[str] = ()
    ) -> tuple[dict[str, SignalChunk], dict[str, list[LogEvent]]]:
        """Several whole streams at once, each exactly as ``read_signal`` / ``read_events``
        would return it.

        Why: a reader whose streams share one file (a ROS bag interleaves every topic) can fill
        them all from ONE pass over it instead of one pass per stream (Explain asks for every
        stream of the episode). This default just loops; it raises on the first stream that
        cannot be read, so a caller that must keep the others reads them one by one then.
        """
        chunks = {name: self.read_signal(name) for name in signals}
        logs = {name: self.read_events(name) for name in events}
        return chunks, logs

    def read_signals(self, streams: Sequence[str]) -> dict[str, SignalChunk]:
        """Several whole signal streams at once (see ``read_streams``)."""
        return self.read_streams(streams)[0]

    def video(self, stream: str) -> FrameSource:
        raise StreamNotFoundError(f"episode {self.info.id} has no video stream {stream!r}")


def time_mask(t_ns: np.ndarray, start_ns: int | None, stop_ns: int | None) -> slice:
    """The slice of a sorted time column within [start_ns, stop_ns)."""
    import numpy as np

    lo = 0 if start_ns is None else int(np.searchsorted(t_ns, start_ns, side="left"))
    hi = len(t_ns) if stop_ns is None else int(np.searchsorted(t_ns, stop_ns, side="left"))
    return slice(lo, hi)
