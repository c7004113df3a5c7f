"""Which baseline and candidate to offer before the user picks any.

Comparing two policy versions only means something when they ran on the same robot (or the
same task): the alphabetically first two versions of a mixed catalog are usually two different
robots, a comparison that reads as a regression report but is noise. So the default is the two
most recent versions that share a robot — else a task — or nothing at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from robotrace_desktop.catalog.selections import selections
from robotrace_desktop.catalog.store import Catalog


class Choices(NamedTuple):
    """What a baseline or candidate can be, as the Regression panel lists it."""

    versions: list[tuple[str, int]]  # (policy version, episodes)
    selections: list[tuple[str, int]]  # (saved selection, episodes)
    pair: tuple[str, str] | None  # the default (baseline, candidate), if any


def comparison_choices(catalog_path: Path) -> Choices:
    """The catalog's policy versions, saved selections and default pair, read through a
    connection of the caller's thread (the panel asks from the UI thread, the scan worker
    writes from its own)."""
    with Catalog(Path(catalog_path)) as catalog:
        return Choices(catalog.policy_versions(), selections(catalog), default_pair(catalog))


def default_pair(catalog: Catalog) -> tuple[str, str] | None:
    """(baseline, candidate) policy versions: the two most recent of one robot (the robot whose
    newest version is the newest), else of one task; None when no two versions share either.
    Replays are not recorded runs of a version and are left out."""
    for field in ("robot", "task"):
        by_group: dict[str, list[str]] = {}
        # newest first: the first group to reach two versions wins
        for group, version in catalog.policy_versions_by(field):
            versions = by_group.setdefault(group, [])
            versions.append(version)
            if len(versions) == 2:
                return versions[1], versions[0]
    return None
