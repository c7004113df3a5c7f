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

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
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


def _scored_sql(recordings: str) -> str:
    """A CTE ``scored``: the episodes of the recordings ``recordings`` (a ``?`` list) with
    their group, their top finding's confidence (the lowest rank; NULL: no finding) and their
    anomaly score (NULL: never explained; 0.0: explained, nothing specific)."""
    ids = f"SELECT id FROM episodes WHERE recording IN ({recordings})"
    return f"""
      top AS (SELECT episode_id, min(rank) AS best, confidence FROM findings
              WHERE episode_id IN ({ids}) GROUP BY episode_id),
      specific AS (SELECT episode_id, max(confidence) AS score FROM findings
                   WHERE cause NOT IN ({_marks(NOT_ANOMALIES)}) AND episode_id IN ({ids})
                   GROUP BY episode_id),
      scored AS (
        SELECT v.*, {GROUP_SQL} AS grp, top.confidence AS top_confidence,
               CASE WHEN x.episode_id IS NULL THEN NULL ELSE COALESCE(specific.score, 0.0) END
                   AS score,
               specific.score IS NOT NULL AS has_specific
        FROM episode_view v
        LEFT JOIN top ON top.episode_id = v.id
        LEFT JOIN explained x ON x.episode_id = v.id
        LEFT JOIN specific ON specific.episode_id = v.id
        WHERE v.recording IN ({recordings}))"""


STATUSES = ("ready", "failed", "missing")
OUTCOMES = ("success", "failure", "unknown")
#: the fields whose distinct values the filter combos offer
VALUE_FIELDS = ("kind", "status", "outcome", "robot", "policy_version", "env_version")
_SUMS = ("n", "duration_ns", "with_findings", "with_problems", "unreproducible", "scored",
         "specific", *(f"status_{v}" for v in STATUSES),
         *(f"outcome_{v}" for v in OUTCOMES))  # fmt: skip
_MINS = ("first_path", "status_rank", "outcome_rank")
_MAXES = ("best_confidence", "max_score")


def _partials_sql(recordings: str) -> str:
    """Per (recording, group): what ``merge`` adds up into a group's summary."""
    commons = ", ".join(_common_sql(c) for c in COMMON_FIELDS)
    counts = ", ".join(
        f"sum({key} = '{value}') AS {key}_{value}"
        for key, values in (("status", STATUSES), ("outcome", OUTCOMES))
        for value in values
    )
    values = ", ".join(f"json_group_array(DISTINCT {f}) AS values_{f}" for f in VALUE_FIELDS)
    return f"""
        WITH {_scored_sql(recordings)}
        SELECT recording, grp, min(path) AS first_path, count(*) AS n,
               sum(duration_ns) AS duration_ns,
               min({_STATUS_RANK}) AS status_rank, min({_OUTCOME_RANK}) AS outcome_rank,
               sum(top_confidence >= 0.5) AS with_findings,
               max(top_confidence) AS best_confidence,
               sum(problems NOT IN ('[]', '')) AS with_problems,
               sum(policy_version IS NULL OR policy_version = '' OR env_version IS NULL
                   OR env_version = '' OR git_sha IS NULL OR git_sha = '' OR seed IS NULL
                   OR seed = '') AS unreproducible,
               count(score) AS scored, max(score) AS max_score,
               sum(has_specific) AS specific,
               {commons}, {counts}, {values},
               (SELECT json_group_array(DISTINCT f.cause) FROM findings f
                 WHERE f.confidence >= 0.5 AND f.episode_id IN
                       (SELECT e.id FROM episodes e WHERE e.recording = scored.recording))
                   AS causes
        FROM scored WHERE grp IS NOT NULL GROUP BY recording, grp"""


