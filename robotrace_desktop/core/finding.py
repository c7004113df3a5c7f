"""What Explain reports about an episode: one ``Finding`` per suspected cause.

Findings are computed by the analyzers (``analysis``), stored by the catalog and shown, ranked,
by the viewer, the CLI, verify and the sinks; the first one is the most likely reason the run
failed and carries the estimated failure time. The type lives in ``core``, with the episode
model, because Explain and the catalog are independent layers that both need it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SEVERITIES = ("critical", "high", "medium", "low", "info")
#: the cause id of "the recording itself says the run failed": ranked after the symptoms that
#: show how it failed, and left out of the anomaly score (it restates a label, not a signal)
RECORDED_OUTCOME = "outcome_failed"
#: findings at or above this confidence are "a real fault a user should look at": what the
#: catalog filters and counts, the ranking puts first, the panels draw solid and verify compares
CONFIDENT = 0.5


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
