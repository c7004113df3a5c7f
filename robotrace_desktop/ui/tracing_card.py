"""The Tracing card: which OpenTelemetry trace an episode was logged in, one click away.

Shown under the reproducibility header when the episode's metadata has an ``otel`` block (the
SDK writes it when ``log_episode`` runs inside a span). The ids are validated first — metadata
is input — and each has a copy button; "Open trace" fills ``ROBOTRACE_TRACE_URL_TEMPLATE``
(Datadog, Honeycomb, Tempo, Jaeger…) and opens only http(s) URLs. A bad template never
crashes: the card and the button say what is wrong in their tooltips.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QFont, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from robotrace_desktop.core.episode import EpisodeInfo
from robotrace_desktop.core.otel import (
    TRACE_URL_ENV,
    TraceContext,
    parse_trace_context,
    trace_url,
)
from robotrace_desktop.errors import ValidationError
from robotrace_desktop.ui.plain_text import literal_tip
from robotrace_desktop.ui.repro_header import ElidedLabel, FlowLayout, copy_icon

INVALID_TEXT = "invalid trace context"
WARN_COLOR = "#ef6c00"
BAD_COLOR = "#c62828"
# (key, label) of the copyable values, in display order
FIELDS = (("trace_id", "trace id"), ("span_id", "span id"), ("traceparent", "traceparent"))
UrlOpener = Callable[[QUrl], bool]


class _CopyField(QWidget):
    """``label: value [copy]`` with a monospace, selectable value."""

    def __init__(self, key: str, label: str, value: str, parent: QWidget) -> None:
        super().__init__(parent)
        self.key = key
        self.full = value
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        name = QLabel(f"{label}:", self)
        name.setStyleSheet("color: palette(mid);")
        self.value = ElidedLabel(value, self)
        self.value.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_button = QToolButton(self)
        self.copy_button.setIcon(copy_icon())
        self.copy_button.setAutoRaise(True)
        self.copy_button.setToolTip(f"Copy {label}")
        self.copy_button.setAccessibleName(f"Copy {label}")
        self.copy_button.clicked.connect(self.copy)
        layout.addWidget(name)
        layout.addWidget(self.value)
        layout.addWidget(self.copy_button)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.full)


class TracingCard(QFrame):
    """One compact, wrapping row: title, sampled chip, the three ids, "Open trace"."""

    def __init__(
        self,
        block: object,
        parent: QWidget | None = None,
        *,
        env: Mapping[str, str] | None = None,
        open_url: UrlOpener | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("TracingCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._open_url: UrlOpener = open_url or QDesktopServices.openUrl
        self.context: TraceContext | None = None
        self.problem: str | None = None  # why the block is invalid
        self.url: str | None = None  # what "Open trace" opens
        self.url_problem: str | None = None  # why it opens nothing
        self.fields: dict[str, _CopyField] = {}

        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 3, 8, 3)
        row = FlowLayout(h_spacing=12, v_spacing=2)  # wraps instead of widening the window
        outer.addLayout(row)
        self.title = QLabel("Tracing", self)
        font = QFont(self.title.font())
        font.setBold(True)
        self.title.setFont(font)
        row.addWidget(self.title)
        self.state = QLabel(self)  # sampled / not sampled / invalid trace context
        self.state.setTextFormat(Qt.TextFormat.PlainText)
        row.addWidget(self.state)
        self.open_button = QPushButton("Open trace", self)
        self.open_button.clicked.connect(self.open_trace)
        self.template_warning = QLabel("URL template invalid", self)  # set but unusable
        self.template_warning.setStyleSheet(f"color: {WARN_COLOR};")
        self.template_warning.hide()

        try:
            self.context = parse_trace_context(block)
        except ValidationError as exc:
            self.problem = str(exc)
            self._show_invalid()
            return
        for key, label in FIELDS:
            field = _CopyField(key, label, self.context.as_dict()[key], self)
            self.fields[key] = field
            row.addWidget(field)
        row.addWidget(self.open_button)
        row.addWidget(self.template_warning)
        # the flow layout top-aligns items: give the plain labels the row's height, centred
        height = max(w.sizeHint().height() for w in [*self.fields.values(), self.open_button])
        for plain in (self.title, self.state, self.template_warning):
            plain.setMinimumHeight(height)
            plain.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self._show_state(self.context)
        self._prepare_url(os.environ if env is None else env)
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)  # wraps: taller when narrow
        self.setSizePolicy(policy)

    @classmethod
    def for_info(cls, info: EpisodeInfo, parent: QWidget | None = None) -> TracingCard | None:
        """The card for an episode, or None when its metadata has no ``otel`` block."""
        block = info.metadata.get("otel")
        return None if block is None else cls(block, parent)

    # --- states -------------------------------------------------------------------------

    def _show_invalid(self) -> None:
        self.state.setText(INVALID_TEXT)
        self.state.setStyleSheet(f"color: {BAD_COLOR}; font-weight: bold;")
        tip = f"The episode's otel metadata cannot be used: {self.problem}"
        self.state.setToolTip(literal_tip(tip))
        self.setToolTip(literal_tip(tip))
        self.open_button.setEnabled(False)
        self.open_button.hide()
        self.template_warning.hide()

    def _show_state(self, context: TraceContext) -> None:
        if context.sampled:
            self.state.setText("sampled")
            self.state.setStyleSheet("color: palette(mid);")
            self.state.setToolTip("The span was sampled: your tracing backend should have it.")
        else:
            self.state.setText("not sampled")
            self.state.setStyleSheet(f"color: {WARN_COLOR}; font-weight: bold;")
            self.state.setToolTip(
                "The span was not sampled: the ids correlate, but your tracing backend may "
                "not have stored this trace."
            )

    def _prepare_url(self, env: Mapping[str, str]) -> None:
        assert self.context is not None
        template = env.get(TRACE_URL_ENV, "").strip()
        if not template:
            self.url_problem = (
                f"Set {TRACE_URL_ENV} to open traces, e.g. "
                "https://tempo.example/explore?traceId={trace_id} "
                "(fields: {trace_id}, {span_id}, {traceparent})"
            )
        else:
            try:
                self.url = trace_url(template, self.context)
            except ValidationError as exc:
                self.url_problem = str(exc)
                self.setToolTip(literal_tip(f"Open trace is off: {exc}"))
                self.template_warning.setToolTip(literal_tip(str(exc)))
                self.template_warning.show()
        self.open_button.setEnabled(self.url is not None)
        self.open_button.setToolTip(literal_tip(self.url or self.url_problem or ""))

    # --- public API ---------------------------------------------------------------------

    def is_valid(self) -> bool:
        return self.context is not None

    def value(self, key: str) -> str:
        """What the card shows for ``trace_id`` / ``span_id`` / ``traceparent``."""
        return self.fields[key].full

    def open_trace(self) -> bool:
        """Open the filled template in the browser; False (and nothing opened) otherwise."""
        if self.url is None:
            return False
        url = QUrl(self.url, QUrl.ParsingMode.StrictMode)
        if not url.isValid() or url.scheme().lower() not in ("http", "https"):
            return False
        return bool(self._open_url(url))
