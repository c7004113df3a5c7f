"""Tree model of the catalog for the browser: datasets as expandable rows, episodes under them.

Lazy: the top level is the datasets' summaries and the episodes of their own
(``catalog_rows.load_top``); a dataset's episodes are read from the catalog when the view
expands it (Qt's ``canFetchMore``/``fetchMore``: ``rowCount`` is 0 until then, while
``hasChildren`` says there is something to expand), so a catalog of 1,000,000 episodes in
100 datasets opens with 100 rows in memory. A search or a column filter is pushed into the SQL
that reads a dataset's episodes (``set_narrowing``): the proxy asks for them
(``episodes_of``) to decide whether the dataset matches, and only the matching ones are made
rows.

Sorting happens here with a Python key sort (one pass per level, not a ``lessThan`` call per
comparison): the top level, and each dataset whose episodes are read. The proxy in
``catalog_proxy`` only filters. A reload while the user works (a scan committing rows, Explain
storing findings, a CLI scan in another process) replaces the rows as one *layout change* whose
persistent indexes are re-pointed by episode id: selection, expanded datasets and the view's
anchor row survive, where a model reset would drop all three.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPixmap

from robotrace_desktop.catalog.anomaly import Anomaly
from robotrace_desktop.core.episode import REPRODUCIBILITY_FIELDS
from robotrace_desktop.core.finding import CONFIDENT
from robotrace_desktop.ui.catalog_rows import (
    COLUMN_KEYS,
    COLUMNS,
    FILTER_COLUMNS,
    NUMERIC_COLUMNS,
    VARIOUS,
    CatalogGroup,
    CatalogRow,
    Node,
    load_rows,
    sort_nodes,
)
from robotrace_desktop.ui.plain_text import literal_tip

#: reads a group's episodes that pass the column filters
Loader = Callable[[CatalogGroup, dict[str, str], str], list[CatalogRow]]

__all__ = [
    "AMBER",
    "COLUMN_KEYS",
    "FILTER_COLUMNS",
    "ID_ROLE",
    "STATUS_COLORS",
    "CatalogModel",
    "CatalogRow",
    "load_rows",
]

ID_ROLE = Qt.ItemDataRole.UserRole
NODE_ROLE = Qt.ItemDataRole.UserRole + 2  # the CatalogRow or CatalogGroup behind an index

STATUS_COLORS = {"ready": "#2e7d32", "failed": "#c62828", "missing": "#757575"}
OUTCOME_COLORS = {"success": "#2e7d32", "failure": "#c62828", "unknown": "#8a8a8a"}
ROW_TINTS = {"failed": QColor(198, 40, 40, 34), "missing": QColor(117, 117, 117, 40)}
AMBER = "#e69500"
FINDING_RED = "#b71c1c"
GREY = "#8a8a8a"
#: What every colour in the table means: the legend under the table and the header tooltips.
LEGEND: tuple[tuple[str, str, str], ...] = (
    (STATUS_COLORS["ready"], "ready", "indexed and readable"),
    (STATUS_COLORS["failed"], "failed", "could not be read (red-tinted row; see Problems)"),
    (STATUS_COLORS["missing"], "missing", "the file is gone (grey italic row; kept)"),
    (AMBER, "not reproducible", "policy, env, git sha or seed not recorded"),
)
HEADER_TIPS = {
    "name": "Amber dot: not reproducible — policy_version, env_version, git_sha or seed not "
    "recorded (set them with `robotrace-desktop tag`).\nA dataset's episodes are grouped "
    "under it: expand the row.",
    "status": "Dot colour: green ready (indexed, readable) · red failed (could not be read; the "
    "row is tinted) · grey missing (the file is gone; the row is kept, in italics)",
    "outcome": "What the run did: green success · red failure · grey unknown (not recorded)",
    "anomaly": "How abnormal the episode is: the confidence of its strongest specific Explain "
    "finding (a recorded failed outcome does not count). Sort it to see the worst episodes "
    "first; — : not explained yet (listed last). Hover for the finding and when it starts",
    "findings": "Explain's most likely cause and how many findings. Red: confident (≥ 50%); "
    "grey: only low-confidence findings; empty: not explained yet or nothing unusual",
    "problems": "What went wrong while reading the recording (hover for every problem)",
    "path": "Where the recording is (elided in the middle; hover for the full path)",
    "duration": "Seconds; a dataset row shows the total of its episodes",
}

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


def anomaly_brush(found: Anomaly | None) -> QBrush | None:
    """Red when the score is a confident finding (as in the Findings column), grey when
    nothing specific was found or the episode was never explained."""
    if found is None or found.cause is None:
        return QBrush(QColor(GREY))
    return QBrush(QColor(FINDING_RED)) if found.score >= CONFIDENT else None


def anomaly_tip(row: CatalogRow) -> str:
    """The finding that gives the score — its title and when it starts — or why there is none."""
    found = row.anomaly
    if found is None:
        if row.status != "ready":
            return "No score: the recording could not be read, so Explain cannot run on it"
        return (
            "No score: not explained yet (listed last when sorted).\n"
            "Run `robotrace-desktop explain --all`, or scan without --no-explain"
        )
    if found.cause is None:
        return "0.00: Explain found nothing specific in this episode"
    when = "" if found.t_start_ns is None else f" at {found.t_start_ns / 1e9:.2f} s"
    return f"{found.title}{when}\n{found.cause}, confidence {found.score:.0%}"


def group_anomaly_tip(group: CatalogGroup) -> str:
    """Which episode of the dataset is the most abnormal, and how many are not scored."""
    unscored = group.unscored
    worst = group.most_abnormal
    lines = []
    if worst is not None and worst.anomaly is not None:
        found = worst.anomaly
        lines.append(f"Most abnormal: {group.short_name(worst)} ({found.score:.2f})")
        if found.cause is not None:
            lines.append(anomaly_tip(worst).split("\n")[0])
    if unscored:
        lines.append(f"{unscored} of {group.count} episodes not explained (no score)")
    return "\n".join(lines) or "No episode explained yet"


class CatalogModel(QAbstractItemModel):
    """Two levels: top-level nodes (episodes and dataset groups), a group's episodes below.

    An index's ``internalId`` is 0 at the top level and ``1 + the parent's row`` below it.
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._top: list[Node] = []
        self._loader: Loader = lambda group, filters, needle: []
        self._filters: dict[str, str] = {}  # the filter bar's: a group reads only matches
        self._needle = ""  # the case-folded search: likewise
        self._most_abnormal: Callable[[CatalogGroup], CatalogRow | None] = lambda group: None
        self._fetched: set[str] = set()  # keys of the groups whose episodes the view shows
        self._sort: tuple[int, Qt.SortOrder] | None = None
        self._italic = QFont()
        self._italic.setItalic(True)
        self._bold = QFont()
        self._bold.setBold(True)

    # --- data in -------------------------------------------------------------------------

    def set_top(
        self,
        nodes: Sequence[Node],
        loader: Loader,
        most_abnormal: Callable[[CatalogGroup], CatalogRow | None],
    ) -> None:
        """Replace every row with ``nodes`` (the top level); ``loader`` reads a group's
        episodes that pass the column filters, ``most_abnormal`` its most abnormal one (for
        a tooltip). Groups the view had expanded are read again at once; persistent indexes
        (selection, expansion) follow their ids."""
        self._loader = loader
        self._most_abnormal = most_abnormal
        if not self._top:
            self.beginResetModel()
            self._install(nodes)
            self.endResetModel()
            return
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        keys = [(self.node(i).id, i.column()) for i in persistent]
        self._install(nodes)
        self._remap(persistent, keys)
        self.layoutChanged.emit()

    def set_narrowing(
        self, filters: dict[str, str], needle: str, keep: set[str] | None = None
    ) -> None:
        """The filter bar's choices (column -> value) and the case-folded search: a group's
        episodes are read again, only those that pass (SQL), so a search or filter never
        makes rows of a whole dataset of non-matches. Typing on (the new search holds the
        old one, same filters) narrows what is in memory instead of reading again. One
        layout change, like a reload: the selection and expanded datasets follow ids. Cleared,
        only the groups in ``keep`` go on showing their episodes (the view collapses all)."""
        if filters == self._filters and needle == self._needle:
            return
        narrower = filters == self._filters and self._needle in needle
        self._filters, self._needle = dict(filters), needle
        if not self._top:
            return
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        keys = [(self.node(i).id, i.column()) for i in persistent]
        if not (filters or needle):
            self._fetched &= keep or set()
        for node in self._top:
            if isinstance(node, CatalogGroup):
                if narrower and node.children is not None:
                    node.children = [r for r in node.children if needle in r.haystack]
                else:
                    node.children = None
        self._install(self._top)
        self._remap(persistent, keys)
        self.layoutChanged.emit()

    def _install(self, nodes: Sequence[Node]) -> None:
        self._top = list(nodes)
        fetched = self._fetched
        self._fetched = set()
        for node in self._top:
            if isinstance(node, CatalogGroup) and node.recording in fetched:
                self._read(node)
                self._fetched.add(node.recording)
        self._sort_nodes()

    def _read(self, group: CatalogGroup) -> list[CatalogRow]:
        if group.children is None:
            group.children = self._loader(group, self._filters, self._needle)
            if self._sort is not None:
                key, reverse = self._sort_key()
                sort_nodes(group.children, key, reverse)
        return group.children

    def _sort_key(self) -> tuple[str, bool]:
        assert self._sort is not None
        return COLUMN_KEYS[self._sort[0]], self._sort[1] == Qt.SortOrder.DescendingOrder

    def _sort_nodes(self) -> None:
        if self._sort is None:
            return
        key, reverse = self._sort_key()
        sort_nodes(self._top, key, reverse)
        for node in self._top:
            if isinstance(node, CatalogGroup) and node.children is not None:
                sort_nodes(node.children, key, reverse)

    def _remap(self, persistent: list[QModelIndex], keys: list[tuple[str, int]]) -> None:
        where: dict[str, tuple[int, int]] = {}  # id -> (internal id, row)
        for top, node in enumerate(self._top):
            where[node.id] = (0, top)
            if isinstance(node, CatalogGroup) and node.recording in self._fetched:
                for child, row in enumerate(self._read(node)):
                    where[row.id] = (top + 1, child)
        new: list[QModelIndex] = []
        for node_id, column in keys:
            place = where.get(node_id)
            new.append(
                QModelIndex() if place is None else self.createIndex(place[1], column, place[0])
            )
        self.changePersistentIndexList(persistent, new)

    def top_nodes(self) -> list[Node]:
        return self._top  # datasets (their episodes maybe not read), episodes of their own

    def episodes_of(self, group: CatalogGroup) -> list[CatalogRow]:
        """A group's episodes that pass the column filters, read from the catalog on first
        use (without showing them)."""
        return self._read(group)

    def rows(self) -> list[CatalogRow]:
        """Every episode that passes the column filters, reading every group's: for a small
        catalog or a test, not for the browser's own use on a large one."""
        rows: list[CatalogRow] = []
        for node in self._top:
            rows.extend(self._read(node) if isinstance(node, CatalogGroup) else [node])
        return rows

    def is_read(self, group: CatalogGroup) -> bool:
        return group.children is not None  # whether the group's episodes are in memory

    def node(self, index: QModelIndex | QPersistentModelIndex) -> Node:
        parent = index.internalId()
        if parent == 0:
            return self._top[index.row()]
        group = self._top[parent - 1]
        assert isinstance(group, CatalogGroup)
        return self._read(group)[index.row()]

    def node_at(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> Node:
        """The node at ``row`` under ``parent`` (what ``node(index(row, 0, parent))`` gives,
        without making an index: the proxy asks this for every row on each keystroke)."""
        if not parent.isValid():
            return self._top[row]
        group = self._top[parent.row()]
        assert isinstance(group, CatalogGroup)
        return self._read(group)[row]

    def row_at(self, row: int) -> Node:
        return self._top[row]  # the top-level node at ``row`` (an episode or a dataset)

    def _shown(self, parent: QModelIndex | QPersistentModelIndex) -> CatalogGroup | None:
        """The group at top-level index ``parent`` if the view was given its episodes."""
        if not parent.isValid() or parent.internalId() != 0 or parent.column() != 0:
            return None
        node = self._top[parent.row()]
        if isinstance(node, CatalogGroup) and node.recording in self._fetched:
            return node
        return None

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex) -> bool:
        if not parent.isValid() or parent.internalId() != 0:
            return False
        node = self._top[parent.row()]
        return isinstance(node, CatalogGroup) and node.recording not in self._fetched

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex) -> None:
        """Read the group's episodes (in the current sort order) and show them under it."""
        if not self.canFetchMore(parent):
            return
        group = self._top[parent.row()]
        assert isinstance(group, CatalogGroup)
        children = self._read(group)
        if not children:
            self._fetched.add(group.recording)
            return
        first = self.index(parent.row(), 0)
        self.beginInsertRows(first, 0, len(children) - 1)
        self._fetched.add(group.recording)
        self.endInsertRows()

    # --- QAbstractItemModel -----------------------------------------------------------------

    def index(
        self,
        row: int,
        column: int,
        parent: QModelIndex | QPersistentModelIndex = QModelIndex(),  # noqa: B008
    ) -> QModelIndex:
        if not 0 <= column < len(COLUMNS) or row < 0:
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, 0) if row < len(self._top) else QModelIndex()
        if parent.internalId():  # an episode has no children
            return QModelIndex()
        # the proxy asks this for every shown episode and column: few calls into Qt
        top = parent.row()
        node = self._top[top]
        if type(node) is CatalogGroup and node.recording in self._fetched:
            children = node.children
            if children is not None and row < len(children):
                return self.createIndex(row, column, top + 1)
        return QModelIndex()

    def parent(self, child: QModelIndex | QPersistentModelIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not child.isValid() or child.internalId() == 0:
            return QModelIndex()
        return self.createIndex(child.internalId() - 1, 0, 0)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        if not parent.isValid():
            return len(self._top)
        group = self._shown(parent)
        return 0 if group is None else len(self._read(group))

    def hasChildren(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:  # noqa: B008
        if not parent.isValid():
            return bool(self._top)
        if parent.internalId() != 0 or parent.column() != 0:
            return False
        node = self._top[parent.row()]
        return isinstance(node, CatalogGroup) and node.count > 0

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        key = COLUMNS[section][0]
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][1]
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS.get(key)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            flags = Qt.AlignmentFlag
            horizontal = flags.AlignRight if key in NUMERIC_COLUMNS else flags.AlignLeft
            return int(horizontal | flags.AlignVCenter)
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        node = self.node(index)
        key = COLUMN_KEYS[index.column()]
        if role == ID_ROLE:
            return node.id
        if role == NODE_ROLE:
            return node
        if isinstance(node, CatalogGroup):
            return self._group_data(node, key, role)
        if key == "name" and role == Qt.ItemDataRole.DisplayRole and index.internalId():
            group = self._top[index.internalId() - 1]
            assert isinstance(group, CatalogGroup)
            return group.short_name(node)
        return self._row_data(node, key, role)

    def _row_data(self, row: CatalogRow, key: str, role: int) -> Any:
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
                return QBrush(QColor(FINDING_RED if confident else GREY))
            if key == "anomaly":
                return anomaly_brush(row.anomaly)
            if row.status == "missing" or (key in row.missing):
                return QBrush(QColor(GREY))  # missing rows, unset reproducibility fields
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
        return None

    def _group_data(self, group: CatalogGroup, key: str, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return self._group_display(group, key)
        if role == Qt.ItemDataRole.ToolTipRole:
            if key == "anomaly" and group.most_abnormal is None and group.max_score is not None:
                group.most_abnormal = self._most_abnormal(group)
            return literal_tip(self._group_tooltip(group, key))
        if role == Qt.ItemDataRole.ForegroundRole:
            if key == "status":
                return QBrush(QColor(STATUS_COLORS.get(group.status, "#000000")))
            if key == "outcome":
                return QBrush(QColor(OUTCOME_COLORS.get(group.outcome, "#000000")))
            if key == "findings" and group.with_findings:
                return QBrush(QColor(FINDING_RED))
            if key == "anomaly":
                if group.max_score is None:
                    return anomaly_brush(None)
                # the most abnormal episode's cause is None when nothing specific was found
                cause = "specific" if group.specific else None
                return anomaly_brush(Anomaly(group.max_score, cause))
            if group.common.get(key) in (None, VARIOUS) and key in group.common:
                return QBrush(QColor(GREY))
            return None
        if role == Qt.ItemDataRole.DecorationRole:
            if key == "status":
                return dot_icon(STATUS_COLORS.get(group.status, "#000000"))
            if key == "name" and group.unreproducible:
                return dot_icon(AMBER)
            return None
        if role == Qt.ItemDataRole.FontRole and key == "name":
            return self._bold
        if role == Qt.ItemDataRole.TextAlignmentRole and key in NUMERIC_COLUMNS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(row: CatalogRow, key: str) -> str:
        if key == "duration":
            return f"{row.duration_ns / 1e9:.2f}"
        if key == "git_sha":
            return (row.git_sha or "")[:8]
        if key == "anomaly":
            return "—" if row.anomaly is None else f"{row.anomaly.score:.2f}"
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
    def _group_display(group: CatalogGroup, key: str) -> str:
        count = group.count
        if key == "name":
            return f"{group.name}  ({count} episode{'' if count == 1 else 's'})"
        if key == "duration":
            return f"{group.duration_ns / 1e9:.2f}"
        if key == "findings":
            return f"{group.with_findings} with findings" if group.with_findings else ""
        if key == "anomaly":
            return "—" if group.max_score is None else f"{group.max_score:.2f}"
        if key == "problems":
            return f"{group.with_problems} with problems" if group.with_problems else ""
        if key in ("kind", "status", "outcome"):
            return getattr(group, key) or VARIOUS
        if key == "path":
            return group.path
        value = group.common.get(key)
        if value in (None, ""):
            return "—" if key in REPRODUCIBILITY_FIELDS else ""
        return str(value)[:8] if key == "git_sha" and value != VARIOUS else str(value)

    @staticmethod
    def _group_tooltip(group: CatalogGroup, key: str) -> str:
        if key in ("status", "outcome"):
            counts = group.counts(key)
            return f"{key} of the {group.count} episodes: " + ", ".join(
                f"{n} {value}" for value, n in sorted(counts.items(), key=lambda kv: -kv[1])
            )
        if key == "findings":
            return f"{group.with_findings} of {group.count} episodes have a confident finding"
        if key == "anomaly":
            return group_anomaly_tip(group)  # (most_abnormal read by _group_data)
        lines = [
            group.path,
            f"{group.count} episodes, {group.duration_ns / 1e9:.1f} s in total",
            f"{group.with_findings} with findings, {group.with_problems} with problems",
        ]
        if group.unreproducible:
            lines.append(f"Not reproducible: {group.unreproducible} episodes miss policy, env, "
                         "git sha or seed")  # fmt: skip
        return "\n".join(lines)

    @staticmethod
    def _tooltip(row: CatalogRow, key: str) -> str | None:
        if key == "name":
            lines = [f"{row.name}", f"id {row.id}"]
            if row.missing:
                lines.append("Not reproducible: missing " + ", ".join(row.missing))
            return "\n".join(lines)
        if key == "git_sha":
            return row.git_sha or "git_sha not recorded"
        if key == "anomaly":
            return anomaly_tip(row)
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
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        keys = [(self.node(i).id, i.column()) for i in persistent]
        self._sort_nodes()
        self._remap(persistent, keys)
        self.layoutChanged.emit()
