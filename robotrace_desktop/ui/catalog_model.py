"""Table model of the catalog for the browser: one SELECT, rows kept as plain Python objects.

Why not a QSqlTableModel or per-row queries: the catalog may hold 10,000 episodes and the
browser must filter on every keystroke, so rows are loaded once (no metadata, no streams) and
the search text of each row is precomputed. Sorting happens in the source model with a Python
key sort (one pass, not a Python ``lessThan`` call per comparison); the proxy only filters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPixmap

from robotrace_desktop.catalog.findings import TopFinding, top_findings
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.episode import REPRODUCIBILITY_FIELDS
from robotrace_desktop.ui.plain_text import literal_tip

ID_ROLE = Qt.ItemDataRole.UserRole
SORT_ROLE = Qt.ItemDataRole.UserRole + 1

#: (key, header) in display order; the key is the CatalogRow attribute shown in the column.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "Name"),
    ("kind", "Kind"),
    ("robot", "Robot"),
    ("policy_version", "Policy"),
    ("env_version", "Env"),
    ("git_sha", "Git"),
    ("seed", "Seed"),
    ("task", "Task"),
    ("duration", "Duration (s)"),
    ("outcome", "Outcome"),
    ("status", "Status"),
    ("findings", "Findings"),
    ("problems", "Problems"),
    ("path", "Path"),
)
COLUMN_KEYS = tuple(key for key, _ in COLUMNS)
NUMERIC_COLUMNS = frozenset({"seed", "duration"})
#: Columns offered as filter combo boxes (value drawn from the rows).
FILTER_COLUMNS = (
    "kind",
    "status",
    "outcome",
    "robot",
    "policy_version",
    "env_version",
    "cause",
)
NONE_VALUE = "(none)"  # how a missing value appears in a filter combo

STATUS_COLORS = {"ready": "#2e7d32", "failed": "#c62828", "missing": "#757575"}
OUTCOME_COLORS = {"success": "#2e7d32", "failure": "#c62828", "unknown": "#8a8a8a"}
ROW_TINTS = {"failed": QColor(198, 40, 40, 34), "missing": QColor(117, 117, 117, 40)}
AMBER = "#e69500"

_QUERY = """
    SELECT id, kind, path, episode_index, name, duration_ns, source, robot, policy_version,
           env_version, git_sha, seed, task, outcome, status, problems,
           (SELECT group_concat(tag, ' ') FROM tags WHERE tags.episode_id = episode_view.id)
               AS tags,
           (SELECT group_concat(DISTINCT cause) FROM findings
             WHERE findings.episode_id = episode_view.id AND confidence >= 0.5) AS causes
    FROM episode_view ORDER BY path, episode_index
