"""The browser's rows as plain Python objects: episodes, and datasets that group them.

Why groups: a 100-episode LeRobot dataset would otherwise push every rosbag off the first
screen; its episodes sit under one expandable row that summarises them (count, total duration,
worst status and outcome, how many have findings). Why lazily: a catalog may hold 1,000,000
episodes, which as Python objects cost a minute and gigabytes; the top level (``load_top``) is
the groups' SQL aggregates plus the episodes of their own, and a group's episodes are read
(``load_group``: a few queries, each row's search text precomputed) when it is expanded or
searched. No Qt here: the model in ``catalog_model`` renders these.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePath
from typing import Any

from robotrace_desktop.catalog.anomaly import Anomaly
from robotrace_desktop.catalog.browse import (
    COMMON_FIELDS,
    LOOSE_SCOPE,
    VALUE_FIELDS,
    filter_where,
    group_scope,
    group_summaries,
    haystack,
    ids_scope,
    most_abnormal_id,
    parse_problems,
    scope_anomalies,
    scope_paths,
    scope_rows,
    scope_top_findings,
    search_where,
)
from robotrace_desktop.catalog.findings import TopFinding
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.episode import REPRODUCIBILITY_FIELDS
from robotrace_desktop.core.finding import CONFIDENT

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
        self.haystack = haystack(parts)

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
    """A dataset's episodes under one row. Its fields summarise them (worst first) and come
    from one aggregate query over the whole catalog (``browse.group_summaries``); the episodes
    themselves (``children``) are read only when someone needs them (the dataset is expanded,
    a search looks inside it): None until then."""

    recording: str  # the group key: a dataset's recording, or REPLAY_GROUP + candidate
    count: int
    name: str = ""
    kind: str = ""
    duration_ns: int = 0
    outcome: str = ""
    status: str = ""
    with_findings: int = 0  # episodes whose top finding is confident
    with_problems: int = 0
    unreproducible: int = 0  # episodes missing a reproducibility field
    unscored: int = 0  # episodes never explained
    best_confidence: float = -1.0  # the highest top-finding confidence (-1: no finding)
    max_score: float | None = None  # the highest anomaly score (None: none explained)
    specific: int = 0  # explained episodes with a specific finding
    #: the explained episode with the highest score, read when its tooltip is asked for
    most_abnormal: CatalogRow | None = None
    common: dict[str, Any] = field(default_factory=dict)  # field -> shared value or VARIOUS
    folder: str = ""  # where its episodes are (the dataset folder; the replays' library)
    status_counts: dict[str, int] = field(default_factory=dict)
    outcome_counts: dict[str, int] = field(default_factory=dict)
    children: list[CatalogRow] | None = None

    @property
    def id(self) -> str:
        return "dataset:" + self.recording

    @property
    def is_replays(self) -> bool:
        return self.recording.startswith(REPLAY_GROUP)

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
        counted = self.status_counts if key == "status" else self.outcome_counts
        return {value: n for value, n in counted.items() if n}


Node = CatalogRow | CatalogGroup


def load_rows(catalog: Catalog) -> list[CatalogRow]:
    """Every catalog episode (what ``list`` shows; the browser reads them a dataset at a
    time with ``scope``)."""
    return load_scope(catalog, "1", [])


def load_group(
    catalog: Catalog,
    group: CatalogGroup,
    filters: Mapping[str, str] | None = None,
    needle: str = "",
) -> list[CatalogRow]:
    """A dataset's episodes, in (path, index) order; with ``filters`` (the filter bar's
    choices) only those that pass them, with ``needle`` (the case-folded search) only those
    whose text holds it."""
    scope, params = group_scope(group.recording)
    if filters:
        where, more = filter_where(filters, NONE_VALUE)
        scope, params = f"({scope}) AND {where}", [*params, *more]
    if needle and "\n" not in needle:  # (a search box holds one line)
        where, more = search_where(catalog, needle)
        scope, params = f"({scope}) AND {where}", [*params, *more]
    return load_scope(catalog, scope, params)


def load_scope(catalog: Catalog, scope: str, params: Sequence[Any]) -> list[CatalogRow]:
    """The episodes the ``episode_view`` WHERE clause ``scope`` selects, with their top finding
    and anomaly score: three queries however many rows, in one read snapshot. The scope (a
    search may cost a Python call per row) is evaluated once: the findings are read for the
    ids it selected."""
    with catalog.snapshot():
        rows = scope_rows(catalog, scope, params)
        chosen = ("id IN (SELECT value FROM json_each(?))", [json.dumps([r["id"] for r in rows])])
        found = scope_top_findings(catalog, *chosen)
        best = scope_anomalies(catalog, *chosen)
    top: dict[str, TopFinding] = {}
    for r in found:
        top.setdefault(
            r["episode_id"], TopFinding(r["cause"], r["title"], float(r["confidence"]), r["n"])
        )
    scores = {
        r["episode_id"]: _anomaly(r["confidence"], r["cause"], r["title"], r["t_start_ns"])
        for r in best
    }
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
            problems=parse_problems(r["problems"]),
            tags=r["tags"] or "",
            causes=frozenset(r["causes"].split(",")) if r["causes"] else frozenset(),
            top=top.get(r["id"]),
            anomaly=scores.get(r["id"]),
            recording=r["recording"] or "",
        )
        for r in rows
    ]


def _anomaly(score: float | None, cause: str | None, title: str | None, t: int | None) -> Anomaly:
    if cause is None:
        return Anomaly(0.0)
    return Anomaly(float(score or 0.0), cause, title, t)


@dataclass(slots=True)
class CatalogTop:
    """What the browser's top level shows: the groups (summaries, no episodes), the episodes
    of their own, and what the filter bar and the count need — without reading the episodes
    of any dataset."""

    nodes: list[Node]
    total: int  # every episode, replays included
    replays: int
    filter_values: dict[str, set[str]]
    filled: frozenset[str]  # the reproducibility columns at least one episode sets


def load_top(catalog: Catalog) -> CatalogTop:
    """The top level in a handful of queries, however many episodes the datasets hold (the
    groups' summaries are kept in the catalog per recording: see ``browse.group_summaries``)."""
    loose = load_scope(catalog, LOOSE_SCOPE, [])
    summaries = group_summaries(catalog)
    groups = [_group(s) for s in summaries]
    for group in groups:  # a candidate's replays: the folder their episodes share
        if group.is_replays:
            paths = scope_paths(catalog, *group_scope(group.recording))
            group.folder = os.path.commonpath(paths) if paths else ""
    # where the group's first episode is in (path, index) order, as a listing shows them
    order: list[tuple[str, int, Node]] = [
        (s["first_path"], 0, g) for s, g in zip(summaries, groups, strict=True)
    ]
    order += [(r.path, -1, r) for r in loose]
    order.sort(key=lambda item: (item[0], item[1]))
    nodes: list[Node] = [item[2] for item in order]
    filled = {
        key
        for key in REPRODUCIBILITY_FIELDS
        if any(g.common.get(key) is not None for g in groups)
        or any(getattr(r, key) not in (None, "") for r in loose)
    }
    raw: dict[str, set[Any]] = {key: {getattr(r, key) for r in loose} for key in VALUE_FIELDS}
    causes: set[str] = set().union(*(r.causes for r in loose))
    for summary in summaries:
        for key in VALUE_FIELDS:
            raw[key] |= summary["values_" + key]
        causes |= summary["causes"]
    values = {key: {NONE_VALUE if v in (None, "") else str(v) for v in raw[key]} for key in raw}
    values["cause"] = {str(c) for c in causes}
    return CatalogTop(
        nodes=nodes,
        total=len(loose) + sum(g.count for g in groups),
        replays=sum(g.count for g in groups if g.is_replays),
        filter_values=values,
        filled=frozenset(filled),
    )


def load_most_abnormal(catalog: Catalog, group: CatalogGroup) -> CatalogRow | None:
    """The group's explained episode with the highest score (its Anomaly tooltip)."""
    found = most_abnormal_id(catalog, group.recording)
    rows = [] if found is None else load_scope(catalog, *ids_scope([found]))
    return rows[0] if rows else None


def _group(summary: Mapping[str, Any]) -> CatalogGroup:
    """A group row from its aggregate (``browse.group_summaries``)."""
    key = summary["grp"]
    common = {f: summary["common_" + f] for f in COMMON_FIELDS}
    if key.startswith(REPLAY_GROUP):
        candidate = key[len(REPLAY_GROUP) :]
        name = f"replays of {candidate}" if candidate else "replays"
        folder = ""  # filled in by load_top from the episodes' paths
    else:
        name = PurePath(key).name or key
        folder = key
    return CatalogGroup(
        recording=key,
        count=int(summary["n"]),
        name=name,
        kind=common.pop("kind") or "",
        duration_ns=int(summary["duration_ns"] or 0),
        outcome=OUTCOME_SEVERITY[summary["outcome_rank"]]
        if summary["outcome_rank"] is not None
        else OUTCOME_SEVERITY[-1],
        status=STATUS_SEVERITY[summary["status_rank"]]
        if summary["status_rank"] is not None
        else STATUS_SEVERITY[-1],
        with_findings=int(summary["with_findings"] or 0),
        with_problems=int(summary["with_problems"] or 0),
        unreproducible=int(summary["unreproducible"] or 0),
        unscored=int(summary["n"]) - int(summary["scored"] or 0),
        best_confidence=-1.0
        if summary["best_confidence"] is None
        else float(summary["best_confidence"]),
        max_score=None if summary["max_score"] is None else float(summary["max_score"]),
        specific=int(summary["specific"] or 0),
        common=common,
        folder=folder,
        # worst first: a tooltip lists equal counts in that order
        status_counts={v: int(summary["status_" + v] or 0) for v in STATUS_SEVERITY},
        outcome_counts={v: int(summary["outcome_" + v] or 0) for v in OUTCOME_SEVERITY},
    )


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
        return node.max_score is None
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
        score = group.max_score
        return (0, -1.0 if score is None else score, _natural(group.name))
    if key == "findings":
        return (0, group.best_confidence, "")
    if key == "path":
        return (0, _natural(group.recording), -1)
    if key in ("kind", "status", "outcome"):
        return _text_key(getattr(group, key))
    return _text_key(group.common.get(key))


def _text_key(value: Any) -> tuple[Any, ...]:
    if value in (None, ""):
        return (1, "")
    return (0, str(value).casefold())
