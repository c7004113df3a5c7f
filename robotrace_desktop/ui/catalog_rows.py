"""The browser's rows as plain Python objects: episodes, and datasets that group them.

Why plain objects and not a QSqlTableModel or per-row queries: the catalog may hold 10,000
episodes and the browser filters on every keystroke, so rows are loaded with one query (no
metadata, no streams) and each row's search text is precomputed. Why groups: a 100-episode
LeRobot dataset would otherwise push every rosbag off the first screen; its episodes sit under
one expandable row that summarises them (count, total duration, worst status and outcome, how
many have findings). No Qt here: the model in ``catalog_model`` renders these.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePath
from typing import Any

from robotrace_desktop.catalog.anomaly import Anomaly, anomaly_scores
from robotrace_desktop.catalog.browse import browse_rows
from robotrace_desktop.catalog.findings import CONFIDENT, TopFinding, top_findings
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.episode import REPRODUCIBILITY_FIELDS

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
    ("anomaly", "Anomaly"),
    ("findings", "Findings"),
    ("problems", "Problems"),
    ("path", "Path"),
)
COLUMN_KEYS = tuple(key for key, _ in COLUMNS)
NUMERIC_COLUMNS = frozenset({"seed", "duration", "anomaly"})
#: columns whose empty rows stay last whichever way the column is sorted: an episode Explain
#: never ran on is "not looked at", neither the most nor the least abnormal
EMPTY_LAST_COLUMNS = frozenset({"anomaly"})
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
VARIOUS = "various"  # a group whose episodes disagree on a field
#: worst first: what a group row shows for its episodes' statuses and outcomes
STATUS_SEVERITY = ("failed", "missing", "ready")
OUTCOME_SEVERITY = ("failure", "unknown", "success")
REPLAY = "replay"  # episodes of this source are verify re-rolls, hidden unless asked for
REPLAY_GROUP = "replay:"  # group key prefix of a candidate's replays (never an absolute path)


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
    anomaly: Anomaly | None = None  # the triage score (None: never explained)
    recording: str = ""  # the file or folder the episode was indexed from
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
        if self.top.confidence >= CONFIDENT:
            return f"{self.top.title} ({self.top.count})"
        return f"— ({self.top.count} low)"

    @property
    def is_replay(self) -> bool:
        return self.source == REPLAY

    @property
    def group_key(self) -> str | None:
        """The dataset (or multi-episode file) this episode groups under — or, for a replay,
        its candidate policy's verify re-rolls; None: a row of its own."""
        if self.is_replay:
            return REPLAY_GROUP + (self.policy_version or "")
        return (self.recording or self.path) if self.episode_index is not None else None

    def matches(self, key: str, value: str) -> bool:
        if key == "cause":
            return value in self.causes
        return self.filter_value(key) == value

    def filter_value(self, key: str) -> str:
        value = getattr(self, key)
        return NONE_VALUE if value in (None, "") else str(value)


@dataclass(slots=True)
class CatalogGroup:
    """A dataset's episodes under one row; its fields summarise them (worst first)."""

    recording: str
    children: list[CatalogRow]
    name: str = ""
    kind: str = ""
    duration_ns: int = 0
    outcome: str = ""
    status: str = ""
    with_findings: int = 0  # episodes whose top finding is confident
    with_problems: int = 0
    unreproducible: int = 0  # episodes missing a reproducibility field
    most_abnormal: CatalogRow | None = None  # the explained episode with the highest score
    common: dict[str, Any] = field(default_factory=dict)  # field -> shared value or VARIOUS
    folder: str = ""  # where its episodes are (the dataset folder; the replays' library)

    def __post_init__(self) -> None:
        self.summarise()

    def summarise(self) -> None:
        """Recompute the summary from the children (after they were replaced)."""
        kids = self.children
        if self.recording.startswith(REPLAY_GROUP):
            candidate = self.recording[len(REPLAY_GROUP) :]
            self.name = f"replays of {candidate}" if candidate else "replays"
            self.folder = os.path.commonpath([r.path for r in kids]) if kids else ""
        else:
            self.name = PurePath(self.recording).name or self.recording
            self.folder = self.recording
        self.kind = _common(r.kind for r in kids) or ""
        self.duration_ns = sum(r.duration_ns for r in kids)
        self.status = _worst((r.status for r in kids), STATUS_SEVERITY)
        self.outcome = _worst((r.outcome for r in kids), OUTCOME_SEVERITY)
        self.with_findings = sum(
            1 for r in kids if r.top is not None and r.top.confidence >= CONFIDENT
        )
        self.with_problems = sum(1 for r in kids if r.problems)
        scored = [r for r in kids if r.anomaly is not None]
        self.most_abnormal = max(scored, key=_score, default=None)
        self.unreproducible = sum(1 for r in kids if r.missing)
        self.common = {
            key: _common(getattr(r, key) for r in kids)
            for key in ("robot", "source", "task", *REPRODUCIBILITY_FIELDS)
        }

    @property
    def id(self) -> str:
        return "dataset:" + self.recording

    def short_name(self, row: CatalogRow) -> str:
        """An episode's name under this row: 'g1_pick_bottle_v21 #4' shows as '#4' (the row
        above already says which dataset)."""
        prefix = self.name + " "
        return row.name[len(prefix) :] if row.name.startswith(prefix) else row.name

    @property
    def path(self) -> str:
        return self.folder

    def counts(self, key: str) -> dict[str, int]:
        """How many episodes have each status/outcome (for the group's tooltip)."""
        counted: dict[str, int] = {}
        for row in self.children:
            value = str(getattr(row, key))
            counted[value] = counted.get(value, 0) + 1
        return counted