"""


@dataclass(slots=True)
class CatalogRow:
    """One episode as the browser shows it (no metadata, no streams)."""

    id: str
    kind: str
    path: str
    episode_index: int | None
    name: str
    duration_ns: int
    source: str | None
    robot: str | None
    policy_version: str | None
    env_version: str | None
    git_sha: str | None
    seed: int | None
    task: str | None
    outcome: str
    status: str
    problems: list[str]
    tags: str = ""
    causes: frozenset[str] = frozenset()  # Explain causes found with confidence >= 0.5
    top: TopFinding | None = None  # the top-ranked finding (None: not explained / none)
    missing: list[str] = field(default_factory=list)  # reproducibility fields not set
    haystack: str = ""  # lower-cased text the search box matches against

    def __post_init__(self) -> None:
        self.missing = [f for f in REPRODUCIBILITY_FIELDS if getattr(self, f) in (None, "")]
        parts = [self.name, self.path, self.task, self.robot, self.policy_version, self.id]
        parts += [self.tags, *self.problems, *self.causes]
        if self.top is not None:
            parts.append(self.top.title)
        self.haystack = "\n".join(p for p in parts if p).casefold()

    @property
    def findings(self) -> str:
        """'<top title> (<count>)' when the top finding is confident, else '' or 'n low'."""
        if self.top is None:
            return ""
        if self.top.confidence >= 0.5:
            return f"{self.top.title} ({self.top.count})"
        return f"— ({self.top.count} low)"

    def filter_values(self, key: str) -> set[str]:
        """Every value a filter combo may offer for this row (causes: one per cause)."""
        if key == "cause":
            return set(self.causes)
        return {self.filter_value(key)}

    def matches(self, key: str, value: str) -> bool:
        if key == "cause":
            return value in self.causes
        return self.filter_value(key) == value

    def filter_value(self, key: str) -> str:
        value = getattr(self, key)
        return NONE_VALUE if value in (None, "") else str(value)


def load_rows(catalog: Catalog) -> list[CatalogRow]:
    """Every catalog episode with one query (the browser's only read of the episode table)."""
    rows = catalog.conn.execute(_QUERY).fetchall()
    top = top_findings(catalog)
    return [
        CatalogRow(
            id=r["id"],
            kind=r["kind"],
            path=r["path"],
            episode_index=r["episode_index"],
            name=r["name"],
            duration_ns=int(r["duration_ns"] or 0),
            source=r["source"],
            robot=r["robot"],
            policy_version=r["policy_version"],
            env_version=r["env_version"],
            git_sha=r["git_sha"],
            seed=r["seed"],
            task=r["task"],
            outcome=r["outcome"],
            status=r["status"],
            problems=_problems(r["problems"]),
            tags=r["tags"] or "",
            causes=frozenset(r["causes"].split(",")) if r["causes"] else frozenset(),
            top=top.get(r["id"]),
        )
        for r in rows
    ]


def _problems(text: str | None) -> list[str]:
    if not text or text == "[]":  # most rows: skip the JSON parser
        return []
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return [str(text)]
    return [str(p) for p in value] if isinstance(value, list) else [str(value)]


_DIGITS = re.compile(r"(\d+)")


def _natural(text: str) -> tuple[Any, ...]:
    """'ep #10' after 'ep #2': digit runs compare as numbers."""
    return tuple(int(p) if p.isdigit() else p for p in _DIGITS.split(text.casefold()))


def sort_key(row: CatalogRow, key: str) -> tuple[Any, ...]:
    """Numbers sort as numbers; empty values sort after everything else (ascending)."""
    if key == "duration":
        return (0, row.duration_ns)
    if key == "seed":
        return (1, 0) if row.seed is None else (0, row.seed)
    if key == "problems":
        return (len(row.problems), row.problems[0].casefold() if row.problems else "")
    if key == "name":
        return (0, _natural(row.name), row.path, row.episode_index or 0)
    if key == "findings":  # most confident fault first when sorted descending
        if row.top is None:
            return (0, -1.0, "")
        return (0, row.top.confidence, row.top.title.casefold())
    if key == "path":
        return (0, _natural(row.path), row.episode_index or 0)
    value = getattr(row, key)
    if value in (None, ""):
        return (1, "")
    return (0, str(value).casefold())


_icons: dict[str, QIcon] = {}


def dot_icon(color: str) -> QIcon:
    """A small filled circle (made lazily: a QPixmap needs a running QGuiApplication)."""
    icon = _icons.get(color)
    if icon is None:
        pixmap = QPixmap(12, 12)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(color))
        painter.drawEllipse(2, 2, 8, 8)
        painter.end()
        icon = _icons[color] = QIcon(pixmap)
    return icon


