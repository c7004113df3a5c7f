"""What the catalog browser reads: a summary row per dataset, one dataset's episodes when it is
expanded, and a cheap change counter.

Why not every episode at once: a catalog of 1,000,000 episodes read into Python objects takes
a minute and gigabytes, while the browser's first screen shows a few hundred datasets. So the
top level is one aggregate query (``group_summaries``: count, total duration, worst status and
outcome, common values, findings counts per dataset, computed by SQLite), the episodes without
a dataset (a rosbag, an HDF5 file) are read as rows (``scope_rows``), and a dataset's episodes
are read only when the user expands it (``scope_rows`` with ``group_scope``).

SQLite's ``PRAGMA data_version`` answers "did another connection commit since I last asked?"
without touching a table, so polling it costs microseconds; only when it moves is the catalog
read again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from robotrace_desktop.catalog.anomaly import NOT_ANOMALIES
from robotrace_desktop.catalog.store import Catalog

#: The episode_view expression of the browser's grouping (see ``CatalogRow.group_key``): a
#: replay groups under its candidate policy, a dataset episode under its recording, anything
#: else (one episode per file) is a row of its own (NULL).
GROUP_SQL = (
    "CASE WHEN source = 'replay' THEN 'replay:' || COALESCE(policy_version, '') "
    "WHEN episode_index IS NOT NULL THEN COALESCE(NULLIF(recording, ''), path) END"
)
REPLAY_PREFIX = "replay:"
#: The episodes that are rows of their own (GROUP_SQL is NULL).
LOOSE_SCOPE = "(source IS NULL OR source != 'replay') AND episode_index IS NULL"

_ROW_COLUMNS = """
    id, recording, kind, path, episode_index, name, duration_ns, source, robot,
    policy_version, env_version, git_sha, seed, task, outcome, status, problems,
    (SELECT group_concat(tag, ' ') FROM tags WHERE tags.episode_id = episode_view.id) AS tags,
    (SELECT group_concat(DISTINCT cause) FROM findings
      WHERE findings.episode_id = episode_view.id AND confidence >= 0.5) AS causes
