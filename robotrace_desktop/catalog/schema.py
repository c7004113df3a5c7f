"""Numbered schema migrations. Append a new entry to MIGRATIONS; never edit an applied one.

User-entered data (tags, field overrides, bookmarks, stream offsets, findings) lives in tables that
re-indexing never rewrites, so a re-scan cannot lose what a person typed.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: the foundation
    """
    CREATE TABLE recordings (
        path         TEXT PRIMARY KEY,
        kind         TEXT,
        fingerprint  TEXT,
        status       TEXT NOT NULL DEFAULT 'ok',   -- ok / error / missing
        error        TEXT,
        scanned_at   REAL NOT NULL
    );

    CREATE TABLE episodes (
        id             TEXT PRIMARY KEY,
        recording      TEXT NOT NULL,              -- recordings.path (not a FK: rows outlive files)
        kind           TEXT NOT NULL,
        path           TEXT NOT NULL,
        episode_index  INTEGER,
        name           TEXT NOT NULL,
        duration_ns    INTEGER NOT NULL DEFAULT 0 CHECK (duration_ns >= 0),
        start_time_ns  INTEGER,
        source         TEXT,
        robot          TEXT,
        policy_version TEXT,
        env_version    TEXT,
        git_sha        TEXT,
        seed           INTEGER,
        task           TEXT,
        outcome        TEXT NOT NULL DEFAULT 'unknown',
        status         TEXT NOT NULL DEFAULT 'ready',
        problems       TEXT NOT NULL DEFAULT '[]',  -- JSON list of sentences
        metadata       TEXT NOT NULL DEFAULT '{}',  -- JSON object
        content_hash   TEXT,
        indexed_at     REAL NOT NULL,
        missing_since  REAL
    );
    CREATE INDEX episodes_recording ON episodes(recording);
    CREATE INDEX episodes_policy ON episodes(policy_version);

    CREATE TABLE streams (
        episode_id    TEXT NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
        position      INTEGER NOT NULL,
        name          TEXT NOT NULL,
        kind          TEXT NOT NULL,
        count         INTEGER NOT NULL,
        channels      TEXT NOT NULL DEFAULT '[]',
        t_start_ns    INTEGER,
        t_end_ns      INTEGER,
        message_type  TEXT,
        details       TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (episode_id, name)
    );

    -- Values a person set with `tag` (or in the UI). NULL = use what the recording says.
    CREATE TABLE episode_overrides (
        episode_id     TEXT PRIMARY KEY,
        source         TEXT,
        robot          TEXT,
        policy_version TEXT,
        env_version    TEXT,
        git_sha        TEXT,
        seed           INTEGER,
        task           TEXT,
        outcome        TEXT,
        updated_at     REAL NOT NULL
    );

    CREATE TABLE tags (
        episode_id TEXT NOT NULL,
        tag        TEXT NOT NULL,
        PRIMARY KEY (episode_id, tag)
    );

    CREATE TABLE stream_offsets (
        episode_id TEXT NOT NULL,
        stream     TEXT NOT NULL,
        offset_ns  INTEGER NOT NULL,
        PRIMARY KEY (episode_id, stream)
    );

    CREATE TABLE bookmarks (
        id          INTEGER PRIMARY KEY,
        episode_id  TEXT NOT NULL,
        t_ns        INTEGER NOT NULL,
        t_end_ns    INTEGER,
        note        TEXT NOT NULL DEFAULT '',
        created_at  REAL NOT NULL
    );
    CREATE INDEX bookmarks_episode ON bookmarks(episode_id);

    CREATE TABLE findings (
        id           INTEGER PRIMARY KEY,
        episode_id   TEXT NOT NULL,
        rank         INTEGER NOT NULL,
        cause        TEXT NOT NULL,
        title        TEXT NOT NULL,
        explanation  TEXT NOT NULL,
        confidence   REAL NOT NULL,
        severity     TEXT NOT NULL,
        t_start_ns   INTEGER,
        t_end_ns     INTEGER,
        channels     TEXT NOT NULL DEFAULT '[]',
        evidence     TEXT NOT NULL DEFAULT '{}',
        next_step    TEXT NOT NULL DEFAULT '',
        created_at   REAL NOT NULL
    );
    CREATE INDEX findings_episode ON findings(episode_id);
    CREATE INDEX findings_cause ON findings(cause);

    -- What the user sees: recorded values with their overrides applied.
    CREATE VIEW episode_view AS
    SELECT e.id, e.recording, e.kind, e.path, e.episode_index, e.name, e.duration_ns,
           e.start_time_ns,
           COALESCE(o.source, e.source) AS source,
           COALESCE(o.robot, e.robot) AS robot,
           COALESCE(o.policy_version, e.policy_version) AS policy_version,
           COALESCE(o.env_version, e.env_version) AS env_version,
           COALESCE(o.git_sha, e.git_sha) AS git_sha,
           COALESCE(o.seed, e.seed) AS seed,
           COALESCE(o.task, e.task) AS task,
           COALESCE(o.outcome, e.outcome) AS outcome,
           e.status, e.problems, e.metadata, e.indexed_at, e.missing_since
    FROM episodes e LEFT JOIN episode_overrides o ON o.episode_id = e.id;
    """,
    # 2: what the viewer remembers — pane layouts per robot/kind, recently opened items
    """
    CREATE TABLE layouts (
        key         TEXT PRIMARY KEY,   -- "<kind>:<robot>" (robot may be empty)
        layout      TEXT NOT NULL,      -- JSON: cameras, plotted channels, splitter sizes
        updated_at  REAL NOT NULL
    );

    CREATE TABLE recent (
        item        TEXT PRIMARY KEY,   -- an episode id or a path that was opened or scanned
        kind        TEXT NOT NULL,      -- 'episode' or 'path'
        opened_at   REAL NOT NULL
    );
    """,
    # 3: saved selections — named sets of episodes, e.g. a verify baseline; and a marker of
    # which episodes Explain has run on (a clean episode stores no finding rows)
    """
    CREATE TABLE explained (
        episode_id   TEXT PRIMARY KEY,
        explained_at REAL NOT NULL
    );
    INSERT INTO explained (episode_id, explained_at)
        SELECT episode_id, max(created_at) FROM findings GROUP BY episode_id;

    CREATE TABLE selections (
        name        TEXT PRIMARY KEY,
        note        TEXT NOT NULL DEFAULT '',
        created_at  REAL NOT NULL
    );

    CREATE TABLE selection_episodes (
        name        TEXT NOT NULL REFERENCES selections(name) ON DELETE CASCADE,
        episode_id  TEXT NOT NULL,      -- kept even if the episode vanishes from the catalog
        position    INTEGER NOT NULL,
        PRIMARY KEY (name, episode_id)
    );
    """,
    # 4: the key Explain's stored findings were computed under (recording, episode row,
    # thresholds, analysis code, normal model): an unchanged key means they can be reused
    """
    ALTER TABLE explained ADD COLUMN key TEXT;
    """,
    # 5: indexes for a catalog of 100k-1M episodes (issue 16): the listing order (path, index)
    # and the cause filter (covering: cause + confidence + episode). Why no index per filter
    # column: robot/policy/env/outcome are filtered on their user-visible value,
    # COALESCE(override, recorded), which no index on the recorded column can answer, and with
    # an index on status or kind SQLite (no statistics) picked it even when 98 % of the rows
    # matched, then sorted them all in a temporary b-tree before printing the first. Walking
    # episodes_path in order streams rows as they match, with no sort and no growing memory
    # (benchmarks/bench_catalog.py).
    """
    CREATE INDEX episodes_path ON episodes(path, episode_index);
    CREATE INDEX findings_cause_confidence ON findings(cause, confidence, episode_id);
    """,
]

# next: how far the journal of user-authored data (catalog/journal.py) is reflected in this
# file. Appended rather than written into the list so a migration added there meanwhile simply
# comes first.
MIGRATIONS.append(
    """
    CREATE TABLE journal_state (
        one      INTEGER PRIMARY KEY CHECK (one = 1),
        record   TEXT NOT NULL,      -- id of the last journal record applied here
        offset   INTEGER NOT NULL    -- byte offset just after that record in the journal
    );
    """
)

# next: what the catalog browser's top level shows, kept per recording (issue 16: a browser
# that opens on 1,000,000 episodes in 2 s cannot aggregate them on every open — one pass over
# that many rows reads ~800 MB). ``browse_groups`` holds each recording's partial group
# summaries (catalog/browse.py computes and merges them); a recording is current while it is
# in ``browse_clean``, and every write that can change a summary — an episode indexed,
# updated, marked missing or deleted, an override, a finding, an Explain run — takes its
# recording out, so the next reader recomputes just that one. The partial index finds the
# episodes that are rows of their own (no dataset) without walking the table.
MIGRATIONS.append(
    """
    CREATE TABLE browse_groups (
        recording  TEXT NOT NULL,
        grp        TEXT NOT NULL,
        summary    TEXT NOT NULL,      -- JSON: counts, sums, worst ranks, common values
        PRIMARY KEY (recording, grp)
    );
    CREATE TABLE browse_clean (recording TEXT PRIMARY KEY);
    CREATE INDEX episodes_loose ON episodes(path) WHERE episode_index IS NULL;

    CREATE TRIGGER browse_episode_added AFTER INSERT ON episodes BEGIN
        DELETE FROM browse_clean WHERE recording = NEW.recording;
    END;
    CREATE TRIGGER browse_episode_changed AFTER UPDATE ON episodes BEGIN
        DELETE FROM browse_clean WHERE recording IN (OLD.recording, NEW.recording);
    END;
    CREATE TRIGGER browse_episode_removed AFTER DELETE ON episodes BEGIN
        DELETE FROM browse_clean WHERE recording = OLD.recording;
    END;
    CREATE TRIGGER browse_override_added AFTER INSERT ON episode_overrides BEGIN
        DELETE FROM browse_clean
         WHERE recording = (SELECT recording FROM episodes WHERE id = NEW.episode_id);
    END;
    CREATE TRIGGER browse_override_changed AFTER UPDATE ON episode_overrides BEGIN
        DELETE FROM browse_clean WHERE recording IN
            (SELECT recording FROM episodes WHERE id IN (OLD.episode_id, NEW.episode_id));
    END;
    CREATE TRIGGER browse_override_removed AFTER DELETE ON episode_overrides BEGIN
        DELETE FROM browse_clean
         WHERE recording = (SELECT recording FROM episodes WHERE id = OLD.episode_id);
    END;
    CREATE TRIGGER browse_finding_added AFTER INSERT ON findings BEGIN
        DELETE FROM browse_clean
         WHERE recording = (SELECT recording FROM episodes WHERE id = NEW.episode_id);
    END;
    CREATE TRIGGER browse_finding_changed AFTER UPDATE ON findings BEGIN
        DELETE FROM browse_clean WHERE recording IN
            (SELECT recording FROM episodes WHERE id IN (OLD.episode_id, NEW.episode_id));
    END;
    CREATE TRIGGER browse_finding_removed AFTER DELETE ON findings BEGIN
        DELETE FROM browse_clean
         WHERE recording = (SELECT recording FROM episodes WHERE id = OLD.episode_id);
    END;
    CREATE TRIGGER browse_explained_added AFTER INSERT ON explained BEGIN
        DELETE FROM browse_clean
         WHERE recording = (SELECT recording FROM episodes WHERE id = NEW.episode_id);
    END;
    CREATE TRIGGER browse_explained_changed AFTER UPDATE ON explained BEGIN
        DELETE FROM browse_clean WHERE recording IN
            (SELECT recording FROM episodes WHERE id IN (OLD.episode_id, NEW.episode_id));
    END;
    CREATE TRIGGER browse_explained_removed AFTER DELETE ON explained BEGIN
        DELETE FROM browse_clean
         WHERE recording = (SELECT recording FROM episodes WHERE id = OLD.episode_id);
    END;
    """
)

# next: the robot's normal channel ranges, stored (issue 13: "never rebuilt from peers on each
# call"). Explain judges a channel against the (min, max) each other episode of the robot
# reached; reading those peers again for every episode explained — in every process — was a
# third of a cold ``explain`` of a bag. Each episode's per-stream ranges are stored once, with
# the content hash of the episode they were computed from and the method that computed them:
# a re-indexed recording or a new method makes the row stale (it is then recomputed and
# replaced), a deleted episode takes its rows with it. The robot's ranges are these rows over
# its other episodes, so the model grows by one episode's rows when one is added.
MIGRATIONS.append(
    """
    CREATE TABLE channel_ranges (
        episode_id    TEXT NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
        stream        TEXT NOT NULL,
        content_hash  TEXT NOT NULL,   -- episodes.content_hash the ranges were computed from
        method        TEXT NOT NULL,   -- how they were computed (catalog.channel_ranges)
        channels      TEXT NOT NULL,   -- JSON list, one name per column
        lo            BLOB NOT NULL,   -- float64 little-endian, one per channel (NaN: none)
        hi            BLOB NOT NULL,
        PRIMARY KEY (episode_id, stream)
    );
    """
)
