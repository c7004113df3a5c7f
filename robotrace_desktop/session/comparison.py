"""Two runs on one timeline, as plain Python: which run is the baseline, what each run's clock
offsets and findings are, and how the candidate is shifted against the baseline.

The comparison view renders a ``ComparisonSession`` and follows its ``alignment_changed``; the
alignment rules (``session.alignment``) and the catalog reads live here, not in the widget.

Time: the comparison timeline is *baseline* episode time and candidate time = t − offset. The
playhead may go below 0 when the candidate is shifted left (offset < 0), so the timeline runs
from ``origin = min(0, offset)`` to ``end_ns``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from robotrace_desktop.catalog.findings import findings_for
from robotrace_desktop.catalog.guard import storage_errors
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.channels import default_selection, stream_role
from robotrace_desktop.core.episode import EpisodeInfo, StreamKind
from robotrace_desktop.core.finding import Finding
from robotrace_desktop.session.alignment import (
    ALIGN_LABELS,
    alignment_offset,
    comparison_pair,
    event_ns,
)
from robotrace_desktop.session.events import Event

SIDES = ("baseline", "candidate")
MAX_DEFAULT_ROWS = 8
MANUAL_NOTE = "Manual shift."
ChannelRef = tuple[str, str]


@dataclass(frozen=True, slots=True)
class ComparedRun:
    """One run of a comparison as the catalog holds it when the comparison opens."""

    role: str  # "baseline" / "candidate"
    info: EpisodeInfo
    offsets: dict[str, int] = field(default_factory=dict)  # per-stream clock offsets
    findings: list[Finding] = field(default_factory=list)  # best first


@dataclass(frozen=True, slots=True)
class Alignment:
    """What an alignment decided: the candidate shift, the note to show, where the playhead
    goes (the aligned event; None: stay) and whether an event mode fell back to the start."""

    mode: str
    offset_ns: int
    note: str
    move_to_ns: int | None = None
    fell_back: bool = False


class ComparisonSession:
    """Baseline and candidate with their alignment. Build with ``open`` (reads the catalog once)
    or directly from two ``ComparedRun``s (tests, scripts)."""

    def __init__(self, baseline: ComparedRun, candidate: ComparedRun) -> None:
        self.runs = {"baseline": baseline, "candidate": candidate}
        self.baseline = baseline.info
        self.candidate = candidate.info
        self._alignment = Alignment("start", 0, "")
        self.alignment_changed: Event[Alignment] = Event("alignment_changed")

    @classmethod
    def open(cls, catalog_path: Path, first_id: str, second_id: str) -> ComparisonSession:
        """Read both runs' infos, offsets and findings, then close the catalog: the comparison
        writes nothing. A replay goes right of the run it replays. Raises StorageError."""
        with Catalog(Path(catalog_path)) as catalog, storage_errors():
            pair = comparison_pair(catalog.get(first_id), catalog.get(second_id))
            runs = [
                ComparedRun(
                    role, info, catalog.stream_offsets(info.id), findings_for(catalog, info.id)
                )
                for role, info in zip(SIDES, pair, strict=True)
            ]
        return cls(*runs)

    # --- alignment ----------------------------------------------------------------------

    def alignment(self) -> Alignment:
        return self._alignment

    def offset_ns(self) -> int:
        """Candidate time = timeline (baseline) time − offset."""
        return self._alignment.offset_ns

    def origin_ns(self) -> int:
        """Where the timeline starts, in baseline time (≤ 0)."""
        return min(0, self._alignment.offset_ns)

    def end_ns(self) -> int:
        """Where the timeline ends, in baseline time: the later of the two runs' ends."""
        return max(self.baseline.duration_ns, self.offset_ns() + self.candidate.duration_ns)

    def set_alignment(self, mode: str) -> Alignment:
        """Align on "start", "first_finding", "failure_time" (falls back to the start with a
        note), or keep the current shift as "manual". Always emits: choosing the same mode
        again still moves the playhead back to the aligned event."""
        if mode not in ALIGN_LABELS:
            raise ValueError(f"unknown alignment {mode!r}; one of {', '.join(ALIGN_LABELS)}")
        if mode == "manual":
            return self._set(Alignment(mode, self.offset_ns(), MANUAL_NOTE))
        base, cand = self.runs["baseline"].findings, self.runs["candidate"].findings
        offset, note = alignment_offset(mode, base, cand)
        b = event_ns(mode, base)
        move_to = b if b is not None and event_ns(mode, cand) is not None else None
        fell_back = mode != "start" and move_to is None
        return self._set(Alignment(mode, offset, note, move_to, fell_back))

    def set_manual_offset(self, offset_ns: int) -> Alignment:
        """A manual candidate shift (the mode becomes "manual")."""
        return self._set(Alignment("manual", int(offset_ns), MANUAL_NOTE))

    def _set(self, alignment: Alignment) -> Alignment:
        self._alignment = alignment
        self.alignment_changed.emit(alignment)
        return alignment

    # --- per run ------------------------------------------------------------------------

    def shift_ns(self, role: str) -> int:
        """How far a run's episode time is moved on the timeline (the candidate's offset)."""
        return self.offset_ns() if role == "candidate" else 0

    def pane_offset(self, role: str, stream: str) -> int:
        """A stream's own clock offset plus its run's shift on the timeline."""
        return self.runs[role].offsets.get(stream, 0) + self.shift_ns(role)

    def default_channels(self) -> list[ChannelRef]:
        """Command (action) channels both runs have — recorded vs candidate actions; else the
        baseline's default plots that the candidate also has; at most MAX_DEFAULT_ROWS."""
        common = {
            (s.name, c) for s in self.candidate.streams_of(StreamKind.SIGNAL) for c in s.channels
        }
        commands = [
            (s.name, c)
            for s in self.baseline.streams_of(StreamKind.SIGNAL)
            if stream_role(s) == "command"
            for c in s.channels
            if (s.name, c) in common
        ]
        if not commands:
            commands = [r for r in default_selection(self.baseline) if r in common]
        return commands[:MAX_DEFAULT_ROWS]
