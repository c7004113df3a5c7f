"""Two episodes side by side on one timeline: a baseline run (left) and a candidate run or the
candidate policy's replay of the baseline (right), cameras of both, overlaid plots, one playhead.

Time: the timeline is *baseline* episode time; the candidate is shifted by ``offset``:
candidate time = t − offset. The alignment chooses the offset — "Start" (0), "First finding"
(the two top confident findings line up), "Failure time" (the ranked top findings' failure
times line up) or a manual shift in ms. The playhead may go below 0 when the candidate is
shifted left (offset < 0), so no part of either run is out of reach: the TimelineController
runs on ``t − origin`` with ``origin = min(0, offset)``.

The state — which run is which, their offsets and findings, the alignment — is a Qt-free
``ComparisonSession`` (``session.comparison``); this widget renders it and follows its
``alignment_changed``. Everything heavy happens elsewhere: frames decode in each VideoPane's
worker, streams load in the plots' pool jobs.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from robotrace_desktop.core.episode import StreamInfo, StreamKind
from robotrace_desktop.core.markers import Marker
from robotrace_desktop.core.signal_store import SignalStore
from robotrace_desktop.core.timebase import NS_PER_S as NS
from robotrace_desktop.episodes import ResolvedEpisode
from robotrace_desktop.session.alignment import (
    ALIGN_LABELS,
    alignment_offset,
    replay_of,
    short_name,
    top_confident,
)
from robotrace_desktop.session.comparison import Alignment, ComparisonSession
from robotrace_desktop.session.episode import camera_problem
from robotrace_desktop.ui.comparison_plots import (
    SIDE_COLORS,
    SIDES,
    ChannelPicker,
    ComparisonPlots,
)
from robotrace_desktop.ui.explain_panel import finding_markers, time_text
from robotrace_desktop.ui.plain_text import literal_mnemonic, literal_tip
from robotrace_desktop.ui.timeline import (
    TimelineController,
    TransportBar,
    install_transport_keys,
)
from robotrace_desktop.ui.video_grid import VideoGrid
from robotrace_desktop.ui.video_pane import VideoPane
from robotrace_desktop.video.owned import camera_opener

log = logging.getLogger(__name__)
ChannelRef = tuple[str, str]
OUTCOME_COLORS = {"success": "#2e7d32", "failure": "#c62828"}


# --------------------------------------------------------------------------- widgets


__all__ = ["ComparisonView", "alignment_offset"]  # alignment_offset: for scripts and tests


class _ComparisonTransport(TransportBar):
    """The transport bar with a read-out of both episodes' times."""

    formatter: Callable[[int], str] | None = None

    def _show_time(self, t_ns: int, scrubbing: bool) -> None:
        if self.formatter is None:
            super()._show_time(t_ns, scrubbing)
        else:
            self.time_label.setText(self.formatter(t_ns))


