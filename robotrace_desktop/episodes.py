"""Turning an EPISODE argument into something to read.

EPISODE is a catalog id (or a unique prefix of one), a ``robotrace://episode/<id>?t=...`` link,
a recording path, or ``DATASET#<episode_index>``. A path that was never scanned is indexed on
the fly, read-only, without touching the catalog.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from robotrace_desktop.core.episode import EpisodeInfo, EpisodeSource
from robotrace_desktop.core.links import is_link, parse_link
from robotrace_desktop.errors import EpisodeNotFoundError, RecordingError

if TYPE_CHECKING:  # only looked up through: naming an episode needs no catalog code loaded,
    # and the catalog and episode resolution are independent layers
    from robotrace_desktop.catalog.store import Catalog

_INDEX_SUFFIX = re.compile(r"^(?P<path>.+)#(?P<index>\d+)$")
MIN_ID_PREFIX = 6
_HEX = re.compile(r"^[0-9a-fA-F]+$")


@dataclass(slots=True)
class ResolvedEpisode:
    info: EpisodeInfo
    in_catalog: bool
    t_ns: int | None = None  # from a deep link

    def open(self) -> EpisodeSource:
        # the readers (and their plugins' entry points) load when a recording is opened: an
        # answer from the catalog alone (stored findings) needs none of them
        from robotrace_desktop.readers.registry import reader_by_kind

        reader = reader_by_kind(self.info.kind)
        return reader.open(Path(self.info.path), self.info.episode_index)


def resolve(argument: str, catalog: Catalog | None) -> ResolvedEpisode:
    if is_link(argument):
        link = parse_link(argument)
        if catalog is None:
            raise EpisodeNotFoundError(f"{argument}: links need a catalog")
        return ResolvedEpisode(catalog.get(link.episode_id), True, link.t_ns)

    path_text, index = argument, None
    match = _INDEX_SUFFIX.match(argument)
    if match and not Path(argument).exists():
        path_text, index = match.group("path"), int(match.group("index"))
    path = Path(path_text).expanduser()
    if path.exists():
        return _resolve_path(path.resolve(), index, catalog)

    if catalog is not None:
        ids = catalog.ids_with_prefix(argument) if len(argument) >= MIN_ID_PREFIX else []
        if len(ids) == 1:
            return ResolvedEpisode(catalog.get(ids[0]), True)
        if len(ids) > 1:
            raise EpisodeNotFoundError(f"{argument!r} matches several episodes: {', '.join(ids)}")
    if _HEX.match(argument) and len(argument) < MIN_ID_PREFIX:
        raise EpisodeNotFoundError(
            f"{argument!r}: an id prefix needs at least {MIN_ID_PREFIX} characters "
            f"(ids are 16 hex digits, see `list`); {len(argument)} can match too many episodes"
        )
    raise EpisodeNotFoundError(
        f"{argument!r} is neither a catalog episode id, a robotrace:// link nor an existing path"
    )


def _resolve_path(path: Path, index: int | None, catalog: Catalog | None) -> ResolvedEpisode:
    if catalog is not None:
        found = catalog.find(str(path), index)
        if found is not None:
            return ResolvedEpisode(found, True)
    from robotrace_desktop.readers.registry import reader_for

    episodes = list(reader_for(path).index(path))
    if index is None:
        if len(episodes) == 1:
            return ResolvedEpisode(episodes[0], False)
        indices = [e.episode_index for e in episodes]
        raise EpisodeNotFoundError(
            f"{path} holds {len(episodes)} episodes; name one as {path}#<episode_index> "
            f"(indices {_describe(indices)})"
        )
    for info in episodes:
        if info.episode_index == index:
            return ResolvedEpisode(info, False)
    raise RecordingError(path, f"has no episode #{index}")


def _describe(indices: list[int | None]) -> str:
    values = sorted(i for i in indices if i is not None)
    if not values:
        return "none"
    if values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}..{values[-1]}"
    return ", ".join(map(str, values[:10])) + (" ..." if len(values) > 10 else "")
