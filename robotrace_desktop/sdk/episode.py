"""What ``log_episode`` / ``finalize`` hand back: the logged episode, as the catalog now has it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from robotrace_desktop.core.episode import EpisodeInfo
    from robotrace_desktop.core.finding import Finding


@dataclass(frozen=True, slots=True)
class Episode:
    """One logged episode.

    ``url`` is the deep link (``robotrace://episode/<id>``) that opens it in the app; ``path``
    the bundle folder in the library; ``info`` the indexed description (streams included);
    ``findings`` what Explain found, best first; ``warnings`` everything that did not stop the
    logging but deserves a look (missing reproducibility fields, a sink that failed, Explain
    failing, a video ``fps`` that was ignored...).
    """

    id: str
    url: str
    path: Path
    name: str
    status: str
    info: EpisodeInfo
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.url