class CatalogModel(QAbstractTableModel):
    """The catalog rows; sorts itself (see module docstring)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[CatalogRow] = []
        self._sort: tuple[int, Qt.SortOrder] | None = None
        self._italic = QFont()
        self._italic.setItalic(True)

    # --- data in -------------------------------------------------------------------------

    def set_rows(self, rows: Sequence[CatalogRow]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        if self._sort is not None:
            self._rows.sort(
                key=lambda r: sort_key(r, COLUMN_KEYS[self._sort[0]]),  # type: ignore[index]
                reverse=self._sort[1] == Qt.SortOrder.DescendingOrder,
            )
        self.endResetModel()

    def rows(self) -> list[CatalogRow]:
        return self._rows

    def row_at(self, row: int) -> CatalogRow:
        return self._rows[row]

    # --- QAbstractTableModel -----------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][1]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            key = COLUMNS[section][0]
            horizontal = (
                Qt.AlignmentFlag.AlignRight
                if key in NUMERIC_COLUMNS
                else Qt.AlignmentFlag.AlignLeft
            )
            return int(horizontal | Qt.AlignmentFlag.AlignVCenter)
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        key = COLUMN_KEYS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, key)
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = self._tooltip(row, key)
            return literal_tip(tip) if tip else tip
        if role == Qt.ItemDataRole.ForegroundRole:
            if key == "status":
                return QBrush(QColor(STATUS_COLORS.get(row.status, "#000000")))
            if key == "outcome":
                return QBrush(QColor(OUTCOME_COLORS.get(row.outcome, "#000000")))
            if key == "findings" and row.top is not None:
                confident = row.top.confidence >= 0.5
                return QBrush(QColor("#b71c1c" if confident else "#8a8a8a"))
            if row.status == "missing" or (key in row.missing):
                return QBrush(QColor("#8a8a8a"))  # missing rows, unset reproducibility fields
            return None
        if role == Qt.ItemDataRole.BackgroundRole:
            tint = ROW_TINTS.get(row.status)
            return None if tint is None else QBrush(tint)
        if role == Qt.ItemDataRole.DecorationRole:
            if key == "name" and row.missing:
                return dot_icon(AMBER)
            if key == "status":
                return dot_icon(STATUS_COLORS.get(row.status, "#000000"))
            return None
        if role == Qt.ItemDataRole.FontRole:
            return self._italic if row.status == "missing" else None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if key in NUMERIC_COLUMNS:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return None
        if role == ID_ROLE:
            return row.id
        if role == SORT_ROLE:
            return sort_key(row, key)[1] if key in NUMERIC_COLUMNS else self._display(row, key)
        return None

    @staticmethod
    def _display(row: CatalogRow, key: str) -> str:
        if key == "duration":
            return f"{row.duration_ns / 1e9:.2f}"
        if key == "git_sha":
            return (row.git_sha or "")[:8]
        if key == "problems":
            if not row.problems:
                return ""
            first = row.problems[0]
            prefix = row.path + ": "  # the row already shows the path: keep the reason
            if first.startswith(prefix):
                first = first[len(prefix) :]
            return f"{len(row.problems)} · {first}"
        value = getattr(row, key)
        if value in (None, ""):
            return "—" if key in REPRODUCIBILITY_FIELDS else ""
        return str(value)

    @staticmethod
    def _tooltip(row: CatalogRow, key: str) -> str | None:
        if key == "name":
            lines = [f"{row.name}", f"id {row.id}"]
            if row.missing:
                lines.append("Not reproducible: missing " + ", ".join(row.missing))
            return "\n".join(lines)
        if key == "git_sha":
            return row.git_sha or "git_sha not recorded"
        if key == "findings":
            if row.top is None:
                return "Not explained yet, or nothing unusual found"
            lines = [
                f"Most likely: {row.top.title} ({row.top.cause}, "
                f"confidence {row.top.confidence:.0%})",
                f"{row.top.count} finding(s)",
            ]
            if row.causes:
                lines.append("Causes: " + ", ".join(sorted(row.causes)))
            return "\n".join(lines)
        if key == "problems":
            return "\n".join(f"• {p}" for p in row.problems) or None
        if key == "path":
            return (
                row.path
                if row.episode_index is None
                else f"{row.path}  (episode {row.episode_index})"
            )
        if key == "status" and row.status != "ready" and row.problems:
            return f"{row.status}: {row.problems[-1]}"
        if key in ("task", "policy_version", "env_version", "robot"):
            return getattr(row, key) or None
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(COLUMNS):
            return
        self._sort = (column, order)
        key = COLUMN_KEYS[column]
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        old_ids = [self._rows[i.row()].id for i in persistent]
        self._rows.sort(
            key=lambda r: sort_key(r, key), reverse=order == Qt.SortOrder.DescendingOrder
        )
        position = {r.id: n for n, r in enumerate(self._rows)}
        self.changePersistentIndexList(
            persistent,
            [self.index(position[i], p.column()) for i, p in zip(old_ids, persistent, strict=True)],
        )
        self.layoutChanged.emit()


class CatalogFilterProxy(QSortFilterProxyModel):
    """Search text + per-column equality filters; sorting is delegated to the source model."""

    ANY: ClassVar[None] = None

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._needle = ""
        self._filters: dict[str, str] = {}

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

    def filterAcceptsRow(
        self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex
    ) -> bool:
        if not self._needle and not self._filters:
            return True
        model = self.sourceModel()
        if not isinstance(model, CatalogModel):
            return True
        row = model.row_at(source_row)
        if self._needle and self._needle not in row.haystack:
            return False
        return all(row.matches(k, v) for k, v in self._filters.items())

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        model = self.sourceModel()
        if model is not None:
            model.sort(column, order)
