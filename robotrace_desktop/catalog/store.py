"""The catalog API: episodes in and out, filters, user overrides, tags and stream offsets.

Rows are mapped in ``episode_rows``, filters become SQL in ``episode_filter``; this module runs
the statements.

Everything here is parameterized SQL. Re-indexing upserts episode rows in place (never
delete-and-insert), so bookmarks, findings and overrides keyed by episode id survive.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from robotrace_desktop import paths
from robotrace_desktop.catalog import health, write_guard
from robotrace_desktop.catalog.db import is_busy, open_catalog
from robotrace_desktop.catalog.episode_filter import (
    FILTER_COLUMNS,
    EpisodeFilter,
    where_sql,
)
from robotrace_desktop.catalog.episode_rows import (
    LIST_COLUMNS,
    content_hash,
    episode_from_row,
    episode_row,
    json_text,
    stream_row,
)
from robotrace_desktop.catalog.journal import Journal, new_record
from robotrace_desktop.catalog.journal_sync import catch_up
from robotrace_desktop.catalog.user_data import record_change
from robotrace_desktop.core import jsonsafe
from robotrace_desktop.core.episode import EpisodeInfo, Outcome, Status, StreamInfo
from robotrace_desktop.errors import EpisodeNotFoundError, StorageError, ValidationError

#: the columns ``iter_listing`` reads, in its tuples' order
LISTING_COLUMNS = "id, kind, name, duration_ns, status, outcome, policy_version, problems"

#: tries of BEGIN IMMEDIATE, each waiting up to the connection's busy timeout (15 s)
BEGIN_ATTEMPTS = 3

OVERRIDABLE = (
    "source",
    "robot",
    "policy_version",
    "env_version",
    "git_sha",
    "seed",
    "task",
    "outcome",
)


class Catalog:
    """One SQLite catalog. Cheap to open; safe to use from several processes at once.

    ``read_only`` / ``damage`` say when writes are refused (see catalog.db.open_catalog); what
    a person types also goes to ``journal`` (catalog.user_data). ``journal_of`` builds a
    replacement catalog (restore, rebuild) against the journal of the catalog it replaces."""

    def __init__(self, path: Path | None = None, *, journal_of: Path | None = None) -> None:
        self.path = Path(path) if path is not None else paths.catalog_path()
        opened = open_catalog(self.path)
        #: the catalog package's alone (tests/test_layering.py): everyone else calls its functions
        self._conn = opened.conn
        health.connection_opened(self.path)
        self._open = True
        self.read_only, self.damage = opened.read_only, opened.damage
        self.journal = Journal(journal_of or self.path)
        self.auto_backup = journal_of is None
        self.created, self.replayed = opened.created, 0
        if journal_of is None:  # a replacement being built replays explicitly
            try:
                self.replayed = catch_up(self)
                write_guard.tidy(self.path)
            except BaseException:
                self.close()
                raise

    def close(self) -> None:
        self._conn.close()
        if self._open:
            self._open = False
            health.connection_closed(self.path)

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open on this catalog: after a write fails it must not be
        (every other writer would wait for it)."""
        return self._conn.in_transaction

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Several catalog calls (an indexed recording's episodes and its state) committed
        together or not at all. Hands out no connection: SQL stays in the catalog package."""
        with self._write_transaction():
            yield

    @contextmanager
    def _write_transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken up front (BEGIN IMMEDIATE) so it never has to upgrade
        a read lock, which SQLite refuses at once instead of waiting. Keep it short: every
        other writer (a GUI scan, a CLI scan, a bookmark) waits for it. The connection it
        yields is for the modules of the catalog package only."""
        write_guard.before_write(self)
        self._begin()
        try:
            yield self._conn
        except sqlite3.Error as exc:  # disk full, read-only, damage found mid-way: plain words
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            mapped = write_guard.as_storage_error(self, exc)
            if mapped is None:
                raise
            raise mapped from exc
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:  # disk full, I/O error: never leave the connection stuck
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            mapped = write_guard.as_storage_error(self, exc)
            raise mapped or StorageError(f"{self.path}: could not save ({exc})") from exc

    def _begin(self) -> None:
        """BEGIN IMMEDIATE waits up to the busy timeout for the write lock; a few more tries
        cover a writer holding it longer (a huge dataset's index), then a clear error."""
        error: sqlite3.OperationalError | None = None
        for attempt in range(BEGIN_ATTEMPTS):
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
                error = exc
                time.sleep(0.05 * (attempt + 1))
        raise StorageError(
            f"{self.path}: the catalog stayed locked by another program writing to it "
            f"({BEGIN_ATTEMPTS} tries, {error}); try again when the other scan has finished"
        )

    # --- writing indexed episodes -------------------------------------------------------

    def upsert_episode(self, recording: str, info: EpisodeInfo) -> str:
        """Insert or refresh one episode. Returns 'new', 'updated' or 'unchanged'.

        Call inside ``transaction()`` when writing many (or use ``upsert_episodes``).
        """
        return self.upsert_episodes(recording, [info])[0]

    def upsert_episodes(self, recording: str, infos: Sequence[EpisodeInfo]) -> list[str]:
        """Insert or refresh the episodes of one recording; 'new', 'updated' or 'unchanged'
        for each, in order. Call inside ``transaction()``.

        Why in bulk: a 10,000-episode dataset written one statement at a time spent more in
        per-row round trips than in reading its metadata. Here the stored hashes are read in
        a few queries and the changed rows go in with one ``executemany`` per table.
        """
        known = self._stored_hashes([info.id for info in infos])
        # one encoder for the batch: what the episodes share (a dataset's feature table,
        # channel names) is encoded once, for the hash and for the rows
        encoder = jsonsafe.BatchEncoder()
        results: list[str] = []
        changed: dict[str, EpisodeInfo] = {}  # id -> the last version written (duplicates)
        rows: list[tuple[Any, ...]] = []
        now = time.time()
        for info in infos:
            digest = content_hash(info, encoder)
            before = known.get(info.id)
            if before is not None and before == (digest, None):
                results.append("unchanged")
                continue
            results.append("new" if before is None else "updated")
            known[info.id] = (digest, None)
            changed[info.id] = info
            rows.append(episode_row(recording, info, digest, now, encoder))
        if not rows:
            return results
        self._conn.executemany(_UPSERT_EPISODE, rows)
        self._conn.executemany("DELETE FROM streams WHERE episode_id = ?", [(e,) for e in changed])
        self._conn.executemany(
            _INSERT_STREAM,
            [
                stream_row(info.id, position, stream, encoder)
                for info in changed.values()
                for position, stream in enumerate(info.streams)
            ],
        )
        return results

    def _stored_hashes(self, ids: Sequence[str]) -> dict[str, tuple[str | None, float | None]]:
        """{id: (content_hash, missing_since)} of the ids already in the catalog."""
        found: dict[str, tuple[str | None, float | None]] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), _IN_CHUNK):
            chunk = unique[start : start + _IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            for row in self._conn.execute(
                f"SELECT id, content_hash, missing_since FROM episodes WHERE id IN ({marks})",
                chunk,
            ):
                found[row[0]] = (row[1], row[2])
        return found

    def indexed_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        """{id: the content hash stored when the episode was indexed} (ids never hashed are
        left out): what changes when the recording behind an episode changes."""
        return {k: h for k, (h, _) in self._stored_hashes(ids).items() if h is not None}

    def mark_missing(self, episode_ids: Iterable[str], reason: str) -> int:
        """Flag episodes whose files are gone. Rows (and their bookmarks) are kept."""
        now = time.time()
        count = 0
        for episode in episode_ids:
            row = self._conn.execute(
                "SELECT problems FROM episodes WHERE id = ? AND missing_since IS NULL", (episode,)
            ).fetchone()
            if row is None:
                continue
            problems = [*json.loads(row["problems"]), reason]
            self._conn.execute(
                "UPDATE episodes SET status = ?, missing_since = ?, problems = ?, "
                "content_hash = NULL WHERE id = ?",
                (Status.MISSING.value, now, json_text(problems), episode),
            )
            count += 1
        return count

    # --- scan state -----------------------------------------------------------------------

    def recording_state(self, path: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._conn.execute(  # rows are sqlite3.Row (row_factory)
            "SELECT path, kind, fingerprint, status, error FROM recordings WHERE path = ?",
            (path,),
        ).fetchone()
        return row

    def recordings_under(self, root: str) -> list[sqlite3.Row]:
        prefix = root.rstrip("/\\")
        return self._conn.execute(
            "SELECT path, kind, fingerprint, status FROM recordings "
            "WHERE path = ? OR substr(path, 1, ?) = ?",
            (prefix, len(prefix) + 1, prefix + "/"),
        ).fetchall()

    def set_recording_state(
        self, path: str, kind: str | None, fingerprint: str | None, status: str, error: str | None
    ) -> None:
        self._conn.execute(
            """INSERT INTO recordings (path, kind, fingerprint, status, error, scanned_at)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT(path) DO UPDATE SET kind = excluded.kind,
                   fingerprint = excluded.fingerprint, status = excluded.status,
                   error = excluded.error, scanned_at = excluded.scanned_at""",
            (path, kind, fingerprint, status, error, time.time()),
        )

    def episode_ids_of_recording(self, path: str) -> list[str]:
        rows = self._conn.execute("SELECT id FROM episodes WHERE recording = ?", (path,))
        return [r["id"] for r in rows]

    # --- reading ------------------------------------------------------------------------------

    def list_episodes(self, flt: EpisodeFilter | None = None) -> list[EpisodeInfo]:
        return list(self.iter_episodes(flt))

    def iter_episodes(
        self, flt: EpisodeFilter | None = None, *, metadata: bool = True
    ) -> Iterator[EpisodeInfo]:
        """The filtered episodes in listing order (path, episode index), read as they are
        consumed: ``list`` prints the first rows before the last are read, and memory stays
        that of one row. ``metadata=False`` skips the one big JSON column (a listing never
        shows it): every other field is the same as ``list_episodes``'s."""
        where, params = where_sql(flt or EpisodeFilter())
        columns = "*" if metadata else LIST_COLUMNS
        cursor = self._conn.execute(
            f"SELECT {columns} FROM episode_view {where} ORDER BY path, episode_index", params
        )
        for row in cursor:
            yield episode_from_row(row, [])

    def iter_listing(self, flt: EpisodeFilter | None = None) -> Iterator[tuple[Any, ...]]:
        """What a ``list`` table shows of each filtered episode, in listing order, as plain
        tuples ``LISTING_COLUMNS``: a listing of 100,000 episodes spent most of its time
        making full EpisodeInfos (and ``sqlite3.Row``s) of columns it never prints."""
        where, params = where_sql(flt or EpisodeFilter())
        cursor = self._conn.cursor()
        cursor.row_factory = None
        yield from cursor.execute(
            f"SELECT {LISTING_COLUMNS} FROM episode_view {where} ORDER BY path, episode_index",
            params,
        )

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read transaction: several queries (a listing's two passes) see the same rows
        even while a scan commits. A no-op inside a transaction already open."""
        if self._conn.in_transaction:
            yield
            return
        self._conn.execute("BEGIN")
        try:
            yield
        finally:
            if self._conn.in_transaction:
                self._conn.execute("COMMIT")

    def count_matching(self, flt: EpisodeFilter) -> int:
        """How many episodes ``flt`` selects (e.g. the replays a default listing hides)."""
        where, params = where_sql(flt)
        return int(
            self._conn.execute(f"SELECT count(*) FROM episode_view {where}", params).fetchone()[0]
        )

    def known_values(self, field: str) -> list[str]:
        """The distinct values of a filter field ("robot", "policy_version", "cause"…) as the
        user sees them (overrides applied), to say what a filter that matched nothing could
        have been."""
        if field == "cause":
            sql = "SELECT DISTINCT cause AS v FROM findings WHERE confidence >= 0.5"
        elif field in FILTER_COLUMNS:
            sql = f"SELECT DISTINCT {field} AS v FROM episode_view WHERE {field} IS NOT NULL"
        else:
            raise ValidationError(f"unknown filter field {field!r}")
        values = {str(r["v"]) for r in self._conn.execute(sql)}
        return sorted(values, key=str.casefold)

    def get(self, episode_id: str) -> EpisodeInfo:
        row = self._conn.execute(
            "SELECT * FROM episode_view WHERE id = ?", (episode_id,)
        ).fetchone()
        if row is None:
            raise EpisodeNotFoundError(f"no episode with id {episode_id!r} in {self.path}")
        return episode_from_row(row, self._streams(episode_id))

    def find(self, path: str, episode_index: int | None) -> EpisodeInfo | None:
        """The catalog row for a recording path (+ index), if it was scanned."""
        if episode_index is None:
            row = self._conn.execute(
                "SELECT id FROM episodes WHERE path = ? AND episode_index IS NULL", (path,)
            ).fetchone()
        else:
            row = self._conn.execute(
                "SELECT id FROM episodes WHERE path = ? AND episode_index = ?",
                (path, episode_index),
            ).fetchone()
        return None if row is None else self.get(row["id"])

    def ids_with_prefix(self, prefix: str) -> list[str]:
        rows = self._conn.execute(
            "SELECT id FROM episodes WHERE substr(id, 1, ?) = ? LIMIT 3", (len(prefix), prefix)
        )
        return [r["id"] for r in rows]

    def _streams(self, episode_id: str) -> list[StreamInfo]:
        rows = self._conn.execute(
            "SELECT * FROM streams WHERE episode_id = ? ORDER BY position", (episode_id,)
        ).fetchall()
        return [
            StreamInfo.from_dict(
                {
                    "name": r["name"],
                    "kind": r["kind"],
                    "count": r["count"],
                    "channels": json.loads(r["channels"]),
                    "t_start_ns": r["t_start_ns"],
                    "t_end_ns": r["t_end_ns"],
                    "message_type": r["message_type"],
                    "details": json.loads(r["details"]),
                }
            )
            for r in rows
        ]

    def policy_versions(self) -> list[tuple[str, int]]:
        """(policy_version, episode count) of recorded runs as the user sees them (overrides
        applied); replays are left out, as verify's selectors leave them out."""
        rows = self._conn.execute(
            "SELECT policy_version, count(*) AS n FROM episode_view "
            "WHERE policy_version IS NOT NULL AND (source IS NULL OR source != 'replay') "
            "GROUP BY policy_version ORDER BY policy_version"
        )
        return [(r["policy_version"], int(r["n"])) for r in rows]

    def count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM episodes").fetchone()[0])

    # --- user edits ---------------------------------------------------------------------

    def set_overrides(self, episode_ids: Sequence[str], fields: dict[str, Any]) -> None:
        """Store user-set fields (e.g. from `tag`) without touching the recording."""
        unknown = set(fields) - set(OVERRIDABLE)
        if unknown:
            raise ValidationError(f"cannot set field(s) {sorted(unknown)}")
        if "outcome" in fields and fields["outcome"] not in {o.value for o in Outcome}:
            raise ValidationError(
                f"outcome must be success, failure or unknown, not {fields['outcome']!r}"
            )
        if "seed" in fields and not isinstance(fields["seed"], int):
            raise ValidationError(f"seed must be an integer, not {fields['seed']!r}")
        record = new_record("overrides.set", episodes=list(episode_ids), fields=dict(fields))

        def known(conn: sqlite3.Connection) -> bool:
            for episode in episode_ids:
                self.get(episode)  # raises for unknown ids before anything is written
            return True

        record_change(self, record, known)

    def add_tags(self, episode_ids: Sequence[str], tags: Sequence[str]) -> None:
        record_change(self, new_record("tags.add", episodes=list(episode_ids), tags=list(tags)))

    def episodes_tagged(self, tag: str) -> list[str]:
        """Ids of the episodes carrying ``tag`` (exact match), sorted."""
        rows = self._conn.execute(
            "SELECT episode_id FROM tags WHERE tag = ? ORDER BY episode_id", (tag,)
        )
        return [r["episode_id"] for r in rows]

    def policy_versions_by(self, field: str) -> list[tuple[str, str]]:
        """(robot or task, policy_version) pairs, the most recently run first. Replays are not
        recorded runs of a version and are left out. ``field`` is "robot" or "task"."""
        if field not in ("robot", "task"):
            raise ValueError(f"policy versions group by robot or task, not {field!r}")
        recent = "MAX(COALESCE(start_time_ns, CAST(indexed_at * 1000000000 AS INTEGER)))"
        rows = self._conn.execute(
            f"SELECT {field} AS grp, policy_version, {recent} AS latest FROM episode_view "
            f"WHERE policy_version IS NOT NULL AND {field} IS NOT NULL "
            "AND (source IS NULL OR source != 'replay') "
            f"GROUP BY {field}, policy_version ORDER BY latest DESC, policy_version DESC"
        ).fetchall()
        return [(r["grp"], r["policy_version"]) for r in rows]

    def tags(self, episode_id: str) -> list[str]:
        rows = self._conn.execute(
            "SELECT tag FROM tags WHERE episode_id = ? ORDER BY tag", (episode_id,)
        )
        return [r["tag"] for r in rows]

    def set_stream_offset(self, episode_id: str, stream: str, offset_ns: int) -> None:
        record = new_record("offsets.set", episode=episode_id, offsets={stream: int(offset_ns)})
        record_change(self, record)

    def reset_stream_offsets(self, episode_id: str) -> None:
        """Every stored offset of the episode back to 0 (the rows stay, as they always did)."""
        record = new_record("offsets.set", episode=episode_id, offsets={})

        def current(conn: sqlite3.Connection) -> bool:
            record["offsets"] = {s: 0 for s in self.stream_offsets(episode_id)}
            return bool(record["offsets"])

        record_change(self, record, current)

    def stream_offsets(self, episode_id: str) -> dict[str, int]:
        rows = self._conn.execute(
            "SELECT stream, offset_ns FROM stream_offsets WHERE episode_id = ?", (episode_id,)
        )
        return {r["stream"]: int(r["offset_ns"]) for r in rows}

    # --- what the viewer remembers --------------------------------------------------------

    def save_layout(self, key: str, layout: dict[str, Any]) -> None:
        record_change(self, new_record("layout.set", key=key, layout=jsonsafe.to_jsonable(layout)))

    def layout(self, key: str) -> dict[str, Any] | None:
        row = self._conn.execute("SELECT layout FROM layouts WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row["layout"])

    def touch_recent(self, item: str, kind: str, *, keep: int = 20) -> None:
        """Remember an opened episode id or scanned path; the list keeps the newest ``keep``.
        A convenience, not the user's data: a catalog that cannot be written remembers nothing."""
        if self.read_only or self.damage is not None:
            return
        with self._write_transaction() as conn:
            conn.execute(
                "INSERT INTO recent (item, kind, opened_at) VALUES (?, ?, ?) "
                "ON CONFLICT(item) DO UPDATE SET opened_at = excluded.opened_at",
                (item, kind, time.time()),
            )
            conn.execute(
                "DELETE FROM recent WHERE item NOT IN "
                "(SELECT item FROM recent ORDER BY opened_at DESC LIMIT ?)",
                (keep,),
            )

    def recent(self, kind: str | None = None) -> list[tuple[str, str]]:
        """(item, kind), newest first."""
        if kind is None:
            rows = self._conn.execute("SELECT item, kind FROM recent ORDER BY opened_at DESC")
        else:
            rows = self._conn.execute(
                "SELECT item, kind FROM recent WHERE kind = ? ORDER BY opened_at DESC", (kind,)
            )
        return [(r["item"], r["kind"]) for r in rows]


#: ids per ``IN (...)`` query (SQLite allows 32,766 parameters; smaller keeps plans cheap)
_IN_CHUNK = 500

_UPSERT_EPISODE = """
    INSERT INTO episodes (id, recording, kind, path, episode_index, name, duration_ns,
        start_time_ns, source, robot, policy_version, env_version, git_sha, seed, task,
        outcome, status, problems, metadata, content_hash, indexed_at, missing_since)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
    ON CONFLICT(id) DO UPDATE SET
        recording = excluded.recording, kind = excluded.kind, path = excluded.path,
        episode_index = excluded.episode_index, name = excluded.name,
        duration_ns = excluded.duration_ns, start_time_ns = excluded.start_time_ns,
        source = excluded.source, robot = excluded.robot,
        policy_version = excluded.policy_version, env_version = excluded.env_version,
        git_sha = excluded.git_sha, seed = excluded.seed, task = excluded.task,
        outcome = excluded.outcome, status = excluded.status,
        problems = excluded.problems, metadata = excluded.metadata,
        content_hash = excluded.content_hash, indexed_at = excluded.indexed_at,
        missing_since = NULL
"""

_INSERT_STREAM = """
    INSERT INTO streams (episode_id, position, name, kind, count, channels,
        t_start_ns, t_end_ns, message_type, details)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


def layout_key(info: EpisodeInfo) -> str:
    """Layouts are remembered per kind of recording and robot."""
    return f"{info.kind}:{info.robot or ''}"