Node = CatalogRow | CatalogGroup


def _common(values: Iterable[Any]) -> Any:
    """The one value every episode shares; VARIOUS when they differ; None when all unset."""
    distinct = set(values)  # one C-level pass: a dataset's 10,000 episodes usually agree
    seen = {None if v == "" else v for v in distinct}
    return VARIOUS if len(seen) > 1 else next(iter(seen), None)


def _worst(values: Iterable[str], severity: Sequence[str]) -> str:
    rank = {name: n for n, name in enumerate(severity)}
    best: str | None = None
    for value in values:
        if best is None or rank.get(value, len(rank)) < rank.get(best, len(rank)):
            best = value
    return best or severity[-1]


def load_rows(catalog: Catalog) -> list[CatalogRow]:
    """Every catalog episode with one query (the browser's only read of the episode table)."""
    top = top_findings(catalog)
    scores = anomaly_scores(catalog)
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
            anomaly=scores.get(r["id"]),
            recording=r["recording"] or "",
        )
        for r in browse_rows(catalog)
    ]


def group_rows(rows: Sequence[CatalogRow]) -> list[Node]:
    """Top-level nodes: a group per dataset (where its first episode was), other episodes as
    they are."""
    order: list[CatalogRow | str] = []
    members: dict[str, list[CatalogRow]] = {}
    for row in rows:
        key = row.group_key
        if key is None:
            order.append(row)
        else:
            if key not in members:
                members[key] = []
                order.append(key)
            members[key].append(row)
    return [CatalogGroup(n, members[n]) if isinstance(n, str) else n for n in order]


def _problems(text: str | None) -> list[str]:
    if not text or text == "[]":  # most rows: skip the JSON parser
        return []
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return [str(text)]
    return [str(p) for p in value] if isinstance(value, list) else [str(value)]


_DIGITS = re.compile(r"(\d+)")


@lru_cache(maxsize=16384)  # a dataset's 10,000 episodes share one path
def _natural(text: str) -> tuple[Any, ...]:
    """'ep #10' after 'ep #2': digit runs compare as numbers."""
    return tuple(int(p) if p.isdigit() else p for p in _DIGITS.split(text.casefold()))


def sort_nodes(nodes: list[Any], key: str, reverse: bool) -> None:
    """Sort ``nodes`` in place by column ``key``; in EMPTY_LAST_COLUMNS the rows without a
    value stay after the others in both orders (a stable second pass moves them down)."""
    if key in EMPTY_LAST_COLUMNS:  # ties in name order whichever way (the sorts are stable)
        nodes.sort(key=lambda n: sort_key(n, "name"))
        nodes.sort(key=lambda n: sort_key(n, key)[:2], reverse=reverse)
    else:
        nodes.sort(key=lambda n: sort_key(n, key), reverse=reverse)
    if key in EMPTY_LAST_COLUMNS:
        nodes[:] = [n for n in nodes if not _empty(n, key)] + [n for n in nodes if _empty(n, key)]


def _empty(node: Node, key: str) -> bool:
    if isinstance(node, CatalogGroup):
        return node.most_abnormal is None
    return getattr(node, key) is None


def _score(row: CatalogRow) -> float:
    return -1.0 if row.anomaly is None else row.anomaly.score


def sort_key(node: Node, key: str) -> tuple[Any, ...]:
    """Numbers sort as numbers; empty values sort after everything else (ascending). Groups
    sort among episodes by their summary (total duration, worst status, dataset name...)."""
    if isinstance(node, CatalogGroup):
        return _group_key(node, key)
    row = node
    if key == "duration":
        return (0, row.duration_ns)
    if key == "seed":
        return (1, 0) if row.seed is None else (0, row.seed)
    if key == "problems":
        return (len(row.problems), row.problems[0].casefold() if row.problems else "")
    if key == "name":
        return (0, _natural(row.name), row.path, row.episode_index or 0)
    if key == "anomaly":  # most abnormal first when sorted descending
        return (0, _score(row), _natural(row.name))
    if key == "findings":  # most confident fault first when sorted descending
        if row.top is None:
            return (0, -1.0, "")
        return (0, row.top.confidence, row.top.title.casefold())
    if key == "path":
        return (0, _natural(row.path), row.episode_index or 0)
    return _text_key(getattr(row, key))


def _group_key(group: CatalogGroup, key: str) -> tuple[Any, ...]:
    if key == "duration":
        return (0, group.duration_ns)
    if key == "seed":
        seed = group.common.get("seed")
        return (0, seed) if isinstance(seed, int) else (1, 0)
    if key == "problems":
        return (group.with_problems, "")
    if key == "name":
        return (0, _natural(group.name), group.recording, -1)
    if key == "anomaly":
        worst = group.most_abnormal
        return (0, -1.0 if worst is None else _score(worst), _natural(group.name))
    if key == "findings":
        best = max((r.top.confidence for r in group.children if r.top is not None), default=-1.0)
        return (0, best, "")
    if key == "path":
        return (0, _natural(group.recording), -1)
    if key in ("kind", "status", "outcome"):
        return _text_key(getattr(group, key))
    return _text_key(group.common.get(key))


def _text_key(value: Any) -> tuple[Any, ...]:
    if value in (None, ""):
        return (1, "")
    return (0, str(value).casefold())
