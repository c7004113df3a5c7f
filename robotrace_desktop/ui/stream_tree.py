"""The channel picker: signal streams → channels with checkboxes and a search box.

A real robot log has hundreds of channels (a humanoid's 26 joints × state/action, /tf…), so
the tree filters by substring as you type (case-insensitive, on "stream/channel" so "effort"
or "/joint_states" both work), keeps the parents of matches visible, and "All"/"None" act on
the filtered set only — "type effort, click All" is the common gesture.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from robotrace_desktop.core.episode import EpisodeInfo, StreamKind
from robotrace_desktop.ui.plain_text import literal_tip

ChannelRef = tuple[str, str]
_REF_ROLE = Qt.ItemDataRole.UserRole


def _stream_items(tree: QTreeWidget) -> list[QTreeWidgetItem]:
    """The top-level (stream) items; Qt types an in-range lookup as Optional."""
    items = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    return [_exists(item) for item in items]


def _children(parent: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    return [_exists(parent.child(j)) for j in range(parent.childCount())]


def _stream_of(channel_item: QTreeWidgetItem) -> QTreeWidgetItem:
    return _exists(channel_item.parent())


def _exists(item: QTreeWidgetItem | None) -> QTreeWidgetItem:
    if item is None:
        raise RuntimeError("the stream tree has no item where Qt counts one")
    return item


class StreamTree(QWidget):
    """Checkable tree of signal streams and their channels."""

    selectionChanged = Signal(list)  # list[ChannelRef], in tree order

    def __init__(self, info: EpisodeInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.info = info
        self._last: list[ChannelRef] = []
        self._bulk = False
        # Checking a parent changes every child one by one: emit once, after the last of them.
        self._emit_timer = QTimer(self)
        self._emit_timer.setSingleShot(True)
        self._emit_timer.setInterval(0)
        self._emit_timer.timeout.connect(self._emit_if_changed)

        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Filter channels…  (e.g. effort, joint_3)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.set_filter)
        self.all_button = QPushButton("All", self)
        self.none_button = QPushButton("None", self)
        self.all_button.setToolTip("Check every channel shown by the filter")
        self.none_button.setToolTip("Uncheck every channel shown by the filter")
        self.all_button.clicked.connect(lambda: self.check_filtered(True))
        self.none_button.clicked.connect(lambda: self.check_filtered(False))

        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels(["Channel", "Samples"])
        self.tree.setUniformRowHeights(True)
        self.tree.itemChanged.connect(self._item_changed)
        self._populate()

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.search, 1)
        top.addWidget(self.all_button)
        top.addWidget(self.none_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.tree, 1)

    # ------------------------------------------------------------------ building

    def _populate(self) -> None:
        self._bulk = True
        try:
            for stream in self.info.streams_of(StreamKind.SIGNAL):
                parent = QTreeWidgetItem(self.tree, [stream.name, str(stream.count)])
                flags = parent.flags() | Qt.ItemFlag.ItemIsUserCheckable
                parent.setFlags(flags | Qt.ItemFlag.ItemIsAutoTristate)
                rate = stream.rate_hz
                tip = f"{stream.name}: {stream.count} samples"
                if rate:
                    tip += f" at {rate:.1f} Hz"
                if stream.message_type:
                    tip += f" ({stream.message_type})"
                parent.setToolTip(0, literal_tip(tip))
                parent.setCheckState(0, Qt.CheckState.Unchecked)
                for channel in stream.channels:
                    child = QTreeWidgetItem(parent, [channel, ""])
                    child.setFlags(child.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    child.setCheckState(0, Qt.CheckState.Unchecked)
                    child.setData(0, _REF_ROLE, (stream.name, channel))
                    child.setToolTip(0, literal_tip(f"{stream.name} · {channel}"))
                if stream.count == 0 or not stream.channels:
                    parent.setDisabled(True)
        finally:
            self._bulk = False
        header = self.tree.header()  # the channel names get the width, the counts fit
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)

    def _channel_items(self) -> list[QTreeWidgetItem]:
        return [child for parent in _stream_items(self.tree) for child in _children(parent)]

    # ------------------------------------------------------------------ selection

    def selection(self) -> list[ChannelRef]:
        return [
            tuple(item.data(0, _REF_ROLE))
            for item in self._channel_items()
            if item.checkState(0) == Qt.CheckState.Checked
        ]

    def set_selection(self, refs: Sequence[ChannelRef]) -> None:
        """Check exactly ``refs`` (unknown ones are ignored); emits selectionChanged if that
        changed the selection."""
        wanted = {tuple(r) for r in refs}
        self._bulk = True
        try:
            for item in self._channel_items():
                ref = tuple(item.data(0, _REF_ROLE))
                state = Qt.CheckState.Checked if ref in wanted else Qt.CheckState.Unchecked
                if item.checkState(0) != state:
                    item.setCheckState(0, state)
        finally:
            self._bulk = False
        self._emit_if_changed()

    def check_filtered(self, checked: bool) -> None:
        """Check or uncheck every channel the filter currently shows."""
        state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        self._bulk = True
        try:
            for item in self._channel_items():
                if not item.isHidden() and not _stream_of(item).isDisabled():
                    item.setCheckState(0, state)
        finally:
            self._bulk = False
        self._emit_if_changed()

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if column == 0 and not self._bulk:
            self._emit_timer.start()

    def _emit_if_changed(self) -> None:
        self._emit_timer.stop()
        current = self.selection()
        if current != self._last:
            self._last = current
            self.selectionChanged.emit(list(current))

    # ------------------------------------------------------------------ filter

    def set_filter(self, text: str) -> None:
        """Show channels whose "stream/channel" contains ``text`` (case-insensitive)."""
        needle = text.strip().lower()
        for parent in _stream_items(self.tree):
            visible = 0
            for child in _children(parent):
                stream, channel = child.data(0, _REF_ROLE)
                match = not needle or needle in f"{stream}/{channel}".lower()
                child.setHidden(not match)
                visible += match
            parent.setHidden(visible == 0 and bool(needle))
            parent.setExpanded(bool(needle) and visible > 0)
        if self.search.text() != text:
            self.search.setText(text)

    def visible_channels(self) -> list[ChannelRef]:
        return [
            tuple(item.data(0, _REF_ROLE))
            for item in self._channel_items()
            if not item.isHidden() and not _stream_of(item).isHidden()
        ]