class ComparisonView(QWidget):
    """Baseline and candidate on one aligned timeline (see module doc)."""

    offsetChanged = Signal("qint64")  # type: ignore[arg-type]  # stub: no C++ type names

    def __init__(
        self,
        catalog_path: Path,
        baseline_id: str,
        candidate_id: str,
        *,
        align: str = "start",
        parent: QWidget | None = None,
        session: ComparisonSession | None = None,
    ) -> None:
        super().__init__(parent)
        if session is None:
            session = ComparisonSession.open(Path(catalog_path), baseline_id, candidate_id)
        self.session = session
        self.sides = session.runs
        self.baseline = session.baseline
        self.candidate = session.candidate
        self._offset = 0
        self._origin = 0
        self.resolved = {name: ResolvedEpisode(run.info, True) for name, run in self.sides.items()}
        self.stores = {
            name: SignalStore(self.resolved[name].open, run.info)
            for name, run in self.sides.items()
        }
        for name, store in self.stores.items():
            store.set_offsets(self.sides[name].offsets)
        self.timeline = TimelineController(session.end_ns(), self)

        self.header = self._header()
        self.panes: dict[tuple[str, str], VideoPane] = {}
        self.grids = {name: VideoGrid(self) for name in SIDES}
        self._add_cameras()
        self.plots = ComparisonPlots(self.stores["baseline"], self.stores["candidate"], self)
        self.channels = ChannelPicker(self.baseline, self.candidate, self)
        self.transport = _ComparisonTransport(self.timeline, self)
        self.transport.set_cameras([p.name() for p in self.panes.values() if p.problem() is None])
        self.transport.time_label.setMinimumWidth(330)
        self.transport.formatter = self._time_text

        self.align_combo = QComboBox(self)
        for mode, label in ALIGN_LABELS.items():
            self.align_combo.addItem(label, mode)
        self.align_combo.setToolTip("Which moments of the two runs line up on the timeline")
        self.offset_spin = QSpinBox(self)
        span_ms = (self.baseline.duration_ns + self.candidate.duration_ns) // 1_000_000 + 1000
        self.offset_spin.setRange(-span_ms, span_ms)
        self.offset_spin.setSuffix(" ms")
        self.offset_spin.setSingleStep(10)
        self.offset_spin.setToolTip("Candidate shift: candidate time = timeline time − shift")
        self.note = QLabel(self)
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #546e7a;")
        align_bar = QHBoxLayout()
        align_bar.setContentsMargins(6, 2, 6, 2)
        align_bar.addWidget(QLabel("Align:", self))
        align_bar.addWidget(self.align_combo)
        align_bar.addWidget(QLabel("candidate shift:", self))
        align_bar.addWidget(self.offset_spin)
        align_bar.addWidget(self.note, 1)

        videos = QSplitter(Qt.Orientation.Horizontal, self)
        for name in SIDES:
            videos.addWidget(self._video_box(name))
        lower = QSplitter(Qt.Orientation.Horizontal, self)
        lower.addWidget(self.plots)
        lower.addWidget(self.channels)
        lower.setStretchFactor(0, 4)
        lower.setStretchFactor(1, 1)
        lower.setSizes([1100, 260])
        self.main = QSplitter(Qt.Orientation.Vertical, self)
        self.main.addWidget(videos)
        self.main.addWidget(lower)
        self.main.setSizes([420, 520])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addLayout(align_bar)
        layout.addWidget(self.main, 1)
        layout.addWidget(self.transport)

        self._wire()
        self._shortcuts()
        self.show_channels(self.default_channels())
        self.set_alignment(align if align in ALIGN_LABELS else "start")
        self.set_time(self.time_ns())

    # --- construction -------------------------------------------------------------------

    def _header(self) -> QWidget:
        box = QWidget(self)
        row = QHBoxLayout(box)
        row.setContentsMargins(6, 6, 6, 2)
        self.cards: dict[str, QLabel] = {}
        for name in SIDES:
            card = QLabel(self._card_html(name), box)
            card.setTextFormat(Qt.TextFormat.RichText)
            card.setWordWrap(True)
            card.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            card.setStyleSheet(
                f"border-left: 5px solid {SIDE_COLORS[name]}; padding: 3px 8px;"
                "background: palette(base);"
            )
            card.setToolTip(
                literal_tip(f"{self.sides[name].info.path}\nid {self.sides[name].info.id}")
            )
            self.cards[name] = card
            row.addWidget(card, 1)
        return box

    def _card_html(self, name: str) -> str:
        side = self.sides[name]
        info = side.info
        outcome = info.outcome.value
        color = OUTCOME_COLORS.get(outcome, "#546e7a")
        top = top_confident(side.findings)
        finding = (
            "no confident finding"
            if top is None
            else f"{html.escape(top.title)} ({top.confidence:.0%}, {html.escape(time_text(top))})"
        )
        role = name
        if name == "candidate" and replay_of(info) == self.baseline.id:
            role = "candidate replay"
        return (
            f"<b style='color:{SIDE_COLORS[name]}'>{role.upper()}</b> &nbsp;"
            f"<b>{html.escape(info.name)}</b><br>"
            f"policy <b>{html.escape(info.policy_version or '—')}</b> · "
            f"outcome <b style='color:{color}'>{html.escape(outcome)}</b> · "
            f"{info.duration_ns / NS:.2f} s · top finding: {finding}"
        )

    def _add_cameras(self) -> None:
        cameras: dict[str, dict[str, StreamInfo]] = {name: {} for name in SIDES}
        for name, side in self.sides.items():
            for stream in side.info.streams_of(StreamKind.VIDEO):
                cameras[name][stream.name] = stream
        names = list(dict.fromkeys([*cameras["baseline"], *cameras["candidate"]]))
        for camera in names:
            for name in SIDES:
                side = self.sides[name]
                camera_stream = cameras[name].get(camera)
                label = f"{name} · {camera}"
                problem: str | None
                if camera_stream is None:
                    problem = f"the {name} has no camera {camera}"
                    if name == "candidate" and replay_of(side.info):
                        problem = (
                            "a replay has no camera of its own: the policy saw the baseline's "
                            f"frames (left) — {camera}"
                        )
                    opener = None
                else:
                    problem = camera_problem(side.info, camera_stream)
                    opener = None if problem else camera_opener(self.resolved[name].open, camera)
                pane = VideoPane(
                    label, opener, offset_ns=self._pane_offset(name, camera), problem=problem
                )
                pane.ready.connect(self._camera_ready)
                self.panes[(name, camera)] = pane
                self.grids[name].add_pane(pane)

    def _video_box(self, name: str) -> QWidget:
        box = QGroupBox(
            literal_mnemonic(f"{name.capitalize()} — {self.sides[name].info.name}"), self
        )
        box.setStyleSheet(f"QGroupBox {{ font-weight: bold; color: {SIDE_COLORS[name]}; }}")
        layout = QVBoxLayout(box)
        layout.setContentsMargins(2, 2, 2, 2)
        if self.grids[name].panes():
            layout.addWidget(self.grids[name])
        else:
            label = QLabel("Neither episode has camera streams.", box)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            layout.addWidget(label)
        return box

    def _wire(self) -> None:
        self.timeline.timeChanged.connect(self._on_time)
        self.timeline.playingChanged.connect(self._on_playing)
        self.timeline.speedChanged.connect(self._on_playing)
        self.plots.timeClicked.connect(self.set_time)
        self.channels.checkedChanged.connect(self.plots.show_channels)
        self.transport.set_range_provider(self.loop_span)
        self.transport.stepCameraChanged.connect(self._on_step_camera)
        self.align_combo.activated.connect(self._on_align_chosen)
        self.offset_spin.valueChanged.connect(self._on_spin)
        self.session.alignment_changed.connect(self._on_alignment)

    def _shortcuts(self) -> None:
        self._shortcut_objects = install_transport_keys(self, self.timeline)

    # --- channels -----------------------------------------------------------------------

    def default_channels(self) -> list[ChannelRef]:
        """What the comparison plots first (``ComparisonSession.default_channels``)."""
        return self.session.default_channels()

    def show_channels(self, refs: Sequence[ChannelRef]) -> None:
        """Plot ``refs`` (ticks them in the channel list)."""
        refs = [(str(s), str(c)) for s, c in refs]
        self.channels.set_checked(refs)
        self.plots.show_channels(refs)

    # --- alignment ----------------------------------------------------------------------

    def alignment(self) -> str:
        return self.session.alignment().mode

    def alignment_note(self) -> str:
        return self.session.alignment().note

    def offset_ns(self) -> int:
        """Candidate time = timeline (baseline) time − offset."""
        return self._offset

    def set_alignment(self, mode: str) -> None:
        """Align on "start", "first_finding", "failure_time" (falls back to the start with a
        note), or keep the current shift as "manual". An event alignment moves the playhead to
        the event."""
        self.session.set_alignment(mode)  # → _on_alignment

    def set_offset_ms(self, offset_ms: int) -> None:
        """A manual shift (switches the alignment to "manual")."""
        self.offset_spin.setValue(int(offset_ms))  # valueChanged → _on_spin

    def _on_align_chosen(self, index: int) -> None:
        self.set_alignment(str(self.align_combo.itemData(index)))

    def _on_spin(self, value_ms: int) -> None:
        self.session.set_manual_offset(int(value_ms) * 1_000_000)

    def _on_alignment(self, alignment: Alignment) -> None:
        """Show the session's alignment; move the candidate unless only the mode changed (a
        manual pick keeps the shift, and the playhead, where they are)."""
        self.align_combo.setCurrentIndex(list(ALIGN_LABELS).index(alignment.mode))
        self.note.setText(alignment.note)
        self.note.setStyleSheet("color: #a35f00;" if alignment.fell_back else "color: #546e7a;")
        if alignment.mode != "manual" or alignment.offset_ns != self._offset:
            self._apply_offset(alignment.offset_ns, move_to=alignment.move_to_ns)

    def _pane_offset(self, side: str, camera: str) -> int:
        return self.session.pane_offset(side, camera)

    def _apply_offset(self, offset: int, *, move_to: int | None = None) -> None:
        keep = self.time_ns()
        self._offset = int(offset)
        self._origin = self.session.origin_ns()
        self.timeline.pause()
        self.timeline.set_loop(None)
        self.timeline.playback.duration_ns = max(0, self.session.end_ns() - self._origin)
        self.offset_spin.blockSignals(True)
        self.offset_spin.setValue(round(self._offset / 1_000_000))
        self.offset_spin.blockSignals(False)
        for (side, camera), pane in self.panes.items():
            if side == "candidate":
                pane.set_offset(self._pane_offset(side, camera))
        self.plots.set_offset(self._offset)
        self._refresh_markers()
        self._on_step_camera(self.transport.camera.currentText())
        self.set_time(keep if move_to is None else move_to)
        self.offsetChanged.emit(self._offset)

    # --- time ---------------------------------------------------------------------------

    def time_ns(self) -> int:
        """The playhead in baseline episode time."""
        return self.timeline.time_ns() + self._origin

    def loop_span(self) -> tuple[int, int]:
        """What the loop button loops: the plots' visible span (timeline time)."""
        t0, t1 = self.plots.visible_range_ns()
        return t0 - self._origin, t1 - self._origin

    def candidate_time_ns(self) -> int:
        return self.time_ns() - self._offset

    def set_time(self, t_ns: int) -> None:
        """Move the playhead to baseline time ``t_ns`` (the candidate follows at t − offset)."""
        self.timeline.set_time(int(t_ns) - self._origin)

    def _time_text(self, u_ns: int) -> str:
        t = u_ns + self._origin
        end = self.timeline.duration_ns + self._origin
        return (
            f"baseline {t / NS:7.3f} s · candidate {(t - self._offset) / NS:7.3f} s"
            f"  (to {end / NS:.3f} s)"
        )

    def _on_time(self, u_ns: int, scrubbing: bool) -> None:
        t = u_ns + self._origin
        for pane in self.panes.values():
            pane.set_time(t, scrubbing=scrubbing)
        self.plots.set_time(t)

    def _on_playing(self, *_: object) -> None:
        playing, speed = self.timeline.is_playing(), self.timeline.playback.speed
        for pane in self.panes.values():
            pane.set_playing(playing, speed)

    def _camera_ready(self) -> None:
        self._on_step_camera(self.transport.camera.currentText())

    def _on_step_camera(self, name: str) -> None:
        pane = next((p for p in self.panes.values() if p.name() == name), None)
        times = None if pane is None else pane.frame_times_ns()
        self.timeline.set_step_times(None if times is None else times - self._origin)

    def _refresh_markers(self) -> None:
        markers: list[Marker] = []
        for name in SIDES:
            shift = self.session.shift_ns(name)
            prefix = "B" if name == "baseline" else "C"
            for m in finding_markers(self.sides[name].findings):
                end = None if m.t_end_ns is None else m.t_end_ns + shift
                markers.append(
                    replace(m, t_ns=m.t_ns + shift, t_end_ns=end, label=f"{prefix}: {m.label}")
                )
        self.plots.set_markers(markers)
        strip = [
            replace(
                m,
                t_ns=m.t_ns - self._origin,
                t_end_ns=None if m.t_end_ns is None else m.t_end_ns - self._origin,
            )
            for m in markers
        ]
        self.transport.strip.set_markers(strip)

    # --- queries and teardown -----------------------------------------------------------

    def pane(self, side: str, camera: str) -> VideoPane:
        return self.panes[(side, camera)]

    def settled(self) -> bool:
        """Every pane shows its final frame for the playhead and every plot is loaded."""
        return all(p.is_settled() for p in self.panes.values()) and not self.plots.is_loading()

    def title(self) -> str:
        return f"{short_name(self.baseline.name)} ⇄ {short_name(self.candidate.name)}"

    def pair_ids(self) -> tuple[str, str]:
        return self.baseline.id, self.candidate.id

    def shutdown(self) -> None:
        self.timeline.pause()
        for pane in self.panes.values():
            pane.shutdown()
        self.plots.shutdown()
        for store in self.stores.values():
            store.close()
