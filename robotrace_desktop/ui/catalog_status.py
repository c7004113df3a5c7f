"""The line under the catalog table: what the last scan did, how many episodes are listed, and
what the row colours mean.

A coloured dot explains nothing by itself; a newcomer should not have to hover to learn that
amber means "not reproducible". The legend sits at the right of the status line, always visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QSizePolicy, QWidget

from robotrace_desktop.ui.catalog_model import LEGEND, dot_icon

STATUS_LINE_COLORS = {"ok": "palette(text)", "warning": "#a35f00", "error": "#c62828"}


class ColourLegend(QWidget):
    """One dot + word per colour the table uses; the tooltip says what each means."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.entries: dict[str, QLabel] = {}
        for colour, word, meaning in LEGEND:
            dot = QLabel()
            dot.setPixmap(dot_icon(colour).pixmap(12, 12))
            text = QLabel(word)
            for label in (dot, text):
                label.setToolTip(f"{word}: {meaning}")
            layout.addWidget(dot)
            layout.addWidget(text)
            layout.addSpacing(8)
            self.entries[word] = text
        self.setToolTip("\n".join(f"{word}: {meaning}" for _, word, meaning in LEGEND))


class StatusLine(QWidget):
    """The scan summary (with a 'details…' link to every problem), the episode count and the
    colour legend."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.label.linkActivated.connect(self._show_problems)
        # A long problem path must not widen the window: the label takes what is left.
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.count_label = QLabel()  # "329 episodes", "1 of 329 episodes · 4 replays hidden"
        self.count_label.setTextFormat(Qt.TextFormat.PlainText)
        self.legend = ColourLegend()
        self._problems: list[str] = []
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.count_label)
        layout.addSpacing(16)
        layout.addWidget(self.legend)

    def text(self) -> str:
        return self.label.property("plainText") or ""

    def set_text(
        self,
        text: str,
        *,
        problems: Sequence[str] = (),
        level: str = "ok",
        html: bool = False,
    ) -> None:
        self._problems = list(problems)
        body = text if html else escape(text)
        if problems:
            body += ' &nbsp;<a href="#problems">details…</a>'
        color = STATUS_LINE_COLORS.get(level, "palette(text)")
        self.label.setStyleSheet(f"color: {color};")
        self.label.setText(body)
        self.label.setToolTip("\n".join(self._problems))
        self.label.setProperty("plainText", text)

    def _show_problems(self, _link: str = "") -> None:
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Scan problems")
        box.setText(f"{len(self._problems)} recording(s) could not be indexed fully.")
        box.setDetailedText("\n".join(self._problems))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
