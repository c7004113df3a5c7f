"""Which baseline and candidate to offer before the user picks any.

Comparing two policy versions only means something when they ran on the same robot (or the
same task): the alphabetically first two versions of a mixed catalog are usually two different
robots, a comparison that reads as a regression report but is noise. So the default is the two
most recent versions that share a robot — else a task — or nothing at all.
"""

from __future__ import annotations

from robotrace_desktop.catalog.store import Catalog

#: when an episode has no recording start time, when it was indexed stands in for it
_RECENT = "MAX(COALESCE(start_time_ns, CAST(indexed_at * 1000000000 AS INTEGER)))"


def default_pair(catalog: Catalog) -> tuple[str, str] | None:
    """(baseline, candidate) policy versions: the two most recent of one robot (the robot whose
    newest version is the newest), else of one task; None when no two versions share either.
    Replays are not recorded runs of a version and are left out."""
    for field in ("robot", "task"):
        rows = catalog.conn.execute(
            f"SELECT {field} AS grp, policy_version, {_RECENT} AS latest FROM episode_view "
            f"WHERE policy_version IS NOT NULL AND {field} IS NOT NULL "
            "AND (source IS NULL OR source != 'replay') "
            f"GROUP BY {field}, policy_version ORDER BY latest DESC, policy_version DESC"
        ).fetchall()
        by_group: dict[str, list[str]] = {}
        for row in rows:  # newest first: the first group to reach two versions wins
            versions = by_group.setdefault(row["grp"], [])
            versions.append(row["policy_version"])
            if len(versions) == 2:
                return versions[1], versions[0]
    return None
