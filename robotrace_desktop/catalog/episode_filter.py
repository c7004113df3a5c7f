"""Which episodes a listing selects: the filter and the WHERE clause it becomes over
``episode_view`` (parameterized; column names come only from fixed tuples here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class EpisodeFilter:
    policy: str | None = None
    env: str | None = None
    robot: str | None = None
    status: str | None = None
    kind: str | None = None
    outcome: str | None = None
    search: str | None = None
    cause: str | None = None  # an Explain cause id found with confidence >= 0.5
    source: str | None = None  # real / sim / replay
    #: False: leave out replays (source 'replay'), which a verify run adds by the hundred and
    #: which would bury the user's own recordings in a default listing
    include_replays: bool = True


#: filter fields matched without regard to case (names people type: "unitree_g1_inspire")
NOCASE_COLUMNS = ("policy_version", "env_version", "robot")


#: filter field -> episode_view column (fixed names: safe to put into SQL text)
FILTER_COLUMNS = (
    "policy_version",
    "env_version",
    "robot",
    "status",
    "kind",
    "outcome",
    "source",
    "task",
)


def where_sql(flt: EpisodeFilter) -> tuple[str, list[Any]]:
    """The WHERE clause and its parameters for ``flt`` over episode_view."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("policy_version", flt.policy),
        ("env_version", flt.env),
        ("robot", flt.robot),
        ("status", flt.status),
        ("kind", flt.kind),
        ("outcome", flt.outcome),
        ("source", flt.source),
    ):
        if value is not None:
            collate = " COLLATE NOCASE" if column in NOCASE_COLUMNS else ""
            clauses.append(f"{column} = ?{collate}")
            params.append(value)
    if not flt.include_replays and flt.source is None:
        clauses.append("(source IS NULL OR source != 'replay')")
    if flt.search:
        like = f"%{escape_like(flt.search)}%"
        clauses.append(
            "(name LIKE ? ESCAPE '\\' OR path LIKE ? ESCAPE '\\' OR task LIKE ? ESCAPE '\\'"
            " OR robot LIKE ? ESCAPE '\\' OR policy_version LIKE ? ESCAPE '\\'"
            " OR id LIKE ? ESCAPE '\\' OR problems LIKE ? ESCAPE '\\'"
            " OR id IN (SELECT episode_id FROM tags WHERE tag LIKE ? ESCAPE '\\'))"
        )
        params.extend([like] * 8)
    if flt.cause:
        clauses.append(
            "id IN (SELECT episode_id FROM findings WHERE cause = ? COLLATE NOCASE"
            " AND confidence >= 0.5)"
        )
        params.append(flt.cause)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
