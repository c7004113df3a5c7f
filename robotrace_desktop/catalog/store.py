"""The catalog API: episodes in and out, filters, user overrides, tags and stream offsets.

Everything here is parameterized SQL. Re-indexing upserts episode rows in place (never
delete-and-insert), so bookmarks, findings and overrides keyed by episode id survive.
"""

from __future__ import annotations

import hashlib
import json
import operator
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robotrace_desktop import paths
from robotrace_desktop.catalog import write_guard
from robotrace_desktop.catalog.db import is_busy, open_catalog
from robotrace_desktop.catalog.journal import Journal, new_record
from robotrace_desktop.catalog.journal_sync import catch_up
from robotrace_desktop.catalog.user_data import record_change
from robotrace_desktop.core import jsonsafe
from robotrace_desktop.core.episode import EpisodeInfo, Outcome, Status, StreamInfo
from robotrace_desktop.errors import EpisodeNotFoundError, StorageError, ValidationError

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


class Catalog:
    """One SQLite catalog. Cheap to open; safe to use from several processes at once.

    ``read_only`` / ``damage`` say when writes are refused (see catalog.db.open_catalog); what
    a person types also goes to ``journal`` (catalog.user_data). ``journal_of`` builds a
    replacement catalog (restore, rebuild) against the journal of the catalog it replaces."""

    def __init__(self, path: Path | None = None, *, journal_of: Path | None = None) -> None:
        self.path = Path(path) if path is not None else paths.catalog_path()
        opened = open_catalog(self.path)
        self.conn = opened.conn
        self.read_only, self.damage = opened.read_only, opened.damage
        self.journal = Journal(journal_of or self.path)
        self.auto_backup = journal_of is None
        self.created, self.replayed = opened.created, 0
        if journal_of is None:  # a replacement being built replays explicitly
            self.replayed = catch_up(self)
            write_guard.tidy(self.path)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken up front (BEGIN IMMEDIATE) so it never has to upgrade
        a read lock, which SQLite refuses at once instead of waiting. Keep it short: every
        other writer (a GUI scan, a CLI scan, a bookmark) waits for it."""
        write_guard.before_write(self)
        self._begin()
        try:
            yield self.conn
        except sqlite3.Error as exc:  # disk full, read-only, damage found mid-way: plain words
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            mapped = write_guard.as_storage_error(self, exc)
            if mapped is None:
                raise
            raise mapped from exc
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:  # disk full, I/O error: never leave the connection stuck
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            mapped = write_guard.as_storage_error(self, exc)
            raise mapped or StorageError(f"{self.path}: could not save ({exc})") from exc

    def _begin(self) -> None:
        """BEGIN IMMEDIATE waits up to the busy timeout for the write lock; a few more tries
        cover a writer holding it longer (a huge dataset's index), then a clear error."""
        error: sqlite3.OperationalError | None = None
        for attempt in range(BEGIN_ATTEMPTS):
            try:
                self.conn.execute("BEGIN IMMEDIATE")
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

        Call inside ``transaction()`` when writing many.
        """
        digest = content_hash(info)
        row = self.conn.execute(
            "SELECT content_hash, missing_since FROM episodes WHERE id = ?", (info.id,)
        ).fetchone()
        if row is not None and row["content_hash"] == digest and row["missing_since"] is None:
            return "unchanged"
        now = time.time()
        self.conn.execute(
            """
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
            """,
            (
                info.id,
                recording,
                info.kind,
                info.path,
                info.episode_index,
                info.name,
                max(0, int(info.duration_ns)),
                info.start_time_ns,
                info.source,
                info.robot,
                info.policy_version,
                info.env_version,
                info.git_sha,
                info.seed,
                info.task,
                info.outcome.value,
                info.status.value,
                _json(info.problems),
                _json(info.metadata),
                digest,
                now,
            ),
        )
        self.conn.execute("DELETE FROM streams WHERE episode_id = ?", (info.id,))
        self.conn.executemany(
            """INSERT INTO streams (episode_id, position, name, kind, count, channels,
                   t_start_ns, t_end_ns, message_type, details)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                (
                    info.id,
                    position,
                    s.name,
                    s.kind.value,
                    s.count,
                    _json(list(s.channels)),
                    s.t_start_ns,
                    s.t_end_ns,
                    s.message_type,
                    _json(dict(s.details)),
                )
                for position, s in enumerate(info.streams)
            ],
        )
        return "new" if row is None else "updated"

    def mark_missing(self, episode_ids: Iterable[str], reason: str) -> int:
        """Flag episodes whose files are gone. Rows (and their bookmarks) are kept."""
        now = time.time()
        count = 0
        for episode in episode_ids:
            row = self.conn.execute(
                "SELECT problems FROM episodes WHERE id = ? AND missing_since IS NULL", (episode,)
            ).fetchone()
            if row is None:
                continue
            problems = [*json.loads(row["problems"]), reason]
            self.conn.execute(
                "UPDATE episodes SET status = ?, missing_since = ?, problems = ?, "
                "content_hash = NULL WHERE id = ?",
                (Status.MISSING.value, now, _json(problems), episode),
            )
            count += 1
        return count

    # --- scan state -----------------------------------------------------------------------

    def recording_state(self, path: str) -> sqlite3.Row | None:
        return self.conn.execute(
            "SELECT path, kind, fingerprint, status, error FROM recordings WHERE path = ?",
            (path,),
        ).fetchone()

    def recordings_under(self, root: str) -> list[sqlite3.Row]:
        prefix = root.rstrip("/\\")
        return self.conn.execute(
            "SELECT path, kind, fingerprint, status FROM recordings "
            "WHERE path = ? OR substr(path, 1, ?) = ?",
            (prefix, len(prefix) + 1, prefix + "/"),
        ).fetchall()

    def set_recording_state(
        self, path: str, kind: str | None, fingerprint: str | None, status: str, error: str | None
    ) -> None:
        self.conn.execute(
            """INSERT INTO recordings (path, kind, fingerprint, status, error, scanned_at)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT(path) DO UPDATE SET kind = excluded.kind,
                   fingerprint = excluded.fingerprint, status = excluded.status,
                   error = excluded.error, scanned_at = excluded.scanned_at""",
            (path, kind, fingerprint, status, error, time.time()),
        )

    def episode_ids_of_recording(self, path: str) -> list[str]:
        rows = self.conn.execute("SELECT id FROM episodes WHERE recording = ?", (path,))
        return [r["id"] for r in rows]

    # --- reading ------------------------------------------------------------------------------

    def list_episodes(self, flt: EpisodeFilter | None = None) -> list[EpisodeInfo]:
        where, params = _where(flt or EpisodeFilter())
        rows = self.conn.execute(
            f"SELECT * FROM episode_view {where} ORDER BY path, episode_index", params
        ).fetchall()
        return [episode_from_row(r, []) for r in rows]

    def count_matching(self, flt: EpisodeFilter) -> int:
        """How many episodes ``flt`` selects (e.g. the replays a default listing hides)."""
        where, params = _where(flt)
        return int(
            self.conn.execute(f"SELECT count(*) FROM episode_view {where}", params).fetchone()[0]
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
        values = {str(r["v"]) for r in self.conn.execute(sql)}
        return sorted(values, key=str.casefold)

    def get(self, episode_id: str) -> EpisodeInfo:
        row = self.conn.execute("SELECT * FROM episode_view WHERE id = ?", (episode_id,)).fetchone()
        if row is None:
            raise EpisodeNotFoundError(f"no episode with id {episode_id!r} in {self.path}")
        return episode_from_row(row, self._streams(episode_id))

    def find(self, path: str, episode_index: int | None) -> EpisodeInfo | None:
        """The catalog row for a recording path (+ index), if it was scanned."""
        if episode_index is None:
            row = self.conn.execute(
                "SELECT id FROM episodes WHERE path = ? AND episode_index IS NULL", (path,)
            ).fetchone()
        else:
            row = self.conn.execute(
                "SELECT id FROM episodes WHERE path = ? AND episode_index = ?",
                (path, episode_index),
            ).fetchone()
        return None if row is None else self.get(row["id"])

    def ids_with_prefix(self, prefix: str) -> list[str]:
        rows = self.conn.execute(
            "SELECT id FROM episodes WHERE substr(id, 1, ?) = ? LIMIT 3", (len(prefix), prefix)
        )
        return [r["id"] for r in rows]

    def _streams(self, episode_id: str) -> list[StreamInfo]:
        rows = self.conn.execute(
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
        rows = self.conn.execute(
            "SELECT policy_version, count(*) AS n FROM episode_view "
            "WHERE policy_version IS NOT NULL AND (source IS NULL OR source != 'replay') "
            "GROUP BY policy_version ORDER BY policy_version"
        )
        return [(r["policy_version"], int(r["n"])) for r in rows]

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM episodes").fetchone()[0])

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

    def tags(self, episode_id: str) -> list[str]:
        rows = self.conn.execute(
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
        rows = self.conn.execute(
            "SELECT stream, offset_ns FROM stream_offsets WHERE episode_id = ?", (episode_id,)
        )
        return {r["stream"]: int(r["offset_ns"]) for r in rows}

    # --- what the viewer remembers --------------------------------------------------------

    def save_layout(self, key: str, layout: dict[str, Any]) -> None:
        record_change(self, new_record("layout.set", key=key, layout=jsonsafe.to_jsonable(layout)))

    def layout(self, key: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT layout FROM layouts WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row["layout"])

    def touch_recent(self, item: str, kind: str, *, keep: int = 20) -> None:
        """Remember an opened episode id or scanned path; the list keeps the newest ``keep``.
        A convenience, not the user's data: a catalog that cannot be written remembers nothing."""
        if self.read_only or self.damage is not None:
            return
        with self.transaction() as conn:
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
            rows = self.conn.execute("SELECT item, kind FROM recent ORDER BY opened_at DESC")
        else:
            rows = self.conn.execute(
                "SELECT item, kind FROM recent WHERE kind = ? ORDER BY opened_at DESC", (kind,)
            )
        return [(r["item"], r["kind"]) for r in rows]


def layout_key(info: EpisodeInfo) -> str:
    """Layouts are remembered per kind of recording and robot."""
    return f"{info.kind}:{info.robot or ''}"


def content_hash(info: EpisodeInfo) -> str:
    """What decides 'updated' vs 'unchanged' when a recording is re-indexed.

    Memoized per EpisodeInfo object: Explain's history keys its peer cache on this hash and
    asked it again for every (peer, stream) lookup — up to 50 peers × ~66 lookups per episode,
    89 % of ``explain --all``. The memo is keyed on the object itself (kept alive while cached,
    so its id cannot be reused) plus a cheap snapshot of what is usually changed in place
    (the scalar fields, which containers it holds and their sizes); a new object — a re-index,
    a catalog row re-read with a user's override — is hashed afresh. A file's size and mtime
    would not do: overrides and re-indexing change an episode without touching its file.
    """
    state = _shallow_state(info)
    hit = _HASHES.get(id(info))
    if hit is not None and hit[0] is info and hit[1] == state:
        _HASHES.move_to_end(id(info))
        return hit[2]
    payload = jsonsafe.dumps(info.to_dict(), sort_keys=True)
    digest = hashlib.sha256(payload.encode()).hexdigest()[:32]
    _HASHES[id(info)] = (info, state, digest)
    while len(_HASHES) > _HASHES_SIZE:
        _HASHES.popitem(last=False)
    return digest


#: id(info) -> (info, shallow state, hash); see content_hash
_HASHES: OrderedDict[int, tuple[EpisodeInfo, tuple[Any, ...], str]] = OrderedDict()
_HASHES_SIZE = 4096


def _shallow_state(info: EpisodeInfo) -> tuple[Any, ...]:
    """Scalar fields and which containers (and how long) — C-level attribute reads, since a
    memo hit is asked ~2,000 times per explained episode."""
    problems, metadata, streams = info.problems, info.metadata, info.streams
    return (
        _scalars(info),
        id(problems),
        len(problems),
        id(metadata),
        len(metadata),
        id(streams),
        len(streams),
    )


_scalars = operator.attrgetter(
    "id", "kind", "path", "episode_index", "name", "duration_ns", "start_time_ns", "source",
    "robot", "policy_version", "env_version", "git_sha", "seed", "task", "outcome", "status",
)  # fmt: skip


def episode_from_row(row: sqlite3.Row, streams: list[StreamInfo] | None = None) -> EpisodeInfo:
    """An ``episode_view`` row as an EpisodeInfo (streams only when given)."""
    return EpisodeInfo(
        id=row["id"],
        kind=row["kind"],
        path=row["path"],
        episode_index=row["episode_index"],
        name=row["name"],
        duration_ns=row["duration_ns"],
        start_time_ns=row["start_time_ns"],
        source=row["source"],
        robot=row["robot"],
        policy_version=row["policy_version"],
        env_version=row["env_version"],
        git_sha=row["git_sha"],
        seed=row["seed"],
        task=row["task"],
        outcome=Outcome(row["outcome"]),
        status=Status(row["status"]),
        problems=json.loads(row["problems"]),
        metadata=json.loads(row["metadata"]),
        streams=streams or [],
    )


def _json(value: Any) -> str:
    return jsonsafe.dumps(value)


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


def _where(flt: EpisodeFilter) -> tuple[str, list[Any]]:
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
        like = f"%{_escape_like(flt.search)}%"
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


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
