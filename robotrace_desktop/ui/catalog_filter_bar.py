"""The row of filters above the catalog: one combo per field, "Show replays", Clear.

The combos offer only values that occur in the catalog (re-read on every reload, and left alone
when unchanged so an open popup does not close under the user's pointer). The bar only reports
choices; the browser applies them to its proxy.
"""

from __future__ import annotations

from collections.abc import Mapping, Set

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QToolButton, QWidget

from robotrace_desktop.ui.catalog_rows import FILTER_COLUMNS

ANY = "any"
FILTER_LABELS = {
    "kind": "Kind",
    "status": "Status",
    "outcome": "Outcome",
    "robot": "Robot",
    "policy_version": "Policy",
    "env_version": "Env",
    "cause": "Cause",
}


#: combos whose values are long names (characters shown)
WIDE = {"robot": 12, "cause": 12, "policy_version": 8}


class FilterBar(QWidget):
    """Emits ``filterChosen(key, value)`` ("" for any), ``replaysToggled``, ``clearPressed``."""

    filterChosen = Signal(str, str)
    replaysToggled = Signal(bool)
    clearPressed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.filters: dict[str, QComboBox] = {}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for key in FILTER_COLUMNS:
            combo = QComboBox()
            # Not AdjustToContents: one long robot or cause name would widen the bar past a
            # 1280 px window. The popup still shows whole values.
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(WIDE.get(key, 6))
            combo.addItem(ANY)
            combo.setProperty("filterKey", key)
            # Bound methods, not lambdas, on signals of widgets Qt deletes (PySide 6.12 crashes
            # in ~QObject when a lambda slot's references are dropped twice).
            combo.currentTextChanged.connect(self._on_combo)
            label = QLabel(FILTER_LABELS[key])
            label.setBuddy(combo)
            layout.addWidget(label)
            layout.addWidget(combo)
            layout.addSpacing(6)
            self.filters[key] = combo
        self.show_replays = QCheckBox("Show replays")
        self.show_replays.setToolTip(
            "Episodes re-rolled by `verify --policy` (source: replay) are hidden unless ticked"
        )
        self.show_replays.toggled.connect(self.replaysToggled)
        self.clear_button = QToolButton()
        self.clear_button.setText("Clear")
        self.clear_button.setToolTip("Clear the search and every filter")
        self.clear_button.clicked.connect(self.clearPressed)
        layout.addStretch(1)
        # "Show replays" and Clear sit beside the search box (the browser places them): seven
        # combos already fill a 1280 px row.

    def fill(self, offered: Mapping[str, Set[str]]) -> list[str]:
        """Offer the values the catalog has (``catalog_rows.load_top`` reads them with SQL);
        returns the keys whose chosen value vanished (their filter is dropped)."""
        dropped: list[str] = []
        for key, combo in self.filters.items():
            values = sorted(offered.get(key, ()), key=str.casefold)
            if [combo.itemText(i) for i in range(combo.count())] == [ANY, *values]:
                continue
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([ANY, *values])
            index = combo.findText(current)
            combo.setCurrentIndex(max(index, 0))
            combo.blockSignals(False)
            if index < 0 and current != ANY:
                dropped.append(key)
        return dropped

    def choose(self, key: str, value: str | None) -> None:
        """Pick ``value`` (None: any) in ``key``'s combo, as the user would."""
        combo = self.filters[key]
        index = combo.findText(ANY if value is None else value)
        if index < 0:
            raise ValueError(f"{key} has no value {value!r} in the catalog")
        combo.setCurrentIndex(index)

    def reset(self) -> None:
        for combo in self.filters.values():
            combo.setCurrentIndex(0)

    def _on_combo(self, text: str) -> None:
        combo = self.sender()
        key = combo.property("filterKey") if combo is not None else None
        if key in self.filters:
            self.filterChosen.emit(str(key), "" if text == ANY else text)
