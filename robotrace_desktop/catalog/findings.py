"""Explain findings in the catalog: one ranked list per episode, replaced whole on each run.

Findings are derived data (re-running the analyzers recreates them), so storing means "delete
the episode's old list and insert the new one" in one transaction: a reader never sees half a
list. The browser needs the top cause of every episode at once, which ``top_findings`` answers
with a single query.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from typing import NamedTuple, TypeVar

from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core import jsonsafe
from robotrace_desktop.core.finding import CONFIDENT, Finding


class TopFinding(NamedTuple):
    cause: str
    title: str
    confidence: float
    # findings stored for the episode (all confidences). The field shadows tuple.count, which
    # mypy rejects; it stays: callers read .count and compare TopFindings with plain tuples.
    count: int  # type: ignore[assignment]


def store_findings(
    catalog: Catalog, episode_id: str, findings: Sequence[Finding], key: str | None = None
) -> None:
    """Replace the findings of ``episode_id`` (ranked order is kept through ``rank``).

    ``key`` is the ``library.explain_reuse.explain_key`` they were computed under (None:
    unknown, so they are never reused)."""
    store_many_findings(catalog, {episode_id: findings}, keys={episode_id: key})


def store_many_findings(
    catalog: Catalog,
    found: Mapping[str, Sequence[Finding]],
    keys: Mapping[str, str | None] | None = None,
) -> None:
    """Replace the findings of every episode in ``found`` in one transaction: a bulk writer
    (a benchmark's synthetic catalog, a batch of Explain results) pays one commit, not one per
    episode. ``keys``: each episode's reuse key, as in ``store_findings``."""
    now = time.time()
    rows = [
        (
            episode_id,
            f.rank or position,
            f.cause,
            f.title,
            f.explanation,
            float(f.confidence),
            f.severity,
            f.t_start_ns,
            f.t_end_ns,
            jsonsafe.dumps(list(f.channels)),
            jsonsafe.dumps(dict(f.evidence)),
            f.next_step,
            now,
        )
        for episode_id, findings in found.items()
        for position, f in enumerate(findings, start=1)
    ]
    ids = [(episode_id,) for episode_id in found]
    with catalog._write_transaction() as conn:
        conn.executemany("DELETE FROM findings WHERE episode_id = ?", ids)
        conn.executemany(
            "INSERT INTO explained (episode_id, explained_at, key) VALUES (?, ?, ?) "
            "ON CONFLICT(episode_id) DO UPDATE SET explained_at = excluded.explained_at, "
            "key = excluded.key",
            [(episode_id, now, (keys or {}).get(episode_id)) for (episode_id,) in ids],
        )
        conn.executemany(
            """INSERT INTO findings (episode_id, rank, cause, title, explanation, confidence,
                   severity, t_start_ns, t_end_ns, channels, evidence, next_step, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            rows,
        )


def findings_for(catalog: Catalog, episode_id: str) -> list[Finding]:
    """The stored findings of one episode, best first (empty: none found or never explained)."""
    rows = catalog._conn.execute(
        "SELECT * FROM findings WHERE episode_id = ? ORDER BY rank, id", (episode_id,)
    ).fetchall()
    return [_finding(r) for r in rows]


def findings_of(catalog: Catalog, episode_ids: Sequence[str]) -> dict[str, list[Finding]]:
    """The stored findings of many episodes, best first, in a few queries (reused results of
    ``explain --all``); episodes without findings map to an empty list."""
    found: dict[str, list[Finding]] = {e: [] for e in episode_ids}
    for chunk in _chunks(list(found)):
        marks = ", ".join("?" * len(chunk))
        rows = catalog._conn.execute(
            f"SELECT * FROM findings WHERE episode_id IN ({marks}) ORDER BY episode_id, rank, id",
            chunk,
        )
        for r in rows:
            found[r["episode_id"]].append(_finding(r))
    return found


class EpisodeState(NamedTuple):
    """What the catalog says about an episode that decides its findings, as one text, and
    the key its stored findings were computed under (None: never explained, or unknown)."""

    state: str
    stored_key: str | None


def episode_states(catalog: Catalog, episode_ids: Sequence[str]) -> dict[str, EpisodeState]:
    """For ``library.explain_reuse.explain_key``: each episode's recording fingerprint (size +
    mtime of its files), the indexed row's content hash and status, the user's overrides and
    stream offsets — in a few queries, so deciding what ``explain --all`` must recompute costs
    milliseconds, not an open per episode. Unknown ids are left out."""
    states: dict[str, EpisodeState] = {}
    for chunk in _chunks(list(dict.fromkeys(episode_ids))):
        marks = ", ".join("?" * len(chunk))
        rows = catalog._conn.execute(
            f"""SELECT e.id, e.content_hash, e.status, e.missing_since IS NULL AS present,
                   r.fingerprint, r.status AS recording_status,
                   o.source, o.robot, o.policy_version, o.env_version, o.git_sha, o.seed,
                   o.task, o.outcome,
                   (SELECT group_concat(stream || '=' || offset_ns, ';') FROM
                       (SELECT stream, offset_ns FROM stream_offsets s
                        WHERE s.episode_id = e.id ORDER BY stream)) AS offsets,
                   x.key
                FROM episodes e
                LEFT JOIN recordings r ON r.path = e.recording
                LEFT JOIN episode_overrides o ON o.episode_id = e.id
                LEFT JOIN explained x ON x.episode_id = e.id
                WHERE e.id IN ({marks})""",
            chunk,
        )
        for r in rows:
            values = list(r)[1:-1]  # every column but the id and the stored key
            states[r["id"]] = EpisodeState(jsonsafe.dumps(values), r["key"])
    return states


def _chunks(ids: list[str], size: int = 500) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def was_explained(catalog: Catalog, episode_id: str) -> bool:
    """Whether Explain ever ran on the episode (even if it found nothing)."""
    row = catalog._conn.execute(
        "SELECT 1 FROM explained WHERE episode_id = ?", (episode_id,)
    ).fetchone()
    return row is not None


def explained_ids(catalog: Catalog) -> set[str]:
    """Every episode Explain has run on, in one query (verify explains the others first)."""
    return {r["episode_id"] for r in catalog._conn.execute("SELECT episode_id FROM explained")}


def episodes_with_cause(
    catalog: Catalog, cause: str, min_confidence: float = CONFIDENT
) -> list[str]:
    """Ids of the episodes with a finding of ``cause`` at least that confident."""
    rows = catalog._conn.execute(
        "SELECT DISTINCT episode_id FROM findings WHERE cause = ? AND confidence >= ? "
        "ORDER BY episode_id",
        (cause, float(min_confidence)),
    )
    return [r["episode_id"] for r in rows]


def causes_present(catalog: Catalog, min_confidence: float = CONFIDENT) -> list[str]:
    """Every cause that some episode has (confidently), sorted: what the filter offers."""
    rows = catalog._conn.execute(
        "SELECT DISTINCT cause FROM findings WHERE confidence >= ? ORDER BY cause",
        (float(min_confidence),),
    )
    return [r["cause"] for r in rows]


def top_findings(catalog: Catalog) -> dict[str, TopFinding]:
    """{episode id: (top cause, title, confidence, count)} for every explained episode, in one
    query (the browser's findings column)."""
    rows = catalog._conn.execute(
        """
        SELECT f.episode_id, f.cause, f.title, f.confidence, c.n
        FROM findings f
        JOIN (SELECT episode_id, min(rank) AS best, count(*) AS n
              FROM findings GROUP BY episode_id) c
          ON c.episode_id = f.episode_id AND f.rank = c.best
        ORDER BY f.episode_id, f.id
        """
    ).fetchall()
    top: dict[str, TopFinding] = {}
    for r in rows:
        top.setdefault(
            r["episode_id"], TopFinding(r["cause"], r["title"], float(r["confidence"]), r["n"])
        )
    return top


def explainable_ids(catalog: Catalog) -> list[str]:
    """Episodes Explain can read: present on disk, from a recording that indexed cleanly
    (a run whose *outcome* failed is explainable; a file that could not be read is not)."""
    rows = catalog._conn.execute(
        """SELECT e.id FROM episodes e JOIN recordings r ON r.path = e.recording
           WHERE e.missing_since IS NULL AND r.status = 'ok'
           ORDER BY e.path, e.episode_index"""
    )
    return [r["id"] for r in rows]


def explainable_among(catalog: Catalog, ids: Sequence[str]) -> list[str]:
    """The episodes among ``ids`` Explain can read (as ``explainable_ids``), in the given order:
    what a scan hands to Explain from the recordings it found unchanged."""
    readable: set[str] = set()
    for chunk in _chunks(list(dict.fromkeys(ids))):
        marks = ", ".join("?" * len(chunk))
        rows = catalog._conn.execute(
            f"SELECT e.id FROM episodes e JOIN recordings r ON r.path = e.recording "
            f"WHERE e.id IN ({marks}) AND e.missing_since IS NULL AND r.status = 'ok'",
            chunk,
        )
        readable.update(r[0] for r in rows)
    return [e for e in ids if e in readable]


def _finding(row: sqlite3.Row) -> Finding:
    no_channels: list[object] = []
    no_evidence: dict[str, object] = {}
    return Finding(
        cause=row["cause"],
        title=row["title"],
        explanation=row["explanation"],
        confidence=float(row["confidence"]),
        severity=row["severity"],
        t_start_ns=row["t_start_ns"],
        t_end_ns=row["t_end_ns"],
        channels=[str(c) for c in _json(row["channels"], no_channels)],
        evidence=dict(_json(row["evidence"], no_evidence)),
        next_step=row["next_step"],
        rank=int(row["rank"]),
    )


_T = TypeVar("_T")


def _json(text: str | None, default: _T) -> _T:
    """The JSON value of ``text`` when it has the type of ``default``, else ``default``."""
    try:
        value = json.loads(text or "null")
    except ValueError:
        return default
    return default if value is None or type(value) is not type(default) else value
