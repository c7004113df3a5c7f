"""Dataset triage: how abnormal each explained episode is, from its stored Explain findings.

"Show me the bad episodes without watching all of them": an episode's anomaly score is the
highest confidence among its *specific* findings, and the finding that gives it (cause, title,
time) says where to look. One finding is left out: ``outcome_failed`` ("the recording says
the run failed") restates a label someone attached — ``list --outcome failure`` already
selects those — and says nothing about the signals; counting it would put every failed run of
a dataset at 1.0 above every real anomaly. A ``raised_exception`` *is* counted: an exception or
ERROR line is something that happened inside the recording, at a time you can jump to, and a
run that threw is one a person triaging a dataset wants to see.

An episode Explain ran on and found nothing specific scores 0.0; one it never ran on has no
score at all (``None``) and sorts last — "not looked at" is not "normal".

Everything is one query over the whole catalog (the browser loads 10,000+ rows at once; ``list``
streams its rows in score order), so no per-episode lookups.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from robotrace_desktop.catalog.episode_filter import EpisodeFilter, where_sql
from robotrace_desktop.catalog.episode_rows import LIST_COLUMNS, episode_from_row
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.episode import EpisodeInfo
from robotrace_desktop.core.finding import RECORDED_OUTCOME

#: causes that are not evidence of abnormal signals (see the module docstring)
NOT_ANOMALIES: tuple[str, ...] = (RECORDED_OUTCOME,)


class Anomaly(NamedTuple):
    """An explained episode's score and the finding that gives it (cause None: Explain found
    nothing specific, score 0.0)."""

    score: float
    cause: str | None = None
    title: str | None = None
    t_start_ns: int | None = None

    def where(self) -> str:
        """'sensor_stall @ 4.51 s' (the cause and when, in episode seconds); '' when clean."""
        if self.cause is None:
            return ""
        if self.t_start_ns is None:
            return self.cause
        return f"{self.cause} @ {self.t_start_ns / 1e9:.2f} s"


def _best_sql() -> tuple[str, list[str]]:
    """A CTE ``best``: each episode's most confident specific finding (ties: the better rank),
    one row per episode that has one; and its parameters."""
    marks = ", ".join("?" * len(NOT_ANOMALIES))
    sql = f"""best AS (
        SELECT episode_id, cause, title, confidence, t_start_ns FROM (
            SELECT episode_id, cause, title, confidence, t_start_ns,
                   row_number() OVER (PARTITION BY episode_id
                                      ORDER BY confidence DESC, rank, id) AS pick
            FROM findings WHERE cause NOT IN ({marks}))
        WHERE pick = 1)"""
    return sql, list(NOT_ANOMALIES)


def _anomaly(score: float | None, cause: str | None, title: str | None, t: int | None) -> Anomaly:
    if cause is None:
        return Anomaly(0.0)
    return Anomaly(float(score or 0.0), cause, title, t)


def anomaly_scores(catalog: Catalog) -> dict[str, Anomaly]:
    """{episode id: Anomaly} for every explained episode, in one query (the browser's
    Anomaly column). Episodes never explained are absent."""
    best, params = _best_sql()
    rows = catalog._conn.execute(
        f"""WITH {best}
            SELECT x.episode_id, b.confidence, b.cause, b.title, b.t_start_ns
            FROM explained x LEFT JOIN best b ON b.episode_id = x.episode_id""",
        params,
    )
    return {r[0]: _anomaly(r[1], r[2], r[3], r[4]) for r in rows}


def iter_by_anomaly(
    catalog: Catalog, flt: EpisodeFilter | None = None
) -> Iterator[tuple[EpisodeInfo, Anomaly | None]]:
    """The filtered episodes most abnormal first, each with its Anomaly (None: never
    explained; those come last, in listing order). One query, read as consumed, so ``list
    --sort anomaly`` streams like ``list`` does."""
    best, params = _best_sql()
    where, where_params = where_sql(flt or EpisodeFilter())
    cursor = catalog._conn.execute(
        f"""WITH {best}
            SELECT v.*, x.episode_id IS NOT NULL AS explained, b.confidence AS a_score,
                   b.cause AS a_cause, b.title AS a_title, b.t_start_ns AS a_t
            FROM (SELECT {LIST_COLUMNS} FROM episode_view {where}) v
            LEFT JOIN explained x ON x.episode_id = v.id
            LEFT JOIN best b ON b.episode_id = v.id
            ORDER BY explained DESC, coalesce(b.confidence, 0.0) DESC, v.path, v.episode_index""",
        [*params, *where_params],
    )
    for row in cursor:
        found = (
            _anomaly(row["a_score"], row["a_cause"], row["a_title"], row["a_t"])
            if row["explained"]
            else None
        )
        yield episode_from_row(row, []), found