def _partials(catalog: Catalog, recordings: Sequence[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for start in range(0, len(recordings), 400):  # SQLite's limit on ? in one statement
        chunk = list(recordings[start : start + 400])
        marks = _marks(chunk)
        params = [*chunk, *NOT_ANOMALIES, *chunk, *chunk]
        found += [dict(row) for row in catalog._conn.execute(_partials_sql(marks), params)]
    return found


def _recordings(catalog: Catalog) -> list[str]:
    """Every recording with episodes: a seek per recording on its index, not a table walk."""
    rows = catalog._conn.execute(
        """WITH RECURSIVE r(x) AS (
               SELECT min(recording) FROM episodes
               UNION ALL
               SELECT (SELECT min(recording) FROM episodes WHERE recording > r.x)
               FROM r WHERE r.x IS NOT NULL)
           SELECT x FROM r WHERE x IS NOT NULL"""
    )
    return [r[0] for r in rows]


def group_summaries(catalog: Catalog) -> list[dict[str, Any]]:
    """One summary per group (dataset, a candidate's replays) in the order of their first
    episode (path): grp, first_path, n, duration_ns, status_rank, outcome_rank,
    with_findings, best_confidence, with_problems, unreproducible, scored, max_score,
    specific (explained episodes with a specific finding), common_<field>, a count per status
    and outcome value, values_<field> and causes (what the filter combos offer).

    Read from ``browse_groups`` for the recordings nothing changed since they were summarised;
    the others are summarised now and stored when the catalog can be written without waiting
    (otherwise just used: the next reader tries again)."""
    with catalog.snapshot():
        recordings, dirty = _recordings_and_stale(catalog)
        stored = [] if len(dirty) == len(recordings) else _stored(catalog, set(recordings))
    if dirty and not _store_now(catalog, dirty):
        with catalog.snapshot():
            stored = _stored(catalog, set(recordings) - set(dirty)) + _partials(catalog, dirty)
    elif dirty:  # stored: read everything back in one snapshot
        with catalog.snapshot():
            stored = _stored(catalog, set(_recordings(catalog)))
    return merge(stored)


def refresh_group_summaries(catalog: Catalog) -> int:
    """Summarise and store now every recording whose summary a write made stale; how many.

    Called as a scan or ``explain --all`` finishes, off the UI thread: otherwise the browser's
    next open summarised every recording the bulk write touched on the UI thread (8 s for
    100,000 freshly scanned episodes, minutes for 1,000,000). 0 when the catalog cannot be
    written now (read only, busy): the browser's open then does it, as before."""
    with catalog.snapshot():
        _recordings_seen, dirty = _recordings_and_stale(catalog)
    if not dirty:
        return 0
    return len(dirty) if _store_now(catalog, dirty) else 0


def _recordings_and_stale(catalog: Catalog) -> tuple[list[str], list[str]]:
    """Every recording with episodes, and those of them whose stored summary is stale."""
    recordings = _recordings(catalog)
    clean = {r[0] for r in catalog._conn.execute("SELECT recording FROM browse_clean")}
    return recordings, [r for r in recordings if r not in clean]


def _stored(catalog: Catalog, recordings: set[str]) -> list[dict[str, Any]]:
    rows = catalog._conn.execute(
        "SELECT g.recording, g.summary FROM browse_groups g "
        "JOIN browse_clean c ON c.recording = g.recording"
    )
    return [json.loads(r[1]) for r in rows if r[0] in recordings]


def _store_now(catalog: Catalog, dirty: list[str]) -> bool:
    """Summarise ``dirty`` and store it, inside one write transaction so no scan commits
    between the reading and the writing. False when the catalog cannot be written now (read
    only, damaged, another program writing): nothing stored."""
    if catalog.read_only or catalog.damage is not None or catalog._conn.in_transaction:
        return False
    conn = catalog._conn
    timeout = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return False
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout)}")
    try:
        dirty = [r for r in dirty if not _is_clean(catalog, r)]  # re-read under the lock
        parts = _partials(catalog, dirty)
        marks_rows = [(r,) for r in dirty]
        conn.executemany("DELETE FROM browse_groups WHERE recording = ?", marks_rows)
        conn.executemany(
            "INSERT INTO browse_groups (recording, grp, summary) VALUES (?, ?, ?)",
            [(p["recording"], p["grp"], json.dumps(p)) for p in parts],
        )
        conn.executemany("INSERT OR IGNORE INTO browse_clean (recording) VALUES (?)", marks_rows)
        conn.execute("COMMIT")
        return True
    except sqlite3.Error:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        return False


def _is_clean(catalog: Catalog, recording: str) -> bool:
    sql = "SELECT 1 FROM browse_clean WHERE recording = ?"
    return catalog._conn.execute(sql, [recording]).fetchone() is not None


