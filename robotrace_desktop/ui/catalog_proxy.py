"""Filtering the catalog tree: search text, per-column filters, replays hidden by default.

A dataset row never matches by itself: it is shown when one of its episodes matches, so a
search for an episode finds it under its dataset, and a filter that no episode of a dataset
passes hides the whole dataset. Qt's recursive filtering would do the same with a second pass
of ``filterAcceptsRow`` over every episode; a Python ``any`` over the group's rows is cheaper.
With nothing narrowed, a dataset is shown without reading its episodes (the model reads them
lazily): none of a dataset's episodes is a replay, and a replay group is only replays.
Narrowed, the model has read only the episodes that pass (the browser gives it the same search
and filters as SQL), so the ``any`` walks the matches, not the dataset.
Sorting is delegated to the source model (see ``catalog_model``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt

from robotrace_desktop.ui.catalog_model import CatalogModel
from robotrace_desktop.ui.catalog_rows import FILTER_COLUMNS, CatalogGroup, CatalogRow


class CatalogFilterProxy(QSortFilterProxyModel):
    """Search text + per-column equality filters + the "Show replays" switch."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._needle = ""
        self._filters: dict[str, str] = {}
        self._show_replays = False

    def set_search(self, text: str) -> None:
        needle = text.strip().casefold()
        if needle != self._needle:
            self._refilter(lambda: setattr(self, "_needle", needle))

    def search(self) -> str:
        return self._needle

    def set_column_filter(self, key: str, value: str | None) -> None:
        """``value`` None (or "any") removes the filter; NONE_VALUE matches empty fields."""
        if key not in FILTER_COLUMNS:
            raise KeyError(key)
        if self._filters.get(key) == value:
            return
        if value is None:
            self._refilter(lambda: self._filters.pop(key, None))
        else:
            self._refilter(lambda: self._filters.__setitem__(key, value))

    def set_show_replays(self, show: bool) -> None:
        """Verify's re-rolls (source 'replay') stay out of the listing unless asked for."""
        if show != self._show_replays:
            self._refilter(lambda: setattr(self, "_show_replays", show))

    def shows_replays(self) -> bool:
        return self._show_replays

    def is_narrowed(self) -> bool:
        """Whether a search or a column filter is hiding episodes (replays aside)."""
        return bool(self._needle or self._filters)

    def _refilter(self, change: Callable[[], object]) -> None:
        """Qt >= 6.9 wants begin/endFilterChange around the change; older Qt invalidates."""
        if hasattr(self, "beginFilterChange"):
            self.beginFilterChange()
            change()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:  # pragma: no cover - PySide6 < 6.9
            change()
            self.invalidateRowsFilter()

    def column_filters(self) -> dict[str, str]:
        return dict(self._filters)

    def accepts(self, row: CatalogRow) -> bool:
        """Whether the episode passes the search, the filters and the replay switch."""
        if not (self._needle or self._filters or self._show_replays):
            return not row.is_replay
        if row.is_replay and not self._show_replays:
            return False
        if self._needle and self._needle not in row.haystack:
            return False
        return all(row.matches(k, v) for k, v in self._filters.items())

    def filterAcceptsRow(
        self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex
    ) -> bool:
        model = self.sourceModel()
        if not isinstance(model, CatalogModel):
            return True
        node = model.node_at(source_row, source_parent)  # no QModelIndex: 10,000 calls
        if isinstance(node, CatalogGroup):  # shown when one of its episodes is
            if not self.is_narrowed():
                return self._show_replays or not node.is_replays
            return any(self.accepts(row) for row in model.episodes_of(node))
        return self.accepts(node)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        model = self.sourceModel()
        if model is not None:
            model.sort(column, order)
