"""What an analyzer reports. Findings are stored in the catalog and shown, ranked, to the user;
the first one is the most likely reason the run failed and carries the estimated failure time."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SEVERITIES = ("critical", "high", "medium", "low", "info")


@dataclass(slots=True)
class Finding:
    cause: str  # stable id: "action_saturation", "raised_exception", …
    title: str  # short, e.g. "Gripper closed on nothing"
    explanation: str  # one line in plain words, with the numbers that matter
    confidence: float  # 0..1: how sure the analyzer is that this happened AND matters
    severity: str  # one of SEVERITIES
    t_start_ns: int | None = None  # episode time of the evidence (None: not tied to a time)
    t_end_ns: int | None = None
    channels: list[str] = field(default_factory=list)  # "stream/channel" or "stream"
    evidence: dict[str, Any] = field(default_factory=dict)  # values and thresholds used
    next_step: str = ""  # what to look at or try next
    rank: int = 0  # 1 = most likely root cause; set by ranking

    def __post_init__(self) -> None:
        self.confidence = float(min(max(self.confidence, 0.0), 1.0))
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def channel_ref(stream: str, channel: str | None = None) -> str:
    """How findings name channels: ``/joint_states/effort/joint_3`` or just the stream."""
    return stream if channel is None else f"{stream}/{channel}"
