"""What a verify run compares: baseline and candidate selectors, the optional re-roll policy,
and how to run it.

A selector names a set of catalog episodes:

- ``v1.2`` or ``policy:v1.2``: every episode whose policy_version is ``v1.2``;
- ``selection:NAME``: a saved selection (``list … --save-as NAME`` or the browser);
- ``tag:NAME``: every episode carrying that tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from robotrace_desktop.catalog.episode_filter import EpisodeFilter
from robotrace_desktop.catalog.selections import selection_ids
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.episode import EpisodeInfo
from robotrace_desktop.errors import EpisodeNotFoundError, ValidationError

SelectorKind = Literal["policy", "selection", "tag"]
_PREFIXES: tuple[SelectorKind, ...] = ("policy", "selection", "tag")
Engine = Literal["process", "ray"]


@dataclass(frozen=True, slots=True)
class Selector:
    kind: SelectorKind
    value: str

    @classmethod
    def parse(cls, text: str) -> Selector:
        text = text.strip()
        if not text:
            raise ValidationError(
                "an empty baseline/candidate; give a policy_version or selection:NAME or tag:NAME"
            )
        prefix, sep, rest = text.partition(":")
        if sep and prefix in _PREFIXES:
            if not rest.strip():
                raise ValidationError(f"{text!r}: nothing after {prefix}:")
            return cls(prefix, rest.strip())
        return cls("policy", text)

    def __str__(self) -> str:
        return self.value if self.kind == "policy" else f"{self.kind}:{self.value}"

    def resolve(self, catalog: Catalog) -> list[EpisodeInfo]:
        """The selected episodes (with streams), in catalog order. Missing episodes (files
        gone) are left out; an empty result is an error naming what was looked for. A policy
        selector leaves out replays (source ``replay``)."""
        if self.kind == "policy":
            # replays of a candidate carry its name as policy_version; they are compared through
            # their baseline, never counted as recorded runs of that version
            infos = [
                i
                for i in catalog.list_episodes(EpisodeFilter(policy=self.value))
                if i.source != "replay"
            ]
            if not infos:
                known = ", ".join(v for v, _ in catalog.policy_versions()) or "none"
                raise EpisodeNotFoundError(
                    f"no episode has policy_version {self.value!r} (known versions: {known})"
                )
            ids = [i.id for i in infos]
        elif self.kind == "selection":
            ids = selection_ids(catalog, self.value)
        else:
            ids = catalog.episodes_tagged(self.value)
            if not ids:
                raise EpisodeNotFoundError(f"no episode is tagged {self.value!r}")
        found: list[EpisodeInfo] = []
        for episode in ids:
            try:
                info = catalog.get(episode)
            except EpisodeNotFoundError:
                continue
            if info.status.value != "missing":
                found.append(info)
        if not found:
            raise EpisodeNotFoundError(f"{self}: none of its {len(ids)} episodes can be read")
        return found


@dataclass(slots=True)
class VerifySpec:
    """Everything ``run_verify`` needs besides the catalog."""

    baseline: Selector
    candidate: Selector | None = None  # None: re-roll only (needs ``policy``)
    policy: str | None = None  # "module:attr" or "path/to/file.py:attr"
    candidate_name: str | None = None  # replay policy_version; default from candidate/policy
    with_images: bool = False
    gate_path: str | None = None  # None: the documented defaults
    workers: int | None = None  # None: every core
    engine: Engine = "process"
    address: str | None = None  # Ray cluster address (engine "ray")
    save_replays: bool = True
    allow_inconclusive: bool = False  # checks the data cannot answer count as passed
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.candidate is None and not self.policy:
            raise ValidationError("verify needs --candidate, --policy or both")

    @property
    def candidate_label(self) -> str:
        if self.candidate_name:
            return self.candidate_name
        if self.candidate is not None:
            return self.candidate.value
        assert self.policy is not None
        return self.policy.rsplit(":", 1)[-1] or self.policy
