"""When stored findings can be reused instead of re-running Explain: one key, ``explain_key``.

Findings depend on the episode (its recording, what the catalog says about it — overrides and
stream offsets included), the thresholds, the analyzers' code and, with a learned normal model,
that model. The key hashes all of them; equal keys mean recomputing would give the same
findings, so ``explain EPISODE``, ``explain --all`` and scan-time Explain return the stored
list without opening the recording (``--force`` recomputes anyway).

The robot's other episodes are part of it too: range excursions are judged against them. Their
version (``catalog.peers.history_versions``: the ids and indexed content of the newest episodes
the history draws from) is the key's ``model_version`` unless a caller passes one, so adding or
re-indexing a run of the robot re-judges its other runs, while tagging one does not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import NamedTuple

import robotrace_desktop
from robotrace_desktop.analysis.thresholds import FILE_NAME
from robotrace_desktop.catalog.findings import episode_states, explained_ids
from robotrace_desktop.catalog.peers import MAX_PEERS, history_versions
from robotrace_desktop.catalog.store import Catalog

#: the code that decides the findings: reading the streams, analyzing them, and the context
#: Explain is given (thresholds, the robot's other episodes) — packages and single modules
_CODE_PARTS = (
    "analysis",
    "readers",
    "core",
    "library/peer_history.py",
    "library/explain_runner.py",
)


def explain_key(
    *,
    episode_state: str,
    thresholds_text: str | None,
    model_version: str | None,
    analysis_version: str | None = None,
) -> str:
    """The reuse key of one episode's findings.

    ``episode_state``: the catalog's description of the episode (recording fingerprint, the
    indexed row's content hash, overrides, stream offsets — ``catalog.findings.episode_states``);
    ``thresholds_text``: the catalog's ``explain.toml`` as written (None: absent; the defaults
    are part of the code); ``model_version``: the version of the robot's normal model the
    findings are scored against (None: no model); ``analysis_version``: the analyzers' code
    (default: ``analysis_version()``).
    """
    digest = hashlib.sha256()
    for part in (
        "explain-key/1",
        episode_state,
        "-" if thresholds_text is None else "t:" + thresholds_text,
        "-" if model_version is None else "m:" + model_version,
        analysis_version if analysis_version is not None else code_version(),
    ):
        digest.update(part.encode("utf-8", "surrogateescape"))
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def thresholds_text(path: Path | None) -> str | None:
    """The thresholds file's text (None when there is none or it cannot be read: the defaults
    then apply, as ``thresholds.load`` does)."""
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        return None


@cache
def code_version() -> str:
    """A hash of the name, size and mtime of every source file of the code that computes
    findings, so editing an analyzer (or a reader) invalidates stored findings without anyone
    remembering to bump a number. Stats, not contents: reading ~70 files cost 50 ms of the
    100 ms an answer from stored findings may take; an edit changes the mtime (a checkout
    that only touches files costs one recomputation). A build without sources (a frozen app)
    falls back to the package version."""
    root = Path(robotrace_desktop.__file__).resolve().parent
    digest = hashlib.sha256()
    files = sorted(file for part in _CODE_PARTS for file in _sources(root / part))
    if not files:
        return f"version:{getattr(robotrace_desktop, '__version__', '0')}"
    for file in files:
        stat = file.stat()
        name = str(file.relative_to(root))
        digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]


def _sources(part: Path) -> list[Path]:
    """The source files of one package (every ``.py`` under it) or of one module."""
    return list(part.rglob("*.py")) if part.is_dir() else [part] if part.is_file() else []


class KeyCheck(NamedTuple):
    """An episode's current reuse key and the one its stored findings carry (None: none)."""

    key: str
    stored: str | None

    @property
    def fresh(self) -> bool:
        return self.stored == self.key


def current_keys(
    catalog: Catalog,
    episode_ids: Sequence[str],
    *,
    model_versions: Mapping[str, str | None] | None = None,
) -> dict[str, KeyCheck]:
    """The reuse key of each episode (unknown ids are left out: they cannot be reused).

    ``model_versions``: episode id -> the version of the model its findings are scored against;
    by default the version of each episode's history (its robot's other episodes)."""
    text = thresholds_text(thresholds_file(catalog.path))
    if model_versions is None:
        model_versions = history_versions(catalog, episode_ids, MAX_PEERS + 1)
    versions = model_versions
    return {
        episode: KeyCheck(
            explain_key(
                episode_state=state.state,
                thresholds_text=text,
                model_version=versions.get(episode),
            ),
            state.stored_key,
        )
        for episode, state in episode_states(catalog, episode_ids).items()
    }


def stale(
    catalog: Catalog, episode_ids: Sequence[str], *, keyless_is_fresh: bool = False
) -> list[str]:
    """The episodes among ``episode_ids`` whose stored findings cannot be reused (never
    explained, or explained under another key), in the given order. Unknown ids are kept:
    explaining them reports why they fail.

    ``keyless_is_fresh``: findings stored without a key (by the viewer's Explain tab, verify,
    or before keys existed) count as current — a scan re-explains an unchanged recording only
    when something it can see changed, as it did before keys."""
    keys = current_keys(catalog, episode_ids)
    explained = set(explained_ids(catalog)) if keyless_is_fresh else set()

    def reusable(episode: str) -> bool:
        check = keys.get(episode)
        if check is None:
            return False
        if check.stored is None:
            return episode in explained
        return check.fresh

    return [e for e in episode_ids if not reusable(e)]


def thresholds_file(catalog_path: Path) -> Path:
    """``explain.toml`` next to the catalog (``explain_runner`` writes the defaults there)."""
    return Path(catalog_path).parent / FILE_NAME
