"""Per-stream time offsets: line up streams whose clocks disagree.

A ROS bag may stamp joint states with simulation time while the bag records wall-clock time, a
camera may start late, a logger may lag. ``episode_t = stream_t + offset`` per stream, stored in
the catalog (never in the recording) and emitted so video panes and plots move at once. The
reader's notes about each stream's clock are shown next to it as the reason to touch this.

The editor renders an ``EpisodeSession``: it writes through the session (which stores in the
catalog) and repaints on the session's ``offsets_changed``, whoever changed them.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpacerItem,
    QVBoxLayout,
    QWidget,
)

from robotrace_desktop.core.episode import StreamInfo
from robotrace_desktop.errors import RobotraceError
from robotrace_desktop.session.episode import EpisodeSession
from robotrace_desktop.ui.plain_text import literal_tip
from robotrace_desktop.ui.repro_header import ElidedLabel

NS_PER_MS = 1_000_000
RANGE_MS = 1_000_000.0  # ±1000 s


def clock_hint(stream: StreamInfo) -> str:
    """What the reader found out about a stream's clock, as one short paragraph ('' if none)."""
    details = stream.details
    parts = []
    clock = details.get("clock")
    if clock:
        parts.append(f"clock: {clock}")
    reason = details.get("clock_reason")
    if reason:
        parts.append(str(reason))
    header = details.get("header_offset_ns")
    if isinstance(header, int) and header != 0:
        amount = f"{header / 1e9:+.3f} s" if abs(header) >= 1e9 else f"{header / 1e6:+.3f} ms"
        parts.append(f"header stamps differ by {amount}")
    note = details.get("note")
    if note:
        parts.append(str(note))
    return "; ".join(parts)


def ms_to_ns(value_ms: float) -> int:
    return round(value_ms * NS_PER_MS)


class OffsetsEditor(QWidget):
    offsetsChanged = Signal(dict)  # {stream: offset_ns}, every stream with a stored offset

    def __init__(self, session: EpisodeSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.info = info = session.info
        self.spins: dict[str, QDoubleSpinBox] = {}
        self.resets: dict[str, QPushButton] = {}
        self.hints: dict[str, QLabel] = {}

        intro = QLabel(
            "Shift a stream when its clock disagrees with the others: "
            "episode time = stream time + offset.",
            self,
        )
        intro.setWordWrap(True)
        grid_host = QWidget(self)
        grid = QGridLayout(grid_host)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(2)
        row = 0
        for stream in info.streams:
            name = ElidedLabel(stream.name, grid_host)
            bold = name.font()
            bold.setBold(True)
            name.setFont(bold)
            name.setToolTip(
                literal_tip(f"{stream.name} ({stream.kind.value}, {stream.count} samples)")
            )
            kind = QLabel(stream.kind.value, grid_host)
            kind.setStyleSheet("color: palette(mid); font-style: italic;")
            spin = QDoubleSpinBox(grid_host)
            spin.setRange(-RANGE_MS, RANGE_MS)
            spin.setDecimals(1)
            spin.setSingleStep(0.1)
            spin.setSuffix(" ms")
            spin.setKeyboardTracking(False)  # save on Enter / focus loss / arrows, not per key
            spin.setAccelerated(True)
            spin.setAccessibleName(f"offset of {stream.name}")
            spin.setToolTip(literal_tip(f"Offset of {stream.name} in milliseconds"))
            spin.valueChanged.connect(lambda value, s=stream.name: self._on_value(s, value))
            reset = QPushButton("Reset", grid_host)
            reset.setToolTip(literal_tip(f"Set the offset of {stream.name} back to 0"))
            reset.clicked.connect(lambda _=False, s=stream.name: self.set_offset(s, 0))
            spin.setMinimumWidth(110)
            # Two rows per stream (name, then the box) so the tab stays usable when narrow.
            grid.addWidget(name, row, 0)
            grid.addWidget(kind, row, 1, Qt.AlignmentFlag.AlignRight)
            grid.addWidget(spin, row + 1, 0)
            grid.addWidget(reset, row + 1, 1)
            row += 2
            hint_text = clock_hint(stream)
            if hint_text:
                hint = QLabel(hint_text, grid_host)
                hint.setTextFormat(Qt.TextFormat.PlainText)  # reader notes may quote file text
                hint.setWordWrap(True)
                hint.setStyleSheet("color: palette(mid); font-size: small;")
                hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                grid.addWidget(hint, row, 0, 1, 2)
                self.hints[stream.name] = hint
                row += 1
            grid.addItem(QSpacerItem(0, 6), row, 0)
            row += 1
            self.spins[stream.name] = spin
            self.resets[stream.name] = reset
        grid.setColumnStretch(0, 1)
        grid.setRowStretch(row, 1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(grid_host)

        self.reset_all_button = QPushButton("Reset all", self)
        self.reset_all_button.clicked.connect(self.reset_all)
        self.status = QLabel(self)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.reset_all_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(intro)
        layout.addWidget(scroll, 1)
        layout.addLayout(bottom)
        self.reload()
        session.offsets_changed.connect(self._on_session_offsets)

    # --- public API ---------------------------------------------------------------------

    def offsets(self) -> dict[str, int]:
        return self.session.offsets()

    def reload(self) -> None:
        """Show what the catalog holds (without emitting)."""
        try:
            self.session.reload_offsets()
        except RobotraceError as exc:
            self._show(f"Could not read offsets: {exc}", error=True)
        for stream in self.spins:
            self._sync_spin(stream)

    def set_offset(self, stream: str, offset_ns: int) -> None:
        """Save one stream's offset and emit the new mapping (no-op when unchanged)."""
        try:
            saved = self.session.set_offset(stream, int(offset_ns))
        except RobotraceError as exc:
            self._show(f"Offset not saved: {exc}", error=True)
            saved = False
        if saved:
            self._show(f"{stream}: {self.session.offset(stream) / NS_PER_MS:+.1f} ms saved")
        else:
            self._sync_spin(stream)

    def reset_all(self) -> None:
        try:
            changed = self.session.reset_offsets()
        except RobotraceError as exc:
            self._show(f"Offsets not reset: {exc}", error=True)
            return
        if changed:
            self._show(f"Reset {changed} offset(s) to 0")

    # --- internals ----------------------------------------------------------------------

    def _on_session_offsets(self, offsets: dict[str, int]) -> None:
        for stream in self.spins:
            self._sync_spin(stream)
        self.offsetsChanged.emit(offsets)

    def _on_value(self, stream: str, value_ms: float) -> None:
        self.set_offset(stream, ms_to_ns(value_ms))

    def _sync_spin(self, stream: str) -> None:
        spin = self.spins.get(stream)
        if spin is None:
            return
        value = self.session.offset(stream) / NS_PER_MS
        if abs(spin.value() - value) > 1e-9:
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        self._mark(stream)

    def _mark(self, stream: str) -> None:
        """Bold spin box and an enabled Reset for streams that are shifted."""
        shifted = self.session.offset(stream) != 0
        spin = self.spins[stream]
        font = spin.font()
        font.setBold(shifted)
        spin.setFont(font)
        self.resets[stream].setEnabled(shifted)

    def _show(self, text: str, *, error: bool = False) -> None:
        self.status.setStyleSheet("color: #c62828;" if error else "color: palette(mid);")
        self.status.setText(text)
