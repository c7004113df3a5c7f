"""The reproducibility header: what you need to re-run this episode, front and centre.

A bug report without the policy version, environment version, commit and seed cannot be
reproduced, so those four sit in the header of every episode view with a copy button each. When
some are missing — as in nearly every third-party bag — a quiet grey badge says so, and its
tooltip names them and the ``tag`` command that sets them: a fact to act on, not an alarm.

Two chips never contradict each other: the *index* status (could the recording be read: "index:
ready") is neutral, only the run's *outcome* (success / failure) is coloured.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QIcon,
    QPainter,
    QPen,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLayoutItem,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from robotrace_desktop.core.episode import EpisodeInfo, Outcome, Status
from robotrace_desktop.ui.plain_text import literal_tip

MISSING = "—"
SHORT_SHA = 10
NEUTRAL = "#607d8b"
# the index status says whether the recording could be read, not how the run went: neutral
# when it was, amber when there is something to look at
STATUS_COLORS = {Status.READY: NEUTRAL, Status.FAILED: "#ef6c00", Status.MISSING: "#ef6c00"}
OUTCOME_COLORS = {
    Outcome.SUCCESS: "#2e7d32",
    Outcome.FAILURE: "#c62828",
    Outcome.UNKNOWN: "#9e9e9e",
}
BADGE_STYLE = (
    "background: #eceff1; color: #455a64; border: 1px solid #b0bec5; border-radius: 3px;"
    " padding: 1px 6px;"
)
STATUS_TEXT = {
    Status.READY: "index: ready",
    Status.FAILED: "recording: failed",
    Status.MISSING: "file missing",
}
MISSING_COLOR = "#90a4ae"
_TAG_FLAGS = {
    "policy_version": "--policy-version VERSION",
    "env_version": "--env-version VERSION",
    "git_sha": "--git-sha SHA",
    "seed": "--seed N",
}
MIN_ELIDED_PX = 40
# (key, label) of the copyable fields, in display order on the second row.
FIELDS = (
    ("policy_version", "policy"),
    ("env_version", "env"),
    ("git_sha", "git"),
    ("seed", "seed"),
    ("robot", "robot"),
    ("source", "source"),
    ("failure_reason", "failure"),
)


def copy_icon(size: int = 14) -> QIcon:
    """Two overlapping sheets, painted (icon themes and fonts may lack a copy glyph)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor("#606870"), 1.2))
    sheet = size * 0.62
    painter.setBrush(QColor("#ffffff"))
    painter.drawRoundedRect(QRectF(size - sheet - 1, 1, sheet, sheet), 1.5, 1.5)
    painter.drawRoundedRect(QRectF(1, size - sheet - 1, sheet, sheet), 1.5, 1.5)
    painter.end()
    return QIcon(pixmap)