def merge(parts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add the per-recording partial summaries of each group up (a candidate's replays may
    come from several recordings), ordered by first path."""
    groups: dict[str, dict[str, Any]] = {}
    for part in parts:
        into = groups.get(part["grp"])
        if into is None:
            groups[part["grp"]] = into = dict(part)
            for key in (*(f"values_{f}" for f in VALUE_FIELDS), "causes"):
                into[key] = set(json.loads(part[key] or "[]"))
            continue
        for key in _SUMS:
            into[key] = (into[key] or 0) + (part[key] or 0)
        for key in _MINS:
            into[key] = _pick(min, into[key], part[key])
        for key in _MAXES:
            into[key] = _pick(max, into[key], part[key])
        for field in COMMON_FIELDS:
            a, b = into["common_" + field], part["common_" + field]
            into["common_" + field] = a if a == b else VARIOUS
        for key in (*(f"values_{f}" for f in VALUE_FIELDS), "causes"):
            into[key] |= set(json.loads(part[key] or "[]"))
    return sorted(groups.values(), key=lambda g: (g["first_path"], g["grp"]))


def _pick(choose: Any, a: Any, b: Any) -> Any:
    """min/max ignoring NULL (as SQL does)."""
    if a is None:
        return b
    return a if b is None else choose(a, b)


def most_abnormal_id(catalog: Catalog, key: str) -> str | None:
    """The id of group ``key``'s explained episode with the highest score; ties go to the
    first in (path, index) order. None when none is explained. Asked for one group (its
    tooltip), so only that group's episodes are read."""
    scope, params = group_scope(key)
    sql = f"""
        SELECT v.id FROM episode_view v JOIN explained x ON x.episode_id = v.id
        WHERE {scope}
        ORDER BY COALESCE((SELECT max(confidence) FROM findings f
                           WHERE f.episode_id = v.id
                             AND f.cause NOT IN ({_marks(NOT_ANOMALIES)})), 0.0) DESC,
                 v.path, v.episode_index
        LIMIT 1"""
    row = catalog._conn.execute(sql, [*params, *NOT_ANOMALIES]).fetchone()
    return None if row is None else str(row[0])


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


#: the filter combos' columns and how an empty field shows in them (``catalog_rows``)
FILTER_FIELDS = ("kind", "status", "outcome", "robot", "policy_version", "env_version")


def filter_where(filters: Mapping[str, str], none_value: str) -> tuple[str, list[Any]]:
    """The browser's column filters as a WHERE clause on episode_view (``none_value``: the
    combo's word for an empty field; "cause": a confident finding of that cause), so a
    filtered dataset's episodes are read already narrowed."""
    clauses: list[str] = []
    params: list[Any] = []
    for key, value in sorted(filters.items()):
        if key == "cause":
            clauses.append(
                "id IN (SELECT episode_id FROM findings WHERE cause = ? AND confidence >= 0.5)"
            )
            params.append(value)
        elif key not in FILTER_FIELDS:
            raise KeyError(key)
        elif value == none_value:
            clauses.append(f"({key} IS NULL OR {key} = '')")
        else:
            clauses.append(f"CAST({key} AS TEXT) = ?")
            params.append(value)
    return " AND ".join(clauses) or "1", params


def ids_scope(ids: Sequence[str]) -> tuple[str, list[Any]]:
    return f"id IN ({_marks(ids)})", list(ids)


def scope_rows(catalog: Catalog, scope: str, params: Sequence[Any]) -> list[sqlite3.Row]:
    """The episodes ``scope`` selects as the browser lists them (overrides applied; no
    metadata, no streams), in (path, index) order."""
    sql = f"SELECT {_ROW_COLUMNS} FROM episode_view WHERE {scope} ORDER BY path, episode_index"
    return catalog._conn.execute(sql, list(params)).fetchall()


def scope_paths(catalog: Catalog, scope: str, params: Sequence[Any]) -> list[str]:
    """The distinct paths of the scoped episodes (where a candidate's replays are)."""
    sql = f"SELECT DISTINCT path FROM episode_view WHERE {scope}"
    return [r[0] for r in catalog._conn.execute(sql, list(params))]


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
    return catalog._conn.execute(sql, list(params)).fetchall()


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
    return catalog._conn.execute(sql, [*params, *NOT_ANOMALIES]).fetchall()


def parse_problems(text: str | None) -> list[str]:
    """An episode's ``problems`` column as its list of sentences."""
    if not text or text == "[]":  # most rows: skip the JSON parser
        return []
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return [str(text)]
    return [str(p) for p in value] if isinstance(value, list) else [str(value)]


def haystack(parts: Iterable[str | None]) -> str:
    """What the search box matches against: the row's texts, one a line, case-folded."""
    return "\n".join(p for p in parts if p).casefold()


def _sql_haystack(
    name: str, path: str, task: str | None, robot: str | None, policy: str | None, id_: str,
    problems: str | None,
) -> str:  # fmt: skip
    """The part of ``haystack`` an episode_view row holds itself, inside SQLite."""
    return haystack([name, path, task, robot, policy, id_, *parse_problems(problems)])


#: The search as a WHERE clause on episode_view (parameters: the case-folded needle, and the
#: ids ``_side_matches`` found). A needle holds no line break, so it is in the haystack exactly
#: when it is in one of its lines: the row's own texts (a Python function per row:
#: str.casefold, not SQLite's ASCII lower()), or its tags, a confident cause, its top
#: finding's title — those three looked up once per search, not per row or per dataset.
SEARCH_SQL = """(instr(rt_haystack(name, path, task, robot, policy_version, id, problems), ?) > 0
    OR id IN (SELECT value FROM json_each(?)))"""

_side: dict[str, Any] = {}  # the last _side_matches: {"key": ..., "ids": json text}


def _side_matches(catalog: Catalog, needle: str) -> str:
    """The ids (a JSON list) of the episodes whose tags, confident causes or top finding's
    title hold ``needle``: the distinct causes and titles are few, so they are folded in
    Python and looked up by value. Kept while the catalog is unchanged (every dataset of a
    search asks the same)."""
    conn = catalog._conn
    key = (id(conn), needle, change_counter(catalog), conn.total_changes)
    if _side.get("key") == key:
        return str(_side["ids"])
    causes = [
        c for (c,) in conn.execute("SELECT DISTINCT cause FROM findings") if needle in c.casefold()
    ]
    titles = [
        t for (t,) in conn.execute("SELECT DISTINCT title FROM findings") if needle in t.casefold()
    ]
    ids = {
        episode
        for episode, tags in conn.execute(
            "SELECT episode_id, group_concat(tag, ' ') FROM tags GROUP BY episode_id"
        )
        if needle in (tags or "").casefold()
    }
    ids.update(r[0] for r in conn.execute(
        """SELECT DISTINCT episode_id FROM findings
           WHERE confidence >= 0.5 AND cause IN (SELECT value FROM json_each(?))""",
        [json.dumps(causes)],
    ))  # fmt: skip
    ids.update(r[0] for r in conn.execute(
        """SELECT f.episode_id FROM findings f
           WHERE f.title IN (SELECT value FROM json_each(?))
             AND f.id = (SELECT g.id FROM findings g WHERE g.episode_id = f.episode_id
                         ORDER BY g.rank, g.id LIMIT 1)""",
        [json.dumps(titles)],
    ))  # fmt: skip
    _side.update(key=key, ids=json.dumps(sorted(ids)))
    return str(_side["ids"])


def search_where(catalog: Catalog, needle: str) -> tuple[str, list[Any]]:
    """The search (``needle`` case-folded, one line) as a WHERE clause on episode_view and its
    parameters; registers the row function on the connection."""
    catalog._conn.create_function("rt_haystack", 7, _sql_haystack, deterministic=True)
    return SEARCH_SQL, [needle, _side_matches(catalog, needle)]


def browse_rows(catalog: Catalog) -> list[sqlite3.Row]:
    """Every episode as the browser lists it (overrides applied; no metadata, no streams)."""
    return scope_rows(catalog, "1", [])


def change_counter(catalog: Catalog) -> int:
    """A number that changes when another connection commits to the catalog (a scan, a tag,
    Explain storing findings). Changes made through ``catalog`` itself do not move it."""
    return int(catalog._conn.execute("PRAGMA data_version").fetchone()[0])