"""

#: worst first, as the group rows show them
_STATUS_RANK = "CASE status WHEN 'failed' THEN 0 WHEN 'missing' THEN 1 WHEN 'ready' THEN 2 END"
_OUTCOME_RANK = "CASE outcome WHEN 'failure' THEN 0 WHEN 'unknown' THEN 1 WHEN 'success' THEN 2 END"
#: fields a group row shows when all its episodes share them ('' counts as unset)
COMMON_FIELDS = ("kind", "robot", "source", "task", "policy_version", "env_version", "git_sha",
                 "seed")  # fmt: skip
VARIOUS = "various"


def _common_sql(column: str) -> str:
    """The value every episode of the group shares; VARIOUS when they differ; NULL when all
    are unset (min = max over the set values, and no unset one beside them)."""
    value = f"NULLIF({column}, '')"
    return (
        f"CASE WHEN min({value}) IS NULL THEN NULL "
        f"WHEN min({value}) = max({value}) AND count({value}) = count(*) THEN min({value}) "
        f"ELSE '{VARIOUS}' END AS common_{column}"
    )


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


def _scored_sql() -> str:
    """A CTE ``scored``: per episode, its top finding's confidence (the lowest rank; NULL: no
    finding) and its anomaly score (NULL: never explained; 0.0: explained, nothing specific)."""
    return f"""
      top AS (SELECT episode_id, min(rank) AS best, confidence FROM findings
              GROUP BY episode_id),
      specific AS (SELECT episode_id, max(confidence) AS score FROM findings
                   WHERE cause NOT IN ({_marks(NOT_ANOMALIES)}) GROUP BY episode_id),
      scored AS (
        SELECT v.*, {GROUP_SQL} AS grp, top.confidence AS top_confidence,
               CASE WHEN x.episode_id IS NULL THEN NULL ELSE COALESCE(specific.score, 0.0) END
                   AS score
        FROM episode_view v
        LEFT JOIN top ON top.episode_id = v.id
        LEFT JOIN explained x ON x.episode_id = v.id
        LEFT JOIN specific ON specific.episode_id = v.id)"""


def group_summaries(catalog: Catalog) -> list[sqlite3.Row]:
    """One row per group (dataset, a candidate's replays), summarising its episodes, in the
    order of their first episode (path, index). Columns: grp, first_path, n, duration_ns,
    status_rank, outcome_rank, with_findings, best_confidence, with_problems, unreproducible,
    scored, max_score, common_<field>, and a count per status and outcome value."""
    commons = ", ".join(_common_sql(c) for c in COMMON_FIELDS)
    counts = ", ".join(
        f"sum({key} = '{value}') AS {key}_{value}"
        for key, values in (("status", STATUSES), ("outcome", OUTCOMES))
        for value in values
    )
    sql = f"""
        WITH {_scored_sql()}
        SELECT grp, min(path) AS first_path, count(*) AS n,
               sum(duration_ns) AS duration_ns,
               min({_STATUS_RANK}) AS status_rank, min({_OUTCOME_RANK}) AS outcome_rank,
               sum(top_confidence >= 0.5) AS with_findings,
               max(top_confidence) AS best_confidence,
               sum(problems NOT IN ('[]', '')) AS with_problems,
               sum(policy_version IS NULL OR policy_version = '' OR env_version IS NULL
                   OR env_version = '' OR git_sha IS NULL OR git_sha = '' OR seed IS NULL
                   OR seed = '') AS unreproducible,
               count(score) AS scored, max(score) AS max_score,
               {commons}, {counts}
        FROM scored WHERE grp IS NOT NULL GROUP BY grp
        ORDER BY first_path, grp"""
    return catalog.conn.execute(sql, list(NOT_ANOMALIES)).fetchall()


STATUSES = ("ready", "failed", "missing")
OUTCOMES = ("success", "failure", "unknown")


def most_abnormal_ids(catalog: Catalog) -> dict[str, str]:
    """{group key: the id of its explained episode with the highest score}; ties go to the
    first episode in (path, index) order. Groups with no explained episode are absent."""
    sql = f"""
        WITH {_scored_sql()}
        SELECT grp, id FROM (
            SELECT grp, id, row_number() OVER (PARTITION BY grp
                                               ORDER BY score DESC, path, episode_index) AS k
            FROM scored WHERE grp IS NOT NULL AND score IS NOT NULL)
        WHERE k = 1"""
    return {r["grp"]: r["id"] for r in catalog.conn.execute(sql, list(NOT_ANOMALIES))}


def group_scope(key: str) -> tuple[str, list[Any]]:
    """The WHERE clause (on episode_view) selecting group ``key``'s episodes, and its
    parameters. A dataset's is answered by the index on ``episodes.recording``."""
    if key.startswith(REPLAY_PREFIX):
        return (
            "source = 'replay' AND COALESCE(policy_version, '') = ?",
            [key[len(REPLAY_PREFIX) :]],
        )
    return (
        "(source IS NULL OR source != 'replay') AND episode_index IS NOT NULL "
        "AND (recording = ? OR (recording = '' AND path = ?))",
        [key, key],
    )


def ids_scope(ids: Sequence[str]) -> tuple[str, list[Any]]:
    return f"id IN ({_marks(ids)})", list(ids)


def scope_rows(catalog: Catalog, scope: str, params: Sequence[Any]) -> list[sqlite3.Row]:
    """The episodes ``scope`` selects as the browser lists them (overrides applied; no
    metadata, no streams), in (path, index) order."""
    sql = f"SELECT {_ROW_COLUMNS} FROM episode_view WHERE {scope} ORDER BY path, episode_index"
    return catalog.conn.execute(sql, list(params)).fetchall()


def scope_paths(catalog: Catalog, scope: str, params: Sequence[Any]) -> list[str]:
    """The distinct paths of the scoped episodes (where a candidate's replays are)."""
    sql = f"SELECT DISTINCT path FROM episode_view WHERE {scope}"
    return [r[0] for r in catalog.conn.execute(sql, list(params))]


def scope_top_findings(catalog: Catalog, scope: str, params: Sequence[Any]) -> list[sqlite3.Row]:
    """Each scoped episode's top-ranked finding and how many it has (first by id on a rank
    tie): episode_id, cause, title, confidence, n."""
    sql = f"""
        SELECT f.episode_id, f.cause, f.title, f.confidence, c.n
        FROM findings f
        JOIN (SELECT episode_id, min(rank) AS best, count(*) AS n FROM findings
              WHERE episode_id IN (SELECT id FROM episode_view WHERE {scope})
              GROUP BY episode_id) c
          ON c.episode_id = f.episode_id AND f.rank = c.best
        ORDER BY f.episode_id, f.id"""
    return catalog.conn.execute(sql, list(params)).fetchall()


def scope_anomalies(catalog: Catalog, scope: str, params: Sequence[Any]) -> list[sqlite3.Row]:
    """Each scoped explained episode's most confident specific finding (NULL cause: none):
    episode_id, confidence, cause, title, t_start_ns (what ``anomaly.anomaly_scores`` gives
    for the whole catalog)."""
    sql = f"""
        WITH ids AS (SELECT id FROM episode_view WHERE {scope}),
        best AS (
            SELECT episode_id, cause, title, confidence, t_start_ns FROM (
                SELECT episode_id, cause, title, confidence, t_start_ns,
                       row_number() OVER (PARTITION BY episode_id
                                          ORDER BY confidence DESC, rank, id) AS pick
                FROM findings WHERE cause NOT IN ({_marks(NOT_ANOMALIES)})
                  AND episode_id IN (SELECT id FROM ids))
            WHERE pick = 1)
        SELECT x.episode_id, b.confidence, b.cause, b.title, b.t_start_ns
        FROM explained x LEFT JOIN best b ON b.episode_id = x.episode_id
        WHERE x.episode_id IN (SELECT id FROM ids)"""
    return catalog.conn.execute(sql, [*params, *NOT_ANOMALIES]).fetchall()


def filter_values(catalog: Catalog) -> dict[str, set[Any]]:
    """Every value the filter combos offer: the distinct kind, status, outcome, robot, policy
    and env of the episodes, and the causes found with confidence >= 0.5."""
    keys = ("kind", "status", "outcome", "robot", "policy_version", "env_version")
    found: dict[str, set[Any]] = {key: set() for key in (*keys, "cause")}
    rows = catalog.conn.execute(f"SELECT DISTINCT {', '.join(keys)} FROM episode_view")
    for row in rows:
        for key, value in zip(keys, row, strict=True):
            found[key].add(value)
    causes = catalog.conn.execute(
        """SELECT DISTINCT cause FROM findings f WHERE confidence >= 0.5
           AND EXISTS (SELECT 1 FROM episodes e WHERE e.id = f.episode_id)"""
    )
    found["cause"] = {r[0] for r in causes}
    return found


def browse_rows(catalog: Catalog) -> list[sqlite3.Row]:
    """Every episode as the browser lists it (overrides applied; no metadata, no streams)."""
    return scope_rows(catalog, "1", [])


def change_counter(catalog: Catalog) -> int:
    """A number that changes when another connection commits to the catalog (a scan, a tag,
    Explain storing findings). Changes made through ``catalog`` itself do not move it."""
    return int(catalog.conn.execute("PRAGMA data_version").fetchone()[0])