class ElidedLabel(QLabel):
    """A label that shows as much of its text as fits, with the whole text in its tooltip.

    It asks for its full width but can shrink to a few characters, so a long name or failure
    reason never forces the window wider."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setTextFormat(Qt.TextFormat.PlainText)  # names come from files: never rich text
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.set_full_text(text)

    def set_full_text(self, text: str) -> None:
        self._full = text
        self.setToolTip(literal_tip(text))
        self._elide()
        self.updateGeometry()

    def full_text(self) -> str:
        return self._full

    def _single_line(self) -> str:
        return " ".join(self._full.split())

    def sizeHint(self) -> QSize:
        margins = self.contentsMargins()  # style-sheet padding lands here
        width = QFontMetrics(self.font()).horizontalAdvance(self._single_line()) + 4
        return QSize(width + margins.left() + margins.right(), super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        return QSize(
            min(MIN_ELIDED_PX, self.sizeHint().width()), super().minimumSizeHint().height()
        )

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        metrics = QFontMetrics(self.font())
        super().setText(
            metrics.elidedText(
                self._single_line(), Qt.TextElideMode.ElideRight, self.contentsRect().width()
            )
        )


class FlowLayout(QLayout):
    """Left to right, wrapping to a new line when the next item does not fit. A horizontally
    expanding item (the failure reason) takes the rest of its line."""

    def __init__(self, *, h_spacing: int, v_spacing: int) -> None:
        super().__init__()
        self._items: list[QLayoutItem] = []
        self._h, self._v = h_spacing, v_spacing
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation.Horizontal

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._place(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._place(rect, move=True)

    def sizeHint(self) -> QSize:
        visible = [i for i in self._items if not i.isEmpty()]
        width = sum(i.sizeHint().width() for i in visible) + self._h * max(0, len(visible) - 1)
        height = max((i.sizeHint().height() for i in visible), default=0)
        return QSize(width, height)

    def minimumSize(self) -> QSize:
        size = QSize()
        for item in self._items:
            if not item.isEmpty():
                size = size.expandedTo(item.minimumSize())
        return size

    def _place(self, rect: QRect, *, move: bool) -> int:
        x, y, line = rect.x(), rect.y(), 0
        right = rect.x() + rect.width()
        for item in self._items:
            if item.isEmpty():
                continue
            hint = item.sizeHint()
            expanding = bool(item.expandingDirections() & Qt.Orientation.Horizontal)
            wanted = max(item.minimumSize().width(), min(hint.width(), 200) if expanding else 0)
            width = hint.width() if not expanding else wanted
            if x > rect.x() and x + width > right:  # wrap
                x, y, line = rect.x(), y + line + self._v, 0
            width = max(right - x, wanted) if expanding else min(hint.width(), rect.width())
            if move:
                item.setGeometry(QRect(x, y, width, hint.height()))
            x += width + self._h
            line = max(line, hint.height())
        return y + line - rect.y()


class _Field(QWidget):
    """``key: value [copy]``: the value is selectable, the button copies it whole."""

    def __init__(self, key: str, label: str, *, elide: bool, parent: QWidget) -> None:
        super().__init__(parent)
        self.key = key
        self.full = ""
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        self.name = QLabel(f"{label}:", self)
        self.name.setStyleSheet("color: palette(mid);")
        self.value = ElidedLabel("", self)
        if elide:
            self.value.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_button = QToolButton(self)
        self.copy_button.setIcon(copy_icon())
        self.copy_button.setAutoRaise(True)
        self.copy_button.setToolTip(f"Copy {key}")
        self.copy_button.setAccessibleName(f"Copy {key}")
        self.copy_button.clicked.connect(self.copy)
        layout.addWidget(self.name)
        layout.addWidget(self.value, 1 if elide else 0)
        layout.addWidget(self.copy_button)
        if elide:
            self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def set_value(self, full: str | None, shown: str | None = None, *, missing_color: str) -> None:
        self.full = full or ""
        text = (shown if shown is not None else self.full) or MISSING
        self.value.set_full_text(text)
        self.value.setToolTip(literal_tip(self.full or f"{self.key} is not recorded"))
        self.value.setStyleSheet(
            f"color: {missing_color};" if not self.full else "font-weight: 600;"
        )
        self.copy_button.setVisible(bool(self.full))

    def copy(self) -> None:
        if self.full:
            QGuiApplication.clipboard().setText(self.full)


class ReproHeader(QFrame):
    """Two compact rows: name / kind / status / outcome / badge, then the copyable fields."""

    def __init__(self, info: EpisodeInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ReproHeader")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.info = info
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 4, 8, 4)
        outer.setSpacing(2)

        top = QHBoxLayout()
        top.setSpacing(8)
        self.name = ElidedLabel("", self)
        font = QFont(self.name.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.name.setFont(font)
        self.name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.kind = self._chip()
        self.status = self._chip()
        self.outcome = self._chip()
        self.badge = ElidedLabel("", self)  # elides in a narrow window; the tooltip keeps all
        self.badge.setObjectName("NotReproducibleBadge")
        self.badge.setStyleSheet(BADGE_STYLE)
        self.copy_all_button = QToolButton(self)
        self.copy_all_button.setText("Copy all")
        self.copy_all_button.setToolTip("Copy every field as 'key: value' lines")
        self.copy_all_button.clicked.connect(self.copy_all)
        top.addWidget(self.name, 1)
        for widget in (self.kind, self.status, self.outcome, self.badge):
            top.addWidget(widget)
        top.addWidget(self.copy_all_button)
        outer.addLayout(top)

        row = FlowLayout(h_spacing=14, v_spacing=2)  # wraps instead of widening the window
        self.fields: dict[str, _Field] = {}
        for key, label in FIELDS:
            field = _Field(key, label, elide=key == "failure_reason", parent=self)
            self.fields[key] = field
            row.addWidget(field)
        outer.addLayout(row)
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)  # the field row wraps: taller when narrow
        self.setSizePolicy(policy)
        self.set_info(info)

    def _chip(self) -> QLabel:
        chip = QLabel(self)
        chip.setTextFormat(Qt.TextFormat.PlainText)
        chip.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return chip

    @staticmethod
    def _chip_style(color: str) -> str:
        return (
            f"color: white; background: {color}; border-radius: 3px; padding: 1px 6px;"
            " font-weight: bold;"
        )

    # --- public API ---------------------------------------------------------------------

    def set_info(self, info: EpisodeInfo) -> None:
        self.info = info
        self.name.set_full_text(info.name)
        self.kind.setText(info.kind)
        self.kind.setStyleSheet(self._chip_style("#455a64"))
        self.status.setText(STATUS_TEXT.get(info.status, info.status.value))
        self.status.setStyleSheet(self._chip_style(STATUS_COLORS.get(info.status, NEUTRAL)))
        problems = "\n".join(info.problems) or "no problems found"
        self.status.setToolTip(literal_tip(f"Reading the recording: {problems}"))
        self.outcome.setText(f"outcome: {info.outcome.value}")
        self.outcome.setStyleSheet(self._chip_style(OUTCOME_COLORS.get(info.outcome, NEUTRAL)))
        self.outcome.setToolTip("How the run ended, as the recording or a tag says")
        missing = info.missing_reproducibility
        for key, field in self.fields.items():
            full = self.value_of(key)
            shown = full[:SHORT_SHA] if key == "git_sha" and full else None
            field.set_value(full, shown, missing_color=MISSING_COLOR)
            field.setVisible(key != "failure_reason" or bool(full))
        self.badge.setVisible(bool(missing))
        self.badge.set_full_text(
            f"not reproducible: {len(missing)} field{'s' * (len(missing) > 1)} missing"
            if missing
            else ""
        )
        self.badge.setToolTip(literal_tip(self.missing_help()) if missing else "")

    def missing_help(self) -> str:
        """What the badge's tooltip says: the missing fields and the command that sets them."""
        missing = self.info.missing_reproducibility
        if not missing:
            return ""
        flags = " ".join(_TAG_FLAGS.get(key, f"--{key.replace('_', '-')} VALUE") for key in missing)
        return (
            f"Missing: {', '.join(missing)}.\n"
            "Re-running this episode needs policy_version, env_version, git_sha and seed.\n"
            "Record them, or set them in the catalog (the recording is not changed):\n"
            f"  robotrace-desktop tag {self.info.id} {flags}"
        )

    def value_of(self, key: str) -> str | None:
        """The full value of a field (git sha unshortened), None when the episode lacks it."""
        if key == "failure_reason":
            reason = self.info.metadata.get("failure_reason")
            return None if reason in (None, "") else str(reason)
        value = getattr(self.info, key)
        return None if value in (None, "") else str(value)

    def displayed(self, key: str) -> str:
        """What the header shows for a field right now (elided / shortened / "—")."""
        return self.fields[key].value.text()

    def badge_shown(self) -> bool:
        return not self.badge.isHidden()

    def copy_field(self, key: str) -> str | None:
        self.fields[key].copy()
        return self.value_of(key)

    def as_text(self) -> str:
        """Every field as ``key: value`` lines (missing ones as ``—``), for pasting anywhere."""
        info = self.info
        lines = [
            f"name: {info.name}",
            f"episode_id: {info.id}",
            f"path: {info.path}" + ("" if info.episode_index is None else f"#{info.episode_index}"),
            f"kind: {info.kind}",
            f"status: {info.status.value}",
            f"outcome: {info.outcome.value}",
        ]
        lines += [f"{key}: {self.value_of(key) or MISSING}" for key, _ in FIELDS]
        missing = info.missing_reproducibility
        if missing:
            lines.append(f"not reproducible: missing {', '.join(missing)}")
        return "\n".join(lines)

    def copy_all(self) -> str:
        text = self.as_text()
        QGuiApplication.clipboard().setText(text)
        return text
